"""The Patrol plans page through streamlit.testing: build, bad input, save/approve/reopen, edit, review."""

import json
from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from tests.conftest import ROOT
from tests.test_patrol_beats import connected


def patrol_page(role: str = "commander") -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / "patrol.py"), default_timeout=120)
    at.session_state["user"] = auth.User(f"test-{role}", f"Test {role}", role)
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


UNITS, STOPS = 0, 1  # the Plan tab's tables, first in the page


def table(at: AppTest, index: int):
    return at.dataframe[index].value


@pytest.fixture
def page(app_db):
    at = patrol_page()
    at.session_state["patrol_units"] = 4
    at.session_state["patrol_res"] = 8
    return at.run()


def test_page_builds_a_plan_and_draws_it(page):
    assert not page.exception and not page.error
    spec = json.loads(page.get("deck_gl_json_chart")[0].proto.json)
    assert [layer["id"] for layer in spec["layers"]] == [
        "city-outline",
        "patrol-beats",
        "patrol-routes",
        "patrol-starts",
    ]
    beats = spec["layers"][1]["data"]
    assert {b["cell"][:2] for b in beats} == {"88"} and len({tuple(b["color"]) for b in beats}) == 4
    assert metric(page, "Units") == "4"
    assert page.subheader[0].value.startswith("Unsaved plan · Sat 01 Jan 2022 · evening 15:00–23:00 · draft")
    assert any("greedy seeded region growing" in c.value for c in page.caption)
    assert len(table(page, UNITS)) == 4  # one row per unit
    assert any(
        "Not reviewed: the evening shift of 2022-01-01 ends after" in i.value for i in page.info
    )  # 1 Jan 2022 is after the data
    page.toggle(key="patrol_show_risk").set_value(True).run()
    layers = json.loads(page.get("deck_gl_json_chart")[0].proto.json)["layers"]
    assert layers[1]["id"] == "patrol-risk" and len(layers[1]["data"]) > 500


def only_one_neighbourhood(at):
    at.multiselect(key="patrol_ex_hoods").set_value(at.multiselect(key="patrol_ex_hoods").options[1:])
    at.number_input(key="patrol_units").set_value(150)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda at: at.number_input(key="patrol_units").set_value(0), "choose at least one unit"),
        (only_one_neighbourhood, "150 units but only"),
        (lambda at: at.date_input(key="patrol_date").set_value(date(2030, 1, 1)), "no incidents of the prioritised"),
        (lambda at: at.number_input(key="patrol_minutes").set_value(10), "does not cover one cell"),
    ],
)
def test_bad_input_gives_a_message_not_a_traceback(page, change, message):
    change(page)
    page.button(key="patrol_build").click().run()
    assert not page.exception
    assert message in page.error[0].value and not page.get("deck_gl_json_chart")


def test_save_approve_reopen_open_and_rebuild(page):
    page.button(key="patrol_save").click().run()
    assert page.subheader[0].value.startswith("Plan #") and page.success[0].value.endswith("saved as a draft.")
    plan_id = int(page.subheader[0].value.split("#")[1].split(" ")[0])
    approve = page.button(key="patrol_approve")
    assert approve.label == "Approve" and approve.disabled  # four-eyes: not by its author
    assert any("test-commander created or saved this plan" in c.value for c in page.caption)
    page.session_state["user"] = auth.User("test-second", "Second commander", "commander")
    page.run()
    assert not page.button(key="patrol_approve").disabled
    page.button(key="patrol_approve").click().run()
    assert page.subheader[0].value.endswith("· approved")
    assert page.success[0].value == f"Plan #{plan_id} approved by test-second."
    assert any("approved by test-second" in c.value for c in page.caption)
    page.button(key="patrol_reopen").click().run()
    assert page.subheader[0].value.endswith("· draft")
    page.number_input(key="patrol_units").set_value(2)
    page.radio(key="patrol_res").set_value(9)
    page.button(key="patrol_build").click().run()
    assert metric(page, "Units") == "2" and page.subheader[0].value.startswith("Unsaved plan")
    page.selectbox(key="patrol_open_id").set_value(plan_id)
    page.button(key="patrol_open").click().run()
    assert not page.exception and metric(page, "Units") == "4" and not page.warning
    assert page.subheader[0].value.startswith(f"Plan #{plan_id} ")
    assert (page.number_input(key="patrol_units").value, page.radio(key="patrol_res").value) == (4, 8)
    page.number_input(key="patrol_units").set_value(3)
    page.button(key="patrol_rebuild").click().run()
    assert metric(page, "Units") == "3" and page.subheader[0].value.startswith(f"Plan #{plan_id} ")
    assert page.subheader[0].value.endswith("(unsaved changes)")
    assert page.button(key="patrol_approve").disabled  # the rebuilt beats must be saved before approval


