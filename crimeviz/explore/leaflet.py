"""A Folium (Leaflet) version of the hex map, for analysts who export maps as HTML."""

import html

import folium
import h3
import pandas as pd

from crimeviz.explore.maps import class_breaks, colours_for


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


def folium_map(counts: pd.DataFrame, bounds: tuple[float, float, float, float], basemap: str = "none") -> folium.Map:
    """Leaflet map of incident counts per cell fitted to ``bounds``; tiles only when ``basemap == "carto"``.

    The tiles are OpenStreetMap's: CARTO's raster tiles now need an API key (only the deck.gl
    basemap gets one, from Streamlit), and OpenStreetMap's need none."""
    lat_min, lat_max, lon_min, lon_max = bounds
    tiles = "OpenStreetMap" if basemap == "carto" else None
    fmap = folium.Map(location=[(lat_min + lat_max) / 2, (lon_min + lon_max) / 2], tiles=tiles, control_scale=True)
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
