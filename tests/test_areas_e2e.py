"""The Areas page in a real browser: the derived layer's counts table and the administrator's import form."""

from tests.e2e_helpers import open_page, screenshot, sign_in


def test_areas_page_shows_the_derived_layer_and_the_import_form(app_url, browser_page):
    page = browser_page
    sign_in(page, app_url, "admin")
    open_page(page, "Incidents", "Areas")
    page.get_by_text("Derived from the incidents, not official boundaries").wait_for(timeout=60_000)
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=60_000)
    assert page.get_by_text("Outside every area").is_visible()
    page.get_by_text("Polygon file").scroll_into_view_if_needed()
    assert page.get_by_text("Import a layer").is_visible()
    page.get_by_role("heading", name="Areas").scroll_into_view_if_needed()
    screenshot(page, "areas")
