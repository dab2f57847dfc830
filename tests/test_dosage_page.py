"""The Patrol dosage page: synthetic pings labelled, the dosage map, plans and dwell times; roles."""

import shutil

import pytest

from crimeviz.patrol import dosage
from crimeviz.patrol import store as plans
from crimeviz.patrol.plan import PlanParams, plan_on_surface
from crimeviz.store import audit, avl, db
from tests.test_pages import deck_specs, metric, page
from tests.test_patrol_beats import DAY, random_surface


@pytest.fixture
def dosage_db(toronto_db, tmp_path, monkeypatch):
    """A copy of the Toronto store with an approved plan and synthetic pings following it."""
    path = tmp_path / "dosage.duckdb"
    shutil.copy(toronto_db, path)
    con = db.connect(path)
    plan = plan_on_surface(PlanParams(DAY, units=3, max_cells=5), random_surface(2), created_by="insp.test")
    saved = plans.save_plan(con, plan, "insp.test")
    approved = plans.set_status(con, saved.plan_id, "approved", "supt.test", four_eyes=True)
    avl.save_synthetic(con, dosage.synthetic_pings(approved), dosage.synthetic_source(approved.plan_id), "root", {})
    con.close()
    monkeypatch.setenv("CRIMEVIZ_DB", str(path))
    return path, approved


def test_a_commander_sees_synthetic_dosage_labelled_with_the_plan_visited(dosage_db):
    path, approved = dosage_db
    at = page("dosage", "commander").run()
    assert not at.exception
    assert sum("synthetic" in w.value.lower() for w in at.warning) == 2  # stored, and in this period
    assert float(metric(at, "Hours present")) > 0
    [spec] = deck_specs(at)
    assert spec["layers"][0]["id"] == "dosage-cells"
    plan_text = next(m.value for m in at.markdown if f"Plan #{approved.plan_id}" in m.value)
    assert "planned cells visited" in plan_text
    assert not any(b.label == "Import pings" for b in at.button)  # commanders do not add pings


def test_an_analyst_may_not_open_the_page_and_an_admin_may_make_pings(dosage_db):
    at = page("dosage", "analyst").run()
    assert at.exception or at.error
    at = page("dosage", "admin").run()
    assert not at.exception
    at.button(key="dosage_synth").click().run()
    assert not at.exception
    con = db.connect(dosage_db[0])
    assert audit.entries(con, action="dosage.synth")["username"].tolist() == ["test-admin", "root"]
