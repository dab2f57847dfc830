"""The Map page's chosen cell: kept across filter and resolution changes, drawn by its own layer."""

import h3
import pandas as pd
import pydeck as pdk


def at_resolution(cell: str, res: int, counts: pd.DataFrame) -> str | None:
    """``cell`` at ``res``: itself, its parent when ``res`` is coarser, or its busiest child in
    ``counts`` (``cell``, ``n``) when ``res`` is finer; None when no child has an incident."""
    own = h3.get_resolution(cell)
    if own == res:
        return cell
    if own > res:
        return h3.cell_to_parent(cell, res)
    children = counts[counts["cell"].isin(set(h3.cell_to_children(cell, res)))]
    return None if children.empty else children.nlargest(1, "n")["cell"].iloc[0]


def picked_cell(state, layer_id: str) -> str | None:
    """The cell a click on ``layer_id`` selected, from ``st.pydeck_chart``'s selection state."""
    objects = ((state or {}).get("selection") or {}).get("objects") or {}
    picked = objects.get(layer_id) or []
    return picked[0].get("cell") if picked else None


def chosen_cell_layer(cell: str) -> pdk.Layer:
    """A bold outline around ``cell``, drawn over the hexagons (not pickable)."""
    ring = [[round(lng, 6), round(lat, 6)] for lat, lng in h3.cell_to_boundary(cell)]
    return pdk.Layer(
        "PolygonLayer",
        [{"polygon": ring + ring[:1]}],
        id="chosen-cell",
        get_polygon="polygon",
        filled=False,
        stroked=True,
        get_line_color=[0, 140, 255, 255],
        line_width_min_pixels=5,
        pickable=False,
    )


def label(cell: str, counts: dict[str, int], names: dict[str, str]) -> str:
    """``Neighbourhood · N incidents · cell`` for the cell picker."""
    return f"{names.get(cell, '(no neighbourhood)')} · {counts.get(cell, 0):,} incidents · {cell}"
