"""Gi* and the quartic kernel on hand-made grids with hand-checkable answers."""

import h3
import numpy as np
import pandas as pd
import pytest

from crimeviz.explore import hotspots

CENTRE = h3.str_to_int(h3.latlng_to_cell(43.70, -79.40, 8))


def disk(k):
    return sorted(h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(CENTRE), k))


def test_gi_star_flags_a_cluster_as_hot_and_nothing_else():
    cells = disk(6)
    counts = pd.Series({c: 20 for c in disk(1)})
    gi = hotspots.gi_star(counts, cells, k=1, alpha=0.05).set_index("cell")
    assert gi.loc[h3.int_to_str(CENTRE), "category"] == "Hot spot"
    far = [h3.int_to_str(c) for c in set(cells) - set(disk(3))]
    assert (gi.loc[far, "category"] == "Not significant").all()


def test_gi_star_matches_the_formula_for_one_cell():
    cells = disk(2)
    rng = np.random.default_rng(0)
    counts = pd.Series(rng.integers(0, 10, len(cells)), index=cells)
    gi = hotspots.gi_star(counts, cells, k=1).set_index("cell")
    x = counts.to_numpy(float)
    n, mean, s = len(x), x.mean(), x.std()
    neighbours = [cells.index(c) for c in disk(1)]
    w = len(neighbours)
    expected = (x[neighbours].sum() - mean * w) / (s * np.sqrt((n * w - w**2) / (n - 1)))
    assert gi.loc[h3.int_to_str(CENTRE), "z"] == pytest.approx(expected)


def test_uniform_counts_have_no_significant_cells():
    cells = disk(4)
    gi = hotspots.gi_star(pd.Series(5, index=cells), cells)
    assert not gi["significant"].any()


def test_fdr_hand_case():
    p = np.array([0.001, 0.02, 0.03, 0.5])
    # BH at 0.05: thresholds 0.0125, 0.025, 0.0375, 0.05 → the first three pass.
    assert list(hotspots.fdr_reject(p, 0.05)) == [True, True, True, False]


def test_quartic_kernel_integrates_to_one_and_vanishes_beyond_bandwidth():
    step = 5.0
    xs = np.arange(-600, 600 + step, step)
    grid = np.array([(x, y) for x in xs for y in xs])
    density = hotspots.quartic_density(np.zeros((1, 2)), np.ones(1), grid, bandwidth=500)
    assert density.sum() * step * step == pytest.approx(1.0, rel=1e-3)
    assert density[np.hypot(grid[:, 0], grid[:, 1]) >= 500].max() == 0
    assert density.max() == pytest.approx(3 / (np.pi * 500**2))


def test_cell_density_is_per_km2():
    cells = disk(3)
    lat, lon = h3.cell_to_latlng(h3.int_to_str(CENTRE))
    out = hotspots.cell_density(pd.DataFrame({"lat": [lat], "lon": [lon], "n": [2]}), cells, 1000)
    peak = out.set_index("cell")["density_km2"][h3.int_to_str(CENTRE)]
    assert peak == pytest.approx(2 * 3 / (np.pi * 1.0**2), rel=1e-6)
