"""Saved plans: round trip, edits of drafts, approval, and all-or-nothing writes."""

import json
from dataclasses import replace
from datetime import datetime

import pytest

from crimeviz.patrol import store
from crimeviz.patrol.plan import Beat, PlanParams, plan_on_surface, remove_cell
from crimeviz.patrol.risk import PlanError
from crimeviz.store import audit
from tests.test_patrol_beats import DAY, connected, random_surface


@pytest.fixture
def plan():
    return plan_on_surface(
        PlanParams(DAY, units=3, max_cells=5, weights=(("Assault", 2.0),)), random_surface(5), created_by="insp.test"
    )


def test_a_saved_plan_reopens_unchanged(empty_store, plan):
    saved = store.save_plan(empty_store, plan, "insp.test")
    assert saved.plan_id is not None and saved.created_at is not None and saved.status == "draft"
    back = store.load_plan(empty_store, saved.plan_id)
    assert back.beats == saved.beats and back.params == saved.params
    assert (back.created_by, back.risk_model, back.method) == ("insp.test", "hand-made", plan.method)
    assert back.covered == pytest.approx(plan.covered) and back.total_risk == pytest.approx(plan.total_risk)
    listed = store.list_plans(empty_store)
    assert listed[["plan_id", "status", "cells", "units"]].values.tolist() == [
        [saved.plan_id, "draft", len(plan.cell_list()), len(plan.beats)]
    ]


def test_an_edited_draft_replaces_its_cells_and_keeps_its_id(empty_store, plan):
    saved = store.save_plan(empty_store, plan, "insp.test")
    beat = saved.beats[0]
    drop = next(c for c in beat.cells if connected([x for x in beat.cells if x != c]))
    edited = store.save_plan(empty_store, remove_cell(saved, drop), "insp.test")
    back = store.load_plan(empty_store, saved.plan_id)
    assert edited.plan_id == saved.plan_id and drop not in back.cell_list()
    assert len(back.cell_list()) == len(plan.cell_list()) - 1
    assert len(store.list_plans(empty_store)) == 1


def test_an_approved_plan_is_locked_until_reopened(empty_store, plan):
    saved = store.save_plan(empty_store, plan, "insp.test")
    approved = store.set_status(empty_store, saved.plan_id, "approved", "supt.test", four_eyes=True)
    assert (approved.status, approved.approved_by, approved.created_by) == ("approved", "supt.test", "insp.test")
    assert approved.approved_at is not None
    with pytest.raises(PlanError, match="approved"):
        store.save_plan(empty_store, saved, "insp.test")
    assert store.load_plan(empty_store, saved.plan_id).beats == saved.beats
    reopened = store.set_status(empty_store, saved.plan_id, "draft", "supt.test", four_eyes=True)
    assert (reopened.status, reopened.approved_by) == ("draft", None)
    with pytest.raises(PlanError, match="status must be"):
        store.set_status(empty_store, saved.plan_id, "done", "supt.test", four_eyes=True)
    log = audit.entries(empty_store, action="patrol.")
    assert log["action"].tolist() == ["patrol.reopen", "patrol.approve", "patrol.save"]
    assert log["username"].tolist() == ["supt.test", "supt.test", "insp.test"]
    with pytest.raises(PlanError, match="no saved plan 99"):
        store.load_plan(empty_store, 99)


def test_four_eyes_refuses_approval_by_whoever_created_or_saved_the_plan(empty_store, plan):
    saved = store.save_plan(empty_store, plan, "insp.test")
    store.save_plan(empty_store, saved, "sgt.editor")  # a second commander edits the draft
    for author in ("insp.test", "sgt.editor"):
        with pytest.raises(PlanError, match=f"needs a second commander's approval: {author} created or saved it"):
            store.set_status(empty_store, saved.plan_id, "approved", author, four_eyes=True)
    assert store.load_plan(empty_store, saved.plan_id).status == "draft"
    log = audit.entries(empty_store, action="patrol.approve")
    assert log["action"].tolist() == ["patrol.approve_refused"] * 2
    assert log["username"].tolist() == ["sgt.editor", "insp.test"]
    assert store.set_status(empty_store, saved.plan_id, "approved", "supt.test", four_eyes=True).approved_by == (
        "supt.test"
    )


def test_a_version_saved_after_the_approver_opened_the_plan_is_not_approved_unseen(empty_store, plan, monkeypatch):
    clock = iter(datetime(2022, 1, 1, 9, 0, s) for s in range(60))
    monkeypatch.setattr(store, "_now", lambda: next(clock))
    opened = store.save_plan(empty_store, plan, "insp.test")  # what the second commander has on screen
    store.save_plan(empty_store, opened, "insp.test")  # the author saves a new version meanwhile
    with pytest.raises(PlanError, match="was saved again at 2022-01-01 09:00:01 after you opened it"):
        store.set_status(empty_store, opened.plan_id, "approved", "supt.test", four_eyes=True, seen=opened.updated_at)
    assert store.load_plan(empty_store, opened.plan_id).status == "draft"
    refused = audit.entries(empty_store, action="patrol.approve_refused")
    assert json.loads(refused["detail"].iloc[0]) == {"reason": "changed"}
    current = store.load_plan(empty_store, opened.plan_id)
    approved = store.set_status(
        empty_store, current.plan_id, "approved", "supt.test", four_eyes=True, seen=current.updated_at
    )
    assert approved.status == "approved"


def test_without_four_eyes_the_author_may_approve(empty_store, plan):
    saved = store.save_plan(empty_store, plan, "insp.test")
    approved = store.set_status(empty_store, saved.plan_id, "approved", "insp.test", four_eyes=False)
    assert (approved.status, approved.approved_by) == ("approved", "insp.test")


def test_a_failed_save_leaves_the_store_unchanged(empty_store, plan):
    store.save_plan(empty_store, plan, "insp.test")
    broken = replace(plan, beats=plan.beats + (Beat(9, ("not-a-cell",), (1.0,), 0.0),))
    with pytest.raises(ValueError, match="not an H3 cell"):
        store.save_plan(empty_store, broken, "insp.test")
    assert len(store.list_plans(empty_store)) == 1
    assert empty_store.execute("SELECT count(*) FROM patrol_plan_cells").fetchall()[0][0] == len(plan.cell_list())
    assert len(audit.entries(empty_store, action="patrol.")) == 1
