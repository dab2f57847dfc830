"""End to end in headless Chromium: the Near repeats table shows its shading, the map its chains."""

import numpy as np
import pytest
from PIL import Image

from crimeviz.explore.near_repeat import CHAIN_COLOURS
from tests.e2e_helpers import open_page, screenshot, sign_in, wait_for_pixels, wait_for_script

pytestmark = pytest.mark.e2e

SHADE = (244, 165, 130)  # app_pages/near_repeat.py NEAR_REPEAT_COLOUR


def pixels_near(path, rgb, tolerance: int = 12) -> int:
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return int((np.abs(image - np.array(rgb)).max(axis=2) <= tolerance).sum())


def test_near_repeat_table_is_shaded_and_chains_are_drawn(app_url, browser_page):
    page = browser_page
    sign_in(page, app_url, "analyst")
    open_page(page, "Incidents", "Near repeats")
    for label, value in (("Distance bands (m)", "0,1,200,400"), ("Time bands (days)", "0,2,7,28")):
        box = page.get_by_role("textbox", name=label)
        box.fill(value)
        box.press("Enter")
        wait_for_script(page)
    table = page.locator('[data-testid="stDataFrame"]').first
    table.wait_for(state="visible", timeout=60_000)
    shot = wait_for_pixels(table, "e2e-near-repeat-table", lambda p: pixels_near(p, SHADE), 200)
    assert pixels_near(shot, SHADE) >= 200, f"no shaded near-repeat cell in {shot}"
    page.get_by_role("tab", name="Chains map").click()
    chart = page.locator('[data-testid="stDeckGlJsonChart"]').first
    chart.locator("canvas").first.wait_for(state="visible", timeout=60_000)
    shot = wait_for_pixels(chart, "e2e-near-repeat-chains", lambda p: pixels_near(p, CHAIN_COLOURS[0], 20), 30)
    assert pixels_near(shot, CHAIN_COLOURS[0], 20) >= 30, f"no chain drawn in {shot}"
    screenshot(page, "e2e-near-repeat-page", full_page=True)
