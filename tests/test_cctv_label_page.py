"""The label form under a saved review on the CCTV page (Streamlit's AppTest)."""

import duckdb
import pytest

from crimeviz.cctv import store as cctv_store
from crimeviz.store import db
from tests.test_cctv_page import clip_bytes, page  # noqa: F401 (fixture)


@pytest.fixture
def labelled_store(tmp_path, monkeypatch):
    path = tmp_path / "cctv.duckdb"
    con = db.connect(path)
    cctv_store.ensure_tables(con)
    cctv_store.add_camera(con, "Yard", 43.65, -79.38, "admin")
    con.close()
    monkeypatch.setenv("CRIMEVIZ_DB", str(path))
    monkeypatch.setenv("CRIMEVIZ_CCTV_REGISTRY", str(tmp_path / "registry"))
    return path


def _rows(path, sql):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_reviewer_labels_a_saved_review_and_a_bad_label_is_explained(labelled_store, clip_bytes):  # noqa: F811
    at = page("reviewer").run()
    at.file_uploader(key="cctv_upload").set_value(("walk.avi", clip_bytes, "video/x-msvideo")).run()
    next(b for b in at.button if b.label == "Save report for Yard").click()
    at.run()
    assert not at.exception and "Saved report" in at.success[0].value
    assert _rows(labelled_store, "SELECT n_snippets FROM cctv_snippet_features")[0][0] == 3  # 48 frames
    at.radio(key="cctv_label_verdict").set_value("true")
    at.selectbox(key="cctv_label_type").set_value("robbery")
    at.selectbox(key="cctv_label_instrument").set_value("knife")
    at.selectbox(key="cctv_label_severity").set_value(7)
    at.checkbox(key="cctv_label_correct").check()
    at.number_input(key="cctv_label_start").set_value(1.0)
    at.number_input(key="cctv_label_end").set_value(0.5)
    next(b for b in at.button if b.label == "Save label").click()
    at.run()
    assert "must end after it starts" in at.error[0].value
    assert _rows(labelled_store, "SELECT count(*) FROM cctv_labels")[0][0] == 0
    at.number_input(key="cctv_label_end").set_value(3.0)
    next(b for b in at.button if b.label == "Save label").click()
    at.run()
    assert not at.exception and "Label saved" in at.success[-1].value
    row = _rows(labelled_store, "SELECT verdict, event_type, instrument, severity, start_s, end_s FROM cctv_labels")
    assert row == [("true", "robbery", "knife", 7, 1.0, 3.0)]
    assert not any(e.label.startswith("Incident types") for e in at.expander)  # administrators only
