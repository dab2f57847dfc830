"""End to end: the Map page in a real headless Chromium draws its hexagons."""

import re
import time

import numpy as np
import pytest
from PIL import Image

from crimeviz.bench.load import NEXT_FRAMES
from tests.e2e_helpers import open_page, screenshot, sign_in, wait_for_pixels, wait_for_script

pytestmark = pytest.mark.e2e


def ramp_pixels(path) -> int:
    """Pixels in the warm YlOrRd colours of the count layer (not grey outline, not white)."""
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    r, b = rgb[..., 0], rgb[..., 2]
    return int(((r > 180) & (b < 150) & (r - b > 80)).sum())


def test_map_page_draws_hexagons_in_chromium(app_url, browser_page):
    errors = []
    browser_page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(browser_page, app_url, "analyst")
    chart = browser_page.locator('[data-testid="stDeckGlJsonChart"]').first
    chart.locator("canvas").first.wait_for(state="visible", timeout=60_000)
    shot = wait_for_pixels(chart, "e2e-map", ramp_pixels, 5_000)
    whole = screenshot(browser_page, "e2e-map-page", full_page=True)
    assert ramp_pixels(shot) > 5_000, f"no hexagons visible in {shot} (page: {whole})"
    assert not errors, errors
    assert browser_page.get_by_text("Cell detail").count() >= 1


def canvas_rows_ramp_pixels(page, name: str, canvas, first_row: int) -> int:
    """Ramp pixels in the map canvas's rows from ``first_row`` to its bottom, as the page shows them."""
    box = canvas.bounding_box()
    path = screenshot(page, name)
    top = int(round(box["y"])) + first_row
    left, width = int(round(box["x"])), int(box["width"])
    rows = np.asarray(Image.open(path).convert("RGB"))[top : int(round(box["y"] + box["height"])), left : left + width]
    crop = path.with_name(f"{name}-rows.png")
    Image.fromarray(rows).save(crop)
    return ramp_pixels(crop)


def test_map_scrolled_under_the_header_is_drawn_to_its_bottom(app_url, browser_page):
    """Chromium without a GPU skipped the map's lowest rows (as many as were hidden at its top) once
    the opaque header covered the map's top; crimeviz/app.css keeps the header out of that."""
    browser_page.set_viewport_size({"width": 1280, "height": 800})  # room to scroll the map's top away
    sign_in(browser_page, app_url, "analyst")
    chart = browser_page.locator('[data-testid="stDeckGlJsonChart"]').first
    canvas = chart.locator("canvas").first
    wait_for_pixels(chart, "e2e-map-unscrolled", ramp_pixels, 5_000)
    height = int(canvas.bounding_box()["height"])
    band = height - 130  # the rows the header and the window's top will hide, counted from the bottom
    before = canvas_rows_ramp_pixels(browser_page, "e2e-map-unscrolled", canvas, band)
    browser_page.evaluate(
        "dy => document.querySelector('[data-testid=\"stMain\"]').scrollBy(0, dy)", canvas.bounding_box()["y"] + 70
    )
    browser_page.evaluate(NEXT_FRAMES)
    time.sleep(1)
    assert canvas.bounding_box()["y"] < -60  # the map's top is above the window, under the header
    after = canvas_rows_ramp_pixels(browser_page, "e2e-map-scrolled", canvas, band)
    assert before > 500, "the map's lowest rows hold no hexagons to compare"
    assert after >= 0.9 * before, f"the map's lowest rows went blank when scrolled: {after} of {before} pixels"


# Records, for every element Streamlit marks stale during a rerun, whether it holds the map and the
# opacity and transition crimeviz/app.css gives it at that moment.
WATCH_STALE = """() => {
  window.__stale = [];
  new MutationObserver(changes => changes.forEach(({target}) => {
    if (target.getAttribute('data-stale') !== 'true') return;
    const style = getComputedStyle(target);
    window.__stale.push({map: !!target.querySelector('[data-testid="stDeckGlJsonChart"]'), opacity: style.opacity,
                         duration: style.transitionDuration, delay: style.transitionDelay});
  })).observe(document.body, {attributes: true, attributeFilter: ['data-stale'], subtree: true});
}"""


def test_map_filter_change_reruns_in_the_browser(app_url, browser_page):
    sign_in(browser_page, app_url, "analyst")
    incidents = browser_page.locator('[data-testid="stMetricValue"]').first
    before = incidents.inner_text()
    browser_page.get_by_text("H3 resolution").first.wait_for()
    browser_page.evaluate(WATCH_STALE)
    browser_page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first.click()
    browser_page.get_by_role("option", name="Robbery").click()
    browser_page.keyboard.press("Escape")
    browser_page.wait_for_function(
        "before => document.querySelector('[data-testid=\"stMetricValue\"]').innerText !== before",
        arg=before,
        timeout=30_000,
    )
    wait_for_script(browser_page)
    assert int(incidents.inner_text().replace(",", "")) < int(before.replace(",", ""))
    screenshot(browser_page, "e2e-map-robbery", full_page=True)
    # While it reran, stale figures were set to dim in one step after 1 s and the map not at all.
    stale = browser_page.evaluate("window.__stale")
    figures = [s for s in stale if not s["map"]]
    assert figures and all(s["duration"] == "0s" and s["delay"] == "1s" for s in figures), stale
    assert any(s["map"] for s in stale), stale
    assert all(s["opacity"] == "1" and s["duration"] == "0s" for s in stale if s["map"]), stale


