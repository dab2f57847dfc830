"""What the Patrol page and the PDF show: unit colours, map layers, unit tables and the review chart.

Units are labelled by colour, tooltips, legend and tables (no deck.gl TextLayer,
which does not render in headless Chromium).
"""

import h3
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk

from crimeviz.explore import maps
from crimeviz.patrol import beats
from crimeviz.patrol.plan import Plan
from crimeviz.patrol.risk import RiskSurface, source_label
from crimeviz.store import grid

# Sasha Trubetskoy's 20 distinct colours, without white and beige (cycled past 20 units).
UNIT_COLOURS = [
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
    (220, 190, 255),
    (170, 110, 40),
    (255, 225, 25),
    (128, 0, 0),
    (170, 255, 195),
    (128, 128, 0),
    (255, 215, 180),
    (0, 0, 128),
    (128, 128, 128),
    (0, 0, 0),
]


def unit_colour(unit: int) -> tuple[int, int, int]:
    return UNIT_COLOURS[(unit - 1) % len(UNIT_COLOURS)]


def route_colour(unit: int) -> tuple[int, int, int]:
    """A darker shade of the unit's colour, so the route shows over its own cells."""
    return tuple(int(v * 0.55) for v in unit_colour(unit))


def beat_names(plan: Plan, names: dict[str, str]) -> dict[int, str]:
    """Each unit's most common neighbourhood among its cells (``names``: cell hex → neighbourhood)."""
    out = {}
    for beat in plan.beats:
        found = pd.Series([names.get(c) for c in beat.cells]).dropna()
        out[beat.unit] = found.mode().iloc[0] if len(found) else "—"
    return out


def unit_table(plan: Plan, names: dict[str, str]) -> pd.DataFrame:
    """The per-unit table shown on the page and printed: numbers rounded for reading."""
    table = plan.units_frame()
    table.insert(1, "neighbourhood", table["unit"].map(beat_names(plan, names)))
    return table.assign(
        area_km2=table["area_km2"].round(2),
        route_km=table["route_km"].round(1),
        minutes=table["minutes"].round(0).astype(int),
        expected_incidents=table["expected_incidents"].round(2),
        share_of_shift=(100 * table["share_of_shift"]).round(1),
        share_of_day=(100 * table["share_of_day"]).round(1),
    ).rename(
        columns={
            "area_km2": "area km²",
            "route_km": "loop km",
            "expected_incidents": "expected incidents",
            "share_of_shift": "% of shift",
            "share_of_day": "% of day",
        }
    )


def stops_table(plan: Plan, names: dict[str, str]) -> pd.DataFrame:
    """One row per stop in visiting order, with the neighbourhood and the expected incidents."""
    cells = plan.cells_frame()
    cells.insert(3, "neighbourhood", cells["cell"].map(names).fillna("—"))
    return cells.assign(
        lat=cells["lat"].round(5),
        lon=cells["lon"].round(5),
        risk=cells["risk"].round(3),
        share=(100 * cells["share"]).round(2),
    ).rename(columns={"risk": "expected incidents", "share": "% of shift"})


def plan_layers(plan: Plan, names: dict[str, str]) -> list[pdk.Layer]:
    """Beats (unit colours), route loops and start points, with escaped tooltips."""
    stops = stops_table(plan, names)
    sizes = stops.groupby("unit")["stop"].transform("max")
    stops["label"] = (
        "Unit " + stops["unit"].astype(str) + ", stop " + stops["stop"].astype(str) + " of " + sizes.astype(str)
    )
    stops["color"] = [[*unit_colour(u), 200] for u in stops["unit"]]
    stops["tooltip"] = maps.tooltip_rows(
        stops,
        {"Beat": "label", "Cell": "cell", "Neighbourhood": "neighbourhood", "Expected incidents": "expected incidents"},
    )
    beats = maps.hex_layer(stops[["cell", "color", "tooltip"]], "patrol-beats", opacity=0.8)
    table = unit_table(plan, names)
    table["label"] = "Unit " + table["unit"].astype(str)
    table["path"] = [_loop(plan.beat(u).cells) for u in table["unit"]]
    table["color"] = [[*route_colour(u), 255] for u in table["unit"]]
    table["tooltip"] = maps.tooltip_rows(
        table,
        {
            "Route": "label",
            "Neighbourhood": "neighbourhood",
            "Loop km": "loop km",
            "Minutes": "minutes",
            "Expected incidents": "expected incidents",
        },
    )
    routes = pdk.Layer(
        "PathLayer",
        table[["path", "color", "tooltip"]],
        id="patrol-routes",
        get_path="path",
        get_color="color",
        width_min_pixels=2.5,
        get_width=4,
        pickable=True,
    )
    first = stops[stops["stop"] == 1]
    starts = pdk.Layer(
        "ScatterplotLayer",
        first[["lat", "lon", "color", "tooltip"]],
        id="patrol-starts",
        get_position=["lon", "lat"],
        get_fill_color="color",
        get_line_color=[255, 255, 255, 255],
        stroked=True,
        line_width_min_pixels=2,
        radius_min_pixels=6,
        get_radius=40,
        pickable=True,
    )
    return [beats, routes, starts]


