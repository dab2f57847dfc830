"""Figures for the Street view page: the location picker and the class probabilities.

The picker is a pydeck map (deck.gl ships with Streamlit, so it works offline; folium
would fetch Leaflet from a CDN). Streamlit reports which object was clicked, not
where, so the map is tiled with the H3 res-9 cells of the area holding incidents and a
click picks the centre of a cell (about 0.1 km²); exact positions are typed.
"""

from __future__ import annotations

import h3
import pandas as pd
import pydeck as pdk
from h3.api import basic_int as h3int

from crimeviz.explore import maps
from crimeviz.store import grid
from crimeviz.streetview.checkpoints import Score

PICKER_LAYER = "streetview-picker"
PICKER_RES = 9


def location_picker(
    study_cells: list[int], bounds: tuple[float, float, float, float], basemap: str = "none", height: int = 420
) -> pdk.Deck:
    """A map of clickable res-9 cells covering ``study_cells`` (coarser cells), fitted to ``bounds``."""
    cells = sorted({child for cell in study_cells for child in h3int.cell_to_children(int(cell), PICKER_RES)})
    frame = pd.DataFrame({"cell": grid.to_hex(cells)})
    frame["tooltip"] = "Click to place the sequence at the centre of cell " + frame["cell"]
    picker = pdk.Layer(
        "H3HexagonLayer",
        frame,
        id=PICKER_LAYER,
        get_hexagon="cell",
        filled=True,
        stroked=False,
        get_fill_color=[120, 120, 150, 40],
        pickable=True,
        auto_highlight=True,
        highlight_color=[200, 30, 30, 160],
        extruded=False,
    )
    return maps.deck(
        [maps.outline_layer(study_cells), picker], maps.view_for(bounds, height=height), basemap, height=height
    )


def picked_location(event) -> tuple[float, float] | None:
    """The centre of the cell clicked on :func:`location_picker` (a ``st.pydeck_chart`` event)."""
    selection = getattr(event, "selection", None)
    objects = (selection.objects.get(PICKER_LAYER) if selection else None) or []
    return h3.cell_to_latlng(objects[0]["cell"]) if objects else None


def probabilities(score: Score) -> pd.DataFrame:
    """SEA class (1–5) and its probability, for a bar chart."""
    return pd.DataFrame({"SEA class": [str(k) for k in range(1, 6)], "Probability": score.sea_probs})
