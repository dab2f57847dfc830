"""Baselines: hand-checkable values, causality, kernel normalisation, SEPP recovery."""

import h3
import numpy as np
import pandas as pd
import pytest

from crimeviz.explore import hotspots
from crimeviz.forecast import baselines, frames

CENTRE = h3.latlng_to_cell(43.6534, -79.3841, 8)


@pytest.fixture(scope="module")
def ring1():
    return frames.grid_mapping([h3.str_to_int(c) for c in h3.grid_disk(CENTRE, 1)], 8)


def test_persistence_and_moving_counts():
    counts = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [9.0, 9.0]])
    assert baselines.persistence(counts, np.array([3])).tolist() == [[3.0, 0.0]]
    assert baselines.moving_count(counts, np.array([3]), 2).tolist() == [[2.5, 0.5]]
    assert baselines.moving_count(counts, np.array([0]), 7).tolist() == [[0.0, 0.0]]


@pytest.mark.parametrize("method", ["persistence", "mc", "kde", "promap", "sepp"])
def test_forecasts_never_see_their_own_day_or_later(method, ring1):
    rng = np.random.default_rng(1)
    counts = rng.poisson(0.5, size=(120, ring1.n_cells)).astype(float)
    changed = counts.copy()
    changed[100:] += 5
    sepp = baselines.SEPP.fit(counts[:80], iterations=5)
    run = {
        "persistence": lambda c: baselines.persistence(c, np.array([90, 100])),
        "mc": lambda c: baselines.moving_count(c, np.array([90, 100]), 28),
        "kde": lambda c: baselines.retrospective_hotspot(c, np.array([90, 100]), ring1, 28, 1300.0),
        "promap": lambda c: baselines.promap(c, np.array([90, 100]), ring1, 1, 4),
        "sepp": lambda c: sepp.intensity(c, np.array([90, 100])),
    }[method]
    assert np.array_equal(run(counts), run(changed))


def test_quartic_weights_keep_each_incident_whole(ring1):
    w = baselines.quartic_weights(ring1, 1300.0)
    assert np.allclose(w.sum(axis=0), 1.0)
    assert (w >= 0).all()
    centre = ring1.index_of([h3.str_to_int(CENTRE)])[0]
    assert w[centre, centre] == w[:, centre].max()
    assert np.allclose(baselines.quartic_weights(ring1, 10.0), np.eye(ring1.n_cells))


def test_promap_weights_by_cells_and_weeks(ring1):
    centre = ring1.index_of([h3.str_to_int(CENTRE)])[0]
    counts = np.zeros((30, ring1.n_cells))
    counts[26, centre] = 1  # 3 days before day 29: this week (t = 0)
    counts[19, centre] = 1  # 10 days before: last week (t = 1), weight 1/2
    score = baselines.promap(counts, np.array([29]), ring1, max_distance=1, weeks=2)[0]
    neighbours = np.arange(ring1.n_cells) != centre
    # centre 1 + 1/2, each neighbour (1 + 1/2) / 2; scaled to the 365-day mean total 2/365
    raw_total = 1.5 + 6 * 0.75
    assert score[centre] == pytest.approx(1.5 / raw_total * 2 / 365)
    assert np.allclose(score[neighbours], 0.75 / raw_total * 2 / 365)


def test_sepp_em_recovers_simulated_parameters():
    rng = np.random.default_rng(0)
    cells, days, mu, theta, r = 60, 3000, 0.05, 0.4, 0.7
    counts = np.zeros((days, cells))
    excitation = np.zeros(cells)
    for d in range(days):
        counts[d] = rng.poisson(mu + theta * (1 - r) * excitation)
        excitation = r * excitation + counts[d]
    fit = baselines.SEPP.fit(counts)
    assert fit.theta == pytest.approx(theta, abs=0.06)
    assert fit.r == pytest.approx(r, abs=0.08)
    assert fit.mu.mean() == pytest.approx(mu, rel=0.15)


def test_kernel_baseline_spreads_an_incident_like_the_density_surface(ring1):
    """One quartic kernel: a column of the baseline's weights is the density surface of one
    incident at that cell's centre, rescaled to keep the incident whole."""
    centre = ring1.index_of([h3.str_to_int(CENTRE)])[0]
    lat, lon = h3.cell_to_latlng(CENTRE)
    surface = hotspots.cell_density(pd.DataFrame({"lat": [lat], "lon": [lon]}), list(ring1.cells), 1300.0)
    density = surface["density_km2"].to_numpy()
    assert baselines.quartic_weights(ring1, 1300.0)[:, centre] == pytest.approx(density / density.sum())