def _loop(cells) -> list[list[float]]:
    """``[lon, lat]`` path through the cell centres, back to the first."""
    points = [list(h3.cell_to_latlng(c))[::-1] for c in cells]
    return points + points[:1]


def excluded_layer(cells: list[str]) -> pdk.Layer:
    frame = pd.DataFrame({"cell": list(cells)})
    frame["color"] = [[60, 60, 60, 140]] * len(frame)
    frame["tooltip"] = maps.tooltip_rows(frame.assign(why="excluded from the plan"), {"Cell": "cell", "": "why"})
    return maps.hex_layer(frame, "patrol-excluded", opacity=0.6)


def risk_layer(risk: RiskSurface) -> tuple[pdk.Layer, list]:
    """The risk surface in the map's YlOrRd classes (cells with risk > 0), and its legend."""
    frame = risk.frame()
    frame = frame[frame["risk"] > 0].copy()
    breaks = maps.class_breaks(frame["risk"].to_numpy())
    frame["color"] = maps.colours_for(frame["risk"].to_numpy(), breaks)
    frame["expected"] = frame["risk"].round(3)
    frame["tooltip"] = maps.tooltip_rows(frame, {"Cell": "cell", "Expected incidents in shift": "expected"})
    return maps.hex_layer(frame, "patrol-risk", opacity=0.35), maps.legend(breaks, "expected", "{:.2f}")


def plan_map(
    plan: Plan, names: dict[str, str], outline: list[str], risk: RiskSurface | None, basemap: str, context=()
) -> tuple[pdk.Deck, list | None]:
    """The plan over the city's ``outline`` cells (and the ``risk`` surface when given), and the risk legend.

    ``context``: layers drawn under the beats, e.g. the outlines of the areas the plan keeps to."""
    layers = [maps.outline_layer([grid.to_int(c) for c in outline]), *context]
    legend = None
    if risk is not None:
        risk_hexes, legend = risk_layer(risk)
        layers.append(risk_hexes)
    if plan.params.excluded:
        layers.append(excluded_layer(list(plan.params.excluded)))
    layers += plan_layers(plan, names)
    return maps.deck(layers, plan_view(plan), basemap), legend


def unit_legend(plan: Plan, names: dict[str, str]) -> list[tuple[str, str]]:
    labels = beat_names(plan, names)
    return [(f"Unit {b.unit} · {labels[b.unit]}", "rgb({},{},{})".format(*unit_colour(b.unit))) for b in plan.beats]


def plan_view(plan: Plan) -> pdk.ViewState:
    """A view fitting the plan's cells."""
    cells = np.array([h3.cell_to_latlng(c) for c in plan.cell_list()]).reshape(-1, 2)
    pad = 0.01
    return maps.view_for(
        (cells[:, 0].min() - pad, cells[:, 0].max() + pad, cells[:, 1].min() - pad, cells[:, 1].max() + pad)
    )


def plan_heading(plan: Plan) -> str:
    """Number (or unsaved), day, shift and status; "unsaved changes" for a saved plan edited since."""
    ident = f"Plan #{plan.plan_id}" if plan.plan_id else "Unsaved plan"
    changed = " (unsaved changes)" if plan.plan_id and plan.updated_at is None else ""
    return f"{ident} · {plan.params.day:%a %d %b %Y} · {plan.params.shift.label()} · {plan.status}{changed}"


