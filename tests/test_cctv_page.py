"""The CCTV page in Streamlit's AppTest: cameras, upload, scores, saved reports, bad clips."""

from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from tests.test_cctv_video import make_clip

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "cctv.py")


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "walk.avi", n_frames=48, event=(16, 32)).read_bytes()


def page(role: str = "admin") -> AppTest:
    """The CCTV page as signed in with ``role``."""
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["user"] = auth.User(f"test-{role}", f"Test {role}", role)
    return at


def _reports(app_db) -> int:
    con = duckdb.connect(str(app_db))
    try:
        return con.execute("SELECT count(*) FROM cctv_reports").fetchall()[0][0]
    finally:
        con.close()


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def _add_camera(at, name):
    at.text_input(key="cam_new_name").input(name)
    _button(at, "Add camera").click()
    return at.run()


def test_review_an_upload_and_save_a_report(app_db, clip_bytes):
    at = page().run()
    assert not at.exception
    assert "synthetic anomalies" in at.warning[0].value  # the demo model is labelled for what it is
    at = _add_camera(at, "Test gate")
    assert at.selectbox(key="cctv_camera_pick").format_func(at.selectbox(key="cctv_camera_pick").value) == "Test gate"
    at.file_uploader(key="cctv_upload").set_value(("walk.avi", clip_bytes, "video/x-msvideo"))
    at.run()
    assert not at.exception and not at.error
    assert [m.label for m in at.metric][:3] == ["Duration", "Frames", "Peak score"]
    assert at.metric[1].value == "48 @ 10 fps"
    assert len(at.get("plotly_chart")) == 1
    at.slider(key="cctv_threshold").set_value(0.05).run()  # low enough for an alert segment
    segments = at.dataframe[0].value
    assert list(segments.columns) == ["#", "start (s)", "end (s)", "peak at (s)", "peak score"] and len(segments) >= 1
    assert any("Browsers cannot play this clip's codec (MJPG)" in i.value for i in at.info)
    before = _reports(app_db)
    at.text_area(key="cctv_note").input("Square crosses the yard; nothing to report.")
    _button(at, "Save report for Test gate").click()
    at.run()
    assert not at.exception and at.success and "Saved report" in at.success[0].value
    assert _reports(app_db) == before + 1
    assert at.selectbox(key="cctv_report_pick").value is not None
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download JSON", "Download PDF"]


def test_a_bad_upload_is_explained_and_nothing_is_saved(app_db, tmp_path):
    at = page().run()
    before = _reports(app_db)
    at.file_uploader(key="cctv_upload").set_value(("notes.mp4", b"not a video at all\n" * 100, "video/mp4"))
    at.run()
    assert not at.exception
    assert at.error[0].value == "This clip cannot be reviewed: notes.mp4: this is a text file, not a video"
    assert not at.get("plotly_chart")
    assert _reports(app_db) == before


def test_demo_clip_plays_in_the_browser_player(app_db):
    at = page().run()
    at.radio(key="cctv_source").set_value("Demo clip").run()
    assert not at.exception and not at.error
    assert any("vtest.avi" in c.value and "Injected events: fast entry" in c.value for c in at.caption)
    assert len(at.get("video")) == 1


def test_reviewers_use_cameras_but_only_administrators_edit_them(app_db):
    at = page("reviewer").run()
    assert not at.exception and not at.get("expander")
    assert not [b for b in at.button if b.label == "Add camera"]
    analyst = page("analyst").run()
    assert analyst.error[0].value.startswith("Access denied: the analyst role may not use cctv")
