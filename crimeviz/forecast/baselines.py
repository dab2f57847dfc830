"""Baseline hotspot forecasts on the H3 grid, vectorised over forecast days.

Every baseline takes the daily ``counts`` ``(days, cells)`` of a history and the
row indices ``targets`` of the days to forecast, and returns ``(len(targets),
cells)`` intensities (expected incidents per cell on that day) computed only from
``counts[:d]`` for target ``d``. Defaults were chosen on the 2020 validation year
(``evaluate.tune_baselines``), never on the 2021 test year.
"""

from dataclasses import dataclass
from functools import lru_cache

import h3
import numpy as np
from scipy.signal import lfilter

from crimeviz.explore.hotspots import cell_centres_m, quartic_kernel
from crimeviz.forecast.frames import GridMapping, cumulative


def _known_sums(counts: np.ndarray, targets: np.ndarray, window: int, cum: np.ndarray | None = None) -> np.ndarray:
    """Sum of ``counts`` over the ``window`` days before each target day (0 before the history).

    ``cum`` (``frames.cumulative(counts)``) may be passed to reuse it across windows.
    """
    cum = cumulative(counts) if cum is None else cum
    ends = np.maximum(np.asarray(targets), 0)
    return cum[ends] - cum[np.maximum(ends - window, 0)]


def persistence(counts: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Yesterday's counts."""
    return _known_sums(counts, targets, 1)


def moving_count(counts: np.ndarray, targets: np.ndarray, window: int) -> np.ndarray:
    """Mean daily count over the last ``window`` days."""
    return _known_sums(counts, targets, window) / window


@lru_cache(maxsize=8)
def quartic_weights(mapping: GridMapping, bandwidth_m: float) -> np.ndarray:
    """``W[i, j]``: share of an incident in cell ``j`` spread to cell ``i`` by a quartic kernel.

    ``hotspots.quartic_kernel`` on cell-centre distances; each column sums to one, so
    smoothing keeps the number of incidents.
    """
    xy, _ = cell_centres_m(mapping.cells)
    weights = quartic_kernel(xy, xy, bandwidth_m).toarray()
    weights /= weights.sum(axis=0, keepdims=True)
    weights.setflags(write=False)  # cached: shared by every caller
    return weights


def retrospective_hotspot(
    counts: np.ndarray, targets: np.ndarray, mapping: GridMapping, window: int = 365, bandwidth_m: float = 1000.0
) -> np.ndarray:
    """Quartic-kernel density of the last ``window`` days' incidents, per day."""
    return moving_count(counts, targets, window) @ quartic_weights(mapping, bandwidth_m).T


@lru_cache(maxsize=8)
def grid_distances(mapping: GridMapping, max_distance: int) -> np.ndarray:
    """``(cells, cells)`` H3 grid distance, ``max_distance + 1`` beyond ``max_distance``."""
    out = np.full((mapping.n_cells, mapping.n_cells), max_distance + 1, dtype=np.int16)
    position = {cell: k for k, cell in enumerate(mapping.hex())}
    for i, cell in enumerate(mapping.hex()):
        for ring in range(max_distance + 1):
            for other in h3.grid_ring(cell, ring):
                j = position.get(other)
                if j is not None:
                    out[i, j] = ring
    out.setflags(write=False)  # cached: shared by every caller
    return out


def promap(
    counts: np.ndarray, targets: np.ndarray, mapping: GridMapping, max_distance: int = 1, weeks: int = 52
) -> np.ndarray:
    """Prospective hotspot (ProMap, Bowers, Johnson & Pease 2004).

    An incident ``d`` cells and ``t`` whole weeks before the forecast day adds
    ``1 / ((1 + d)(1 + t))`` for ``d ≤ max_distance`` and ``t < weeks``. Scores are
    scaled so each day's total is the mean daily count of the last 365 days.
    """
    targets, cum = np.asarray(targets), cumulative(counts)
    recent = sum(_known_sums(counts, targets - 7 * t, 7, cum) / (1 + t) for t in range(weeks))
    dist = grid_distances(mapping, max_distance)
    spatial = np.where(dist <= max_distance, 1.0 / (1 + dist), 0.0)
    score = recent @ spatial.T
    return _scaled_to(score, moving_count(counts, targets, 365).sum(axis=1))


def _scaled_to(score: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Rows of ``score`` rescaled to sum to ``totals`` (uniform where a row is all zero)."""
    row = score.sum(axis=1, keepdims=True)
    share = np.where(row > 0, score / np.where(row > 0, row, 1), 1.0 / score.shape[1])
    return share * totals[:, None]


@dataclass(frozen=True)
class SEPP:
    """Grid self-exciting point process (Mohler et al. 2015), in days.

    ``λ_c(d) = μ_c + θ Σ_{s<d} n_c(s) (1 − r) r^(d−s−1)``: a constant background per
    cell plus triggering by earlier incidents in the same cell, decaying
    exponentially (geometric lag ≥ 1 day, mean ``1 / (1 − r)`` days).
    """

    mu: np.ndarray
    theta: float
    r: float

    @classmethod
    def fit(cls, counts: np.ndarray, iterations: int = 60, theta: float = 0.1, r: float = 0.8) -> "SEPP":
        """Expectation-maximisation on ``counts`` ``(days, cells)`` (Mohler et al. 2011, 2015)."""
        counts = np.asarray(counts, dtype=np.float64)
        days = len(counts)
        mu = counts.mean(axis=0) * (1 - theta) + 1e-9
        for _ in range(iterations):
            a = _excitation(counts, r)[:-1]
            b = lfilter([1.0], [1.0, -r], a, axis=0)  # Σ n(s) (d − s) r^(d−s−1)
            trig = theta * (1 - r) * a
            lam = mu + trig
            p_trig = np.divide(trig, lam, out=np.zeros_like(lam), where=lam > 0)
            triggered = (counts * p_trig).sum()
            mu = (counts * (1 - p_trig)).sum(axis=0) / days + 1e-9
            exposure = (counts.sum(axis=1) * (1 - r ** np.arange(days - 1, -1, -1))).sum()
            theta = triggered / exposure
            lag = (counts * theta * (1 - r) * b / np.where(lam > 0, lam, 1)).sum() / max(triggered, 1e-12)
            r = float(np.clip(1 - 1 / max(lag, 1.0 + 1e-6), 0.0, 0.999))
        return cls(mu, float(theta), r)

    def intensity(self, counts: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Causal intensities for the target days of a history (fitted parameters held fixed)."""
        a = _excitation(np.asarray(counts, dtype=np.float64), self.r)
        return self.mu + self.theta * (1 - self.r) * a[np.asarray(targets)]

    def to_dict(self) -> dict:
        return {
            "theta": self.theta,
            "mean_lag_days": 1 / (1 - self.r),
            "r": self.r,
            "mean_background_per_day": float(self.mu.sum()),
        }


def _excitation(counts: np.ndarray, r: float) -> np.ndarray:
    """``a[d] = Σ_{s<d} counts[s] r^(d−s−1)`` for every day, plus one row for the day after."""
    padded = np.vstack([np.zeros((1, counts.shape[1])), counts])
    return lfilter([1.0], [1.0, -r], padded, axis=0)