def plan_metrics(plan: Plan) -> list[tuple[str, str]]:
    """(label, value) of the plan's headline numbers."""
    return [
        ("Units", str(len(plan.beats))),
        ("Cells", str(len(plan.cell_list()))),
        ("Expected incidents covered", f"{plan.covered:.1f} of {plan.total_risk:.1f}"),
        ("Share of the shift's incidents", f"{plan.share:.0%}"),
        ("Share of the day's incidents", f"{plan.day_share:.0%}"),
    ]


def method_note(plan: Plan) -> str:
    """Where the plan's risk came from and how its beats and routes were made."""
    return (
        f"Risk: {source_label(plan.params.source)} — {plan.risk_model} ({plan.risk_version}), weighted by "
        f"each cell's hour-of-day profile for the shift. Optimisation: {beats.METHOD}. Every beat is "
        "contiguous and within a few cells of its anchor; routes are closed loops through the cell "
        "centres (nearest neighbour + 2-opt)." + area_note(plan)
    )


def area_note(plan: Plan) -> str:
    """How the plan keeps to areas of a layer (no names: they come from an imported file)."""
    p = plan.params
    if not p.by_area:
        return ""
    where = f"the {len(p.areas)} chosen area(s)" if p.areas else "the areas"
    each = " Each beat stays inside one area." if p.one_area_per_unit else ""
    return f" Only cells whose centre lies in {where} of the layer are patrolled.{each}"


def stale_note(plan: Plan) -> str:
    """What to do about a plan built with other settings than the sidebar's."""
    rebuild = f" or *Rebuild plan #{plan.plan_id}*" if plan.plan_id and plan.status == "draft" else ""
    return (
        f"This plan was built with other settings than those in the sidebar: press *Build new plan*{rebuild} "
        "to plan with them, or open the plan again to show its own settings. Until then it cannot be saved "
        "or approved."
    )


def saved_plan_label(saved: pd.DataFrame, plan_id: int) -> str:
    """``#id · date · shift · status`` of a row of the saved-plans table."""
    row = saved.set_index("plan_id").loc[plan_id]
    return f"#{plan_id} · {row['plan_date']} · {row['shift']} · {row['status']}"


def provenance(plan: Plan) -> str:
    """Who created, saved and approved the plan, and when ('' for a plan never saved)."""
    if not plan.created_at:
        return ""
    return (
        f"Created by {plan.created_by} at {plan.created_at:%Y-%m-%d %H:%M}"
        + (f", last saved {plan.updated_at:%Y-%m-%d %H:%M}" if plan.updated_at else "")
        + (f", approved by {plan.approved_by} at {plan.approved_at:%Y-%m-%d %H:%M}" if plan.approved_by else "")
    )


# The plan is drawn last (on top) and solid; the comparisons dashed, so a comparison with the
# same hit rate as the plan on a day does not hide it.
REVIEW_STYLES = {
    "plan": dict(color="#1f77b4", width=3),
    "top-k cells": dict(color="#d62728", width=2, dash="dash"),
    "historical plan": dict(color="#2ca02c", width=2, dash="dot"),
}
DAY_MS = 86_400_000


def review_chart(daily: pd.DataFrame) -> go.Figure:
    """Daily hit rate (%) of each compared selection over the reviewed period, one tick per day (or per
    few days over a long period), the plan on top."""
    methods = [m for m in REVIEW_STYLES if m in set(daily["method"])]
    fig = go.Figure(
        [
            go.Scatter(
                x=daily.loc[daily["method"] == method, "day"],
                y=100 * daily.loc[daily["method"] == method, "hit_rate"],
                name=method,
                mode="lines+markers",
                line=REVIEW_STYLES[method],
                legendrank=rank,
            )
            for rank, method in reversed(list(enumerate(methods)))
        ]
    )
    days = daily["day"].nunique()
    fig.update_layout(
        title="Share of the shift's incidents inside the selected cells",
        height=340,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", y=-0.2),
        yaxis_title="hit rate (%)",
        hovermode="x unified",
    )
    fig.update_xaxes(type="date", tickformat="%a %d %b", dtick=DAY_MS * -(-days // 10), hoverformat="%a %d %b %Y")
    return fig
