"""Plotly figures for the Map detail panel and the Trends page."""

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from crimeviz.store.filters import WEEKDAYS

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _layout(fig: go.Figure, title: str, height: int = 320) -> go.Figure:
    fig.update_layout(
        title=title, height=height, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2)
    )
    return fig


def series_chart(series: pd.DataFrame, label: str) -> go.Figure:
    """Counts per period with the same period one year earlier (year-over-year)."""
    fig = go.Figure(
        [
            go.Scatter(x=series["period"], y=series["n"], name="This period", mode="lines"),
            go.Scatter(
                x=series["period"],
                y=series["n_last_year"],
                name="Year before",
                mode="lines",
                line=dict(dash="dot", color="grey"),
            ),
        ]
    )
    return _layout(fig, f"{label} incidents, with the year before")


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
            colorbar=dict(title="Incidents"),
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
    return _layout(fig, "Seasonal profile (incidents per month, by year)")


def offence_mix_chart(frame: pd.DataFrame) -> go.Figure:
    """Share of each offence per month (stacked to 100%)."""
    share = frame.assign(share=frame["n"] / frame.groupby("month")["n"].transform("sum") * 100)
    fig = px.area(share, x="month", y="share", color="offence", labels={"share": "% of incidents"})
    return _layout(fig, "Offence mix over time")


def bar_chart(frame: pd.DataFrame, x: str, y: str, title: str) -> go.Figure:
    fig = go.Figure(go.Bar(x=frame[x], y=frame[y]))
    fig.update_yaxes(title="Incidents")
    return _layout(fig, title, 280)


def monthly_chart(frame: pd.DataFrame, title: str) -> go.Figure:
    fig = go.Figure(go.Scatter(x=frame["month"], y=frame["n"], mode="lines+markers"))
    fig.update_yaxes(title="Incidents")
    return _layout(fig, title, 280)
