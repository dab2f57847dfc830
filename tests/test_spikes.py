"""Spike alerts: the one-sided Poisson test with Benjamini–Hochberg, checked by hand and on a small store."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from h3.api import basic_int as h3int

from crimeviz.explore import spikes
from crimeviz.store import areas, db
from crimeviz.store.filters import IncidentFilter
from tests.conftest import incident_rows


def test_windows_are_the_last_7_days_and_the_365_before():
    recent, baseline = spikes.windows(date(2021, 7, 15))
    assert recent == (date(2021, 7, 9), date(2021, 7, 15))
    assert baseline == (date(2020, 7, 9), date(2021, 7, 8))
    assert (baseline[1] - baseline[0]).days + 1 == 365


def test_poisson_tail_by_hand():
    """36.5 incidents a year is 0.7 a week: P(X ≥ 4 | 0.7) = 1 − e^−0.7 (1 + 0.7 + 0.7²/2 + 0.7³/6)."""
    table = spikes.poisson_test(pd.Series({"a": 4, "b": 0}), pd.Series({"a": 36.5, "b": 10}).astype(int))
    lam = 7 * 36 / 365  # counts are whole incidents: 36
    by_hand = 1 - np.exp(-lam) * (1 + lam + lam**2 / 2 + lam**3 / 6)
    assert np.isclose(table.loc["a", "p"], by_hand) and np.isclose(table.loc["a", "expected"], lam)
    assert table.loc["b", "p"] == 1.0  # nothing this week: nothing improbable


def test_benjamini_hochberg_by_hand():
    """p sorted p(1) ≤ … ≤ p(m): q(i) = min_{j ≥ i} p(j) m / j."""
    recent = pd.Series([6, 5, 4, 3, 2], index=list("abcde"))
    baseline = pd.Series([50] * 5, index=list("abcde"))
    table = spikes.poisson_test(recent, baseline)
    p = table["p"].to_numpy()  # already in increasing order
    m = len(p)
    q = np.minimum.accumulate((p * m / np.arange(1, m + 1))[::-1])[::-1]
    assert np.allclose(table["q"], np.minimum(q, 1))
    assert table["spike"].tolist() == list((q <= 0.05) & (recent.to_numpy() >= 3))


def test_a_cell_without_history_is_tested_as_if_it_had_one_incident():
    table = spikes.poisson_test(pd.Series({"x": 3}), pd.Series({"x": 0}))
    assert np.isclose(table.loc["x", "expected"], 7 / 365)


def test_few_incidents_are_never_a_spike():
    table = spikes.poisson_test(pd.Series({"x": 2}), pd.Series({"x": 0}), min_count=3)
    assert table.loc["x", "p"] < 0.001 and not table.loc["x", "spike"]


@pytest.mark.parametrize("alpha, min_count, message", [(0, 3, "false discovery rate"), (0.05, 0, "at least 1")])
def test_bad_settings_are_refused(alpha, min_count, message):
    with pytest.raises(ValueError, match=message):
        spikes.poisson_test(pd.Series({"x": 1}), pd.Series({"x": 1}), alpha, min_count)


DAY = date(2021, 6, 30)
HOT = (43.6532, -79.3832)


def spike_store(con):
    """One incident a week for a year at 20 places and at HOT (Downtown), 8 more at HOT in the last week;
    the neighbourhoods derived from them as an area layer."""
    rng = np.random.default_rng(1)
    places = [(43.60 + 0.01 * (i % 5), -79.50 + 0.02 * (i // 5)) for i in range(20)] + [HOT]
    rows = []
    for week in range(1, 53):
        for lat, lon in places:
            when = DAY - timedelta(days=7 * week + int(rng.integers(0, 7)))
            rows.append(
                (f"{when} 12:00", "Assault", lat, lon, "Outside", "Downtown" if (lat, lon) == HOT else "Elsewhere")
            )
    for i in range(8):
        rows.append((f"{DAY - timedelta(days=i % 7)} 0{i}:00", "Assault", *HOT, "Outside", "Downtown"))
    db.insert_incidents(con, db.with_cells(incident_rows(rows), "hand"))
    areas.add_default_layer(con, "test")
    return con


def test_the_burst_cell_is_the_only_spike(empty_store):
    con = spike_store(empty_store)
    table = spikes.cell_spikes(con, IncidentFilter(DAY, DAY), DAY, 8)
    hot = h3int.int_to_str(h3int.latlng_to_cell(*HOT, 8))
    assert table["spike"].sum() == 1 and table.iloc[0]["cell"] == hot
    assert table.iloc[0]["recent"] == 8 and table.iloc[0]["baseline"] == 52
    assert len(table) == 21


def test_other_offences_are_left_out(empty_store):
    con = spike_store(empty_store)
    table = spikes.cell_spikes(con, IncidentFilter(DAY, DAY, ("Robbery",)), DAY, 8)
    assert table.empty


def test_area_spikes_and_report(empty_store):
    con = spike_store(empty_store)
    layer = areas.layer_names(con)[0]
    by_area = spikes.area_spikes(con, IncidentFilter(DAY, DAY), DAY, layer)
    assert by_area.iloc[0]["area"] == "Downtown" and by_area.iloc[0]["spike"]
    cells = spikes.cell_spikes(con, IncidentFilter(DAY, DAY), DAY, 8)
    report = spikes.report(cells, by_area, DAY, 8, layer)
    assert report["cells_tested"] == 21 and [c["recent"] for c in report["cells"]] == [8]
    assert [a["area"] for a in report["areas"]] == ["Downtown"] and report["window"] == ["2021-06-24", "2021-06-30"]


def test_spike_layer_holds_only_spikes_with_plain_tooltips(empty_store):
    con = spike_store(empty_store)
    table = spikes.cell_spikes(con, IncidentFilter(DAY, DAY), DAY, 8)
    layer = spikes.spike_layer(table, {})
    assert layer.id == "spike-cells" and len(layer.data) == 1
    assert layer.data[0]["tooltip"].startswith("Spike (last 7 days): 8\n")
    assert spikes.spike_layer(table[~table["spike"]], {}) is None


def test_a_spike_is_new_unless_it_was_one_the_week_before():
    now = pd.DataFrame({"cell": ["a", "b", "c"], "spike": [True, True, False]})
    before = pd.DataFrame({"cell": ["a", "b", "c"], "spike": [True, False, True]})
    assert spikes.mark_new(now, before, "cell")["new"].tolist() == [False, True, False]
