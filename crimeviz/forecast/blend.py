"""Two forecasts that try to beat the 365-day count: a self-exciting map and an ensemble.

- ``selfexc``: a moving long-term background plus exponentially decaying recent counts,
  ``λ_c(d) = (1 − a) · K365_c(d) + a · Σ_{s<d} n_c(s) (1 − r) r^(d−s−1)``, ``r = 2^(−1/h)``.
  The background ``K365`` is the quartic-kernel density of the last 365 days
  (:func:`~crimeviz.forecast.baselines.retrospective_hotspot`); the second term is the temporal
  triggering of Mohler et al. (2011, "Self-exciting point process modeling of crime", JASA 106,
  the exponential triggering function ``g(t) = θ ω e^{−ω t}``) kept within the cell, on daily counts. Unlike the grid
  SEPP baseline, whose background is constant, the background moves with the last year.
  ``a`` (the triggered share) and ``h`` (half-life, days) are chosen on the validation year.
- ``ensemble``: a convex combination of CDNA and the strong baselines (365-day count, kernel
  hotspot, grid SEPP, ``selfexc``), weights on a simplex grid chosen on the validation year
  (stacking, Wolpert 1992, "Stacked generalization"; Breiman 1996, "Stacked regressions", with
  non-negative weights, here summing to one so the daily level stays that of the components).

Both choices maximise the mean of the validation year's mean daily PAI at 5% and 10%
(:func:`validation_score`), the criterion :func:`crimeviz.forecast.evaluate.tune_baselines`
uses; the fit reads counts up to the end of the validation year only. The defaults below were
chosen that way on 2020 (all offences) and are what the app forecasts with.
"""

import itertools

import numpy as np
from scipy.signal import lfilter

from crimeviz.forecast import baselines
from crimeviz.forecast.frames import GridMapping

SELFEXC_GRID = {"share": (0.25, 0.5, 0.75, 1.0), "half_life": (30.0, 60.0, 90.0, 180.0)}
SELFEXC_DEFAULTS = {"share": 0.75, "half_life": 90.0}
ENSEMBLE_COMPONENTS = ("cdna", "mc365", "retro_kde", "sepp", "selfexc")
ENSEMBLE_STEP = 0.2
ENSEMBLE_DEFAULTS = {"cdna": 0.0, "mc365": 0.0, "retro_kde": 0.0, "sepp": 0.0, "selfexc": 1.0}
CRITERION = "mean of validation PAI at 5% and 10%"


def decayed_counts(counts: np.ndarray, targets, half_life: float) -> np.ndarray:
    """``Σ_{s<d} counts[s] (1 − r) r^(d−s−1)`` for each target row ``d`` (``r = 2^(−1/half_life)``).

    A daily rate: a constant count ``n`` gives ``n (1 − r^d)``, which tends to ``n``. Rows at or
    before 0 give 0; ``targets`` may reach one row past the history.
    """
    if half_life <= 0:
        raise ValueError(f"the half-life must be positive, got {half_life}")
    r = 0.5 ** (1.0 / half_life)
    counts = np.asarray(counts, dtype=np.float64)
    padded = np.vstack([np.zeros((1, counts.shape[1])), counts])
    a = lfilter([1.0 - r], [1.0, -r], padded, axis=0)
    return a[np.clip(np.asarray(targets), 0, len(counts))]