def test_without_four_eyes_save_and_approve_confirms(page, monkeypatch):
    monkeypatch.setenv("CRIMEVIZ_FOUR_EYES", "off")
    page.run()
    approve = page.button(key="patrol_approve")
    assert approve.label == "Save and approve" and not approve.disabled
    approve.click().run()
    plan_id = int(page.subheader[0].value.split("#")[1].split(" ")[0])
    assert page.subheader[0].value.endswith("· approved")
    assert page.success[0].value == f"Plan #{plan_id} approved by test-commander."


@pytest.mark.parametrize(
    "change",
    [
        lambda at: at.number_input(key="patrol_units").set_value(3),
        lambda at: at.date_input(key="patrol_date").set_value(date(2021, 12, 24)),
        lambda at: at.selectbox(key="patrol_source").set_value("forecast:mc28"),
    ],
)
def test_a_plan_of_other_settings_is_marked_stale_and_cannot_be_saved_or_approved(page, monkeypatch, change):
    monkeypatch.setenv("CRIMEVIZ_FOUR_EYES", "off")
    change(page)
    page.run()
    assert not page.exception and metric(page, "Units") == "4"  # the old plan is still shown …
    assert "built with other settings than those in the sidebar" in page.warning[0].value  # … marked stale
    assert page.button(key="patrol_approve").disabled and page.button(key="patrol_save").disabled
    page.button(key="patrol_build").click().run()
    assert not page.warning and not page.button(key="patrol_approve").disabled


def test_unusable_units_are_explained_once(page):
    page.number_input(key="patrol_units").set_value(0)
    page.button(key="patrol_build").click().run()
    assert [e.value for e in page.error] == ["No plan: choose at least one unit."]


def test_cells_can_be_removed_and_assigned_and_bad_edits_are_explained(page):
    cells = table(page, STOPS)["cell"].tolist()  # unit 1's stops
    drop = next(c for c in cells if connected([x for x in cells if x != c]))
    before = int(metric(page, "Cells"))
    page.text_input(key="patrol_edit_cell").set_value(drop).run()
    page.button(key="patrol_remove").click().run()
    assert not page.exception and int(metric(page, "Cells")) == before - 1
    page.button(key="patrol_assign").click().run()  # back into unit 1
    assert int(metric(page, "Cells")) == before and drop in table(page, STOPS)["cell"].tolist()
    page.text_input(key="patrol_edit_cell").set_value("not-a-cell").run()
    page.button(key="patrol_assign").click().run()
    assert page.error[0].value == "Not changed: not an H3 cell: 'not-a-cell'."


def test_review_over_a_period_draws_the_comparison(page):
    page.date_input(key="patrol_review_period").set_value((date(2021, 12, 1), date(2021, 12, 3)))
    page.button(key="patrol_review_run").click().run()
    assert not page.exception
    chart = json.loads(page.get("plotly_chart")[0].proto.spec)
    assert [trace["name"] for trace in chart["data"]] == ["top-k cells", "plan"]  # the plan drawn on top
    assert [trace["line"].get("dash") for trace in chart["data"]] == ["dash", None]  # the same values stay visible
    assert chart["layout"]["xaxis"]["dtick"] == 86_400_000 and "%H" not in chart["layout"]["xaxis"]["tickformat"]
    summary = table(page, -1)
    assert summary["method"].tolist() == ["plan", "top-k cells"] and (summary["days"] == 3).all()


