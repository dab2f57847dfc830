"""Risk surfaces from historical counts and from forecasts, on hand-made incident stores."""

from datetime import date

import h3
import numpy as np
import pandas as pd
import pytest

from crimeviz.patrol import risk as risk_mod
from crimeviz.patrol.plan import PlanParams, build_plan, risk_for
from crimeviz.patrol.risk import PROFILE_PRIOR, SHIFTS, PlanError, ShiftHistory
from crimeviz.store import db
from tests.conftest import incident_rows

BAY, ANNEX, YONGE = (43.6532, -79.3832), (43.6700, -79.3900), (43.7000, -79.4000)


def cell(point, res=9) -> int:
    return h3.str_to_int(h3.latlng_to_cell(*point, res))


def test_historical_risk_is_the_daily_mean_times_the_shrunk_shift_share(small_store):
    history = ShiftHistory(small_store, 9, SHIFTS["evening"], {}, date(2021, 3, 8), date(2021, 3, 8))
    surface = history.historical(date(2021, 3, 8))
    # In the 365 days before: Bay 3 incidents (none 15–23h), Annex 2 (none), Yonge 1 (15:00).
    city = 1 / 6
    expected = {
        BAY: 3 / 365 * (0 + PROFILE_PRIOR * city) / (3 + PROFILE_PRIOR),
        ANNEX: 2 / 365 * (0 + PROFILE_PRIOR * city) / (2 + PROFILE_PRIOR),
        YONGE: 1 / 365 * (1 + PROFILE_PRIOR * city) / (1 + PROFILE_PRIOR),
    }
    for point, value in expected.items():
        assert surface.lookup([cell(point)])[0] == pytest.approx(value)
    assert surface.day_total == pytest.approx(6 / 365)
    assert surface.model == "historical"


def test_offence_priorities_weight_the_counts(small_store):
    weights = {"Assault": 2.0, "Robbery": 0.0}
    history = ShiftHistory(small_store, 9, SHIFTS["evening"], weights, date(2021, 3, 8), date(2021, 3, 8))
    n_all, _ = history.window_counts(date(2021, 3, 8))
    assert n_all[np.searchsorted(history.cells, cell(BAY))] == 4  # two assaults ×2, the robbery ×0


def test_observed_incidents_follow_the_shift_past_midnight(small_store):
    history = ShiftHistory(small_store, 9, SHIFTS["night"], {"Robbery": 0.0}, date(2021, 3, 1), date(2021, 3, 7))
    bay = np.searchsorted(history.cells, cell(BAY))
    # The night of 1 March runs 23:00–07:00: the 23:00 assault counts, the 02:00 robbery has weight 0.
    assert history.observed(date(2021, 3, 1))[bay] == 1
    assert history.observed(date(2021, 3, 2)).sum() == 0


def test_a_date_without_data_is_explained(small_store):
    with pytest.raises(PlanError, match="no incidents .* before 2025-01-01"):
        build_plan(small_store, PlanParams(date(2025, 1, 1), units=1))
    with pytest.raises(PlanError, match="unknown offence"):
        risk_for(small_store, PlanParams(date(2021, 3, 8), weights=(("Arson", 1.0),)))
    with pytest.raises(PlanError, match="weight 0"):
        risk_for(
            small_store,
            PlanParams(
                date(2021, 3, 8),
                weights=(("Assault", 0.0), ("Auto Theft", 0.0), ("Break and Enter", 0.0), ("Robbery", 0.0)),
            ),
        )


@pytest.fixture
def sibling_store(empty_store):
    """Three incidents in one res-9 cell and one in a sibling (same res-8 parent), May 2021."""
    parent = h3.latlng_to_cell(*BAY, 8)
    first, second = sorted(h3.cell_to_children(parent, 9))[:2]
    rows = [(f"2021-05-0{k + 1} 16:00", "Assault", *h3.cell_to_latlng(first)) for k in range(3)]
    rows.append(("2021-05-05 16:00", "Robbery", *h3.cell_to_latlng(second)))
    db.insert_incidents(empty_store, db.with_cells(incident_rows(rows), "hand"))
    return empty_store, parent, h3.str_to_int(first), h3.str_to_int(second)


def test_a_res8_forecast_is_split_among_children_by_their_history(sibling_store, monkeypatch):
    con, parent, first, second = sibling_store
    asked = []

    def fake(con_, day, group, method):
        asked.append((group, method))
        return pd.DataFrame({"cell": [parent], "intensity": [0.6]})

    monkeypatch.setattr(risk_mod, "_forecast_frame", fake)
    surface = risk_for(con, PlanParams(date(2021, 6, 1), source="forecast:fake"))
    # add-one shares: (3 + 1) / 6 and (1 + 1) / 6 of 0.6 a day; all incidents were in the evening.
    share = (4 + PROFILE_PRIOR) / (4 + PROFILE_PRIOR)
    assert surface.day_total == pytest.approx(0.6)
    assert surface.lookup([first, second]) == pytest.approx([0.4 * share, 0.2 * share])
    assert surface.model == "forecast:fake" and asked == [("all", "fake")]
    weighted = risk_for(con, PlanParams(date(2021, 6, 1), source="forecast:fake", weights=(("Assault", 3.0),)))
    assert sorted(asked[1:]) == [("Assault", "fake"), ("Robbery", "fake")]  # one call per offence, weighted
    assert weighted.day_total == pytest.approx(3 * 0.6 + 0.6)


def test_unknown_sources_are_refused(small_store):
    with pytest.raises(PlanError, match="unknown risk source"):
        risk_for(small_store, PlanParams(date(2021, 3, 8), source="crystal ball"))
    assert risk_mod.sources()[-1] == "historical" and "forecast:cdna" in risk_mod.sources()