def test_sign_out_returns_to_the_sign_in_form(app_url, browser_page):
    sign_in(browser_page, app_url, "commander")
    assert browser_page.get_by_text("Signed in as").count() == 1
    browser_page.get_by_role("button", name="Sign out").click()
    browser_page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
    assert browser_page.locator('[data-testid="stDeckGlJsonChart"]').count() == 0
    screenshot(browser_page, "e2e-signed-out")


def test_leaflet_download_draws_its_hexagons_with_no_network(app_url, browser_page, tmp_path):
    sign_in(browser_page, app_url, "analyst")
    with browser_page.expect_download(timeout=60_000) as download:
        browser_page.get_by_role("button", name="Download this map as a Leaflet HTML file").click()
    path = tmp_path / "map.html"
    download.value.save_as(path)
    cells = path.read_text().count('"cell":')
    offline = browser_page.context.browser.new_page()
    requests = []

    def block(route):
        requests.append(route.request.url)
        route.abort()

    offline.route(lambda url: not url.startswith(("file:", "data:")), block)
    offline.goto(path.as_uri())
    offline.wait_for_selector("path.leaflet-interactive", timeout=30_000)
    drawn = offline.locator("path.leaflet-interactive").count()
    shot = screenshot(offline, "e2e-leaflet-offline")
    offline.close()
    assert cells > 500 and drawn == cells, (drawn, cells)
    assert ramp_pixels(shot) > 5_000, f"no coloured hexagons in {shot}"
    assert not requests, requests


def detail_cell(page) -> str:
    """The cell id the detail panel shows (its bold heading)."""
    heading = page.locator('[data-testid="stMarkdown"] strong').filter(has_text=re.compile(r"^8[0-9a-f]{14}$"))
    heading.first.wait_for(timeout=60_000)
    return heading.first.inner_text()


def test_clicked_cell_stays_through_a_filter_change_and_the_map_is_not_faded(app_url, browser_page):
    sign_in(browser_page, app_url, "analyst")
    chart = browser_page.locator('[data-testid="stDeckGlJsonChart"]').first
    before = ramp_pixels(wait_for_pixels(chart, "e2e-map-before-click", ramp_pixels, 5_000))
    box = chart.locator("canvas").first.bounding_box()
    browser_page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.6)
    time.sleep(0.5)  # deck.gl picks on a still pointer
    browser_page.mouse.down()
    browser_page.mouse.up()
    wait_for_script(browser_page)
    cell = detail_cell(browser_page)
    time.sleep(2)
    after = ramp_pixels(screenshot(chart, "e2e-map-after-click"))
    assert after > 0.8 * before, f"the hexagons faded after a click: {after} of {before} ramp pixels"
    browser_page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first.click()
    browser_page.get_by_role("option", name="Assault").click()
    browser_page.keyboard.press("Escape")
    wait_for_script(browser_page)
    time.sleep(2)
    wait_for_script(browser_page)
    assert detail_cell(browser_page) == cell
    screenshot(browser_page, "e2e-map-cell-after-filter", full_page=True)


def test_map_exports_are_in_the_audit_trail(app_url, browser, browser_page, tmp_path):
    sign_in(browser_page, app_url, "analyst")
    browser_page.locator('[data-testid="stSelectbox"]').filter(has_text="Cell").last.click()
    browser_page.keyboard.press("ArrowDown")  # opens the list if the click only focused the box
    browser_page.get_by_role("option").first.click()
    wait_for_script(browser_page)
    cell = detail_cell(browser_page)
    downloads = {}
    for name, button in (("csv", "Download the "), ("html", "Download this map as a Leaflet HTML file")):
        with browser_page.expect_download(timeout=60_000) as download:
            browser_page.get_by_role("button", name=re.compile("^" + re.escape(button))).click()
        downloads[name] = tmp_path / f"export.{name}"
        download.value.save_as(downloads[name])
    rows = downloads["csv"].read_bytes()
    assert b"\r\n" in rows and rows.count(b"\r\n") > 1  # the shared writer's CRLF rows, one per incident
    admin = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    sign_in(admin, app_url, "admin")
    open_page(admin, "Manage", "Users & audit")
    admin.get_by_role("tab", name="Audit trail").click()
    admin.get_by_label("Action starts with").fill("map.export")
    admin.keyboard.press("Enter")
    wait_for_script(admin)
    with admin.expect_download(timeout=60_000) as download:
        admin.get_by_role("button", name="Export as CSV").click()
    log = download.value.path().read_text()
    admin.context.close()
    assert f"e2e-analyst,map.export.cell_csv,cell,{cell}" in log
    assert "e2e-analyst,map.export.leaflet,map,h3r8" in log
