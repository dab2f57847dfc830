"""Self-exciting map and ensemble: hand-checkable terms, PAI as the metrics compute it, weights
chosen on the validation year only and deterministically."""

from datetime import date, timedelta

import h3
import numpy as np
import pytest

from crimeviz.forecast import baselines, blend, bootstrap, evaluate, frames, metrics
from crimeviz.forecast.predict import method_intensities
from crimeviz.forecast.protocol import Protocol

CENTRE = h3.latlng_to_cell(43.6534, -79.3841, 8)
START = date(2017, 1, 1)
TINY = Protocol(
    train_end=date(2017, 12, 31),
    val_start=date(2018, 1, 1),
    val_end=date(2018, 3, 31),
    test_start=date(2018, 4, 1),
    test_end=date(2018, 4, 30),
)


@pytest.fixture(scope="module")
def ring3():
    return frames.grid_mapping([h3.str_to_int(c) for c in h3.grid_disk(CENTRE, 3)], 8)


@pytest.fixture(scope="module")
def history(ring3):
    """Poisson counts from 2017-01-01 to the end of the tiny test month, hot spots moving in 2018."""
    days = (TINY.test_end - START).days + 1
    rng = np.random.default_rng(7)
    rate = np.tile(np.linspace(0.05, 0.6, ring3.n_cells), (days, 1))
    rate[365:, :3] += 2.0  # three cells heat up from 2018: recent counts see it first
    cube = rng.poisson(rate[:, None, :] * np.array([0.6, 0.4])[None, :, None]).astype(np.float32)
    return frames.History(ring3, ["Assault", "Robbery"], START, cube)


def test_decayed_counts_halve_each_half_life():
    counts = np.zeros((6, 2))
    counts[0, 0] = 1.0
    out = blend.decayed_counts(counts, np.arange(6), half_life=1.0)  # r = 0.5, weight (1 − r) r^(d−s−1)
    assert out[:, 0].tolist() == [0.0, 0.5, 0.25, 0.125, 0.0625, 0.03125]
    assert out[:, 1].tolist() == [0.0] * 6
    steady = blend.decayed_counts(np.full((400, 1), 3.0), np.array([400]), half_life=10.0)
    assert steady[0, 0] == pytest.approx(3.0, rel=1e-9)


def test_self_exciting_spans_kernel_hotspot_to_recent_counts(ring3):
    rng = np.random.default_rng(3)
    counts = rng.poisson(0.4, size=(500, ring3.n_cells)).astype(float)
    targets = np.array([400, 450])
    kde = baselines.retrospective_hotspot(counts, targets, ring3)
    recent = blend.decayed_counts(counts, targets, 30.0)
    assert np.allclose(blend.self_exciting(counts, targets, ring3, 0.0, 30.0), kde)
    assert np.allclose(blend.self_exciting(counts, targets, ring3, 1.0, 30.0), recent)
    assert np.allclose(blend.self_exciting(counts, targets, ring3, 0.25, 30.0), 0.75 * kde + 0.25 * recent)
    changed = counts.copy()
    changed[400:] += 9  # a target's own day and later never enter its forecast
    assert np.array_equal(
        blend.self_exciting(counts, [400], ring3, 0.5, 30.0), blend.self_exciting(changed, [400], ring3, 0.5, 30.0)
    )


def test_mean_pai_is_the_metrics_pai_ties_included():
    rng = np.random.default_rng(5)
    areas = rng.uniform(0.7, 0.8, size=60)
    scores = rng.integers(0, 4, size=(30, 60)).astype(float)  # many ties at the coverage boundary
    counts = rng.poisson(0.3, size=(30, 60)).astype(float)
    counts[4] = 0  # a day without incidents is left out of the mean
    expected = metrics.hotspot_metrics(scores, counts, areas, (0.05, 0.10))["pai"]
    assert blend.mean_pai(scores, counts, areas) == pytest.approx([expected["5%"]["mean"], expected["10%"]["mean"]])


