"""End to end: a shared link survives sign-in; a saved view reopens its page with its settings; playback plays."""

import re

import pytest

from tests.e2e_helpers import screenshot, sign_in, wait_for_script

pytestmark = pytest.mark.e2e

LINK = "map?dates=2021-03-01..2021-03-31&offence=Robbery&res=9&playback=1&step=week"


def test_a_map_link_shows_the_same_view_after_sign_in(app_url, browser_page):
    sign_in(browser_page, app_url, "analyst", path=LINK)
    browser_page.get_by_text("step 1 of 5").first.wait_for(timeout=60_000)
    sidebar = browser_page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_by_text("Robbery").count() >= 1
    dates = " ".join(i.input_value() for i in sidebar.locator('[data-testid="stDateInput"] input').all())
    assert "2021-03-01" in dates and "2021-03-31" in dates
    res9 = browser_page.get_by_role("radio", name="9")
    assert res9.is_checked()
    assert "offence=Robbery" in browser_page.url and "res=9" in browser_page.url
    assert browser_page.get_by_text("01 Mar – 07 Mar 2021").count() >= 1
    screenshot(browser_page, "e2e-share-link-map", full_page=True)
    # Forward a step: the readout and the address follow.
    browser_page.get_by_role("button", name="Forward a step", exact=True).click()
    browser_page.get_by_text("08 Mar – 14 Mar 2021").first.wait_for(timeout=30_000)
    wait_for_script(browser_page)
    browser_page.wait_for_url(re.compile(r".*frame=1.*"), timeout=30_000)
    player = browser_page.locator('[data-testid="stVerticalBlock"]', has_text="step 2 of 5").last
    player.scroll_into_view_if_needed()
    screenshot(browser_page, "e2e-playback")
    # Play: the fragment advances by itself (2 steps a second) and stops at the last step.
    browser_page.get_by_role("button", name="Play", exact=True).click()
    browser_page.get_by_text("step 5 of 5").first.wait_for(timeout=60_000)
    browser_page.get_by_role("button", name="Play", exact=True).wait_for(timeout=30_000)
    assert browser_page.get_by_text("29 Mar – 31 Mar 2021").count() >= 1


def test_a_saved_view_reopens_its_page_with_its_settings(app_url, browser_page):
    sign_in(browser_page, app_url, "analyst", path="forecast?day=2021-06-01&method=mc28&shift=night")
    browser_page.get_by_text("night (23:00–07:00) shift").first.wait_for(timeout=60_000)
    browser_page.get_by_text("Save this view").click()
    browser_page.get_by_label("Name").fill("Night shift, June")
    browser_page.get_by_role("button", name="Save view").click()
    browser_page.get_by_text("Saved: open it from Saved views.").wait_for(timeout=30_000)
    browser_page.goto(f"{app_url}/saved_views")
    wait_for_script(browser_page)
    link = browser_page.get_by_role("link", name=re.compile("Night shift, June"))
    link.wait_for(timeout=30_000)
    screenshot(browser_page, "e2e-saved-views")
    link.click()
    browser_page.get_by_text("night (23:00–07:00) shift").first.wait_for(timeout=60_000)
    wait_for_script(browser_page)
    assert "shift=night" in browser_page.url and "method=mc28" in browser_page.url
    assert browser_page.get_by_text("Moving count, 28 days").count() >= 1
    browser_page.get_by_text("Is the learned model really better?").scroll_into_view_if_needed()
    screenshot(browser_page, "e2e-saved-view-forecast")
