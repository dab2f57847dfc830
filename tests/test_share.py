"""Share links (page state in the URL) and saved views."""

from datetime import date, datetime

import pytest
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from crimeviz.store import audit, saved_views
from crimeviz.web import share
from tests.conftest import ROOT
from tests.test_pages import page

DATES = share.Field("f_dates", "dates", "dates", low=date(2014, 1, 1), high=date(2021, 12, 31))


@pytest.mark.parametrize(
    "field, value, strings",
    [
        (DATES, (date(2021, 3, 1), date(2021, 3, 31)), ["2021-03-01..2021-03-31"]),
        (share.Field("d", "day", "date"), date(2021, 5, 2), ["2021-05-02"]),
        (share.Field("r", "res", "int", (7, 8, 9), default=8), 9, ["9"]),
        (share.Field("c", "coverage", "float", (0.05, 0.1)), 0.1, ["0.1"]),
        (share.Field("o", "offence", "list", ("Assault", "Robbery, armed")), ["Robbery, armed", "Assault"], None),
        (share.Field("m", "midnight", "bool", default=False), True, ["1"]),
        (share.Field("h", "hours", "range", default=(0, 23)), (6, 21), ["6-21"]),
        (share.Field("x", "cell", "h3"), "882b9bc033fffff", ["882b9bc033fffff"]),
    ],
)
def test_values_survive_the_url(field, value, strings):
    encoded = share.encode(field, value)
    assert strings is None or encoded == strings
    assert share.decode(field, encoded) == value


def test_defaults_stay_out_of_the_url_unless_always():
    assert share.encode(share.Field("r", "res", "int", default=8), 8) == []
    assert share.encode(share.Field("o", "offence", "list", default=[]), []) == []
    always = share.Field("f", "dates", "dates", default=(date(2021, 1, 1), date(2021, 12, 31)), always=True)
    assert share.encode(always, (date(2021, 1, 1), date(2021, 12, 31))) == ["2021-01-01..2021-12-31"]


@pytest.mark.parametrize(
    "field, strings, message",
    [
        (DATES, ["2013-01-01..2021-01-01"], "outside the data"),
        (DATES, ["2021-03-31..2021-03-01"], "ends before it starts"),
        (DATES, ["yesterday"], "not a date range"),
        (share.Field("r", "res", "int", (7, 8, 9)), ["12"], "not offered"),
        (share.Field("o", "offence", "list", ("Assault",)), ["Assault", "Arson"], "Arson not offered"),
        (share.Field("h", "hours", "range"), ["21-6"], "not an hour range"),
        (share.Field("x", "cell", "h3"), ["<script>"], "not an H3 cell"),
        (share.Field("m", "midnight", "bool"), ["yes"], "not 0 or 1"),
    ],
)
def test_bad_link_values_are_refused_in_words(field, strings, message):
    with pytest.raises(ValueError, match=message):
        share.decode(field, strings)


def test_a_link_opens_the_map_as_it_was_shared_and_the_url_follows_the_widgets(app_db):
    at = page("map")
    at.query_params.update(
        {"dates": "2021-03-01..2021-03-31", "offence": ["Robbery", "Assault"], "res": "9", "playback": "1"}
    )
    at.session_state["f_premises"] = ["House"]  # the colleague's own earlier choice: the link resets it
    at.run()
    assert not at.exception and not at.warning
    assert at.session_state["map_res"] == 9 and at.session_state["f_offences"] == ["Robbery", "Assault"]
    assert at.session_state["f_dates"] == (date(2021, 3, 1), date(2021, 3, 31))
    assert at.session_state["f_premises"] == [] and at.session_state["pb_on"]
    assert at.toggle(key="pb_on").value  # the playback is open, as in the link
    at.radio(key="map_res").set_value(7).run()
    assert at.query_params["res"] == "7" and at.query_params["offence"] == ["Robbery", "Assault"]
    at.multiselect(key="f_offences").set_value([]).run()
    assert "offence" not in at.query_params  # all offences: the default, left out


def test_link_values_this_user_cannot_use_are_named_and_reset(app_db):
    at = page("map")
    at.query_params.update({"offence": ["Robbery", "No such offence"], "res": "12", "dates": "2000-01-01..2000-02-01"})
    at.run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "offence: No such offence not offered" in warning and "res: 12 not offered" in warning
    assert "outside the data" in warning
    assert at.session_state["f_offences"] == [] and at.session_state["map_res"] == 8
    assert at.query_params.get("res") is None  # the refused values leave the address too


def test_a_forecast_link_restores_day_offence_method_and_shift(app_db):
    at = page("forecast")
    at.query_params.update({"day": "2021-06-01", "group": "Robbery", "method": "mc28", "shift": "night"})
    at.run()
    assert not at.exception and not at.warning
    assert at.session_state["fc_day"] == date(2021, 6, 1) and at.session_state["fc_shift"] == "night"
    assert at.selectbox(key="fc_method").value == "mc28" and at.selectbox(key="fc_group").value == "Robbery"
    assert any("night (23:00–07:00) shift" in c.value for c in at.caption)
    at.selectbox(key="fc_shift").set_value(None).run()
    assert "shift" not in at.query_params


