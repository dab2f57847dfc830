"""Areas derived from H3 cells: each name's cells merged into one (multi)polygon."""

import geopandas as gpd
import h3
import pandas as pd
from shapely.geometry import shape

from crimeviz.geo.layers import WGS84


def cells_to_areas(cells: pd.DataFrame) -> gpd.GeoDataFrame:
    """A layer (``name``, WGS84 geometry) from a frame of ``name`` and ``cell`` (H3 hex), one area per name.

    Cells of one resolution tile the plane, so areas built from disjoint sets of cells share edges
    but never overlap; places with no named cell are outside every area.
    """
    groups = cells.groupby("name", sort=True)["cell"]
    return gpd.GeoDataFrame(
        {"name": [str(name) for name, _ in groups]},
        geometry=[shape(h3.h3shape_to_geo(h3.cells_to_h3shape(list(group)))) for _, group in groups],
        crs=WGS84,
    )
