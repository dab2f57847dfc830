"""Hit rate, PAI, PEI and Poisson fit on hand-computed cases."""

import math

import numpy as np
import pytest

from crimeviz.forecast import metrics

# Two days, five cells of area 1. Day 1: a clear ranking. Day 2: every score tied.
SCORES = np.array([[5, 4, 3, 2, 1], [1, 1, 1, 1, 1]], dtype=float)
COUNTS = np.array([[2, 0, 1, 0, 1], [1, 1, 0, 0, 0]], dtype=float)
AREAS = np.ones(5)


def test_hit_rate_pai_pei_at_one_cell():
    r = metrics.hotspot_metrics(SCORES, COUNTS, AREAS, coverages=(0.2,))
    # day 1: top cell holds 2 of 4 -> 0.5, PAI 0.5 / 0.2, best single cell also 2 -> PEI 1
    # day 2: five-way tie, one cell flagged -> 1/5 of 2 incidents -> 0.2, PAI 1, best 1 -> PEI 0.4
    assert r["hit_rate"]["20%"] == pytest.approx({"mean": 0.35, "pooled": 2.4 / 6})
    assert r["pai"]["20%"] == pytest.approx({"mean": (2.5 + 1.0) / 2, "pooled": 0.4 / 0.2})
    assert r["pei"]["20%"] == pytest.approx({"mean": 0.7, "pooled": 2.4 / 3})


def test_two_cells_and_the_best_possible_selection():
    h = metrics.hit_rates(SCORES[:1], COUNTS[:1], AREAS, 0.4)
    assert h["hits"].tolist() == [2.0]
    assert h["best"].tolist() == [3.0]
    assert h["area_fraction"] == pytest.approx([0.4])


def test_a_constant_forecast_scores_exactly_its_area_share():
    rng = np.random.default_rng(0)
    counts = rng.poisson(0.3, size=(50, 40)).astype(float)
    r = metrics.hotspot_metrics(np.ones_like(counts), counts, np.ones(40), coverages=(0.1,))
    assert r["pai"]["10%"]["pooled"] == pytest.approx(1.0)


def test_coverage_uses_true_cell_areas():
    areas = np.array([2.0, 1.0, 1.0])
    assert metrics.flagged(np.array([[3.0, 2.0, 1.0]]), areas, 0.5).tolist() == [[1, 0, 0]]
    assert metrics.flagged(np.array([[1.0, 3.0, 2.0]]), areas, 0.5).tolist() == [[0, 1, 1]]


def test_days_without_incidents_do_not_enter_the_daily_mean():
    counts = np.vstack([COUNTS[:1], np.zeros((1, 5))])
    r = metrics.hotspot_metrics(SCORES, counts, AREAS, coverages=(0.2,))
    assert r["hit_rate"]["20%"]["mean"] == pytest.approx(0.5)


def test_poisson_loglik_and_deviance():
    fit = metrics.poisson_fit(np.array([1.0, 2.0]), np.array([0.0, 2.0]))
    assert fit["loglik_per_cell_day"] == pytest.approx((-1 + (math.log(2) - 2)) / 2)
    assert fit["deviance_per_cell_day"] == pytest.approx(1.0)


def test_zero_intensity_is_floored_not_infinite():
    fit = metrics.poisson_fit(np.array([0.0]), np.array([1.0]))
    assert math.isfinite(fit["loglik_per_cell_day"])


def test_coverage_keys_read_as_percentages():
    assert [metrics.coverage_key(c) for c in metrics.COVERAGES] == ["1%", "2%", "5%", "10%", "20%"]
