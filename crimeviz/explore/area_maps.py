"""Maps and charts of incidents per area of a layer (beats, divisions, wards): a choropleth and
monthly lines per area.

Class breaks come from mapclassify (Rey, Stephens & Laura 2017, "An evaluation of sampling and
full enumeration strategies for Fisher Jenks classification in big data settings", and the
mapclassify documentation, *Quantiles*): quantile classes for counts and densities, as on the
hexagon maps (``maps.class_breaks``); for the change against the previous period a diverging
scheme, quantiles of the size of the rises and of the falls, so that the colour says the
direction and its strength says the class. Tooltips are plain text (``maps.tooltip_rows``).
"""

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk

from crimeviz.explore import maps

MEASURES = {
    "incidents": "Incidents",
    "per_km2": "Incidents per km²",
    "change": "Change vs the previous period",
}
# ColorBrewer RdBu (3 classes each side, reversed: rises red, falls blue) and a neutral grey.
RISES = [(253, 174, 97), (244, 109, 67), (215, 48, 39)]
FALLS = [(171, 217, 233), (116, 173, 209), (69, 117, 180)]
NO_CHANGE = (220, 220, 220)
OUTLINE = [60, 60, 90, 220]


def _diverging(values: np.ndarray) -> tuple[list[list[int]], list[tuple[str, str]]]:
    """Colours and legend for signed changes: quantile classes (mapclassify) of the rises and of the
    falls separately, by size; zero is its own class."""
    values = np.asarray(values, dtype=float)
    colours = [[*NO_CHANGE, 190] for _ in values]
    legend: list[tuple[str, str]] = []
    for sign, ramp, word in ((-1, FALLS, "fall"), (1, RISES, "rise")):
        mask = np.sign(values) == sign
        if not mask.any():
            continue
        size = np.abs(values[mask])
        breaks = maps.class_breaks(size, len(ramp))
        shades = np.array(ramp)[np.linspace(0, len(ramp) - 1, len(breaks)).round().astype(int)]
        idx = np.searchsorted(breaks, size, side="left")
        for k, i in zip(np.flatnonzero(mask), idx):
            colours[k] = [*map(int, shades[i]), 190]
        items = []
        for i, upper in enumerate(breaks):
            low = size[idx == i].min(initial=upper)
            text = f"{low:,.0f}" if low == upper else f"{low:,.0f} – {upper:,.0f}"
            items.append((f"{word} of {text}", "rgb({},{},{})".format(*shades[i])))
        legend += items[::-1] if sign < 0 else items
    if (values == 0).any():
        falls = sum(1 for label, _ in legend if label.startswith("fall"))
        legend.insert(falls, ("no change", "rgb({},{},{})".format(*NO_CHANGE)))
    return colours, legend


def _signed(value: float, fmt: str) -> str:
    return "–" if pd.isna(value) else fmt.format(value)


def choropleth(features: list[dict], table: pd.DataFrame, measure: str, layer_id: str = "area-choropleth"):
    """A GeoJSON layer of ``features`` (``properties.name``) coloured by ``measure`` of ``table``
    (``store.areas.change``: name, incidents, per_km2, previous, change, pct_change), and its legend.

    Areas in ``features`` missing from ``table`` are drawn uncoloured."""
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}, not {measure!r}")
    table = table.set_index("name")
    values = table[measure].to_numpy(dtype=float)
    if measure == "change":
        colours, legend = _diverging(values)
    else:
        breaks = maps.class_breaks(values)
        colours = maps.colours_for(values, breaks)
        fmt = "{:,.1f}" if measure == "per_km2" else "{:,.0f}"
        legend = maps.legend(breaks, "per km²" if measure == "per_km2" else "incidents", fmt, values)
    colour = dict(zip(table.index, colours))
    shown = table.assign(
        area=table.index,
        density=table["per_km2"].map("{:,.1f}".format),
        delta=[
            f"{_signed(c, '{:+,.0f}')} ({_signed(p, '{:+.1f}%')})" for c, p in zip(table["change"], table["pct_change"])
        ],
    )
    tips = dict(
        zip(
            table.index,
            maps.tooltip_rows(
                shown,
                {
                    "Area": "area",
                    "Incidents": "incidents",
                    "Per km²": "density",
                    "Previous period": "previous",
                    "Change": "delta",
                },
            ),
        )
    )
    drawn = [
        {
            "type": "Feature",
            "geometry": feat["geometry"],
            "properties": {
                "color": colour.get(feat["properties"]["name"], [0, 0, 0, 0]),
                "tooltip": tips.get(feat["properties"]["name"], f"Area: {feat['properties']['name']}"),
            },
        }
        for feat in features
    ]
    layer = pdk.Layer(
        "GeoJsonLayer",
        {"type": "FeatureCollection", "features": drawn},
        id=layer_id,
        stroked=True,
        filled=True,
        get_fill_color="properties.color",
        get_line_color=OUTLINE,
        line_width_min_pixels=1,
        pickable=True,
        auto_highlight=True,
    )
    return layer, legend


def area_series_chart(monthly: pd.DataFrame, top: int = 8, title: str = "Monthly incidents per area") -> go.Figure:
    """Lines of monthly counts (``month``, ``area``, ``n``) for the ``top`` areas by total, months
    without incidents drawn as 0. Area names are escaped: plotly reads tags in trace names."""
    fig = go.Figure()
    if monthly.empty:
        fig.update_layout(title=title, height=360)
        return fig
    totals = monthly.groupby("area")["n"].sum().sort_values(ascending=False, kind="stable")
    months = pd.date_range(monthly["month"].min(), monthly["month"].max(), freq="MS")
    for area in totals.index[:top]:
        series = monthly[monthly["area"] == area].set_index("month")["n"].reindex(months, fill_value=0)
        fig.add_trace(go.Scatter(x=months, y=series.to_numpy(), mode="lines+markers", name=html.escape(str(area))))
    shown = min(top, len(totals))
    fig.update_layout(
        title=f"{title} (the {shown} busiest of {len(totals)})" if len(totals) > top else title,
        height=360,
        margin=dict(l=10, r=10, t=40, b=10),
        xaxis_title="Month",
        yaxis_title="Incidents",
        legend=dict(orientation="h", y=-0.25),
    )
    return fig


def outline_layer(features: list[dict], names, layer_id: str = "chosen-areas") -> pdk.Layer:
    """The outlines of the areas ``names`` among ``features`` (``properties.name``): where an analysis
    restricted to those areas applies. Not pickable, so the statistics' tooltips stay on top."""
    chosen = set(names)
    shapes = [{**f, "properties": {}} for f in features if f["properties"]["name"] in chosen]
    return pdk.Layer(
        "GeoJsonLayer",
        {"type": "FeatureCollection", "features": shapes},
        id=layer_id,
        stroked=True,
        filled=False,
        get_line_color=[20, 20, 60, 255],
        line_width_min_pixels=2.5,
        pickable=False,
    )
