"""The CCTV page in Streamlit's AppTest: cameras, upload, scores, saved reports, bad clips."""

import itertools
import json
import threading
import time
from pathlib import Path

import cv2
import pytest
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from crimeviz.cctv import preview, review, video
from crimeviz.cctv import store as cctv_store
from crimeviz.store import db
from tests.conftest import incident_rows
from tests.test_cctv_video import make_clip

TORONTO = (43.6532, -79.3832)

PAGE = str(Path(__file__).resolve().parents[1] / "app_pages" / "cctv.py")


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "walk.avi", n_frames=48, event=(16, 32)).read_bytes()


def page(role: str = "admin") -> AppTest:
    """The CCTV page as signed in with ``role``."""
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["user"] = auth.User(f"test-{role}", f"Test {role}", role)
    return at


def _reports(app_db) -> int:
    con = db.connect(app_db)  # the store's own protocol: the page's reader may still hold the file
    try:
        return con.execute("SELECT count(*) FROM cctv_reports").fetchall()[0][0]
    finally:
        con.close()


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def wait_for_player(at: AppTest, timeout_s: float = 60.0):
    """Reruns the page until the player shows (a playable copy is made in the background)."""
    deadline = time.monotonic() + timeout_s
    while not at.get("video") and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
    assert not at.exception
    return at.get("video")


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
    assert wait_for_player(at)[0].proto.url  # a playable copy, made without a click
    before = _reports(app_db)
    at.text_area(key="cctv_note").input("Square crosses the yard; nothing to report.")
    _button(at, "Save report for Test gate").click()
    at.run()
    assert not at.exception and at.success and "Saved report" in at.success[0].value
    assert _reports(app_db) == before + 1
    assert at.selectbox(key="cctv_report_pick").value is not None
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download JSON", "Download PDF", "Download all labels (CSV)", "Download all labels (JSON)"]


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


@pytest.fixture
def own_store(tmp_path, monkeypatch) -> Path:
    """A store of its own (no cameras) with two incidents near downtown Toronto."""
    path = tmp_path / "cctv.duckdb"
    con = db.connect(path)
    rows = [("2021-05-01 12:00", "Assault", *TORONTO), ("2021-05-02 12:00", "Robbery", 43.6535, -79.3835)]
    db.insert_incidents(con, db.with_cells(incident_rows(rows), "hand"))
    con.close()
    monkeypatch.setenv("CRIMEVIZ_DB", str(path))
    return path


