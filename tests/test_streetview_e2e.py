"""End to end: Street view in headless Chromium, for an analyst and an administrator, with no model installed."""

import pytest

from crimeviz.streetview import checkpoints
from tests.e2e_helpers import open_page, screenshot, sign_in

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_the_no_model_notice_names_no_server_path_and_only_admins_may_add_models(app_url, browser_page, role):
    sign_in(browser_page, app_url, role)
    open_page(browser_page, "Video & imagery", "Street view")
    notice = browser_page.get_by_text("No trained DevianceNet model is installed")
    notice.wait_for(timeout=60_000)
    screenshot(browser_page, f"e2e-streetview-{role}")
    text = browser_page.locator('[data-testid="stMain"]').inner_text()
    assert str(checkpoints.weights_dir()) not in text and "data/models" not in text
    adds = browser_page.get_by_text("Add a trained model (for every user)")
    assert adds.count() == (1 if role == "admin" else 0)
    assert ("ask one to install" in text) == (role == "analyst")
