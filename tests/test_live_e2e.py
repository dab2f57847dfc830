"""The Live cameras page in a real headless Chromium: the alert a ping links to, confirmed with a note."""

import shutil
import time

import cv2
import numpy as np
import pytest
from playwright.sync_api import expect

from crimeviz.access import auth
from crimeviz.cctv import cameras
from crimeviz.cctv.live import alert_store
from crimeviz.cctv.live.alerts import AlertTracker
from crimeviz.store import db
from crimeviz.web import serve
from tests.e2e_helpers import E2E_PASSWORD, screenshot, sign_in, wait_for_script

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live_app(toronto_db, tmp_path_factory):
    """The app on a store with a reviewer, a camera with its monitor state and one alert; yields (url, alert id)."""
    folder = tmp_path_factory.mktemp("live-e2e")
    store = folder / "live.duckdb"
    shutil.copy(toronto_db, store)
    secrets = folder / "secrets.toml"
    snapshot = folder / "snapshot.jpg"
    image = np.full((240, 320, 3), 60, np.uint8)
    cv2.rectangle(image, (100, 60), (220, 180), (40, 40, 220), -1)
    snapshot.write_bytes(cv2.imencode(".jpg", image)[1].tobytes())
    con = db.connect(store)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRIMEVIZ_SECRETS", str(secrets))
        auth.add_user(con, "e2e-reviewer", E2E_PASSWORD, "reviewer")
        auth.add_user(con, "e2e-admin", E2E_PASSWORD, "admin")
    mask = (((0.0, 0.0), (0.35, 0.0), (0.35, 0.3), (0.0, 0.3)),)
    zone = (("door", ((0.3, 0.25), (0.7, 0.25), (0.7, 0.75), (0.3, 0.75))),)
    north = cameras.CameraConfig("North gate", "rtsp://127.0.0.1:9/cam", 43.6532, -79.3832, masks=mask, zones=zone)
    cameras.add(con, north, "boss")
    cfg = cameras.get(con, "north gate")
    alert_store.ensure_tables(con)
    now = time.time()
    seg = AlertTracker(0.5, 1).update(now - 8, now - 5, 0.91)[0].segment
    alert_id = alert_store.open_alert(con, cfg, seg, ("demo", "synthetic demo"), [], now)
    curve = [[now - 20 + 2 * i, 0.05 if i < 6 else 0.91] for i in range(9)]
    alert_store.set_files(con, alert_id, snapshot=str(snapshot), curve=curve)
    status = {"state": "online", "fps": 5.0, "frames": 300, "dropped": 0, "reconnects": 0}
    alert_store.write_status(con, cfg.camera_id, status, 0.91, curve, snapshot.read_bytes())
    con.close()
    proc, url = serve.start(store, folder / "streamlit.log", env={"CRIMEVIZ_SECRETS": str(secrets)})
    try:
        yield url, alert_id
    finally:
        serve.stop(proc)


def test_reviewer_opens_the_alert_link_and_confirms_it(live_app, browser_page, toronto_db):
    url, alert_id = live_app
    page = browser_page
    sign_in(page, url, "reviewer", path="live")
    page.get_by_text("North gate: online").first.wait_for(timeout=60_000)
    screenshot(page, "live-cameras", full_page=True)
    page.goto(f"{url}/live?alert={alert_id}")
    wait_for_script(page)
    page.get_by_text(f"Alert #{alert_id}: North gate").wait_for(timeout=60_000)
    page.get_by_label("Note").fill("Gate forced; patrol sent")
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text(f"Alert #{alert_id} confirmed.").wait_for(timeout=60_000)
    wait_for_script(page)
    page.set_viewport_size({"width": 420, "height": 2400})  # a phone's width, the whole alert at once
    wait_for_script(page)
    screenshot(page, "live-alert-confirmed")
    assert page.get_by_text("status confirmed by e2e-reviewer").count() >= 1


def test_an_administrator_sees_masks_and_zones_on_the_latest_frame(live_app, browser_page):
    url, _ = live_app
    page = browser_page
    sign_in(page, url, "admin", path="live")
    page.get_by_text("Camera settings (administrators)").click()
    wait_for_script(page)
    page.get_by_label("Camera", exact=True).click()
    page.get_by_role("option", name="North gate").click()
    wait_for_script(page)
    page.get_by_text("masks shaded red").wait_for(timeout=60_000)
    # the form follows the preview in the same run: wait for its values rather than read them at once
    masks = page.get_by_label("Motion masks: one polygon per line, x,y as fractions")
    expect(masks).to_have_value("0,0 0.35,0 0.35,0.3 0,0.3", timeout=30_000)
    page.get_by_text("masks shaded red").scroll_into_view_if_needed()
    screenshot(page, "live-camera-settings")
