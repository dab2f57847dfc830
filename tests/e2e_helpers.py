"""Browser-test harness: the real app on a free port, driven by Debian's Chromium via Playwright.

Fixtures (registered for every test module by ``conftest.py``):
  ``app_url``  — base URL of a Streamlit server running ``app.py`` on a copy of the Toronto store;
  ``browser_page`` — a fresh Playwright page in headless Chromium (``/usr/bin/chromium``).
Helpers: ``open_page(page, section, title)`` follows the top navigation, ``sign_in(page, app_url, role)`` signs in as the store's ``e2e-ROLE`` account (one per
role, password ``E2E_PASSWORD``), ``wait_for_script(page)`` waits until the app's script run has
finished, and ``screenshot(page, name)`` saves ``artifacts/NAME.png`` for a person to look at.
"""

import shutil
import time
from pathlib import Path

import pytest

from crimeviz.access import auth
from crimeviz.store import db
from crimeviz.web import serve
from crimeviz.web.serve import CHROMIUM, CHROMIUM_ARGS, SCRIPT_IDLE

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
E2E_PASSWORD = "e2e password for tests"


@pytest.fixture(scope="session")
def app_url(toronto_db, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    store = tmp_path_factory.mktemp("e2e") / "e2e.duckdb"
    shutil.copy(toronto_db, store)
    secrets = tmp_path_factory.mktemp("e2e-secrets") / "secrets.toml"
    con = db.connect(store)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRIMEVIZ_SECRETS", str(secrets))
        for role in auth.ROLES:
            auth.add_user(con, f"e2e-{role}", E2E_PASSWORD, role)
    con.close()
    proc, url = serve.start(
        store,
        tmp_path_factory.mktemp("e2e-log") / "streamlit.log",
        env={"CRIMEVIZ_UPLOADS": str(tmp_path_factory.mktemp("e2e-uploads")), "CRIMEVIZ_SECRETS": str(secrets)},
    )
    try:
        yield url
    finally:
        serve.stop(proc)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def browser_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


def wait_for_script(page, timeout_ms: int = 90_000) -> None:
    """Wait until Streamlit has finished running the page's script."""
    page.wait_for_selector(SCRIPT_IDLE, timeout=timeout_ms)


def sign_in(page, app_url: str, role: str = "admin", path: str = "") -> None:
    """Open ``app_url/path`` and sign in as ``e2e-ROLE``; returns when the page has run."""
    page.goto(f"{app_url}/{path}")
    wait_for_script(page)
    page.get_by_label("User name").fill(f"e2e-{role}")
    page.get_by_label("Password", exact=True).fill(E2E_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").first.wait_for(timeout=60_000)
    wait_for_script(page)
    # The run after sign-in may still be drawing the page: wait until no placeholder is left.
    page.wait_for_function("!document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=90_000)
    wait_for_script(page)


def open_page(page, section: str, title: str) -> None:
    """Open a page from the top navigation: its section's menu, then the page's link."""
    page.get_by_text(section, exact=True).first.click()
    page.locator('[data-testid="stTopNavDropdownLink"]', has_text=title).click()
    wait_for_script(page)


def wait_for_pixels(element, name: str, count, at_least: int, timeout_s: float = 60) -> Path:
    """Screenshot ``element`` as ``name`` until ``count(path) >= at_least`` (WebGL draws asynchronously; a map
    Streamlit draws again meanwhile is taken again: the locator finds the new one)."""
    from playwright.sync_api import Error

    deadline = time.time() + timeout_s
    while True:
        try:
            path = screenshot(element, name)
        except Error as exc:
            if "not attached to the DOM" not in str(exc) or time.time() > deadline:
                raise
        else:
            if count(path) >= at_least or time.time() > deadline:
                return path
        time.sleep(1)


def screenshot(page, name: str, **kwargs) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), **kwargs)
    return path
