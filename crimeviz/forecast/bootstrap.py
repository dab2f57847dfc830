"""Is a method really better than the best baseline? A paired bootstrap over the days of a backtest.

For a coverage (5%, 10%), each method has a PAI on every day with at least one incident
(:func:`daily_pai`, the days :func:`~crimeviz.forecast.metrics.hotspot_metrics` averages). The
difference of two methods' mean PAI is the mean of their per-day differences; resampling the days
with replacement (the same resampled days for every method: a *paired* bootstrap) and taking the
2.5% and 97.5% quantiles of the resampled means gives the 95% percentile interval (Efron &
Tibshirani 1993, *An Introduction to the Bootstrap*, §13.3; the paired design, §14.2 on
comparing two estimators on the same data). An interval wholly above zero says the method beat
the baseline on these days by more than day-to-day luck explains.

The *best baseline* at a coverage is the non-learned method with the highest mean PAI over the
same days: chosen with hindsight on the test period itself, which favours the baseline, so a
learned model that still clears it is better by at least that much. Days are resampled
independently, which ignores autocorrelation from one day to the next (a moving-block bootstrap
would widen the interval somewhat).
"""

import numpy as np

from crimeviz.forecast import metrics

RESAMPLES = 2000
LEVEL = 0.95
COVERAGES = (0.05, 0.10)


CANDIDATES = ("selfexc", "ensemble")  # built to beat the baselines: compared with them, never one of them


def learned(method: str) -> bool:
    """Methods put up against the baselines: CDNA and its variants (fitted by gradient descent on
    the training years) and the :data:`CANDIDATES` (:mod:`crimeviz.forecast.blend`)."""
    return method.startswith("cdna") or method in CANDIDATES


def daily_pai(scores: np.ndarray, counts: np.ndarray, areas: np.ndarray, coverage: float) -> np.ndarray:
    """PAI of each day, ``(days,)``; NaN on days without incidents (they have no hit rate)."""
    h = metrics.hit_rates(scores, counts, areas, coverage)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(h["incidents"] > 0, h["hits"] / h["incidents"] / h["area_fraction"], np.nan)


def resample_days(n_days: int, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """``(resamples, n_days)`` day indices drawn with replacement: one draw shared by every method."""
    return np.random.default_rng(seed).integers(0, n_days, size=(resamples, n_days))


def paired_difference(a: np.ndarray, b: np.ndarray, draws: np.ndarray, level: float = LEVEL) -> dict:
    """Mean of ``a − b`` over days, its percentile interval under ``draws``, and the share of draws where a wins."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    means = diff[draws].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return {
        "diff": float(diff.mean()),
        "low": float(low),
        "high": float(high),
        "share_better": float((means > 0).mean()),
    }


def compare(
    per_day: dict[str, dict[str, np.ndarray]], resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL
) -> dict:
    """Every method against the best baseline, per coverage.

    ``per_day`` is ``{method: {"5%": per-day PAI, …}}`` over the same days (NaN where a day had no
    incident). Returns ``{"resamples", "seed", "level", "days", "best_baseline": {"5%": method},
    "methods": {method: {"5%": {"diff", "low", "high", "share_better"}}}}``.
    """
    methods = list(per_day)
    keys = list(next(iter(per_day.values())))
    first = per_day[methods[0]][keys[0]]
    days = np.flatnonzero(~np.isnan(first))
    draws = resample_days(len(days), resamples, seed)
    out = {
        "resamples": resamples,
        "seed": seed,
        "level": level,
        "days": int(len(days)),
        "unit": "difference of mean daily PAI, method minus best baseline",
        "best_baseline": {},
        "methods": {m: {} for m in methods},
    }
    baselines = [m for m in methods if not learned(m)]
    for key in keys:
        if not baselines or not len(days):
            continue
        best = max(baselines, key=lambda m: per_day[m][key][days].mean())
        out["best_baseline"][key] = best
        for method in methods:
            out["methods"][method][key] = paired_difference(
                per_day[method][key][days], per_day[best][key][days], draws, level
            )
    return out


def verdict(comparison: dict, method: str, names: dict[str, str] | None = None) -> str:
    """One sentence on whether ``method`` beat the best baseline, from :func:`compare`'s output.

    "Really better" at a coverage means the whole interval lies above zero; "worse", below zero;
    otherwise the backtest cannot tell the two apart there.
    """
    names = names or {}
    rows = comparison["methods"].get(method, {})
    name = names.get(method, method)
    if not rows:
        return f"{name}: no bootstrap comparison in this backtest."
    details, better, worse, unclear = [], [], [], []
    for key, row in rows.items():
        base = comparison["best_baseline"][key]
        if base == method:
            details.append(f"at {key} it is itself the best baseline")
            continue
        interval = f"{row['diff']:+.2f} PAI, {comparison['level']:.0%} interval {row['low']:+.2f} to {row['high']:+.2f}"
        details.append(f"at {key} vs {names.get(base, base)}: {interval}")
        (better if row["low"] > 0 else worse if row["high"] < 0 else unclear).append(key)
    compared = len(better) + len(worse) + len(unclear)
    if better and len(better) == compared:
        head = f"{name} is really better than the best baseline"
    elif better:
        head = f"{name} is really better than the best baseline at {' and '.join(better)} only"
    elif worse and len(worse) == compared:
        head = f"{name} is worse than the best baseline"
    else:
        head = f"{name} is not shown to be better than the best baseline"
    clauses = []
    if worse and len(worse) < compared:
        clauses.append(f"worse at {' and '.join(worse)}")
    if unclear:
        clauses.append(f"at {' and '.join(unclear)} the interval includes zero")
    head += f" ({'; '.join(clauses)})" if clauses else ""
    return f"{head}: {'; '.join(details)} ({comparison['days']} days, {comparison['resamples']} resamples)."
