"""End to end: an administrator uploads the demo clip on CCTV review in headless Chromium."""

import json

import pytest

from crimeviz.cctv import DEMO_CLIP
from tests.e2e_helpers import screenshot, sign_in, wait_for_script

pytestmark = pytest.mark.e2e


def _video_state(page) -> dict:
    return page.evaluate("""() => { const v = document.querySelector('video');
        return v && {ready: v.readyState, duration: v.duration, time: v.currentTime, error: v.error && v.error.code,
                     vp8: v.canPlayType('video/webm; codecs="vp8"')}; }""")


def open_cctv(page) -> None:
    page.get_by_role("button", name="Video & imagery").click()  # a section of the top menu
    page.get_by_role("menuitem").filter(has_text="CCTV review").click()
    page.wait_for_url("**/cctv")
    wait_for_script(page)


def test_upload_demo_clip_review_jump_and_save(app_url, browser_page):
    errors = []
    browser_page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(browser_page, app_url, "admin")
    open_cctv(browser_page)
    assert browser_page.get_by_text("synthetic anomalies").count() >= 1  # the model's label is on screen

    browser_page.locator("[data-testid=\"stMain\"]").get_by_label("Name").first.fill("E2E corner camera")
    browser_page.get_by_role("button", name="Add camera").click()
    browser_page.get_by_text("E2E corner camera").first.wait_for(timeout=60_000)
    wait_for_script(browser_page)

    browser_page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(DEMO_CLIP))
    browser_page.get_by_text("Alert segments").wait_for(timeout=180_000)
    wait_for_script(browser_page)
    browser_page.locator('[data-testid="stPlotlyChart"]').first.wait_for(state="visible", timeout=60_000)
    browser_page.wait_for_function(
        "() => { const v = document.querySelector('video'); return v && v.readyState >= 1; }", timeout=60_000
    )
    state = _video_state(browser_page)
    truth = json.loads(DEMO_CLIP.with_suffix(".json").read_text())
    assert state["vp8"] and state["error"] is None
    assert abs(state["duration"] - truth["n_frames"] / truth["fps"]) < 1, state

    screenshot(browser_page, "e2e-cctv-scored", full_page=True)
    assert browser_page.get_by_text("No frame reaches the threshold").count() == 0  # the demo clip has alerts
    segment_box = browser_page.locator('[data-testid="stSelectbox"]').filter(has_text="Jump to segment")
    segment_box.locator("input").click()
    browser_page.keyboard.type("#2")  # the combo box filters its segments as one types
    browser_page.keyboard.press("Enter")
    wait_for_script(browser_page)
    label = segment_box.locator("input").input_value()  # "#2: 14.4–22.4 s, peak 1.000"
    assert label.startswith("#2: "), label
    start = int(float(label.split(": ")[1].split("–")[0]))
    browser_page.wait_for_function(
        f"() => Math.abs(document.querySelector('video').currentTime - {start}) < 1", timeout=30_000
    )

    browser_page.get_by_label("Reviewer note").fill("E2E: demo clip reviewed.")
    browser_page.get_by_role("button", name="Save report for E2E corner camera").click()
    browser_page.get_by_text("Saved report #").wait_for(timeout=60_000)
    wait_for_script(browser_page)
    screenshot(browser_page, "e2e-cctv-page", full_page=True)
    assert browser_page.get_by_role("button", name="Download PDF").count() == 1
    assert not errors, errors


VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


def test_an_mpeg4_part2_avi_plays_after_a_background_copy_with_wall_clock_times(app_url, browser_page):
    errors = []
    browser_page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(browser_page, app_url, "reviewer")  # the reviewer's only page opens at once
    browser_page.get_by_role("heading", name="CCTV review").wait_for(timeout=60_000)
    browser_page.get_by_role("textbox", name="Recording started at (optional)").fill("2021-06-01 14:00:00")
    browser_page.keyboard.press("Enter")
    wait_for_script(browser_page)
    browser_page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(VTEST)
    notice = browser_page.get_by_text("making a playable copy")
    notice.wait_for(timeout=180_000)  # shown while it is made
    notice.scroll_into_view_if_needed()
    screenshot(browser_page, "e2e-cctv-avi-copying")
    browser_page.wait_for_function(
        "() => { const v = document.querySelector('video'); return v && v.readyState >= 1; }", timeout=180_000
    )
    state = _video_state(browser_page)
    assert state["error"] is None and abs(state["duration"] - 79.5) < 1, state

    slider = browser_page.get_by_role("slider", name="Alert threshold")
    slider.focus()
    browser_page.keyboard.press("Home")  # 0.001
    for _ in range(9):
        browser_page.keyboard.press("ArrowRight")
    wait_for_script(browser_page)
    browser_page.get_by_text("starts at").first.wait_for(state="attached", timeout=60_000)  # wall-clock columns
    assert browser_page.get_by_text("No frame reaches the threshold").count() == 0
    assert browser_page.get_by_text("recorded incidents lie within").count() == 0
    browser_page.get_by_text("Alert segments").scroll_into_view_if_needed()
    screenshot(browser_page, "e2e-cctv-avi-explored")
    assert not errors, errors