def test_saved_views_are_per_user_replaced_by_name_and_audited(empty_store):
    when = datetime(2024, 5, 1, 9, 0)
    first = saved_views.save(empty_store, "ana", "Nights downtown", "map", "res=9&offence=Robbery", when)
    again = saved_views.save(empty_store, "ana", "  Nights   downtown ", "map", "res=8", when)
    other = saved_views.save(empty_store, "bob", "Nights downtown", "forecast", "shift=night", when)
    assert first == again != other
    mine = saved_views.views(empty_store, "ana")
    assert mine[["name", "page", "query"]].values.tolist() == [["Nights downtown", "map", "res=8"]]
    assert not saved_views.delete(empty_store, "ana", other)  # not hers
    assert saved_views.delete(empty_store, "bob", other) and saved_views.views(empty_store, "bob").empty
    actions = audit.entries(empty_store, action="view.")["action"].tolist()
    assert actions.count("view.save") == 3 and actions.count("view.delete") == 1


@pytest.mark.parametrize(
    "name, page_path, query, message",
    [
        ("", "map", "", "1-80 printable"),
        ("x" * 81, "map", "", "1-80 printable"),
        ("ok", "../admin", "", "not a page"),
        ("ok", "map", "a" * 4001, "longer than"),
        ("ok", "map", "res", "not a query string"),
    ],
)
def test_bad_views_are_refused_and_nothing_is_stored(empty_store, name, page_path, query, message):
    with pytest.raises(saved_views.ViewRejected, match=message):
        saved_views.save(empty_store, "ana", name, page_path, query)
    assert saved_views.views(empty_store, "ana").empty


def test_saved_views_page_links_each_view_with_its_settings(app_db):
    from crimeviz.store import db

    con = db.connect(app_db)
    try:
        saved_views.save(con, "test-analyst", "Robbery *March*", "map", "dates=2021-03-01..2021-03-31&offence=Robbery")
        saved_views.save(con, "test-analyst", "Patrol", "patrol", "")
    finally:
        con.close()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["user"] = auth.User("test-analyst", "Test analyst", "analyst")
    at.run()
    at.switch_page("app_pages/saved_views.py").run()
    assert not at.exception
    links = at.get("page_link")
    labels = [link.proto.label for link in links]
    assert r"Robbery \*March\* · Map" in labels  # the name shown as text, not Markdown
    link = links[labels.index(r"Robbery \*March\* · Map")].proto
    assert link.query_string == "dates=2021-03-01..2021-03-31&offence=Robbery"
    assert any("your role may not open this page" in m.value for m in at.markdown)  # analysts have no patrol page


def test_saving_needs_a_page_the_role_may_use():
    analyst = auth.User("a", "A", "analyst")
    assert share.page_of("Map") == ("map", "incidents") and share.page_of("Nowhere") is None
    assert not analyst.may(share.page_of("Patrol plans")[1])


@pytest.mark.parametrize(
    "name, params, state",
    [
        (
            "hotspots",
            {"res": "7", "k": "2", "fdr": "0.01", "bandwidth": "1200", "test": "Permutations"},
            {"hot_res": 7, "hot_k": 2, "hot_alpha": 0.01, "hot_bw": 1200, "hot_test": "Permutations"},
        ),
        ("trends", {"series": "Monthly", "offence": "Robbery"}, {"trend_freq": "Monthly", "f_offences": ["Robbery"]}),
        (
            "near_repeat",
            {"offence": "Robbery", "dates": "2021-01-01..2021-03-31", "distance": "0,200,400", "seed": "7"},
            {"nr_offence": "Robbery", "nr_dates": (date(2021, 1, 1), date(2021, 3, 31)), "nr_distance": "0,200,400"},
        ),
    ],
)
def test_links_restore_the_other_pages_settings(app_db, name, params, state):
    at = page(name, "analyst")
    at.query_params.update(params)
    at.run()
    assert not at.exception and not at.warning
    for key, value in state.items():
        assert at.session_state[key] == value
    for param, value in params.items():
        assert at.query_params[param] == value  # the address keeps what the link asked for


def test_an_address_the_browser_had_not_yet_updated_does_not_undo_a_change(app_db):
    """Two quick changes: the second rerun may leave the browser with the address of the run before
    the first; that echo of this session's own earlier address must not take the first change back."""
    at = page("map").run()
    at.radio(key="map_res").set_value(9).run()
    stale = dict(at.query_params)
    assert stale["res"] == "9"
    at.radio(key="map_res").set_value(7).run()
    assert at.query_params["res"] == "7"
    at.query_params.clear()
    at.query_params.update(stale)
    at.multiselect(key="f_offences").set_value(["Robbery"]).run()
    assert not at.exception and at.session_state["map_res"] == 7
    assert at.query_params["res"] == "7" and at.query_params["offence"] == "Robbery"
