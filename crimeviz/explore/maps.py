"""pydeck layers and decks for the Map page (offline by default: no tiles, no tokens).

Every layer has a fixed ``id`` so deck.gl keeps its state across Streamlit reruns,
and every tooltip is a pre-built plain-text string shown with deck.gl's ``text``
tooltip, so data-derived text is never interpreted as HTML.
"""

import html
import json
import warnings

import h3
import mapclassify
import numpy as np
import pandas as pd
import pydeck as pdk
from pydeck.bindings.json_tools import default_serialize

from crimeviz.store.basemap import TileSource

# ColorBrewer YlOrRd, 6 classes.
RAMP = [(255, 255, 178), (254, 217, 118), (254, 178, 76), (253, 141, 60), (240, 59, 32), (189, 0, 38)]
HOT_COLD = {"Hot spot": (215, 25, 28), "Cold spot": (44, 123, 182), "Not significant": (200, 200, 200)}
CARTO_LIGHT = "https://basemaps.cartocdn.com/gl/positron-gl-style/style.json"


def class_breaks(values: np.ndarray, classes: int = len(RAMP)) -> np.ndarray:
    """Upper bounds of quantile classes (``mapclassify.Quantiles``) for a colour legend.

    Each bound is the largest value in its class, so classes are non-empty and unique, and
    there are fewer of them when the data have fewer distinct values.
    """
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return np.array([0.0])
    with warnings.catch_warnings():  # tied quantiles: mapclassify merges them, as wanted
        warnings.filterwarnings("ignore", message="Not enough unique values")
        yb = mapclassify.Quantiles(values, k=min(classes, len(np.unique(values)))).yb
    return np.unique([values[yb == c].max() for c in np.unique(yb)])


def _ramp(classes: int) -> np.ndarray:
    """``classes`` colours spread evenly over RAMP."""
    return np.array(RAMP)[np.linspace(0, len(RAMP) - 1, classes).round().astype(int)]


def colours_for(values: np.ndarray, breaks: np.ndarray) -> list[list[int]]:
    """RGBA per value from the ramp, by the class its value falls in."""
    idx = np.searchsorted(breaks, np.asarray(values, dtype=float), side="left")
    ramp = _ramp(len(breaks))
    return [[*map(int, ramp[min(i, len(ramp) - 1)]), 190] for i in idx]


def legend(
    breaks: np.ndarray, unit: str, fmt: str = "{:,.0f}", values: np.ndarray | None = None
) -> list[tuple[str, str]]:
    """(label, css colour) pairs matching ``colours_for``; classes never overlap.

    With the classified ``values`` a label runs from the smallest to the largest value in the
    class ("2 – 5 incidents", "1 incident"); without, "up to 5" and "over 5 to 9".
    """
    if values is None:
        texts = [f"up to {fmt.format(breaks[0])}"]
        texts += [f"over {fmt.format(low)} to {fmt.format(upper)}" for low, upper in zip(breaks, breaks[1:])]
    else:
        values = np.asarray(values, dtype=float)
        idx = np.searchsorted(breaks, values, side="left")
        lows = [fmt.format(values[idx == i].min(initial=upper)) for i, upper in enumerate(breaks)]
        texts = [
            low if low == fmt.format(upper) else f"{low} – {fmt.format(upper)}" for low, upper in zip(lows, breaks)
        ]
    return [(_with_unit(text, unit), "rgb({},{},{})".format(*rgb)) for text, rgb in zip(texts, _ramp(len(breaks)))]


def _with_unit(text: str, unit: str) -> str:
    """ "2 – 5 incidents", but "1 incident" and "up to 1 incident"."""
    singular = text in ("1", "up to 1") and unit.endswith("s")
    return f"{text} {unit[:-1] if singular else unit}"


def legend_html(items: list[tuple[str, str]], title: str) -> str:
    """A compact HTML legend; every label is escaped."""
    rows = "".join(
        f'<span style="display:inline-block;margin-right:10px"><span style="display:inline-block;'
        f'width:12px;height:12px;background:{colour};border:1px solid #888;margin-right:4px"></span>'
        f"{html.escape(label)}</span>"
        for label, colour in items
    )
    return f"<div style='font-size:0.85em'><b>{html.escape(title)}</b>: {rows}</div>"


def tooltip_rows(frame: pd.DataFrame, fields: dict[str, str]) -> list[str]:
    """One plain-text tooltip per row from ``{label: column}``, a line per field."""
    parts = [frame[col].map(lambda v, lab=label: f"{lab}: {v}" if lab else str(v)) for label, col in fields.items()]
    if not parts:
        return [""] * len(frame)
    return ["\n".join(items) for items in zip(*parts)]


