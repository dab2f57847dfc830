"""The Forecast page through streamlit.testing: the CDNA map, a past day's outcome, the backtest."""

from datetime import date

import pandas as pd

from crimeviz.forecast import views
from crimeviz.forecast.predict import METHODS
from crimeviz.store import db, queries
from crimeviz.store.filters import IncidentFilter
from tests.test_forecast_grid import LONDON, TORONTO, incidents_around, store_of
from tests.test_pages import deck_specs, metric, page


def test_forecast_page_shows_tomorrow_from_the_committed_checkpoint(app_db):
    at = page("forecast", "analyst").run()
    assert not at.exception and not at.error
    assert at.date_input(key="fc_day").value == date(2022, 1, 1)
    spec = deck_specs(at)[0]
    hexes = next(layer for layer in spec["layers"] if layer["id"] == "forecast-hexes")["data"]
    assert len(hexes) == 840
    solid = [h for h in hexes if h["color"][3] == 220]
    assert metric(at, "Cells flagged") == f"{len(solid)} of 840"
    assert "checkpoint toronto_h3r8.pt" in at.caption[0].value
    assert len(at.get("plotly_chart")) == 2 and len(at.dataframe) == 2  # the backtest and its bootstrap


def test_past_day_shows_actual_outcome_and_baselines_work(app_db):
    at = page("forecast", "analyst")
    at.session_state["fc_day"] = date(2021, 6, 1)
    at.run()
    con = db.connect(app_db)
    day_total = queries.total(con, IncidentFilter(date(2021, 6, 1), date(2021, 6, 1)))
    con.close()
    hits = metric(at, "Actual hit rate that day")
    assert day_total >= 97 and hits.endswith(f"of {day_total}")  # 97 in the Toronto data, plus test imports
    assert float(metric(at, "PAI that day")) > 1
    assert not any(m.delta for m in at.metric)  # no arrow without something named to compare with
    ids = [layer["id"] for layer in deck_specs(at)[0]["layers"]]
    assert ids == ["city-outline", "forecast-hexes", "incident-points"]
    at.selectbox(key="fc_method").set_value("mc365").run()
    assert not at.exception and metric(at, "Actual hit rate that day").endswith(f"of {day_total}")


def test_forecast_page_refuses_reviewers(app_db):
    at = page("forecast", "reviewer").run()
    assert at.error[0].value.startswith("Access denied")


def test_backtest_table_and_day_score_by_hand():
    table = views.backtest_table(views.backtest())
    assert set(table.columns) >= {"method", "PAI 5%", "PAI 10%", "hit rate 5%"}
    flagged = pd.DataFrame(
        {
            "cell": ["a", "b", "c", "d"],
            "intensity": [4, 3, 2, 1],
            "rank": [1, 2, 3, 4],
            "area_km2": [1.0, 1.0, 1.0, 1.0],
            "weight": [1.0, 1.0, 0.0, 0.0],
        }
    )
    actual = pd.DataFrame({"cell": ["a", "c", "z"], "n": [2, 1, 1]})
    score = views.day_score(flagged, actual)
    assert (score["hits"], score["incidents"], score["outside_grid"]) == (2, 4, 1)
    assert score["hit_rate"] == 0.5 and score["pai"] == 0.5 / 0.5


def test_legends_and_table_name_the_methods_alike():
    result = views.backtest()
    names = set(views.backtest_table(result)["method"])
    assert names == set(METHODS.values())
    for metric_key in ("hit_rate", "pai"):
        figure = views.curve_figure(result, "all", metric_key)
        assert {trace.name for trace in figure.data} == names


def test_cdna_on_imported_data_it_never_saw_warns_and_offers_retraining(tmp_path, monkeypatch):
    toronto = incidents_around(TORONTO, "Assault", 1.0, 0)
    london = incidents_around(LONDON, "Burglary", 2.0, 1)
    monkeypatch.setenv("CRIMEVIZ_DB", store_of(tmp_path / "two_cities.duckdb", toronto, london))
    at = page("forecast", "analyst").run()
    assert not at.exception and not at.error
    assert at.warning[0].value.startswith(f"The CDNA checkpoint never saw {len(london):,} of")
    assert at.code[0].value.startswith("python -m crimeviz forecast train --out data/models/cdna/retrained_h3r8.pt")
    at.selectbox(key="fc_method").set_value("mc28").run()
    assert not at.warning and metric(at, "Cells flagged").endswith("of 14")  # both cities' cells
