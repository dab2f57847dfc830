"""The Hotspots page through streamlit.testing: a table for people, both significance tests."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from tests.conftest import ROOT

COLUMNS = [
    "Neighbourhood",
    "Incidents",
    "Gi* z",
    "p (normal)",
    "p (permutation)",
    "Class (normal)",
    "Class (permutation)",
]


@pytest.fixture
def hotspots_page(app_db):
    at = AppTest.from_file(str(ROOT / "app_pages" / "hotspots.py"), default_timeout=120)
    at.session_state["user"] = auth.User("test-analyst", "Test analyst", "analyst")
    return at.run()


def metric(at: AppTest, label: str) -> int:
    return int(next(m.value for m in at.metric if m.label == label).replace(",", ""))


def test_significant_cells_are_listed_by_neighbourhood_with_readable_p_values(hotspots_page):
    assert not hotspots_page.exception
    table = hotspots_page.dataframe[0].value
    assert list(table.columns) == COLUMNS
    assert len(table) >= metric(hotspots_page, "Significant hot spots") > 0
    assert not table["Neighbourhood"].str.fullmatch(r"[0-9a-f]{15}").any()  # names, not H3 ids
    assert (table["Neighbourhood"] != "(none recorded)").mean() > 0.9
    for column in ("p (normal)", "p (permutation)"):
        assert table[column].str.fullmatch(r"< 0\.001|[01]\.\d{3}").all()
        assert (table[column] != "0.000").all()


def test_the_chosen_test_colours_the_map(hotspots_page):
    def gi_cells(at):
        deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
        return len(next(layer for layer in deck["layers"] if layer["id"] == "gi-star")["data"])

    normal = gi_cells(hotspots_page)
    hotspots_page.selectbox(key="hot_k").set_value(3).run()
    by_normal = gi_cells(hotspots_page)
    hotspots_page.radio(key="hot_test").set_value("Permutations").run()
    assert not hotspots_page.exception
    by_permutation = gi_cells(hotspots_page)
    cold = metric(hotspots_page, "Significant cold spots")
    assert normal > 0 and by_permutation > 0
    assert by_permutation == metric(hotspots_page, "Significant hot spots") + cold
    assert by_permutation != by_normal