def hex_layer(frame: pd.DataFrame, layer_id: str, colour_column: str = "color", opacity: float = 0.75) -> pdk.Layer:
    """An H3HexagonLayer from a frame with ``cell`` (hex string), colour and ``tooltip`` columns.

    Cells are drawn as instanced hexagons at 93% of their size, so a thin gap separates them:
    as clear as an outline and several times cheaper to draw than stroked polygons (which matters
    in software-rendered browsers: measured 0.42 → 0.25 CPU-s per Map rerun in headless Chromium).
    """
    return pdk.Layer(
        "H3HexagonLayer",
        frame,
        id=layer_id,
        get_hexagon="cell",
        get_fill_color=colour_column,
        high_precision=False,
        coverage=0.93,
        stroked=False,
        filled=True,
        extruded=False,
        pickable=True,
        auto_highlight=True,
        opacity=opacity,
    )


def count_layer(
    counts: pd.DataFrame, neighbourhoods: dict[str, str] | None = None, layer_id: str = "incident-hexes"
) -> tuple[pdk.Layer, list]:
    """Hexes coloured by incident count (``cell``, ``n``), and the legend items; with
    ``neighbourhoods`` (``{cell: name}``) each tooltip also names the cell's neighbourhood."""
    breaks = class_breaks(counts["n"].to_numpy())
    frame = counts[["cell", "n"]].assign(color=colours_for(counts["n"].to_numpy(), breaks))
    fields = {"Cell": "cell", "Incidents": "n"}
    named = frame
    if neighbourhoods is not None:
        named = frame.assign(hood=frame["cell"].map(neighbourhoods).fillna("(none recorded)"))
        fields = {"Neighbourhood": "hood", **fields}
    frame["tooltip"] = tooltip_rows(named, fields)
    return hex_layer(frame, layer_id), legend(breaks, "incidents", values=counts["n"].to_numpy())


# DevianceNet SEA classes 1 (least) … 5 (most deviant).
DEVIANCE_COLOURS = {1: (26, 150, 65), 2: (166, 217, 106), 3: (254, 224, 139), 4: (253, 174, 97), 5: (215, 25, 28)}


def marker_layer(
    frame: pd.DataFrame,
    layer_id: str,
    colour_column: str = "color",
    outline: tuple[int, ...] = (255, 255, 255, 230),
    min_pixels: int = 5,
) -> pdk.Layer:
    """Round markers (``lat``, ``lon``, a colour and a ``tooltip`` per row), e.g. cameras or scored places,
    at least ``min_pixels`` in radius."""
    return pdk.Layer(
        "ScatterplotLayer",
        frame[["lat", "lon", colour_column, "tooltip"]],
        id=layer_id,
        get_position=["lon", "lat"],
        get_fill_color=colour_column,
        get_line_color=list(outline),
        stroked=True,
        line_width_min_pixels=1.5,
        get_radius=60,
        radius_min_pixels=min_pixels,
        radius_max_pixels=14,
        pickable=True,
    )


def heatmap_layer(points: pd.DataFrame) -> pdk.Layer:
    return pdk.Layer(
        "HeatmapLayer",
        points[["lat", "lon"]],
        id="incident-heatmap",
        get_position=["lon", "lat"],
        radius_pixels=30,
        opacity=0.6,
    )


def point_layer(points: pd.DataFrame) -> pdk.Layer:
    frame = points.copy()
    frame["when"] = frame["occurred_at"].astype(str)
    frame["tooltip"] = tooltip_rows(frame, {"Offence": "offence", "Premises": "premises", "When": "when"})
    return pdk.Layer(
        "ScatterplotLayer",
        frame[["lat", "lon", "tooltip"]],
        id="incident-points",
        get_position=["lon", "lat"],
        get_radius=25,
        radius_min_pixels=1.5,
        get_fill_color=[30, 30, 30, 160],
        pickable=True,
    )


def _rounded(coords):
    """Nested GeoJSON coordinates rounded to 5 decimals (about 1 m), which halves the map spec."""
    if isinstance(coords[0], (tuple, list)):
        return [_rounded(c) for c in coords]
    return [round(x, 5) for x in coords]


def _outline(cells: list[str]) -> dict:
    """GeoJSON (Multi)Polygon outlining a set of hex-string cells."""
    geo = h3.cells_to_geo(cells)
    return {"type": geo["type"], "coordinates": _rounded(geo["coordinates"])}


def outline_layer(cells: list[int]) -> pdk.Layer:
    """The study area's outline (union of its cells): context when there is no basemap."""
    geo = _outline([h3.int_to_str(int(c)) for c in cells])
    feature = {"type": "Feature", "geometry": geo, "properties": {}}
    return pdk.Layer(
        "GeoJsonLayer",
        {"type": "FeatureCollection", "features": [feature]},
        id="city-outline",
        stroked=True,
        filled=True,
        get_fill_color=[235, 235, 240, 90],
        get_line_color=[90, 90, 110, 220],
        line_width_min_pixels=1.5,
        pickable=False,
    )


