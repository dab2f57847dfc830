"""The Emerging hot spots page through streamlit.testing, on the Toronto store."""

import json
from datetime import date

import pytest

from crimeviz.explore import emerging
from tests.test_pages import deck_specs, metric, page


@pytest.fixture(scope="module")
def analyst_page(app_db):
    return page("emerging", "analyst").run()


def test_page_maps_and_lists_the_cells_with_a_pattern(analyst_page):
    at = analyst_page
    assert not at.exception and not at.error
    assert metric(at, "Weeks") == "52"  # the default filter: the last 365 days
    table = at.dataframe[0].value
    chosen = at.multiselect(key="eh_categories").value
    assert chosen and emerging.NO_PATTERN not in chosen and set(table["Category"]) == set(chosen)
    assert int(metric(at, "Cells with a pattern").replace(",", "")) == len(table)
    spec = deck_specs(at)[0]
    assert [layer["id"] for layer in spec["layers"]] == ["city-outline", "emerging-hot-spots"]
    hexes = spec["layers"][1]["data"]
    assert {h["cell"] for h in hexes} == set(table["Cell"])
    assert all(h["tooltip"].startswith("Category: ") for h in hexes)
    assert json.loads(at.get("deck_gl_json_chart")[0].proto.tooltip) == {"text": "{tooltip}"}
    assert "Download the report (JSON)" in [b.label for b in at.get("download_button")]


def test_one_category_filters_the_map_and_the_table(analyst_page):
    at = analyst_page
    at.multiselect(key="eh_categories").set_value(["Persistent hot spot"]).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) > 0 and set(table["Category"]) == {"Persistent hot spot"}
    assert len(deck_specs(at)[0]["layers"][1]["data"]) == len(table)


def test_month_slices_are_the_whole_months_of_the_period(analyst_page):
    at = analyst_page
    at.radio(key="eh_slice").set_value("month").run()
    assert not at.exception and not at.error
    assert metric(at, "Months") in ("11", "12")  # a year that need not start on the 1st


def test_too_short_a_period_is_refused_in_words(analyst_page):
    at = analyst_page
    at.radio(key="eh_slice").set_value("month")
    at.date_input(key="f_dates").set_value((date(2021, 6, 1), date(2021, 12, 31))).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The analysis cannot run: emerging hot spots need at least 10 whole months in the period (found 7): "
        "widen the dates or slice by week."
    ]
