"""Hotspot forecast metrics: hit rate, PAI and PEI at area coverages, and Poisson fit.

All functions take ``scores`` and ``counts`` as ``(days, cells)`` arrays over the
valid area and true cell ``areas`` (km²). For each day the highest-scoring cells
are flagged until their area reaches the coverage (largest prefix not exceeding
it); cells tied at the boundary are taken fractionally, which is the expectation
under a random tie-break, so a constant forecast scores exactly its area share.

- hit rate: share of the day's incidents inside flagged cells;
- PAI (Chainey et al. 2008): hit rate ÷ flagged share of the valid area;
- PEI (Hunt 2016): hit rate ÷ the best hit rate any selection of as many cells
  could reach that day (cells of one resolution differ in area by < 1% in a city).

Each is reported as the mean over days with ≥ 1 incident and pooled over all days
(total hits ÷ total incidents).
"""

import numpy as np
from scipy.special import gammaln

COVERAGES = (0.01, 0.02, 0.05, 0.10, 0.20)
INTENSITY_FLOOR = 1e-4  # expected incidents per cell-day, so a zero forecast keeps a finite likelihood


def coverage_key(coverage: float) -> str:
    """``0.05`` -> ``"5%"``: the JSON key of a coverage."""
    return f"{coverage * 100:g}%"


def flagged(scores: np.ndarray, areas: np.ndarray, coverage: float) -> np.ndarray:
    """Fraction (0..1) of each cell flagged on each day: ``(days, cells)``."""
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(-scores, axis=1, kind="stable")
    sorted_scores = np.take_along_axis(scores, order, axis=1)
    cum_area = np.cumsum(areas[order], axis=1)
    k = np.maximum((cum_area <= coverage * areas.sum() * (1 + 1e-9)).sum(axis=1), 1)
    threshold = sorted_scores[np.arange(len(scores)), k - 1][:, None]
    above = scores > threshold
    tied = scores == threshold
    share = (k - above.sum(axis=1)) / tied.sum(axis=1)
    return above + tied * share[:, None]


def hit_rates(scores: np.ndarray, counts: np.ndarray, areas: np.ndarray, coverage: float) -> dict[str, np.ndarray]:
    """Per-day ``hits``, ``best`` (hits of the best equally sized selection), ``incidents`` and ``area_fraction``."""
    counts = np.asarray(counts, dtype=float)
    weight = flagged(scores, areas, coverage)
    n_flagged = np.rint(weight.sum(axis=1)).astype(int)
    best_sorted = -np.sort(-counts, axis=1)
    best = np.take_along_axis(np.cumsum(best_sorted, axis=1), n_flagged[:, None] - 1, axis=1)[:, 0]
    return {
        "hits": (weight * counts).sum(axis=1),
        "best": best,
        "incidents": counts.sum(axis=1),
        "area_fraction": weight @ areas / areas.sum(),
    }


def hotspot_metrics(
    scores: np.ndarray, counts: np.ndarray, areas: np.ndarray, coverages=COVERAGES
) -> dict[str, dict[str, dict[str, float]]]:
    """``{"hit_rate"|"pai"|"pei": {"5%": {"mean": …, "pooled": …}}}`` over all days."""
    out = {"hit_rate": {}, "pai": {}, "pei": {}}
    for coverage in coverages:
        h = hit_rates(scores, counts, areas, coverage)
        days = h["incidents"] > 0
        rate = h["hits"][days] / h["incidents"][days]
        pooled_rate = h["hits"].sum() / h["incidents"].sum()
        key = coverage_key(coverage)
        out["hit_rate"][key] = {"mean": float(rate.mean()), "pooled": float(pooled_rate)}
        out["pai"][key] = {
            "mean": float((rate / h["area_fraction"][days]).mean()),
            "pooled": float(pooled_rate / h["area_fraction"].mean()),
        }
        out["pei"][key] = {
            "mean": float((h["hits"][days] / h["best"][days]).mean()),
            "pooled": float(h["hits"].sum() / h["best"].sum()),
        }
    return out


def poisson_fit(intensity: np.ndarray, counts: np.ndarray) -> dict[str, float]:
    """Mean Poisson log-likelihood and deviance per cell-day of an intensity forecast.

    The intensity is floored at ``INTENSITY_FLOOR``.
    """
    lam = np.maximum(np.asarray(intensity, dtype=float), INTENSITY_FLOOR)
    y = np.asarray(counts, dtype=float)
    loglik = y * np.log(lam) - lam - gammaln(y + 1)
    y_log_y = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / lam), 0.0)
    deviance = 2 * (y_log_y - (y - lam))
    return {"loglik_per_cell_day": float(loglik.mean()), "deviance_per_cell_day": float(deviance.mean())}
