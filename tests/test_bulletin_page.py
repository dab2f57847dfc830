"""The Bulletin page through streamlit.testing: one button makes the PDF, audited, for the role."""

from datetime import date

from crimeviz.store import audit, db, queries
from crimeviz.store.filters import IncidentFilter
from tests.test_pages import metric, page


def test_button_makes_the_bulletin_and_offers_the_pdf(app_db):
    at = page("bulletin", "analyst")
    at.session_state["bul_date"] = date(2021, 9, 23)
    at.run()
    assert not at.exception and not at.get("download_button")
    assert any("may not see: CCTV alerts" in c.value for c in at.caption)
    at.button(key="bul_make").click().run()
    assert not at.exception and not at.error
    button = at.get("download_button")[0]
    assert button.proto.label == "Download the bulletin (PDF)"
    con = db.connect(app_db)
    week = queries.total(con, IncidentFilter(date(2021, 9, 17), date(2021, 9, 23)))
    assert metric(at, "Incidents, last 7 days") == f"{week:,}"
    entry = audit.entries(con, action="bulletin.export", username="test-analyst").iloc[0]
    con.close()
    assert entry["object_id"] == "2021-09-23"


def test_a_reviewer_may_not_open_it(app_db):
    at = page("bulletin", "reviewer").run()
    assert not at.get("button") and any("Access denied" in e.value for e in at.error)