def test_simplex_weights_sum_to_one():
    grid = blend.simplex(3, 0.5)
    assert sorted(map(tuple, grid.tolist())) == [
        (0.0, 0.0, 1.0),
        (0.0, 0.5, 0.5),
        (0.0, 1.0, 0.0),
        (0.5, 0.0, 0.5),
        (0.5, 0.5, 0.0),
        (1.0, 0.0, 0.0),
    ]
    with pytest.raises(ValueError):
        blend.simplex(2, 0.3)


def test_ensemble_weights_go_to_the_component_that_finds_the_hot_spots():
    truth = np.zeros((20, 40))
    truth[:, :4] = 3.0  # four hot cells every day
    areas = np.ones(40)
    good = truth + 0.1
    bad = np.tile(np.linspace(1, 0, 40), (20, 1))[:, ::-1]  # ranks the hot cells last
    fit = blend.tune_ensemble({"bad": bad, "good": good}, truth, areas, step=0.25)
    assert (fit["best"]["bad"], fit["best"]["good"]) == (0.0, 1.0)
    assert fit["evaluated"] == 5


def test_self_exciting_settings_are_chosen_without_the_test_period(history):
    counts = history.group("all")
    rows = evaluate.validation_rows(history, TINY)
    first = blend.tune_self_exciting(counts, rows, history.mapping)
    changed = counts.copy()
    changed[rows.max() + 1 :] = changed[rows.max() + 1 :][:, ::-1] + 7  # a different test month
    again = blend.tune_self_exciting(changed, rows, history.mapping)
    assert first == again
    kde = baselines.retrospective_hotspot(counts, rows, history.mapping)
    truth = counts[rows]
    assert first["best"]["score"] > blend.validation_score(kde, truth, history.mapping.areas_km2)  # cells heat up
    assert len(first["table"]) == len(blend.SELFEXC_GRID["share"]) * len(blend.SELFEXC_GRID["half_life"])


def test_ensemble_weights_use_no_data_after_the_validation_year(history):
    rows = evaluate.validation_rows(history, TINY)
    cdna_val = np.broadcast_to(history.group("all")[: rows[0]].mean(axis=0), (len(rows), history.mapping.n_cells))
    tuned = evaluate.tune_baselines(history, TINY)
    chosen = {name: evaluate._without_score(row) for name, row in tuned["best"].items()}
    fit = evaluate.tune_ensemble(history, TINY, "all", cdna_val, chosen)
    later = history.counts.copy()
    later[rows.max() + 1 :] = later[rows.max() + 1 :][:, :, ::-1] * 3  # the test month changed beyond recognition
    changed = frames.History(history.mapping, history.offences, history.start, later)
    assert evaluate.tune_ensemble(changed, TINY, "all", cdna_val, chosen) == fit
    assert set(fit["best"]) == set(blend.ENSEMBLE_COMPONENTS) | {"score"}
    assert sum(fit["best"][name] for name in blend.ENSEMBLE_COMPONENTS) == pytest.approx(1.0)
    assert evaluate.tune_ensemble(history, TINY, "all", cdna_val, chosen) == fit  # deterministic


def test_candidates_are_compared_with_the_baselines_never_counted_as_one():
    assert bootstrap.learned("ensemble") and bootstrap.learned("selfexc") and bootstrap.learned("cdna")
    assert not bootstrap.learned("mc365")
    day = np.arange(10.0)
    per_day = {
        "mc365": {"5%": day},
        "selfexc": {"5%": day + 1.0},  # better every day
    }
    out = bootstrap.compare(per_day, resamples=200)
    assert out["best_baseline"]["5%"] == "mc365"
    assert out["methods"]["selfexc"]["5%"]["low"] == pytest.approx(1.0)


def test_method_intensities_forecast_the_self_exciting_map_from_the_days_before(history):
    targets = np.array([history.index(TINY.test_start) + k for k in range(5)])
    counts = history.group("Robbery")
    got = method_intensities("selfexc", history, targets, "Robbery", options={"share": 0.5, "half_life": 30.0})
    assert np.allclose(got, blend.self_exciting(counts, targets, history.mapping, 0.5, 30.0))
    two_ahead = method_intensities("selfexc", history, targets, "Robbery", lead=2)
    assert np.allclose(two_ahead, blend.self_exciting(counts, targets - 1, history.mapping))
    assert (history.start + timedelta(days=int(targets[0]))) == TINY.test_start
