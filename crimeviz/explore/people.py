"""Charts of victim and accused characteristics: counts per category, never about a person.

The counts come from :func:`crimeviz.store.persons.breakdown` (categories with fewer than
``persons.MIN_COUNT`` people withheld). Category names come from imported files, so they are
HTML-escaped before plotly draws them (plotly renders a subset of HTML in labels).
"""

import html

import pandas as pd
import plotly.graph_objects as go

NOTE = (
    "Counts of people recorded in the matching incidents, per category; categories with fewer than 5 people "
    "are withheld. These fields describe who was recorded, which reflects reporting and enforcement as much as "
    "offending; CrimeViz never uses them to predict anything about a person."
)


def people_chart(table: pd.DataFrame, title: str) -> go.Figure:
    """Horizontal bars of ``table`` (``value``, ``n``; withheld rows with ``n`` None are left out)."""
    shown = table[table["n"].notna()]
    labels = [html.escape(str(v)) for v in shown["value"]]
    fig = go.Figure(
        go.Bar(x=shown["n"].astype(int), y=labels, orientation="h", hovertemplate="%{y}: %{x:,d}<extra></extra>")
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title="People", tickformat=",d", rangemode="tozero")
    fig.update_layout(title=title, height=60 + 28 * max(len(shown), 3), margin=dict(l=10, r=10, t=40, b=10))
    return fig
