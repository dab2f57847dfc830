"""Gi* and the quartic kernel on hand-made grids with hand-checkable answers."""

import h3
import numpy as np
import pandas as pd
import pytest

from crimeviz.explore import hotspots

CENTRE = h3.str_to_int(h3.latlng_to_cell(43.70, -79.40, 8))


def disk(k, centre=CENTRE):
    return sorted(h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(centre), k))


def gi(counts, cells, k=1, **kwargs):
    return hotspots.gi_star(counts, cells, hotspots.kring_weights(cells, k), **kwargs)


def ord_getis_z(x: np.ndarray, cells: list[int], k: int) -> np.ndarray:
    """The standardised G*_i of Ord & Getis (1995), written out, with binary k-ring weights (self included)."""
    n, mean, s = len(x), x.mean(), x.std()
    out = []
    for c in cells:
        w = np.array([h3.grid_distance(h3.int_to_str(c), h3.int_to_str(o)) <= k for o in cells], dtype=float)
        out.append((w @ x - mean * w.sum()) / (s * np.sqrt((n * (w**2).sum() - w.sum() ** 2) / (n - 1))))
    return np.array(out)


def bh(p: np.ndarray, alpha: float) -> np.ndarray:
    """Benjamini–Hochberg step-up, written out."""
    order = np.argsort(p)
    passed = np.nonzero(p[order] <= alpha * np.arange(1, len(p) + 1) / len(p))[0]
    out = np.zeros(len(p), dtype=bool)
    if len(passed):
        out[order[: passed.max() + 1]] = True
    return out


def test_gi_star_on_a_seven_cell_world_by_hand():
    # Six incidents in the centre of a 7-cell disk, k = 1. The centre's ring holds every cell:
    # its sum equals the expectation, z = 0. An outer cell sees itself, the centre and two
    # neighbours (W = 4): (6 - 4·6/7) / (S·√((7·4 - 16)/6)) with S = √216 / 7, which is √3 / 2.
    cells = disk(1)
    out = gi(pd.Series({CENTRE: 6}), cells).set_index("cell")
    outer = [h3.int_to_str(c) for c in cells if c != CENTRE]
    assert out.loc[h3.int_to_str(CENTRE), "z"] == pytest.approx(0.0, abs=1e-12)
    assert out.loc[outer, "z"].to_numpy() == pytest.approx(np.full(6, np.sqrt(3) / 2))


@pytest.mark.parametrize("k", [1, 2])
def test_gi_star_z_matches_the_ord_getis_formula_on_every_cell(k):
    cells = disk(4)
    counts = pd.Series(np.random.default_rng(k).poisson(3, len(cells)), index=cells)
    out = gi(counts, cells, k)
    assert out["z"].to_numpy() == pytest.approx(ord_getis_z(counts.to_numpy(float), cells, k))


def test_analytic_classes_are_the_formula_with_benjamini_hochberg():
    cells = disk(6)
    rng = np.random.default_rng(3)
    counts = pd.Series(rng.poisson(2, len(cells)), index=cells)
    counts[disk(1)] += 15
    counts[disk(1, h3.str_to_int(h3.grid_ring(h3.int_to_str(CENTRE), 4)[0]))] = 0
    out = gi(counts, cells, alpha=0.05)
    z = ord_getis_z(counts.to_numpy(float), cells, 1)
    from scipy.stats import norm

    significant = bh(2 * norm.sf(np.abs(z)), 0.05)
    expected = np.where(~significant, "Not significant", np.where(z > 0, "Hot spot", "Cold spot"))
    assert significant.sum() > 3
    assert list(out["category"]) == list(expected)


def test_a_cluster_is_hot_by_both_tests_and_far_cells_by_neither():
    cells = disk(6)
    # 9999 permutations: with 999 no p can be below 0.002, too coarse for FDR over 127 cells.
    out = gi(pd.Series({c: 20 for c in disk(1)}), cells, alpha=0.05, permutations=9999).set_index("cell")
    far = [h3.int_to_str(c) for c in set(cells) - set(disk(3))]
    for column in ("category", "category_sim"):
        assert out.loc[h3.int_to_str(CENTRE), column] == "Hot spot"
        assert (out.loc[far, column] == "Not significant").all()


def test_permutation_p_values_are_seeded_and_bounded_by_the_permutations():
    cells = disk(4)
    counts = pd.Series(np.random.default_rng(5).poisson(3, len(cells)), index=cells)
    a, b = gi(counts, cells, permutations=99, seed=7), gi(counts, cells, permutations=99, seed=7)
    assert a["p_sim"].tolist() == b["p_sim"].tolist()
    assert a["p_sim"].min() >= 2 / 100 and a["p_sim"].max() <= 1


def test_a_cell_without_neighbours_is_never_significant_by_permutation():
    island = h3.str_to_int(h3.latlng_to_cell(43.90, -79.00, 8))
    cells = disk(2) + [island]
    out = gi(pd.Series({island: 50}), cells).set_index("cell")
    assert out.loc[h3.int_to_str(island), "p_sim"] == 1.0


def test_uniform_counts_have_no_significant_cells():
    cells = disk(4)
    out = gi(pd.Series(5, index=cells), cells)
    assert (out["category"] == "Not significant").all() and (out["category_sim"] == "Not significant").all()
    assert (out["z"] == 0).all()


def test_fdr_hand_case():
    p = np.array([0.001, 0.02, 0.03, 0.5])
    # BH at 0.05: thresholds 0.0125, 0.025, 0.0375, 0.05 → the first three pass.
    assert list(hotspots.fdr_significant(p, 0.05)) == [True, True, True, False]
    assert list(hotspots.fdr_significant(p, 0.05)) == list(bh(p, 0.05))


def test_quartic_kernel_integrates_to_one_and_vanishes_beyond_bandwidth():
    step = 5.0
    xs = np.arange(-600, 600 + step, step)
    grid = np.array([(x, y) for x in xs for y in xs])
    density = hotspots.quartic_density(np.zeros((1, 2)), np.ones(1), grid, bandwidth=500)
    assert density.sum() * step * step == pytest.approx(1.0, rel=1e-3)
    assert density[np.hypot(grid[:, 0], grid[:, 1]) >= 500].max() == 0
    assert density.max() == pytest.approx(3 / (np.pi * 500**2))


def test_quartic_kernel_matrix_is_the_profile_of_every_pair():
    points = np.array([[0.0, 0.0], [300.0, 400.0]])
    targets = np.array([[0.0, 0.0], [0.0, 250.0], [2000.0, 0.0]])
    kernel = hotspots.quartic_kernel(points, targets, 1000.0).toarray()
    expected = [[1.0, (1 - 0.25) ** 2], [(1 - 0.0625) ** 2, (1 - 0.1125) ** 2], [0.0, 0.0]]
    assert kernel == pytest.approx(np.array(expected))


def test_cell_density_is_per_km2():
    cells = disk(3)
    lat, lon = h3.cell_to_latlng(h3.int_to_str(CENTRE))
    out = hotspots.cell_density(pd.DataFrame({"lat": [lat], "lon": [lon], "n": [2]}), cells, 1000)
    peak = out.set_index("cell")["density_km2"][h3.int_to_str(CENTRE)]
    assert peak == pytest.approx(2 * 3 / (np.pi * 1.0**2), rel=1e-6)