def self_exciting(
    counts: np.ndarray,
    targets,
    mapping: GridMapping,
    share: float = SELFEXC_DEFAULTS["share"],
    half_life: float = SELFEXC_DEFAULTS["half_life"],
) -> np.ndarray:
    """``(len(targets), cells)``: ``(1 − share)`` × 365-day kernel density + ``share`` × decayed recent counts."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"the triggered share must lie in [0, 1], got {share}")
    targets = np.asarray(targets)
    recent = decayed_counts(counts, targets, half_life)
    if share == 1.0:
        return recent
    return (1.0 - share) * baselines.retrospective_hotspot(counts, targets, mapping) + share * recent


def mean_pai(scores: np.ndarray, counts: np.ndarray, areas: np.ndarray, coverages=(0.05, 0.10)) -> list[float]:
    """Mean daily PAI at each coverage, as :func:`metrics.hotspot_metrics` computes it (same flagging,
    ties split in expectation), sorting each day's scores once for all coverages."""
    scores = np.asarray(scores, dtype=float)
    counts = np.asarray(counts, dtype=float)
    rows = np.arange(len(scores))
    order = np.argsort(-scores, axis=1, kind="stable")
    sorted_scores = np.take_along_axis(scores, order, axis=1)
    cum_area = np.cumsum(areas[order], axis=1)
    incidents = counts.sum(axis=1)
    days = incidents > 0
    out = []
    for coverage in coverages:
        k = np.maximum((cum_area <= coverage * areas.sum() * (1 + 1e-9)).sum(axis=1), 1)
        threshold = sorted_scores[rows, k - 1][:, None]
        above = scores > threshold
        tied = scores == threshold
        weight = above + tied * ((k - above.sum(axis=1)) / tied.sum(axis=1))[:, None]
        rate = (weight * counts).sum(axis=1)[days] / incidents[days]
        out.append(float((rate / (weight @ areas / areas.sum())[days]).mean()))
    return out


def validation_score(lam: np.ndarray, counts: np.ndarray, areas: np.ndarray) -> float:
    """Mean of the mean daily PAI at 5% and at 10% (days with ≥ 1 incident)."""
    return float(np.mean(mean_pai(lam, counts, areas, (0.05, 0.10))))


def tune_self_exciting(counts: np.ndarray, targets, mapping: GridMapping) -> dict:
    """Grid search of ``share`` × ``half_life`` on the ``targets`` rows (the validation year).

    Only ``counts[:targets.max() + 1]`` is read. Returns ``{"criterion", "best", "table"}``;
    ties go to the first setting in grid order.
    """
    targets = np.asarray(targets)
    counts = np.asarray(counts)[: targets.max() + 1]
    truth = counts[targets]
    table = []
    for share, half_life in itertools.product(SELFEXC_GRID["share"], SELFEXC_GRID["half_life"]):
        lam = self_exciting(counts, targets, mapping, share, half_life)
        table.append({"share": share, "half_life": half_life, "score": validation_score(lam, truth, mapping.areas_km2)})
    best = max(table, key=lambda row: row["score"])
    return {"criterion": CRITERION, "best": best, "table": table}


def simplex(k: int, step: float = ENSEMBLE_STEP) -> np.ndarray:
    """Every weight vector of ``k`` non-negative multiples of ``step`` summing to one, ``(n, k)``."""
    units = round(1 / step)
    if not np.isclose(units * step, 1.0):
        raise ValueError(f"the step must divide 1, got {step}")
    rows = [w for w in itertools.product(range(units + 1), repeat=k) if sum(w) == units]
    return np.array(rows, dtype=np.float64) / units


def combine(forecasts: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """``Σ_k weights[k] · forecasts[k]`` over the components with a non-zero weight."""
    used = [name for name, w in weights.items() if w]
    if not used:
        raise ValueError("an ensemble needs at least one component with a positive weight")
    return sum(weights[name] * np.asarray(forecasts[name], dtype=np.float64) for name in used)


def tune_ensemble(
    forecasts: dict[str, np.ndarray], truth: np.ndarray, areas: np.ndarray, step: float = ENSEMBLE_STEP
) -> dict:
    """Simplex weights of the component ``forecasts`` (over the validation days) that score best.

    ``forecasts`` maps each of :data:`ENSEMBLE_COMPONENTS` to its ``(days, cells)`` forecast of
    the days whose counts are ``truth``. Ties go to the first weight vector in grid order.
    Returns ``{"criterion", "best": {component: weight, …, "score"}, "evaluated"}``.
    """
    names = list(forecasts)
    best, best_score = None, -np.inf
    grid = simplex(len(names), step)
    for w in grid:
        score = validation_score(combine(forecasts, dict(zip(names, w))), truth, areas)
        if score > best_score:
            best, best_score = w, score
    return {
        "criterion": CRITERION,
        "best": {name: float(x) for name, x in zip(names, best)} | {"score": best_score},
        "evaluated": len(grid),
    }
