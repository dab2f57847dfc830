"""The Map's live CCTV alerts in a real headless Chromium: the marker's tooltip and the table show an HTML camera
name as text."""

import shutil
from datetime import datetime

import numpy as np
import pytest
from PIL import Image

from crimeviz.access import auth
from crimeviz.cctv import cameras
from crimeviz.cctv.live import alert_store
from crimeviz.store import db
from crimeviz.web import overlays, serve
from tests.e2e_helpers import E2E_PASSWORD, screenshot, sign_in
from tests.test_map_alerts import GATE, LANE, label, store_alert

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def alerts_app(toronto_db, tmp_path_factory):
    """The app on a store with an administrator and two labelled June 2021 alerts; yields its URL."""
    folder = tmp_path_factory.mktemp("map-alerts-e2e")
    store = folder / "map.duckdb"
    shutil.copy(toronto_db, store)
    secrets = folder / "secrets.toml"
    con = db.connect(store)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRIMEVIZ_SECRETS", str(secrets))
        auth.add_user(con, "e2e-admin", E2E_PASSWORD, "admin")
    cameras.add(con, cameras.CameraConfig(GATE, "rtsp://127.0.0.1:9/gate", 43.6561, -79.3802), "boss")
    cameras.add(con, cameras.CameraConfig(LANE, "rtsp://127.0.0.1:9/lane", 43.6487, -79.3716), "boss")
    alert_store.ensure_tables(con)
    robbery = store_alert(con, cameras.get(con, GATE), datetime(2021, 6, 3, 22), 0.95)
    vandalism = store_alert(con, cameras.get(con, LANE), datetime(2021, 6, 10, 14), 0.81)
    label(con, robbery, "true", event_type="robbery", instrument="knife", severity=8)
    label(con, vandalism, "true", event_type="vandalism", severity=3)
    con.close()
    proc, url = serve.start(store, folder / "streamlit.log", env={"CRIMEVIZ_SECRETS": str(secrets)})
    try:
        yield url
    finally:
        serve.stop(proc)


def marker_pixels(path, rgb) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs) of the pixels within a blend of ``rgb`` (markers are drawn at 90% opacity)."""
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return np.nonzero(np.abs(image - np.array(rgb)).sum(axis=2) < 45)


def test_the_alert_marker_tooltip_shows_the_camera_name_as_text(alerts_app, browser_page):
    page = browser_page
    sign_in(page, alerts_app, path="map?dates=2021-06-01..2021-06-30&layers=Hexagons&layers=CCTV+alerts")
    page.get_by_text("CCTV alerts: 2 of the 2 that started in these dates.").wait_for(timeout=60_000)
    chart = page.locator('[data-testid="stDeckGlJsonChart"]').first
    chart.scroll_into_view_if_needed()
    robbery = overlays.TYPE_PALETTE[0]  # the first of the types found, in order: robbery, vandalism
    for _ in range(30):  # WebGL draws asynchronously
        ys, xs = marker_pixels(screenshot(chart, "e2e-map-alerts"), robbery)
        if len(xs) > 20:
            break
        page.wait_for_timeout(1_000)
    assert len(xs) > 20, "the robbery alert's marker is not drawn"
    chart.hover(position={"x": int(np.median(xs)), "y": int(np.median(ys))})
    tooltip = page.locator(".deck-tooltip")
    tooltip.wait_for(state="visible", timeout=10_000)
    text = tooltip.inner_text()
    assert f"Camera: {GATE}" in text and "Type: robbery" in text and "Severity: 8 of 10" in text
    assert page.locator("img[src='x']").count() == 0  # the name was never parsed as HTML
    screenshot(page, "e2e-map-alerts-tooltip")
    table = page.locator('[data-testid="stTable"]').first
    table.scroll_into_view_if_needed()
    assert GATE in table.inner_text() and table.locator("img").count() == 0  # Markdown escaped: shown as text
    assert table.get_by_role("link", name="open").count() == 2  # each alert's page
    screenshot(page, "e2e-map-alerts-table", full_page=True)
