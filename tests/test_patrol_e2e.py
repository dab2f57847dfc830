"""End to end: a commander opens Patrol plans in headless Chromium and the plan's beats are drawn."""

import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from crimeviz.patrol.views import UNIT_COLOURS
from tests.e2e_helpers import open_page, screenshot, sign_in, wait_for_pixels, wait_for_script

pytestmark = pytest.mark.e2e


def unit_pixels(path, colour, alpha: float) -> int:
    """Pixels within a small distance of ``colour`` drawn at ``alpha`` over the map's light background."""
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(float)
    expected = alpha * np.array(colour) + (1 - alpha) * np.array([246, 246, 248])
    return int((np.abs(rgb - expected).max(axis=2) < 28).sum())


def test_patrol_page_draws_the_units_beats(app_url, browser_page):
    errors = []
    browser_page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(browser_page, app_url, "commander")
    open_page(browser_page, "Forecasts & patrol", "Patrol plans")
    browser_page.wait_for_url("**/patrol")
    browser_page.get_by_text("Show the risk surface").wait_for(timeout=60_000)
    wait_for_script(browser_page)
    chart = browser_page.locator('[data-testid="stDeckGlJsonChart"]').first
    chart.locator("canvas").first.wait_for(state="visible", timeout=60_000)
    shot = wait_for_pixels(
        chart, "e2e-patrol-map", lambda p: min(unit_pixels(p, c, 0.8 * 200 / 255) for c in UNIT_COLOURS[:4]), 31
    )
    whole = screenshot(browser_page, "e2e-patrol-page", full_page=True)
    drawn = [unit_pixels(shot, colour, 0.8 * 200 / 255) for colour in UNIT_COLOURS[:4]]
    assert min(drawn) > 30, f"unit colours {drawn} not all visible in {shot} (page: {whole})"
    assert not errors, errors
    assert browser_page.get_by_text("Patrol plans").count() >= 1
    assert browser_page.get_by_text("Units (route loops start at the white dot)").count() == 1


def test_plan_settings_and_plan_survive_a_visit_to_another_page(app_url, browser_page):
    sign_in(browser_page, app_url, "commander")
    open_page(browser_page, "Forecasts & patrol", "Patrol plans")
    units = browser_page.get_by_label("Units", exact=True)
    shown = browser_page.locator('[data-testid="stMetricValue"]').first
    expect(shown).to_have_text("10", timeout=90_000)  # the plan of the default settings
    units.fill("3")
    units.press("Enter")
    wait_for_script(browser_page)
    browser_page.get_by_role("button", name="Build new plan").click()
    expect(shown).to_have_text("3", timeout=90_000)
    open_page(browser_page, "Incidents", "Trends")
    open_page(browser_page, "Forecasts & patrol", "Patrol plans")
    browser_page.get_by_text("Show the risk surface").wait_for(timeout=60_000)
    wait_for_script(browser_page)
    assert (units.input_value(), shown.inner_text()) == ("3", "3")
    assert browser_page.get_by_text("built with other settings").count() == 0


def test_a_patrol_link_opens_with_its_settings_and_a_saved_view_brings_them_back(app_url, browser_page):
    sign_in(browser_page, app_url, "commander", path="patrol?shift=night&units=7&res=8")
    units = browser_page.get_by_label("Units", exact=True)
    shown = browser_page.locator('[data-testid="stMetricValue"]').first
    expect(shown).to_have_text("7", timeout=90_000)  # the plan of the link's settings
    heading = browser_page.get_by_role("heading", name=re.compile("Unsaved plan"))
    expect(heading).to_contain_text("night 23:00–07:00")
    assert units.input_value() == "7" and browser_page.get_by_role("radio", name="8").is_checked()
    assert browser_page.get_by_role("combobox", name="Shift").input_value() == "Night"
    assert "units=7" in browser_page.url and "shift=night" in browser_page.url
    screenshot(browser_page, "e2e-patrol-link", full_page=True)
    browser_page.get_by_text("Save this view").click()
    browser_page.get_by_label("Name").fill("Night patrol, 7 units")
    browser_page.get_by_role("button", name="Save view").click()
    browser_page.get_by_text("Saved: open it from Saved views.").wait_for(timeout=30_000)
    units.fill("5")  # changed since the view was saved: the view brings back 7
    units.press("Enter")
    browser_page.wait_for_url(re.compile(r".*units=5.*"), timeout=30_000)
    open_page(browser_page, "Incidents", "Saved views")
    browser_page.get_by_role("link", name=re.compile("Night patrol, 7 units")).click()
    browser_page.get_by_text("Show the risk surface").wait_for(timeout=60_000)
    wait_for_script(browser_page)
    assert units.input_value() == "7" and "units=7" in browser_page.url
    expect(heading).to_contain_text("night 23:00–07:00")
