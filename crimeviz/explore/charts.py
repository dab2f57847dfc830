"""Plotly figures for the Map detail panel and the Trends page."""

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from crimeviz.store.filters import WEEKDAYS

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Period code (queries.series) → pandas offset of one period and the date format of its ticks.
PERIODS = {
    "D": (pd.DateOffset(days=1), "%d %b %Y"),
    "W": (pd.DateOffset(weeks=1), "%d %b %Y"),
    "M": (pd.DateOffset(months=1), "%b %Y"),
}
FREQ_NAMES = {"D": "Daily", "W": "Weekly", "M": "Monthly"}


def _layout(fig: go.Figure, title: str, height: int = 320) -> go.Figure:
    fig.update_layout(
        title=title, height=height, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2)
    )
    return fig


def count_axis(fig: go.Figure, largest: float) -> go.Figure:
    """A y axis of whole incidents from zero (plotly's own ticks halve small counts)."""
    return fig.update_yaxes(tickformat=",d", rangemode="tozero", dtick=1 if largest < 10 else None)


def time_axis(fig: go.Figure, periods: pd.Series, freq: str) -> go.Figure:
    """Date ticks in the series' unit (``D``, ``W``, ``M``); a lone period gets half a period
    either side, where plotly would zoom to milliseconds around it ("23:59:59.999")."""
    step, fmt = PERIODS[freq]
    fig.update_xaxes(tickformat=fmt)
    if len(periods) == 1:
        only = pd.Timestamp(periods.iloc[0])
        half = (only + step - only) / 2
        fig.update_xaxes(range=[only - half, only + half], tickvals=[only])
    return fig


def coverage(periods: pd.Series, freq: str, start, end) -> pd.DataFrame:
    """Per period: ``days`` it spans and ``inside``, how many of them fall within ``start``–``end``."""
    first = pd.to_datetime(periods)
    last = first + PERIODS[freq][0] - pd.Timedelta(days=1)
    return pd.DataFrame(
        {
            "days": (last - first).dt.days + 1,
            "inside": (last.clip(upper=pd.Timestamp(end)) - first.clip(lower=pd.Timestamp(start))).dt.days + 1,
        }
    )


def series_chart(series: pd.DataFrame, freq: str, start, end) -> go.Figure:
    """Counts per period (``freq``: ``D``, ``W`` or ``M``) with the same period a year earlier.

    A week or month cut by the filter's first or last date (``start``, ``end``) holds fewer days
    than the others, and its count would read as a fall: it is left off the lines and drawn as an
    open marker that says how many of its days the count covers."""
    cover = coverage(series["period"], freq, start, end)
    partial = cover["inside"] < cover["days"]
    full = series.mask(partial)
    mode = "lines" if (~partial).sum() > 1 else "markers"
    fig = go.Figure(
        [
            go.Scatter(x=series["period"], y=full["n"], name="This period", mode=mode),
            go.Scatter(
                x=series["period"],
                y=full["n_last_year"],
                name="Year before",
                mode=mode,
                line=dict(dash="dot", color="grey"),
                marker=dict(color="grey"),
            ),
        ]
    )
    if partial.any():
        fig.add_scatter(
            x=series["period"][partial],
            y=series["n"][partial],
            name="Part period (fewer days)",
            mode="markers",
            marker=dict(symbol="circle-open", size=10, color="#1f77b4"),
            text=[f"{i} of {d} days" for i, d in zip(cover["inside"][partial], cover["days"][partial])],
            hovertemplate="%{x|" + PERIODS[freq][1] + "}: %{y} incidents in %{text}<extra></extra>",
        )
    count_axis(fig, float(series[["n", "n_last_year"]].to_numpy().max(initial=0)))
    time_axis(fig, series["period"], freq)
    return _layout(fig, f"{FREQ_NAMES[freq]} incidents, with the year before")


def hour_weekday_heatmap(frame: pd.DataFrame, title: str = "Hour × weekday") -> go.Figure:
    grid = (
        frame.pivot_table(index="weekday", columns="hour", values="n", aggfunc="sum")
        .reindex(index=range(7), columns=range(24))
        .fillna(0)
    )
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=list(range(24)),
            y=list(WEEKDAYS),
            colorscale="YlOrRd",
            colorbar=dict(title="Incidents", tickformat=",d", dtick=1 if grid.to_numpy().max() < 10 else None),
        )
    )
    fig.update_xaxes(title="Hour of day", dtick=2)
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, 300)


def seasonal_chart(frame: pd.DataFrame) -> go.Figure:
    """Monthly counts, one line per year."""
    fig = go.Figure(
        [
            go.Scatter(x=[MONTHS[m - 1] for m in part["month"]], y=part["n"], name=str(year), mode="lines+markers")
            for year, part in frame.groupby("year")
        ]
    )
    count_axis(fig, float(frame["n"].max()) if len(frame) else 0)
    return _layout(fig, "Seasonal profile (incidents per month, by year)")


def offence_mix_chart(frame: pd.DataFrame) -> go.Figure:
    """Share of each offence per month (stacked to 100%)."""
    share = frame.assign(share=frame["n"] / frame.groupby("month")["n"].transform("sum") * 100)
    fig = px.area(share, x="month", y="share", color="offence", labels={"share": "% of incidents"})
    return _layout(fig, "Offence mix over time")


def bar_chart(frame: pd.DataFrame, x: str, y: str, title: str) -> go.Figure:
    fig = go.Figure(go.Bar(x=frame[x], y=frame[y]))
    fig.update_yaxes(title="Incidents")
    count_axis(fig, float(frame[y].max()) if len(frame) else 0)
    return _layout(fig, title, 280)


def monthly_chart(frame: pd.DataFrame, title: str) -> go.Figure:
    fig = go.Figure(go.Scatter(x=frame["month"], y=frame["n"], mode="lines+markers"))
    fig.update_yaxes(title="Incidents")
    count_axis(fig, float(frame["n"].max()) if len(frame) else 0)
    time_axis(fig, frame["month"], "M")
    return _layout(fig, title, 280)
