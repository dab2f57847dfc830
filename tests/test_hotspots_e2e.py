"""End to end: the Hotspots page in a real headless Chromium shows the whole city and a readable table."""

import numpy as np
import pytest
from PIL import Image

from tests.e2e_helpers import open_page, screenshot, sign_in, wait_for_pixels

pytestmark = pytest.mark.e2e


def outline_mask(path) -> np.ndarray:
    """Pixels of the study-area outline's dark grey-blue line (rgb about 90, 90, 110)."""
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r < 150) & (g < 150) & (b < 170) & (abs(r - g) < 25) & (b >= r)


def test_hotspots_map_shows_the_whole_city_and_names_neighbourhoods(app_url, browser_page):
    sign_in(browser_page, app_url, "analyst")
    open_page(browser_page, "Incidents", "Hotspots")
    chart = browser_page.locator('[data-testid="stDeckGlJsonChart"]').first
    chart.locator("canvas").first.wait_for(state="visible", timeout=60_000)
    shot = wait_for_pixels(chart, "e2e-hotspots-map", lambda p: int(outline_mask(p).sum()), 2_000)
    screenshot(browser_page, "e2e-hotspots-page", full_page=True)
    rows, cols = np.nonzero(outline_mask(shot))
    height, width = outline_mask(shot).shape
    assert len(rows) > 2_000, f"no city outline drawn in {shot}"
    # The outline stays clear of every edge of the map: nothing of the city is cropped.
    assert rows.min() > 3 and rows.max() < height - 4, f"north or south cropped in {shot}"
    assert cols.min() > 3 and cols.max() < width - 4, f"east or west cropped in {shot}"
    table = browser_page.locator('[data-testid="stDataFrame"]').first
    table.scroll_into_view_if_needed()
    screenshot(table, "e2e-hotspots-table")  # neighbourhood names and readable p-values, for a person to look at
