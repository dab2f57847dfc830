"""The Patrol page's working state without Streamlit: remembered settings, stale plans, four-eyes barriers."""

from dataclasses import replace

import pytest

from crimeviz.patrol import session, store
from crimeviz.patrol.plan import PlanParams, plan_on_surface
from tests.test_patrol_beats import DAY, random_surface


@pytest.fixture
def plan():
    params = PlanParams(DAY, units=2, max_cells=4, weights=(("Assault", 1.0), ("Robbery", 2.0)))
    return plan_on_surface(params, random_surface(3), created_by="insp.test")


def test_settings_dropped_by_the_session_come_back_and_others_are_kept():
    state = {"patrol_units": 3, "patrol_w_Assault": 2.0, "patrol_start_night": 22, "patrol_plan": "plan", "f_x": 1}
    session.remember_settings(state)
    assert set(state[session.REMEMBERED]) == {"patrol_units", "patrol_w_Assault", "patrol_start_night"}
    state = {session.REMEMBERED: state[session.REMEMBERED], "patrol_units": 5}  # units drawn again already
    session.restore_settings(state)
    assert (state["patrol_units"], state["patrol_w_Assault"], state["patrol_start_night"]) == (5, 2.0, 22)


def test_a_plan_is_stale_only_when_its_settings_differ(plan):
    same = replace(plan.params, weights=(("Robbery", 2.0),), minutes_per_cell=15.0)  # default priority and time
    assert not session.is_stale(plan, same)
    assert session.is_stale(plan, replace(plan.params, units=3))
    assert session.is_stale(plan, replace(plan.params, weights=(("Robbery", 3.0),)))
    assert session.is_stale(plan, None)  # settings that cannot be used


def test_approval_barriers_say_why(empty_store, plan):
    assert session.approval_barrier(empty_store, plan, "supt.test", True, False).startswith("save the plan first")
    assert session.approval_barrier(empty_store, plan, "insp.test", False, False) is None
    saved = store.save_plan(empty_store, plan, "insp.test")
    assert "insp.test created or saved" in session.approval_barrier(empty_store, saved, "insp.test", True, False)
    assert session.approval_barrier(empty_store, saved, "supt.test", True, False) is None
    assert "does not match" in session.approval_barrier(empty_store, saved, "supt.test", True, True)
    state = {session.PLAN: saved}
    session.approve(state, empty_store, "supt.test", four_eyes=True)
    assert state[session.NOTICE] == f"Plan #{saved.plan_id} approved by supt.test."
    assert session.approval_barrier(empty_store, state[session.PLAN], "x", True, False) == "the plan is approved"
