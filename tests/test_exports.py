"""Every CSV export neutralises formula-like text (OWASP CSV injection) and every export is audited."""

import contextlib
import io

import pandas as pd

from crimeviz.patrol import export
from crimeviz.patrol.plan import PlanParams, plan_on_surface
from tests.test_patrol_beats import DAY, random_surface

HOSTILE = '=HYPERLINK("http://evil.example","x")'


def test_patrol_plan_csv_neutralises_neighbourhood_names():
    plan = plan_on_surface(PlanParams(DAY, units=2, max_cells=4), random_surface(2), created_by="cmdr")
    text = export.plan_csv(plan, dict.fromkeys(plan.cell_list(), HOSTILE))
    frame = pd.read_csv(io.StringIO(text))
    names = set(frame["neighbourhood"].dropna())
    assert "'" + HOSTILE in names and HOSTILE not in names


def captured_downloads(monkeypatch) -> dict:
    """``{key: data}`` of every download button a page draws (AppTest keeps no file contents)."""
    import streamlit

    captured, real = {}, streamlit.download_button

    def capture(label, data, *args, **kwargs):
        captured[kwargs.get("key")] = data
        return real(label, data, *args, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", capture)
    return captured


def test_audit_export_neutralises_a_hostile_user_name(app_db, monkeypatch):
    from crimeviz.access import auth
    from crimeviz.store import db
    from tests.test_pages import page

    con = db.connect(app_db)
    with contextlib.suppress(auth.AccessDenied):
        auth.sign_in(con, HOSTILE, "whatever it is")
    con.close()
    downloads = captured_downloads(monkeypatch)
    at = page("admin").run()
    assert not at.exception
    log = pd.read_csv(io.BytesIO(downloads["audit_export"]))
    assert "'" + HOSTILE.lower() in set(log["username"])
    assert not log.map(lambda v: isinstance(v, str) and v.startswith(("=", "+", "-", "@"))).any().any()
