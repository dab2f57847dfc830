"""Hotspot statistics on the H3 grid: Getis-Ord Gi* and quartic-kernel density.

Gi* follows Getis & Ord (1992) / Ord & Getis (1995), eq. for G*_i as a z-score, with
binary weights over the k-ring of each cell (the cell itself included). Significance
is two-sided and corrected for the many cells tested with Benjamini–Hochberg FDR.
"""

import h3
import numpy as np
import pandas as pd
from h3.api import basic_int as h3int
from scipy import sparse
from scipy.spatial import cKDTree
from scipy.stats import norm

EARTH_RADIUS_M = 6_371_008.8


def kring_weights(cells: list[int], k: int) -> sparse.csr_matrix:
    """Binary weights w_ij = 1 if j is within k grid steps of i (i itself included)."""
    index = {c: i for i, c in enumerate(cells)}
    rows, cols = [], []
    for i, c in enumerate(cells):
        for n in h3int.grid_disk(c, k):
            j = index.get(n)
            if j is not None:
                rows.append(i)
                cols.append(j)
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(cells), len(cells)))


def fdr_reject(p: np.ndarray, alpha: float) -> np.ndarray:
    """Benjamini–Hochberg: which p-values are significant at false discovery rate ``alpha``."""
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    passed = np.nonzero(ranked <= alpha)[0]
    out = np.zeros(len(p), dtype=bool)
    if len(passed):
        out[order[: passed.max() + 1]] = True
    return out


def gi_star(counts: pd.Series, cells: list[int], k: int = 1, alpha: float = 0.05) -> pd.DataFrame:
    """Gi* z-scores for ``counts`` (indexed by integer cell) over the study ``cells``.

    Cells of the study area without incidents count as zero. Returns one row per
    cell: ``cell`` (hex), ``n``, ``z``, ``p`` (two-sided), ``significant`` (FDR) and
    ``category`` (Hot spot / Cold spot / Not significant).
    """
    x = pd.Series(counts).reindex(cells, fill_value=0).to_numpy(dtype=float)
    n = len(x)
    if n < 3:
        raise ValueError("Gi* needs at least 3 cells in the study area")
    w = kring_weights(cells, k)
    mean = x.mean()
    s = np.sqrt((x**2).mean() - mean**2)
    wsum = np.asarray(w.sum(axis=1)).ravel()
    w2sum = np.asarray(w.multiply(w).sum(axis=1)).ravel()
    num = w @ x - mean * wsum
    den = s * np.sqrt((n * w2sum - wsum**2) / (n - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(den > 0, num / den, 0.0)
    p = 2 * norm.sf(np.abs(z))
    significant = fdr_reject(p, alpha)
    category = np.where(~significant, "Not significant", np.where(z > 0, "Hot spot", "Cold spot"))
    return pd.DataFrame(
        {
            "cell": [h3.int_to_str(int(c)) for c in cells],
            "n": x.astype(int),
            "z": z,
            "p": p,
            "significant": significant,
            "category": category,
        }
    )


def to_local_metres(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    """Equirectangular projection around (lat0, lon0): adequate within a city."""
    x = np.radians(np.asarray(lon) - lon0) * np.cos(np.radians(lat0)) * EARTH_RADIUS_M
    y = np.radians(np.asarray(lat) - lat0) * EARTH_RADIUS_M
    return np.column_stack([x, y])


def quartic_profile(distance: np.ndarray, bandwidth: float) -> np.ndarray:
    """The quartic (biweight) kernel's shape (1 − d²/h²)² for d < h, else 0 (unnormalised)."""
    return np.clip(1.0 - (np.asarray(distance) / bandwidth) ** 2, 0.0, None) ** 2


def quartic_density(points: np.ndarray, weights: np.ndarray, targets: np.ndarray, bandwidth: float) -> np.ndarray:
    """Quartic (biweight) kernel density at ``targets`` from weighted ``points`` (both (N, 2), metres).

    K(d) = 3 / (π h²) · (1 − d²/h²)² for d < h, which integrates to 1 over the plane,
    so the result is expected incidents per m² (Silverman 1986, eq. 4.5 in 2-D).
    """
    if bandwidth <= 0:
        raise ValueError("bandwidth must be positive")
    out = np.zeros(len(targets))
    if len(points) == 0:
        return out
    near = cKDTree(targets).sparse_distance_matrix(cKDTree(points), bandwidth, output_type="coo_matrix")
    kernel = 3.0 / (np.pi * bandwidth**2) * quartic_profile(near.data, bandwidth)
    np.add.at(out, near.row, kernel * weights[near.col])
    return out


def cell_density(points_latlon: pd.DataFrame, cells: list[int], bandwidth_m: float) -> pd.DataFrame:
    """Quartic-kernel density of incidents at each cell centre, in incidents per km².

    ``points_latlon`` has ``lat``, ``lon`` and optionally ``n`` (a weight per point).
    """
    centres = np.array([h3int.cell_to_latlng(c) for c in cells])
    lat0, lon0 = centres.mean(axis=0)
    weights = points_latlon["n"].to_numpy(float) if "n" in points_latlon else np.ones(len(points_latlon))
    density = quartic_density(
        to_local_metres(points_latlon["lat"], points_latlon["lon"], lat0, lon0),
        weights,
        to_local_metres(centres[:, 0], centres[:, 1], lat0, lon0),
        bandwidth_m,
    )
    return pd.DataFrame({"cell": [h3.int_to_str(int(c)) for c in cells], "density_km2": density * 1e6})
