"""Pages see incidents written by another writer on their next rerun, with no cache cleared by hand.

Each data-dependent page runs once, then incidents in a cell the store has never held are written
through a second connection (as a CLI import or the live monitor would write them) and the same
session reruns: the page must show them. Nothing calls ``st.cache_data.clear()``.
"""

import json
import shutil
from datetime import datetime, time

import h3
import pytest
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from crimeviz.store import db
from tests.conftest import ROOT, incident_rows

# Oshawa, east of the Toronto data: none of its cells holds an incident before the test writes some.
NEW_POINT = (43.8971, -78.8658)
NEW_CELLS = {h3.latlng_to_cell(*NEW_POINT, res) for res in (7, 8, 9)}
ADDED = 40


@pytest.fixture
def store(toronto_db, tmp_path, monkeypatch):
    path = tmp_path / "fresh.duckdb"
    shutil.copy(toronto_db, path)
    monkeypatch.setenv("CRIMEVIZ_DB", str(path))
    monkeypatch.setenv("CRIMEVIZ_UPLOADS", str(tmp_path / "uploads"))
    return path


def write_new_incidents(path) -> None:
    """Incidents on the store's last day in the new cell, through a connection of their own."""
    con = db.connect(path)
    last = con.execute("SELECT max(occurred_at)::DATE FROM incidents").fetchall()[0][0]
    when = datetime.combine(last, time(12))
    rows = incident_rows([(when, "Assault", NEW_POINT[0] + i * 1e-5, NEW_POINT[1], "Outside") for i in range(ADDED)])
    assert db.insert_incidents(con, db.with_cells(rows, "second-writer")) == ADDED
    con.close()


def page(name: str, role: str, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=180)
    at.session_state["user"] = auth.User(f"test-{role}", f"Test {role}", role)
    for key, value in state.items():
        at.session_state[key] = value
    return at


def layer_data(at: AppTest, layer_id: str) -> list:
    """The ``data`` of every deck layer called ``layer_id`` on the page (rows, or GeoJSON)."""
    layers = [layer for chart in at.get("deck_gl_json_chart") for layer in json.loads(chart.proto.json)["layers"]]
    return [layer["data"] for layer in layers if layer["id"] == layer_id]


def cells_in(at: AppTest, layer_id: str) -> set[str]:
    return {row["cell"] for data in layer_data(at, layer_id) for row in data}


def near_new_point(at: AppTest, layer_id: str) -> bool:
    """Whether any vertex of the layer's paths or segments lies within about 3 km of NEW_POINT."""
    text = json.dumps(layer_data(at, layer_id))
    numbers = [float(x) for x in text.replace("[", " ").replace("]", " ").replace(",", " ").split() if _number(x)]
    pairs = zip(numbers[::2], numbers[1::2])
    return any(abs(lat - NEW_POINT[0]) < 0.03 and abs(lon - NEW_POINT[1]) < 0.03 for lon, lat in pairs)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def metric(at: AppTest, label: str) -> int:
    return int(next(m.value for m in at.metric if m.label == label).replace(",", ""))


def test_map_shows_a_second_writers_incidents(store):
    at = page("map", "analyst").run()
    before = metric(at, "Incidents")
    assert not cells_in(at, "incident-hexes") & NEW_CELLS
    write_new_incidents(store)
    at.run()
    assert not at.exception
    assert metric(at, "Incidents") == before + ADDED
    assert cells_in(at, "incident-hexes") & NEW_CELLS


def test_trends_count_a_second_writers_incidents(store):
    at = page("trends", "analyst").run()
    before = metric(at, "Incidents in period")
    write_new_incidents(store)
    at.run()
    assert not at.exception
    assert metric(at, "Incidents in period") == before + ADDED


def test_hotspots_analyse_a_second_writers_incidents(store):
    at = page("hotspots", "analyst").run()
    assert not cells_in(at, "kernel-density") & NEW_CELLS
    write_new_incidents(store)
    at.run()
    assert not at.exception
    assert cells_in(at, "kernel-density") & NEW_CELLS


def test_forecast_covers_a_second_writers_cells(store):
    at = page("forecast", "analyst", fc_method="mc365").run()
    assert not cells_in(at, "forecast-hexes") & NEW_CELLS
    write_new_incidents(store)
    at.run()
    assert not at.exception
    assert cells_in(at, "forecast-hexes") & NEW_CELLS


def test_patrol_city_outline_takes_in_a_second_writers_cells(store):
    at = page("patrol", "commander", patrol_units=2, patrol_res=8).run()
    assert not near_new_point(at, "city-outline")
    write_new_incidents(store)
    at.run()
    assert not at.exception
    assert near_new_point(at, "city-outline")
