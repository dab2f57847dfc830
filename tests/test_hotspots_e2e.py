"""End to end: the maps in a real headless Chromium open on the whole city; the Hotspots table is readable."""

import numpy as np
import pytest
from PIL import Image

from tests.e2e_helpers import open_page, screenshot, sign_in, wait_for_pixels

pytestmark = pytest.mark.e2e


def drawn(path) -> np.ndarray:
    """Pixels of the map that are not the bare white background (outline, its fill, cells)."""
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return (255 - rgb).max(axis=2) > 4


@pytest.mark.parametrize(
    ("section", "title"), [("Incidents", "Hotspots"), ("Incidents", "Map"), ("Forecasts & patrol", "Forecast")]
)
def test_map_opens_on_the_whole_city(app_url, browser_page, section, title):
    sign_in(browser_page, app_url, "admin")
    open_page(browser_page, section, title)
    chart = browser_page.locator('[data-testid="stDeckGlJsonChart"]').first
    chart.locator("canvas").first.wait_for(state="visible", timeout=60_000)
    name = f"e2e-{title.lower()}-view"
    shot = wait_for_pixels(chart, name, lambda p: int(drawn(p).sum()), 50_000)
    mask = drawn(shot)
    rows, cols = np.nonzero(mask)
    assert len(rows) > 50_000, f"no city drawn in {shot}"
    # Nothing of the city touches an edge of the map: none of it is cropped.
    assert rows.min() > 3 and rows.max() < mask.shape[0] - 4, f"north or south cropped in {shot}"
    assert cols.min() > 3 and cols.max() < mask.shape[1] - 4, f"east or west cropped in {shot}"
    if title == "Hotspots":
        table = browser_page.locator('[data-testid="stDataFrame"]').first
        table.scroll_into_view_if_needed()
        screenshot(table, "e2e-hotspots-table")  # neighbourhood names and readable p-values, for a person to see
