"""Figures for the Street view page: the location picker and the class probabilities."""
from __future__ import annotations

import folium
import h3
import pandas as pd

from crimeviz.streetview.checkpoints import Score


def location_picker(study_cells: list[int], bounds: tuple[float, float, float, float],
                    basemap: str = "none") -> folium.Map:
    """A Leaflet map to click a location on, with the outline of the area holding incidents,
    fitted to ``bounds`` (lat_min, lat_max, lon_min, lon_max; see ``queries.bounds``).

    No tiles are requested unless ``basemap == "carto"`` (CrimeViz runs offline by default).
    """
    tiles = "CartoDB positron" if basemap == "carto" else None
    lat_min, lat_max, lon_min, lon_max = bounds
    fmap = folium.Map(location=[(lat_min + lat_max) / 2, (lon_min + lon_max) / 2], tiles=tiles, control_scale=True)
    fmap.fit_bounds([[lat_min, lon_min], [lat_max, lon_max]])
    outline = h3.cells_to_geo([h3.int_to_str(int(c)) for c in study_cells])
    folium.GeoJson(outline, name="Area with incidents",
                   style_function=lambda _: {"fillColor": "#ebebf0", "color": "#5a5a6e", "weight": 1.5,
                                             "fillOpacity": 0.4}).add_to(fmap)
    return fmap


def probabilities(score: Score) -> pd.DataFrame:
    """SEA class (1–5) and its probability, for a bar chart."""
    return pd.DataFrame({"SEA class": [str(k) for k in range(1, 6)], "Probability": score.sea_probs})
