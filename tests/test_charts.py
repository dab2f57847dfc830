"""Charts: a lone period is drawn with sensible ticks, counts are whole, partial periods are marked."""

import json
from datetime import date

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from crimeviz.explore import charts
from tests.conftest import ROOT


def one_day() -> pd.DataFrame:
    return pd.DataFrame({"period": [pd.Timestamp("2021-06-01")], "n": [3], "n_last_year": [2]})


def test_a_single_day_is_drawn_as_points_on_a_day_wide_axis():
    fig = charts.series_chart(one_day(), "D", date(2021, 6, 1), date(2021, 6, 1))
    assert [t.mode for t in fig.data] == ["markers", "markers"]
    assert list(fig.data[0].y) == [3]
    low, high = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
    assert high - low == pd.Timedelta(days=1)  # not milliseconds around the point
    assert fig.layout.xaxis.tickformat == "%d %b %Y"


def test_a_single_month_cell_trend_has_month_ticks_and_whole_counts():
    fig = charts.monthly_chart(pd.DataFrame({"month": [pd.Timestamp("2021-03-01")], "n": [1]}), "Monthly trend")
    low, high = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
    assert pd.Timedelta(days=27) < high - low < pd.Timedelta(days=32)
    assert fig.layout.xaxis.tickformat == "%b %Y"
    assert fig.layout.yaxis.dtick == 1 and fig.layout.yaxis.tickformat == ",d"


def test_small_counts_get_whole_incident_ticks():
    bars = charts.bar_chart(pd.DataFrame({"offence": ["Assault", "Robbery"], "n": [1, 2]}), "offence", "n", "x")
    assert bars.layout.yaxis.dtick == 1 and bars.layout.yaxis.tickformat == ",d"
    big = charts.bar_chart(pd.DataFrame({"offence": ["Assault"], "n": [500]}), "offence", "n", "x")
    assert big.layout.yaxis.dtick is None  # plotly picks whole steps for large counts
    heat = charts.hour_weekday_heatmap(pd.DataFrame({"weekday": [0], "hour": [3], "n": [2]}))
    assert heat.data[0].colorbar.dtick == 1


def test_partial_first_and_last_weeks_are_marked_not_drawn_as_falls():
    # 2021-01-06 is a Wednesday, 2021-12-30 a Thursday: the first week has 5 days, the last 4.
    start, end = date(2021, 1, 6), date(2021, 12, 30)
    periods = pd.date_range("2021-01-04", end, freq="W-MON")
    series = pd.DataFrame({"period": periods, "n": 70, "n_last_year": 70})
    series.loc[0, "n"], series.loc[len(series) - 1, "n"] = 50, 40
    fig = charts.series_chart(series, "W", start, end)
    line, _, marks = fig.data
    assert np.isnan(line.y[0]) and np.isnan(line.y[-1]) and set(line.y[1:-1]) == {70}
    assert list(marks.x) == [periods[0], periods[-1]] and list(marks.y) == [50, 40]
    assert list(marks.text) == ["5 of 7 days", "4 of 7 days"]


def test_whole_months_are_not_partial():
    series = pd.DataFrame({"period": pd.date_range("2021-01-01", "2021-03-01", freq="MS"), "n": 5, "n_last_year": 4})
    fig = charts.series_chart(series, "M", date(2021, 1, 1), date(2021, 3, 31))
    assert len(fig.data) == 2 and fig.data[0].mode == "lines"


def test_trends_page_for_one_day(app_db):
    at = AppTest.from_file(str(ROOT / "app_pages" / "trends.py"), default_timeout=120)
    at.session_state["user"] = auth.User("t", "t", "analyst")
    at.run()
    at.date_input(key="f_dates").set_value((date(2021, 6, 1), date(2021, 6, 1))).run()
    at.radio(key="trend_freq").set_value("Daily").run()
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["data"][0]["mode"] == "markers" and len(spec["data"][0]["x"]) == 1
    assert spec["layout"]["xaxis"]["tickformat"] == "%d %b %Y"