def boundary_segments(cells: pd.DataFrame) -> list[dict]:
    """Every hex edge between cells of different neighbourhoods (``name``, ``cell`` hex), or between
    a named cell and an unnamed one, once, as ``{"s": [lon, lat], "t": [lon, lat]}`` rounded to ~1 m."""
    owner = dict(zip(cells["cell"], cells["name"]))
    segments = []
    for cell, name in owner.items():
        for other in h3.grid_ring(cell, 1):
            if owner.get(other) == name or (other in owner and other < cell):
                continue  # inside one neighbourhood, or the edge is drawn from the other side
            points = _rounded(
                [[lon, lat] for lat, lon in h3.directed_edge_to_boundary(h3.cells_to_directed_edge(cell, other))]
            )
            segments += [{"s": a, "t": b} for a, b in zip(points, points[1:])]
    return segments


def neighbourhood_layer(cells: pd.DataFrame) -> pdk.Layer:
    """Neighbourhood boundaries from cells labelled with the neighbourhood most of their incidents name.

    Without a basemap this is the analyst's orientation. A boundary shared by two neighbourhoods
    is one line, drawn as plain segments: in a software-rendered browser deck.gl's LineLayer
    costs about half of what stroked GeoJSON polygons did per redraw (measured in headless
    Chromium on the Toronto Map page: 0.30 → 0.165 CPU-s). Names are in the hexagons' tooltips.
    """
    return pdk.Layer(
        "LineLayer",
        boundary_segments(cells),
        id="neighbourhoods",
        get_source_position="s",
        get_target_position="t",
        get_color=[40, 40, 110, 230],
        get_width=2,
        pickable=False,
    )


MAP_HEIGHT_PX = 500  # what st.pydeck_chart draws, whatever the deck's own height says


def view_for(
    bounds: tuple[float, float, float, float], width: int = 700, height: int = MAP_HEIGHT_PX, margin: float = 0.15
) -> pdk.ViewState:
    """A view showing (lat_min, lat_max, lon_min, lon_max) whole in a width × height pixel map.

    ``margin`` (a share of each span, on every side) keeps the cells drawn at the edge of the
    bounds in view: they reach beyond the bounds, which hold the central 99.8% of incidents.
    The width is that of a narrow window; wider maps show more on either side.
    """
    lat_min, lat_max, lon_min, lon_max = bounds
    # deck.gl's web-mercator world is 512 px wide at zoom 0.
    x_span = max(lon_max - lon_min, 1e-4) / 360 * (1 + 2 * margin)
    y_span = max(abs(_mercator_y(lat_max) - _mercator_y(lat_min)), 1e-6) * (1 + 2 * margin)
    zoom = min(np.log2(width / (512 * x_span)), np.log2(height / (512 * y_span)))
    return pdk.ViewState(
        latitude=(lat_min + lat_max) / 2,
        longitude=(lon_min + lon_max) / 2,
        zoom=float(np.floor(zoom * 100) / 100),
        pitch=0,
        bearing=0,
    )


def _mercator_y(lat: float) -> float:
    """Web-mercator y of ``lat`` as a fraction of the world's height."""
    return np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) / (2 * np.pi)


class CompactDeck(pdk.Deck):
    """A Deck whose JSON has no indentation: pydeck indents by two spaces, which more than
    doubles what every rerun sends to the browser and the browser parses."""

    def to_json(self) -> str:
        return json.dumps(self, default=default_serialize, separators=(",", ":"))


def deck(layers: list, view: pdk.ViewState, basemap="none", height: int = 600) -> pdk.Deck:
    """A Deck with no external requests unless ``basemap == "carto"`` (token-free CARTO) or an internet
    tile URL an administrator enabled. With a stored basemap (``store.basemap.TileSource``) the map
    draws its MapLibre style, raster tiles the app serves itself, under the deck.gl layers (a deck.gl
    TileLayer would need a JavaScript ``renderSubLayers`` function to make its BitmapLayers, and the JSON
    pydeck sends cannot carry one: Streamlit's converter allows no function calls in expressions)."""
    kwargs = {"map_provider": None}
    if basemap == "carto":
        kwargs = {"map_provider": "carto", "map_style": CARTO_LIGHT}
    elif isinstance(basemap, TileSource) and basemap.style_url:
        # Streamlit draws a style given by URL with MapLibre whatever the provider; "carto" needs no token.
        kwargs = {"map_provider": "carto", "map_style": basemap.style_url}
    return CompactDeck(layers=layers, initial_view_state=view, tooltip={"text": "{tooltip}"}, height=height, **kwargs)