def test_only_commanders_and_admins_may_plan(app_db):
    denied = patrol_page("analyst").run()
    assert not denied.exception
    assert denied.error[0].value.startswith("Access denied")
    assert not denied.get("deck_gl_json_chart")


def test_a_patrol_link_restores_the_settings_and_builds_their_plan(app_db):
    at = patrol_page()
    link = {"date": "2021-07-02", "shift": "night", "start": "22", "res": "8", "units": "6", "minutes": "300"}
    link |= {"priority.Robbery": "3", "risk_surface": "1", "review": "2021-12-01..2021-12-03"}
    at.query_params.update(link)
    at.run()
    assert not at.exception and not at.warning
    assert (at.session_state["patrol_date"], at.session_state["patrol_shift"]) == (date(2021, 7, 2), "night")
    assert (at.session_state["patrol_start_night"], at.session_state["patrol_res"]) == (22, 8)
    assert (at.session_state["patrol_units"], at.session_state["patrol_minutes"]) == (6, 300)
    assert at.number_input(key="patrol_w_Robbery").value == 3.0 and at.toggle(key="patrol_show_risk").value
    assert at.date_input(key="patrol_review_period").value == (date(2021, 12, 1), date(2021, 12, 3))
    assert metric(at, "Units") == "6" and "Fri 02 Jul 2021 · night 22:00–06:00" in at.subheader[0].value
    for param, value in link.items():
        assert at.query_params[param] == value  # the address keeps what the link asked for


def test_a_patrol_link_with_values_the_page_does_not_offer_names_and_resets_them(app_db):
    at = patrol_page()
    at.query_params.update({"units": "999", "shift": "dusk", "plan": "12345"})
    at.run()
    assert not at.exception and at.session_state["patrol_units"] == 10
    assert at.session_state["patrol_shift"] == "evening" and metric(at, "Units") == "10"
    note = at.warning[0].value
    assert "units: 999 lies outside 0 to 200" in note and "shift: dusk not offered" in note and "plan: 12345" in note
    assert "units" not in at.query_params and "plan" not in at.query_params


def test_changing_a_patrol_setting_updates_the_address(page):
    assert page.query_params["units"] == "4" and page.query_params["res"] == "8"
    assert "shift" not in page.query_params  # the default shift stays out of the address
    page.number_input(key="patrol_units").set_value(7)
    page.selectbox(key="patrol_shift").set_value("night")
    page.run()
    assert (page.query_params["units"], page.query_params["shift"]) == ("7", "night")
    page.number_input(key="patrol_hours_night").set_value(6).run()
    assert page.query_params["hours"] == "6" and not page.exception


def test_a_saved_plan_is_in_the_address_and_a_link_to_it_opens_it(page):
    assert "plan" not in page.query_params  # an unsaved plan has no number to link to
    page.button(key="patrol_save").click().run()
    plan_id = int(page.subheader[0].value.split("#")[1].split(" ")[0])
    assert page.query_params["plan"] == str(plan_id)
    colleague = patrol_page()
    colleague.session_state["user"] = auth.User("test-second", "Second commander", "commander")
    colleague.query_params.update(page.query_params)
    colleague.run()
    assert not colleague.exception and not colleague.warning
    assert colleague.subheader[0].value.startswith(f"Plan #{plan_id} ") and metric(colleague, "Units") == "4"
    assert colleague.radio(key="patrol_res").value == 8
    page.button(key="patrol_build").click().run()  # a new, unsaved plan: no plan in the address
    assert "plan" not in page.query_params and page.query_params["units"] == "4"
