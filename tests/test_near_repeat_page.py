"""The Near repeats page through streamlit.testing, on the Toronto store."""

import json
import re
from datetime import date

import numpy as np
import pytest

from crimeviz.explore import near_repeat
from crimeviz.web import navigation
from tests.test_pages import deck_specs, metric, page

TABLES = ["ratio", "observed", "expected", "p", "chains"]  # in the page's order


@pytest.fixture(scope="module")
def analyst_page(app_db):
    return page("near_repeat", "analyst").run()


def table(at, name: str):
    return at.dataframe[TABLES.index(name)]


def shaded_cells(frame) -> set[tuple[int, int]]:
    """(row, column) of every cell the page's table styles with the near-repeat colour."""
    styles = frame.proto.arrow_data.styler.styles
    return {(int(r), int(c)) for r, c in re.findall(r"_row(\d+)_col(\d+) \{ background-color", styles)}


def test_page_draws_the_knox_tables_and_the_chains_map(analyst_page):
    at = analyst_page
    assert not at.exception and not at.error
    assert [t.label for t in at.tabs] == ["Knox ratio", "Observed", "Expected", "p-value", "Chains map"]
    ratio = table(at, "ratio").value
    assert list(ratio.index) == ["[0, 100) m", "[100, 200) m", "[200, 400) m"]
    assert list(ratio.columns) == ["[0, 7) days", "[7, 14) days", "[14, 28) days"]
    observed = table(at, "observed").value.to_numpy()
    expected = table(at, "expected").value.to_numpy()
    assert observed.sum() > 1000 and np.allclose(ratio.to_numpy(), observed / expected)
    assert int(metric(at, "Incidents").replace(",", "")) > 10_000  # a year of the first offence (Assault)
    spec = deck_specs(at)[0]
    assert [layer["id"] for layer in spec["layers"]] == ["city-outline", "near-repeat-links", "near-repeat-chains"]
    markers = spec["layers"][2]["data"]
    assert markers and all(m["tooltip"].startswith("Chain ") for m in markers)
    assert json.loads(at.get("deck_gl_json_chart")[0].proto.tooltip) == {"text": "{tooltip}"}
    chains = table(at, "chains").value
    marker_ids = {m["tooltip"].split("\n")[1].removeprefix("Incident ") for m in markers}
    assert chains["chain"].min() == 1 and marker_ids == set(chains["id"].astype(str))
    assert "Download the report (JSON, with chains)" in [b.label for b in at.get("download_button")]


def test_near_repeat_cells_are_shaded_like_the_calculator(analyst_page):
    """Same place (under 1 m) and under 2 days: Toronto's assaults repeat well above chance."""
    at = analyst_page
    at.text_input(key="nr_distance").set_value("0,1,200,400")
    at.text_input(key="nr_time").set_value("0,2,7,28").run()
    assert not at.exception and not at.error
    ratio = table(at, "ratio").value.to_numpy()
    p = table(at, "p").value.to_numpy()
    expected = {tuple(map(int, rc)) for rc in np.argwhere(near_repeat.is_near_repeat(ratio, p))}
    assert (0, 0) in expected and expected != {(r, c) for r in range(3) for c in range(3)}
    for name in TABLES[:4]:
        assert shaded_cells(table(at, name)) == expected
    assert metric(at, "Near-repeat cells") == str(len(expected))


def test_unusable_bands_give_one_message_and_no_table(analyst_page):
    at = analyst_page
    at.text_input(key="nr_distance").set_value("0,200,100").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The test cannot run: distance band edges must increase strictly (got 0,200,100)."
    ]
    assert not at.get("deck_gl_json_chart") and not at.dataframe


def test_reviewers_may_not_open_it(app_db):
    denied = page("near_repeat", "reviewer").run()
    assert denied.error[0].value.startswith("Access denied") and not denied.dataframe


def test_page_is_in_the_analysts_menu():
    from crimeviz.access.auth import User

    scripts = [s for s, _, _ in navigation.visible(User("a", "A", "analyst"))["Incidents"]]
    assert "app_pages/near_repeat.py" in scripts


def test_a_period_without_chains_draws_an_empty_map(app_db):
    at = page("near_repeat", "analyst").run()
    at.selectbox(key="nr_offence").set_value("Theft Over")
    at.date_input(key="nr_dates").set_value((date(2021, 12, 1), date(2021, 12, 10))).run()
    assert not at.exception and not at.error
    assert metric(at, "Chains") == "0" and int(metric(at, "Incidents")) >= 2
    assert at.caption[-1].value.endswith("None here.")
    assert deck_specs(at)[0]["layers"][2]["data"] == []
