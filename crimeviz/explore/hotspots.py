"""Hotspot statistics on the H3 grid: Getis-Ord Gi* and quartic-kernel density.

Gi* is PySAL's ``esda.G_Local(star=True)`` (Getis & Ord 1992; the standardised G*_i of Ord &
Getis 1995) with binary weights over the k-ring of each cell, the cell itself
included. Significance is two-sided, from the normal approximation and from conditional
permutations, each corrected for the many cells tested with Benjamini–Hochberg FDR.
"""

import warnings

import h3
import numpy as np
import pandas as pd
from h3.api import basic_int as h3int
from scipy import sparse
from scipy.spatial import cKDTree
from scipy.stats import false_discovery_control, norm

from crimeviz.store.grid import EARTH_RADIUS_M

PERMUTATIONS = 999
SEED = 12345
NOT_SIGNIFICANT = "Not significant"


def kring_weights(cells: list[int], k: int):
    """Binary libpysal weights: j neighbours i when within k grid steps (self-weights are added by Gi*).

    Build once per (cells, k) and pass to ``gi_star``. libpysal is imported here, not at module
    import: with esda it takes 1–3 s to load.
    """
    from libpysal.weights import W

    index = {c: i for i, c in enumerate(cells)}
    neighbours = {i: [index[n] for n in h3int.grid_disk(c, k) if n != c and n in index] for i, c in enumerate(cells)}
    return W(neighbours, id_order=list(range(len(cells))), silence_warnings=True)


def permutation_p(observed: np.ndarray, simulated: np.ndarray) -> np.ndarray:
    """Two-sided pseudo p-values: twice the smaller tail (M + 1) / (R + 1) (Hope 1968), capped at 1.

    Ties count in both tails. esda's own ``p_sim`` counts a tie on one side only, so a cell whose
    k-ring sum is 0 observed and in most permutations (common with sparse counts) came out extreme.
    """
    from esda.significance import calculate_significance

    tails = [calculate_significance(observed, simulated, alternative=a) for a in ("greater", "lesser")]
    return np.minimum(2 * np.minimum(*tails), 1.0)


def fdr_significant(p: np.ndarray, alpha: float) -> np.ndarray:
    """Benjamini–Hochberg: which p-values are significant at false discovery rate ``alpha``."""
    return false_discovery_control(p, method="bh") <= alpha


def _classes(z: np.ndarray, p: np.ndarray, alpha: float) -> np.ndarray:
    significant = fdr_significant(p, alpha)
    return np.where(~significant, NOT_SIGNIFICANT, np.where(z > 0, "Hot spot", "Cold spot"))


def gi_star(
    counts: pd.Series,
    cells: list[int],
    weights,
    alpha: float = 0.05,
    permutations: int = PERMUTATIONS,
    seed: int = SEED,
) -> pd.DataFrame:
    """Gi* for ``counts`` (indexed by integer cell) over the study ``cells`` with ``kring_weights``.

    Cells of the study area without incidents count as zero. Returns one row per cell:
    ``cell`` (hex), ``n``, ``z``; ``p`` (two-sided, normal approximation) and ``p_sim``
    (two-sided pseudo p-value from ``permutations`` conditional permutations with ``seed``),
    and the class each gives after the FDR correction: ``category`` and ``category_sim``
    (Hot spot / Cold spot / Not significant).
    """
    from esda.getisord import G_Local

    x = pd.Series(counts).reindex(cells, fill_value=0).to_numpy(dtype=float)
    if len(x) < 3:
        raise ValueError("Gi* needs at least 3 cells in the study area")
    if np.ptp(x) == 0:  # no variance: every z is 0 (esda would divide by zero)
        z, p, p_sim = np.zeros(len(x)), np.ones(len(x)), np.ones(len(x))
    else:
        with warnings.catch_warnings():
            # Gi*'s self-weighted copy of the weights re-reports disconnected parts, and esda
            # announces a new default for its p_sim, which is not used (see permutation_p).
            warnings.filterwarnings("ignore", message="The weights matrix is not fully connected")
            warnings.filterwarnings("ignore", message="The alternative hypothesis for conditional randomization")
            with np.errstate(invalid="ignore", divide="ignore"):
                g = G_Local(x, weights, "B", permutations, star=True, n_jobs=1, seed=seed)
        # A cell whose k-ring is the whole study area has no variance: z = 0.
        z = np.where(np.isfinite(g.Zs), g.Zs, 0.0)
        p, p_sim = 2 * norm.sf(np.abs(z)), permutation_p(g.Gs, g.rGs)
        # A cell without neighbours keeps its Gi* under every permutation; esda's simulation
        # drops its self-weight, which made it look extreme.
        p_sim[weights.islands] = 1.0
    return pd.DataFrame(
        {
            "cell": [h3.int_to_str(int(c)) for c in cells],
            "n": x.astype(int),
            "z": z,
            "p": p,
            "p_sim": p_sim,
            "category": _classes(z, p, alpha),
            "category_sim": _classes(z, p_sim, alpha),
        }
    )


