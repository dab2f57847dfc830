"""Pages by area through streamlit.testing on the Toronto store: the sidebar's area filter, the Map's
choropleth, Trends and CompStat per area, Hotspots inside the chosen areas."""

import json
from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from crimeviz.store import areas, db, grid, queries
from crimeviz.store.filters import IncidentFilter
from tests.conftest import ROOT

LAYER = areas.DEFAULT_LAYER
CHOSEN = ["Annex", "Moss Park"]


def page(name: str, role: str = "analyst") -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=120)
    at.session_state["user"] = auth.User(f"test-{role}", f"Test {role}", role)
    return at


def metric(at: AppTest, label: str) -> int:
    return int(next(m.value for m in at.metric if m.label == label).replace(",", ""))


def deck_layers(at: AppTest, which: int = 0) -> list[dict]:
    return json.loads(at.get("deck_gl_json_chart")[which].proto.json)["layers"]


@pytest.fixture(scope="module")
def expected(toronto_db):
    """Counts per derived neighbourhood over the sidebar's default dates (the last 365 days)."""
    con = db.connect(toronto_db, read_only=True)
    last = con.execute("SELECT max(occurred_at) FROM incidents").fetchall()[0][0].date()
    f = IncidentFilter(date.fromordinal(last.toordinal() - 364), last)
    table = areas.change(con, LAYER, f).set_index("name")
    con.close()
    return table


def test_the_sidebar_area_filter_counts_what_the_layer_puts_in_the_areas(app_db, expected):
    at = page("map").run()
    assert at.selectbox(key="f_area_layer").value == LAYER
    everything = metric(at, "Incidents")
    at.multiselect(key="f_areas").set_value(CHOSEN).run()
    assert not at.exception and not at.error
    assert metric(at, "Incidents") == expected.loc[CHOSEN, "incidents"].sum() < everything
    assert any("Annex, Moss Park (neighbourhoods (derived))" in c.value for c in at.caption)
    outline = next(layer for layer in deck_layers(at) if layer["id"] == "chosen-areas")
    assert len(outline["data"]["features"]) == len(CHOSEN)


def test_the_map_draws_a_choropleth_of_the_areas_with_plain_text_tooltips(app_db, expected):
    at = page("map").run()
    at.multiselect(key="map_layers").set_value(["Areas"]).run()
    assert not at.exception
    layers = deck_layers(at)
    assert [layer["id"] for layer in layers] == ["city-outline", "area-choropleth"]
    features = layers[1]["data"]["features"]
    assert len(features) == len(expected)
    annex = next(f["properties"]["tooltip"] for f in features if f["properties"]["tooltip"].startswith("Area: Annex\n"))
    assert f"Incidents: {expected.loc['Annex', 'incidents']}\n" in annex
    assert f"Previous period: {expected.loc['Annex', 'previous']}\n" in annex
    assert any("Incidents per area of neighbourhoods (derived)" in m.value for m in at.markdown)
    assert any("derived from the incidents, not official boundaries" in c.value for c in at.caption)
    at.radio(key="map_area_by").set_value("change").run()
    assert any("Change vs the previous period per area" in m.value for m in at.markdown)


def test_trends_group_the_compstat_tables_by_the_areas_of_a_layer(app_db):
    at = page("trends").run()
    assert len(at.get("plotly_chart")) == 4 and at.selectbox(key="trend_group").index == 0
    at.selectbox(key="trend_group").set_value(LAYER).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 5  # plus monthly lines per area
    tables = [d.value for d in at.dataframe]
    assert [list(t.columns) for t in tables] == [["area", "current", "previous", "change", "pct_change"]] * 2
    assert tables[1]["current"].is_monotonic_decreasing


def test_hotspots_stay_inside_the_areas_picked_in_the_sidebar(app_db, toronto_db):
    at = page("hotspots").run()
    city = metric(at, "Cells in study area")
    at.multiselect(key="f_areas").set_value(CHOSEN).run()
    assert not at.exception
    con = db.connect(toronto_db, read_only=True)
    study = set(grid.to_hex(areas.study_cells(con, LAYER, CHOSEN, 8)))
    con.close()
    assert metric(at, "Cells in study area") == len(study) < city
    assert any(c.value.startswith(f"Study area: the {len(study)} cells holding incidents of Annex") for c in at.caption)
    kde = {h["cell"] for h in deck_layers(at, 1)[1]["data"]}
    assert kde and kde <= study  # the density surface too stays inside
    for which in (0, 1):  # both maps outline the chosen areas
        outline = next(layer for layer in deck_layers(at, which) if layer["id"] == "chosen-areas")
        assert len(outline["data"]["features"]) == len(CHOSEN)


def test_the_forecast_flags_and_scores_only_the_cells_of_the_chosen_areas(app_db, toronto_db):
    at = page("forecast")
    at.session_state["fc_day"] = date(2021, 6, 1)
    at.session_state["fc_method"] = "mc365"
    at.session_state["fc_areas"] = CHOSEN
    at.run()
    assert not at.exception and not at.error
    hexes = next(layer for layer in deck_layers(at) if layer["id"] == "forecast-hexes")["data"]
    con = db.connect(toronto_db, read_only=True)
    held = areas.cell_areas(con, LAYER, [h["cell"] for h in hexes])
    day = queries.hex_counts(con, IncidentFilter(date(2021, 6, 1), date(2021, 6, 1)), 8)
    con.close()
    assert hexes and set(held) <= set(CHOSEN)
    in_cells = int(day[day["cell"].isin({h["cell"] for h in hexes})]["n"].sum())
    assert metric_text(at, "Actual hit rate that day").endswith(f"of {in_cells}")
    assert metric_text(at, "Cells flagged").endswith(f"of {len(hexes)}")
    assert any(m.label == "Expected incidents (areas)" for m in at.metric)
    assert any(layer["id"] == "chosen-areas" for layer in deck_layers(at))


def metric_text(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_a_patrol_plan_keeps_to_the_chosen_areas_one_area_per_unit(app_db, toronto_db):
    at = AppTest.from_file(str(ROOT / "app_pages" / "patrol.py"), default_timeout=120)
    at.session_state["user"] = auth.User("test-commander", "Test commander", "commander")
    at.session_state["patrol_units"] = 4
    at.session_state["patrol_res"] = 8
    at.session_state["patrol_areas"] = CHOSEN
    at.session_state["patrol_one_area"] = True
    at.run()
    assert not at.exception and not at.error
    beats = next(layer for layer in deck_layers(at) if layer["id"] == "patrol-beats")["data"]
    con = db.connect(toronto_db, read_only=True)
    held = dict(zip([b["cell"] for b in beats], areas.cell_areas(con, LAYER, [b["cell"] for b in beats])))
    con.close()
    assert beats and set(held.values()) <= set(CHOSEN)
    per_unit = {}
    for b in beats:
        per_unit.setdefault(tuple(b["color"]), set()).add(held[b["cell"]])
    assert all(len(a) == 1 for a in per_unit.values())  # each unit inside one area
    assert set().union(*per_unit.values()) == set(CHOSEN)
    if len(per_unit) < 4:  # two small areas at resolution 8: the first units take them whole
        assert any(f"Only {len(per_unit)} of 4 units could be given a beat" in w.value for w in at.warning)
    assert any("Only cells whose centre lies in the 2 chosen area(s)" in c.value for c in at.caption)
    outline = next(layer for layer in deck_layers(at) if layer["id"] == "chosen-areas")
    assert len(outline["data"]["features"]) == len(CHOSEN)
