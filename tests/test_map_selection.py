"""Map page: the cell detail stays on the chosen cell, and the map outlines the same cell."""

import json

import h3
import pytest
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from crimeviz.explore import selection
from tests.conftest import ROOT


@pytest.fixture
def map_page(app_db):
    at = AppTest.from_file(str(ROOT / "app_pages" / "map.py"), default_timeout=120)
    at.session_state["user"] = auth.User("test-analyst", "Test analyst", "analyst")
    return at.run()


def layers(at: AppTest) -> dict[str, dict]:
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    return {layer["id"]: layer for layer in spec["layers"]}


def hex_layer(at: AppTest) -> dict:
    return next(layer for key, layer in layers(at).items() if key.startswith("incident-hexes"))


def click(at: AppTest, index: int) -> str:
    """What the browser sends for a click on the ``index``-th hexagon (and keeps sending after it)."""
    hexes = hex_layer(at)
    obj = hexes["data"][index]
    at.session_state["incident_map"] = {
        "selection": {"indices": {hexes["id"]: [index]}, "objects": {hexes["id"]: [obj]}}
    }
    return obj["cell"]


def outlined(at: AppTest) -> str | None:
    """The cell the map's chosen-cell outline surrounds."""
    chosen = layers(at).get("chosen-cell")
    if chosen is None:
        return None
    ring = chosen["data"][0]["polygon"]
    centre = (sum(p[1] for p in ring[:-1]) / 6, sum(p[0] for p in ring[:-1]) / 6)
    return h3.latlng_to_cell(*centre, h3.get_resolution(shown_cell(at)))


def shown_cell(at: AppTest) -> str:
    return at.selectbox(key="map_cell").value


def stale_click(at: AppTest, clicked_id: str, index: int) -> None:
    """The browser re-resolving a kept selection's index against the layer's new data."""
    obj = hex_layer(at)["data"][index]
    at.session_state["incident_map"] = {"selection": {"indices": {clicked_id: [index]}, "objects": {clicked_id: [obj]}}}


def test_clicked_cell_stays_through_filter_changes(map_page):
    clicked_id = hex_layer(map_page)["id"]
    cell = click(map_page, 7)
    map_page.run()
    assert shown_cell(map_page) == cell and outlined(map_page) == cell
    for change in (
        lambda: map_page.multiselect(key="f_offences").set_value(["Robbery"]),
        lambda: map_page.multiselect(key="f_offences").set_value(["Assault", "Auto Theft"]),
    ):
        change()
        map_page.run()
        stale_click(map_page, clicked_id, 7)
        map_page.run()
        assert not map_page.exception
        assert shown_cell(map_page) == cell and outlined(map_page) == cell
        assert cell in map_page.markdown[-1].value


def test_resolution_change_moves_the_detail_to_the_covering_cell(map_page):
    map_page.radio(key="map_res").set_value(9).run()
    fine = click(map_page, 0)  # the busiest resolution-9 cell
    map_page.run()
    map_page.radio(key="map_res").set_value(8).run()
    parent = h3.cell_to_parent(fine, 8)
    assert shown_cell(map_page) == parent and outlined(map_page) == parent
    assert "0 incidents" not in map_page.markdown[-1].value and map_page.get("plotly_chart")
    assert any(parent in i.value and fine in i.value for i in map_page.info)
    map_page.radio(key="map_res").set_value(9).run()
    child = shown_cell(map_page)
    assert h3.cell_to_parent(child, 8) == parent and outlined(map_page) == child
    assert child == fine  # the busiest child is the cell first clicked


def test_picked_cell_is_the_outlined_one_and_the_click_leaves_no_selection(map_page):
    clicked_id = hex_layer(map_page)["id"]
    click(map_page, 3)
    map_page.run()
    assert hex_layer(map_page)["id"] != clicked_id  # a new id: the browser drops its selection
    busiest = hex_layer(map_page)["data"][0]["cell"]
    map_page.selectbox(key="map_cell").set_value(busiest).run()
    assert outlined(map_page) == busiest and busiest in map_page.markdown[-1].value


def test_cell_picker_names_the_neighbourhood_and_count(map_page):
    picker = map_page.selectbox(key="map_cell")
    busiest = hex_layer(map_page)["data"][0]
    assert busiest["cell"] in picker.options[0]
    assert f"{busiest['n']:,} incidents" in picker.options[0]
    assert picker.options[0].split(" · ")[0] in busiest["tooltip"]


def test_at_resolution_maps_to_parent_or_busiest_child():
    import pandas as pd

    cell = h3.latlng_to_cell(43.65, -79.38, 8)
    kids = sorted(h3.cell_to_children(cell, 9))
    counts = pd.DataFrame({"cell": [kids[2], kids[5]], "n": [3, 9]})
    assert selection.at_resolution(kids[2], 8, counts) == cell
    assert selection.at_resolution(cell, 9, counts) == kids[5]
    assert selection.at_resolution(cell, 9, counts.iloc[:0]) is None
    assert selection.at_resolution(cell, 8, counts) == cell
