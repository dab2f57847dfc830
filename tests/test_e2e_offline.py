"""End to end: loading the app asks nothing of any server but its own (no fonts, icons or favicons)."""

from urllib.parse import urlparse

import pytest

from tests.e2e_helpers import open_page, sign_in, wait_for_script

pytestmark = pytest.mark.e2e
LOCAL = {"127.0.0.1", "localhost"}


def test_no_request_leaves_localhost(app_url, browser_page):
    outside = []
    browser_page.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if urlparse(r.url).scheme in ("http", "https", "ws", "wss") and urlparse(r.url).hostname not in LOCAL
            else None
        ),
    )
    sign_in(browser_page, app_url, "admin")
    browser_page.wait_for_timeout(2_000)  # the favicon is fetched after the page has run
    open_page(browser_page, "Incidents", "Trends")
    browser_page.reload()
    wait_for_script(browser_page)
    browser_page.wait_for_timeout(2_000)
    icon = browser_page.evaluate("document.querySelector('link[rel~=\"icon\"]')?.href")
    assert icon and urlparse(icon).hostname in LOCAL, icon
    assert not outside, outside
