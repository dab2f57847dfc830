"""A Folium (Leaflet) version of the hex map, for analysts who export maps as HTML."""

import base64
import html
import json
import re
from pathlib import Path

import folium
import h3
import pandas as pd
from branca.element import Element, MacroElement
from jinja2 import Template

from crimeviz.explore.maps import class_breaks, colours_for
from crimeviz.store.basemap import TileSource, embedded_tiles


def hex_features(counts: pd.DataFrame) -> dict:
    """GeoJSON FeatureCollection of the cells in ``counts`` (``cell``, ``n``) with colours."""
    colours = colours_for(counts["n"].to_numpy(), class_breaks(counts["n"].to_numpy()))
    features = []
    for cell, n, rgba in zip(counts["cell"], counts["n"], colours):
        ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(cell)]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]},
                "properties": {
                    "cell": html.escape(cell),
                    "n": int(n),
                    "colour": "#{:02x}{:02x}{:02x}".format(*rgba[:3]),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


ASSETS = Path(__file__).with_name("leaflet_assets")  # Leaflet 1.7.1, BSD-2-clause (see LICENSE there)


def _inline_css() -> str:
    """Leaflet's stylesheet with its images as data: URLs (a downloaded file has no images folder)."""

    def data_url(match: re.Match) -> str:
        path = ASSETS / match[1]
        if not path.exists():  # an image the map never shows (e.g. the default marker)
            return "none"
        return "url(data:image/png;base64," + base64.b64encode(path.read_bytes()).decode() + ")"

    return re.sub(r"url\((images/[\w.-]+\.png)\)", data_url, (ASSETS / "leaflet.css").read_text())


def _inline_leaflet(fmap: folium.Map) -> None:
    """Put Leaflet itself in the page instead of folium's links to CDNs (Leaflet, jQuery, Bootstrap,
    Font Awesome): the map draws with no network, and nothing else is needed for hexagons,
    tooltips and the layer control."""
    fmap.default_js, fmap.default_css = [], []
    header = fmap.get_root().header
    header.add_child(Element(f"<style>{_inline_css()}</style>"), name="leaflet_css")
    header.add_child(Element(f"<script>{(ASSETS / 'leaflet.min.js').read_text()}</script>"), name="leaflet")


class EmbeddedTiles(MacroElement):
    """A Leaflet tile layer whose tiles are data: URLs inside the page (``{"z/x/y": bytes}``), so a
    downloaded map shows the unit's own basemap with no server at all; beyond ``max_zoom`` Leaflet
    enlarges the deepest tiles."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.TileLayer.extend({
            getTileUrl: function (c) { return {{ this.tiles }}[c.z + "/" + c.x + "/" + c.y] || {{ this.empty }}; }
        });
        new {{ this.get_name() }}("", {maxNativeZoom: {{ this.max_zoom }}, maxZoom: 19,
            attribution: {{ this.attribution }}}).addTo({{ this._parent.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self, tiles: dict[str, bytes], extension: str, max_zoom: int, attribution: str):
        super().__init__()
        self._name = "EmbeddedTiles"
        mime = {"jpg": "jpeg"}.get(extension, extension)
        urls = {k: f"data:image/{mime};base64," + base64.b64encode(v).decode() for k, v in tiles.items()}
        self.tiles = json.dumps(urls)
        self.empty = json.dumps("data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==")
        self.max_zoom = int(max_zoom)
        self.attribution = json.dumps(html.escape(attribution))


def folium_map(counts: pd.DataFrame, bounds: tuple[float, float, float, float], basemap="none") -> folium.Map:
    """Leaflet map of incident counts per cell fitted to ``bounds``; tiles only when ``basemap == "carto"``
    or a stored basemap (``store.basemap.TileSource``) is given.

    The tiles are OpenStreetMap's: CARTO's raster tiles now need an API key (only the deck.gl
    basemap gets one, from Streamlit), and OpenStreetMap's need none. A stored tile set's tiles over
    ``bounds`` are embedded in the page (:class:`EmbeddedTiles`); an internet tile URL an administrator
    enabled is used as it is."""
    lat_min, lat_max, lon_min, lon_max = bounds
    tiles = "OpenStreetMap" if basemap == "carto" else None
    fmap = folium.Map(location=[(lat_min + lat_max) / 2, (lon_min + lon_max) / 2], tiles=tiles, control_scale=True)
    _inline_leaflet(fmap)
    if isinstance(basemap, TileSource) and basemap.kind == "url":
        folium.TileLayer(basemap.tiles_url, attr=html.escape(basemap.attribution or "tiles"), name="Basemap").add_to(
            fmap
        )
    elif isinstance(basemap, TileSource) and basemap.folder is not None:
        embedded, top = embedded_tiles(basemap, bounds)
        if embedded:
            EmbeddedTiles(embedded, basemap.extension, top, basemap.attribution).add_to(fmap)
    fmap.fit_bounds([[lat_min, lon_min], [lat_max, lon_max]])
    folium.GeoJson(
        hex_features(counts),
        name="Incidents per cell",
        style_function=lambda f: {
            "fillColor": f["properties"]["colour"],
            "color": "#555",
            "weight": 0.4,
            "fillOpacity": 0.7,
        },
        tooltip=folium.GeoJsonTooltip(fields=["cell", "n"], aliases=["Cell", "Incidents"]),
    ).add_to(fmap)
    folium.LayerControl().add_to(fmap)
    return fmap
