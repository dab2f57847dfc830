"""End to end: a reload or a link keeps a signed-in user on their page; sign-out ends that."""

import shutil
from urllib.parse import urlparse

import pytest

from crimeviz.web import serve
from tests.e2e_helpers import open_page, screenshot, sign_in, wait_for_script

pytestmark = pytest.mark.e2e


def page_title(page) -> str:
    return page.locator("h1").first.inner_text()


def test_reload_keeps_the_user_signed_in_on_the_same_page(app_url, browser_page):
    sign_in(browser_page, app_url, "analyst")
    open_page(browser_page, "Incidents", "Trends")
    # The address follows the page a moment later (with the filter in its query string).
    browser_page.wait_for_url(lambda url: urlparse(url).path.endswith("/trends"), timeout=30_000)
    browser_page.reload()
    wait_for_script(browser_page)
    browser_page.get_by_text("Signed in as").first.wait_for(timeout=30_000)
    screenshot(browser_page, "e2e-reload-trends")
    assert page_title(browser_page) == "Trends" and urlparse(browser_page.url).path.endswith("/trends")
    assert browser_page.get_by_text("Page not found").count() == 0


def test_sign_out_then_reload_stays_signed_out(app_url, browser_page):
    sign_in(browser_page, app_url, "analyst")
    cookies = {c["name"] for c in browser_page.context.cookies()}
    assert "crimeviz_session" in cookies
    browser_page.get_by_role("button", name="Sign out").click()
    browser_page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
    browser_page.reload()
    wait_for_script(browser_page)
    browser_page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
    assert browser_page.get_by_text("Signed in as").count() == 0
    screenshot(browser_page, "e2e-signed-out-reload")


def test_signed_out_token_does_not_sign_in_again(app_url, browser_page):
    """A copy of the cookie taken before sign-out is void afterwards (the server checks, not only the browser)."""
    sign_in(browser_page, app_url, "analyst")
    token = next(c for c in browser_page.context.cookies() if c["name"] == "crimeviz_session")
    browser_page.get_by_role("button", name="Sign out").click()
    browser_page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
    browser_page.context.add_cookies([token])
    browser_page.reload()
    wait_for_script(browser_page)
    browser_page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
    assert browser_page.get_by_text("Signed in as").count() == 0


def test_link_to_a_page_opens_it_after_sign_in(app_url, browser_page):
    sign_in(browser_page, app_url, "analyst", path="trends")
    assert browser_page.get_by_text("Page not found").count() == 0
    assert page_title(browser_page) == "Trends" and urlparse(browser_page.url).path.endswith("/trends")
    screenshot(browser_page, "e2e-link-trends")


def test_a_link_is_the_first_request_a_new_server_gets(toronto_db, browser, tmp_path):
    """After a restart a bookmark may be the server's first request: it must still meet app.py's sign-in
    (a folder named ``pages/`` beside app.py made Streamlit run the page script alone, with no sign-in form)."""
    store = tmp_path / "restart.duckdb"
    shutil.copy(toronto_db, store)
    proc, url = serve.start(store, tmp_path / "streamlit.log", env={"CRIMEVIZ_SECRETS": str(tmp_path / "none.toml")})
    try:
        page = browser.new_page()
        page.goto(f"{url}/trends")
        wait_for_script(page)
        page.get_by_text("Create the first administrator").first.wait_for(timeout=30_000)
        assert page.get_by_text("Access denied").count() == 0
        page.close()
    finally:
        serve.stop(proc)
