"""The Live cameras page in Streamlit's AppTest: tiles, the alert queue, one alert, its review."""

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from crimeviz.cctv import cameras
from crimeviz.cctv.live import alert_store
from crimeviz.cctv.live.alerts import AlertTracker
from crimeviz.store import audit, db

PAGE = str(Path(__file__).resolve().parents[1] / "app_pages" / "live.py")


def page(role: str, alert: int | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["user"] = auth.User(f"test-{role}", f"Test {role}", role)
    if alert is not None:
        at.query_params["alert"] = str(alert)
    return at


@pytest.fixture(scope="module")
def live_alert(app_db, tmp_path_factory):
    """A camera <Yard & Gate> with its state written by a monitor and one alert with a snapshot."""
    folder = tmp_path_factory.mktemp("alert")
    snapshot = folder / "snapshot.jpg"
    image = np.zeros((120, 160, 3), np.uint8)
    image[30:90, 40:120] = (40, 40, 220)
    snapshot.write_bytes(cv2.imencode(".jpg", image)[1].tobytes())
    con = db.connect(app_db)
    cameras.add(con, cameras.CameraConfig("Yard <b>&</b> Gate", "rtsp://127.0.0.1:9/cam", 43.6532, -79.3832), "boss")
    cfg = cameras.get(con, "Yard <b>&</b> Gate")
    alert_store.ensure_tables(con)
    now = time.time()
    seg = AlertTracker(0.5, 1).update(now - 6, now - 3, 0.93)[0].segment
    alert_id = alert_store.open_alert(con, cfg, seg, ("demo-model", "synthetic demo"), [], now)
    alert_store.set_files(con, alert_id, snapshot=str(snapshot), curve=[[now - 6, 0.1], [now - 4, 0.93]])
    status = {"state": "online", "fps": 5.0, "frames": 120, "dropped": 0, "reconnects": 1}
    jpeg = snapshot.read_bytes()
    alert_store.write_status(con, cfg.camera_id, status, 0.9, [[now - 6, 0.1], [now - 4, 0.93]], jpeg)
    con.close()
    return alert_id


def test_tiles_show_each_camera_and_the_queue_lists_the_alert(live_alert):
    at = page("reviewer").run()
    assert not at.exception
    texts = [t.value for t in at.text]
    assert any("Yard <b>&</b> Gate: online · 5.0 fps" in t for t in texts)  # the name as text, never HTML
    assert at.dataframe[0].value["alert_id"].tolist() == [live_alert]
    assert len(at.get("image")) == 1


def test_an_alert_link_opens_the_alert_and_a_reviewer_confirms_it_with_a_note(live_alert, app_db):
    at = page("reviewer", live_alert).run()
    assert not at.exception
    assert at.subheader[0].value.startswith(f"Alert #{live_alert}")
    assert "Peak score 0.930 (alert)" in at.text[0].value
    assert at.get("deck_gl_json_chart")  # the camera's place on the map
    at.text_area[0].input("Patrol sent; gate forced")
    next(b for b in at.button if b.label == "Confirm").click().run()
    assert not at.exception
    con = db.connect(app_db)
    try:
        row = alert_store.alert(con, live_alert)
        trail = audit.entries(con, action="cctv.alert.confirm")
    finally:
        con.close()
    assert row["status"] == "confirmed" and row["note"] == "Patrol sent; gate forced"
    assert row["reviewed_by"] == "test-reviewer" and trail["username"].tolist() == ["test-reviewer"]


def test_analysts_may_not_see_live_cameras(live_alert):
    at = page("analyst").run()
    assert [e.value for e in at.error] == ["Access denied: the analyst role may not use cctv."]
    assert not at.dataframe


def _field(widgets, label_start):
    return next(w for w in widgets if w.label.startswith(label_start))


def settings_page() -> AppTest:
    at = page("admin").run()
    at.toggle(key="live_cam_settings").set_value(True).run()
    return at


def test_an_administrator_adds_a_camera_and_draws_its_mask(live_alert, app_db):
    at = settings_page()
    _field(at.text_input, "Name").input("Loading bay")
    _field(at.text_input, "Stream URL").input("rtsp://viewer:s3cret-pw@127.0.0.1:8554/bay")
    _field(at.text_area, "Motion masks").input("0,0 0.3,0 0.3,0.2")
    _field(at.text_area, "Zones").input("door: 0.5,0.5 1,0.5 1,1")
    next(b for b in at.button if b.label == "Save camera").click().run()
    assert not at.exception and not at.error
    con = db.connect(app_db)
    try:
        bay = cameras.get(con, "loading bay")
        trail = audit.entries(con, action="cameras.add").to_json()
    finally:
        con.close()
    assert bay.url == "rtsp://127.0.0.1:8554/bay" and bay.credentials == "viewer:s3cret-pw"
    assert bay.masks == (((0.0, 0.0), (0.3, 0.0), (0.3, 0.2)),) and bay.zones[0][0] == "door"
    assert "s3cret" not in trail
    # a bad polygon: one line naming the setting, nothing stored
    at.selectbox(key="live_cam_pick").set_value("Loading bay").run()
    _field(at.text_area, "Motion masks").input("0,0 2,0 1,1")
    next(b for b in at.button if b.label == "Save camera").click().run()
    assert [e.value for e in at.error][-1].startswith("Camera not saved: masks: points are x,y fractions")


def test_the_latest_frame_shows_masks_and_zones(live_alert):
    at = settings_page()
    at.selectbox(key="live_cam_pick").set_value("Yard <b>&</b> Gate").run()
    assert not at.exception
    assert len(at.get("image")) == 2  # the tile and the settings' preview
    assert not at.error


def test_reviewers_do_not_see_camera_settings(live_alert):
    at = page("reviewer").run()
    assert not at.toggle and not [b for b in at.button if b.label == "Save camera"]
