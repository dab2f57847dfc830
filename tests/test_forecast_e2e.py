"""End to end: the Forecast page in headless Chromium shows its names, titles and table whole."""

import pytest

from crimeviz.forecast.predict import METHODS
from tests.e2e_helpers import open_page, screenshot, sign_in, wait_for_script

pytestmark = pytest.mark.e2e

CUT_TITLES = """el => { const inside = (r, b) => r.top >= b.top - 1 && r.left >= b.left - 1
        && r.bottom <= b.bottom + 1 && r.right <= b.right + 1;
    const meets = (r, b) => r.left < b.right && b.left < r.right && r.top < b.bottom && b.top < r.bottom;
    const box = el.getBoundingClientRect(), title = el.querySelector('.gtitle').getBoundingClientRect();
    return [...el.querySelectorAll('.g-ytitle text, .g-xtitle text')].filter(t => {
        const r = t.getBoundingClientRect(); return !inside(r, box) || meets(r, title); }).map(t => t.textContent); }"""


def test_forecast_page_shows_method_names_axis_titles_and_table_whole(app_url, browser_page):
    sign_in(browser_page, app_url, "analyst")
    open_page(browser_page, "Forecasts & patrol", "Forecast")
    browser_page.locator('[data-testid="stDataFrame"] .dvn-scroller').first.wait_for(timeout=120_000)
    browser_page.locator('[data-testid="stPlotlyChart"] .gtitle').nth(1).wait_for(timeout=60_000)
    wait_for_script(browser_page)
    shot = screenshot(browser_page, "e2e-forecast-page", full_page=True)

    method = browser_page.get_by_role("combobox", name="Method")
    assert method.input_value() == METHODS["cdna"]
    assert method.evaluate("e => e.scrollWidth <= e.clientWidth"), f"the method's name is cut off ({shot})"
    charts = browser_page.locator('[data-testid="stPlotlyChart"]').all()
    assert len(charts) == 2
    for chart in charts:
        assert chart.evaluate(CUT_TITLES) == [], f"an axis title is cut or overlaps the chart's title ({shot})"
        legend = set(chart.locator(".legendtext").all_text_contents())
        assert legend == set(METHODS.values()), "the legend names the methods as the table does"
    table = browser_page.locator('[data-testid="stDataFrame"]').first
    assert table.locator(".dvn-scroller").evaluate("e => e.scrollWidth <= e.clientWidth + 1"), (
        f"the backtest table's last column is cut ({shot})"
    )