@pytest.fixture(scope="module")
def street_bytes(tmp_path_factory):
    """64 frames of OpenCV's vtest.avi as MPEG-4 part 2 AVI: plain footage the demo model scores near 0.01."""
    source = video.probe(Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi"))
    frames = [cv2.resize(f, (192, 144)) for f in itertools.islice(video.iter_frames(source), 64)]
    path = tmp_path_factory.mktemp("clips") / "street.avi"
    video.write_clip(frames, path, source.fps, "FMP4")
    return path.read_bytes()


def test_a_reviewer_without_cameras_is_told_to_ask_an_administrator(own_store):
    at = page("reviewer").run()
    at.radio(key="cctv_source").set_value("Demo clip").run()
    assert not at.exception and not at.get("form")
    notes = [i.value for i in at.info]
    assert len(notes) == 2 and all("ask an administrator to add the one the footage comes from" in n for n in notes)
    assert not any("add the one" in n and "ask" not in n for n in notes)
    admin = page("admin").run()
    assert "no camera is registered yet: add the one the footage comes from." in admin.info[0].value


def test_a_clip_scoring_near_zero_can_be_explored_below_its_peak(own_store, street_bytes):
    at = page().run()
    at.file_uploader(key="cctv_upload").set_value(("street.avi", street_bytes, "video/x-msvideo")).run()
    assert not at.exception and not at.error
    peak = float(at.metric[2].value)
    assert peak < 0.05  # below the old floor of the threshold slider
    assert (
        f"No frame reaches the threshold; this clip peaks at {peak:.3f}, so a threshold below that shows its top."
        in [c.value for c in at.caption]
    )
    at.slider(key="cctv_threshold").set_value(round(peak - 0.001, 3)).run()
    assert not at.exception and len(at.dataframe[0].value) >= 1
    figure = at.get("plotly_chart")[0].proto.spec
    assert '"range":[0,' in figure.replace(" ", "") and "1.05" not in figure  # the axis zooms to the curve


def test_an_unplayable_codec_gets_a_copy_with_a_progress_notice_meanwhile(
    own_store, street_bytes, monkeypatch, tmp_path
):
    monkeypatch.setenv("CRIMEVIZ_UPLOADS", str(tmp_path / "uploads"))  # no copy from an earlier test
    monkeypatch.setattr(preview, "_jobs", {})
    release = threading.Event()
    write = video.write_preview

    def held(*args, **kwargs):
        release.wait(60)
        return write(*args, **kwargs)

    monkeypatch.setattr(video, "write_preview", held)
    at = page().run()
    at.file_uploader(key="cctv_upload").set_value(("street.avi", street_bytes, "video/x-msvideo")).run()
    assert not at.get("video") and not [b for b in at.button if "preview" in b.label]  # no button to press
    notice = at.get("progress")[0].proto.text
    assert notice.startswith("Browsers cannot play this clip's codec (FMP4); making a playable copy…")
    release.set()
    assert wait_for_player(at)[0].proto.url


def test_reviewers_do_not_see_incidents_near_the_camera(own_store):
    admin = page("admin").run()
    admin = _add_camera(admin, "Yard")
    admin.radio(key="cctv_source").set_value("Demo clip").run()
    _button(admin, "Save report for Yard").click()
    admin.run()
    assert any(c.value == "2 recorded incidents lie within 250 m of Yard." for c in admin.caption)
    assert len(admin.dataframe[-1].value) == 2 and "distance_m" in admin.dataframe[-1].value.columns
    reviewer = page("reviewer").run()
    reviewer.radio(key="cctv_source").set_value("Demo clip").run()
    assert not reviewer.exception and reviewer.get("download_button")
    assert not [d for d in reviewer.dataframe if "distance_m" in d.value.columns]
    assert not any("recorded incidents" in c.value for c in reviewer.caption)


def test_the_recording_start_gives_wall_clock_times_on_screen_and_in_the_report(own_store):
    con = db.connect(own_store)
    cctv_store.ensure_tables(con)
    cctv_store.add_camera(con, "Gate", *TORONTO, "test-admin")
    con.close()
    at = page("reviewer").run()
    at.radio(key="cctv_source").set_value("Demo clip").run()
    at.text_input(key="cctv_recording_start").input("yesterday noon").run()
    assert at.error[0].value.startswith("The recording's start 'yesterday noon' is not a date and time")
    assert "starts at" not in at.dataframe[0].value.columns
    at.text_input(key="cctv_recording_start").input("2021-06-01 14:00:00").run()
    assert not at.error
    table = at.dataframe[0].value
    first = table.iloc[0]
    assert list(table.columns[:3]) == ["#", "starts at", "ends at"]
    assert first["starts at"] == f"14:00:{first['start (s)']:04.1f}"
    assert at.selectbox(key="cctv_segment").format_func(0).startswith(f"#1: 14:00:{first['start (s)']:04.1f}–")
    _button(at, "Save report for Gate").click()
    at.run()
    con = db.connect(own_store)
    record, frames = cctv_store.load_report(con, 1)
    exported = json.loads(review.exporter(con, "test-reviewer", record, frames, "json")())
    pdf = review.exporter(con, "test-reviewer", record, frames, "pdf")()
    con.close()
    assert exported["clip"]["recording_start"] == "2021-06-01T14:00:00"
    segment = exported["segments"][0]
    assert segment["start_at"] == f"2021-06-01T14:00:{segment['start_s']:06.3f}"
    assert pdf.startswith(b"%PDF")