def p_label(p: float) -> str:
    """A p-value as people read it: "< 0.001", else three decimals ("0.012")."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def significant_table(gi: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """Cells significant by either test, hottest first, for people: neighbourhood, counts, z,
    both p-values as text and both classes."""
    rows = gi[(gi["category"] != NOT_SIGNIFICANT) | (gi["category_sim"] != NOT_SIGNIFICANT)]
    rows = rows.sort_values("z", ascending=False)
    return pd.DataFrame(
        {
            "Neighbourhood": rows["cell"].map(names).fillna("(none recorded)"),
            "Incidents": rows["n"],
            "Gi* z": rows["z"].round(2),
            "p (normal)": rows["p"].map(p_label),
            "p (permutation)": rows["p_sim"].map(p_label),
            "Class (normal)": rows["category"],
            "Class (permutation)": rows["category_sim"],
        }
    )


def to_local_metres(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    """Equirectangular projection around (lat0, lon0): adequate within a city."""
    x = np.radians(np.asarray(lon) - lon0) * np.cos(np.radians(lat0)) * EARTH_RADIUS_M
    y = np.radians(np.asarray(lat) - lat0) * EARTH_RADIUS_M
    return np.column_stack([x, y])


def cell_centres_m(cells: list[int]) -> tuple[np.ndarray, tuple[float, float]]:
    """Cell centres ``(cells, 2)`` in metres around their mean, and that origin (lat, lon)."""
    centres = np.array([h3int.cell_to_latlng(int(c)) for c in cells]).reshape(-1, 2)
    origin = tuple(centres.mean(axis=0)) if len(centres) else (0.0, 0.0)
    return to_local_metres(centres[:, 0], centres[:, 1], *origin), origin


def quartic_profile(distance: np.ndarray, bandwidth: float) -> np.ndarray:
    """The quartic (biweight) kernel's shape (1 − d²/h²)² for d < h, else 0 (unnormalised)."""
    return np.clip(1.0 - (np.asarray(distance) / bandwidth) ** 2, 0.0, None) ** 2


def quartic_kernel(points: np.ndarray, targets: np.ndarray, bandwidth: float) -> sparse.coo_matrix:
    """``K[t, p]``: the quartic profile of the distance from ``targets[t]`` to ``points[p]`` (both (N, 2), metres).

    The one kernel behind both the density surface here and the forecast's kernel baseline.
    """
    if bandwidth <= 0:
        raise ValueError("bandwidth must be positive")
    shape = (len(targets), len(points))
    if not len(points) or not len(targets):
        return sparse.coo_matrix(shape)
    near = cKDTree(targets).sparse_distance_matrix(cKDTree(points), bandwidth, output_type="coo_matrix")
    row, col = near.row, near.col
    distance = np.hypot(targets[row, 0] - points[col, 0], targets[row, 1] - points[col, 1])
    return sparse.coo_matrix((quartic_profile(distance, bandwidth), (row, col)), shape=shape)


def quartic_density(points: np.ndarray, weights: np.ndarray, targets: np.ndarray, bandwidth: float) -> np.ndarray:
    """Quartic (biweight) kernel density at ``targets`` from weighted ``points`` (both (N, 2), metres).

    K(d) = 3 / (π h²) · (1 − d²/h²)² for d < h, which integrates to 1 over the plane,
    so the result is expected incidents per m² (Silverman 1986, eq. 4.5 in 2-D).
    """
    kernel = quartic_kernel(points, targets, bandwidth)
    return 3.0 / (np.pi * bandwidth**2) * (kernel @ np.asarray(weights, dtype=float))


def cell_density(points_latlon: pd.DataFrame, cells: list[int], bandwidth_m: float) -> pd.DataFrame:
    """Quartic-kernel density of incidents at each cell centre, in incidents per km².

    ``points_latlon`` has ``lat``, ``lon`` and optionally ``n`` (a weight per point).
    """
    centres, origin = cell_centres_m(cells)
    weights = points_latlon["n"].to_numpy(float) if "n" in points_latlon else np.ones(len(points_latlon))
    points = to_local_metres(points_latlon["lat"], points_latlon["lon"], *origin)
    density = quartic_density(points, weights, centres, bandwidth_m)
    return pd.DataFrame({"cell": [h3.int_to_str(int(c)) for c in cells], "density_km2": density * 1e6})
