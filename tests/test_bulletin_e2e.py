"""End to end in headless Chromium: the emerging hot spot map is drawn; the bulletin downloads as a PDF."""

import re

import numpy as np
import pypdf
import pytest
from PIL import Image

from tests.e2e_helpers import sign_in, wait_for_pixels, wait_for_script

pytestmark = pytest.mark.e2e


def reddish(path) -> int:
    """Pixels of the hot categories' reds as drawn (translucent over the pale study area)."""
    r, g, b = np.moveaxis(np.asarray(Image.open(path).convert("RGB")).astype(int), 2, 0)
    return int(((r > 180) & (r - g > 70) & (r - b > 70)).sum())


def test_emerging_map_draws_the_persistent_hot_spots(app_url, browser_page):
    page = browser_page
    sign_in(page, app_url, "analyst", path="emerging")  # straight to the page, not through the Map
    chart = page.locator('[data-testid="stDeckGlJsonChart"]').first
    chart.locator("canvas").first.wait_for(state="visible", timeout=60_000)
    shot = wait_for_pixels(chart, "e2e-emerging-map", reddish, 200)
    assert reddish(shot) >= 200, f"no hot spot category drawn in {shot}"
    assert page.get_by_text(re.compile(r"^Persistent hot spot \(\d+\)$")).first.is_visible()  # the legend


def test_bulletin_downloads_as_a_pdf(app_url, browser_page):
    page = browser_page
    sign_in(page, app_url, "analyst", path="bulletin")
    page.get_by_role("button", name="Make the bulletin").click()
    button = page.get_by_role("button", name="Download the bulletin (PDF)")
    button.wait_for(timeout=120_000)
    wait_for_script(page)
    with page.expect_download(timeout=60_000) as download:
        button.click()
    reader = pypdf.PdfReader(download.value.path())
    assert reader.metadata.title.startswith("CrimeViz bulletin: 7 days to ")
    assert "7. CCTV alerts of the period" in "\n".join(p.extract_text() for p in reader.pages)
