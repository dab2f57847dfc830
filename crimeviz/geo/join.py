"""Incidents to areas: one point-in-polygon rule for every layer.

Boundary rule: an area is a *closed* polygon, so a point on its outline (or on the outline of one of
its holes) belongs to it, and a point strictly inside a hole does not. A point that two or more areas
cover (on a shared edge or vertex, or where areas overlap) goes to the area that comes first in the
order given, which the store makes the order of area names (code points, ascending). A point no area
covers is outside the layer.
"""

import numpy as np
import shapely

OUTSIDE = -1


def assign(lon: np.ndarray, lat: np.ndarray, areas) -> np.ndarray:
    """For each point, the index in ``areas`` of the area it belongs to (see the module's rule), or OUTSIDE.

    The points go into an STR-tree and each area is queried with ``covers``, so every area is
    prepared once (GEOS prepared geometry) and tests only the points in its bounding box.
    """
    points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    best = np.full(len(points), np.iinfo(np.int64).max, dtype=np.int64)
    if len(points) and len(areas):
        area_idx, point_idx = shapely.STRtree(points).query(np.asarray(areas), predicate="covers")
        np.minimum.at(best, point_idx, area_idx)
    best[best == np.iinfo(np.int64).max] = OUTSIDE
    return best
