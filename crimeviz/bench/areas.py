"""``python -m crimeviz areas bench``: import a layer of synthetic polygons and join every incident to it.

The layer is H3 cells over the incidents' extent (resolution 10, or 11 if that gives too few),
written as a GeoPackage; it is imported into a scratch copy of the store (file read, checks, overlap
search, area, storing and the join of every incident). The join alone is timed against a plain
geopandas ``sjoin`` (``covered_by``) of the same points and polygons, measured in the same run.
"""

import tempfile
import time
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
from shapely.geometry import shape

from crimeviz.bench.timing import timed
from crimeviz.geo import join, layers
from crimeviz.store import areas, queries


def synthetic_layer(con, polygons: int) -> gpd.GeoDataFrame:
    """``polygons`` H3 cells (named by their index) over the incidents' extent, in WGS84."""
    lat_min, lat_max, lon_min, lon_max = queries.bounds(con)
    box = h3.LatLngPoly([(lat_min, lon_min), (lat_min, lon_max), (lat_max, lon_max), (lat_max, lon_min)])
    for res in (10, 11):
        cells = sorted(h3.h3shape_to_cells(box, res))
        if len(cells) >= polygons:
            break
    cells = cells[:polygons]
    return gpd.GeoDataFrame({"cell": cells}, geometry=[shape(h3.cells_to_geo([c])) for c in cells], crs=layers.WGS84)


def plain_sjoin(lon: np.ndarray, lat: np.ndarray, geometries: np.ndarray) -> pd.Series:
    """The baseline: geopandas ``sjoin`` from the same arrays, every (point, area) pair it finds."""
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=layers.WGS84)
    polygons = gpd.GeoDataFrame(geometry=geometries, crs=layers.WGS84)
    return gpd.sjoin(points, polygons, predicate="covered_by", how="inner")["index_right"]


def bench_areas(con, polygons: int = 50_000, repeats: int = 3) -> dict:
    """Seconds to import a ``polygons``-area layer and to join every incident, with the ratio to sjoin."""
    frame = synthetic_layer(con, polygons)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "synthetic.gpkg"
        frame.to_file(path, layer="cells", engine="pyogrio")
        scratch = areas.scratch_store(con, Path(folder) / "scratch.duckdb")
        t0 = time.perf_counter()
        result = areas.import_layer(scratch, path, "synthetic", "cell", "bench")
        import_s = time.perf_counter() - t0
        read_s = timed(lambda: layers.read(path), 1)
        prepare_s = timed(lambda: layers.prepare(frame, "cell"), 1)
        names, geometries = areas.layer_geometries(scratch, "synthetic")
        points = areas.incident_points(scratch)
        scratch.close()
    lon, lat = points["lon"].to_numpy(), points["lat"].to_numpy()
    join_s = timed(lambda: join.assign(lon, lat, geometries), repeats)
    sjoin_s = timed(lambda: plain_sjoin(lon, lat, geometries), repeats)
    ours = join.assign(lon, lat, geometries)
    theirs = plain_sjoin(lon, lat, geometries).groupby(level=0).min()  # the lowest name, as join.assign
    expected = np.full(len(lon), join.OUTSIDE)
    expected[theirs.index.to_numpy()] = theirs.to_numpy()
    return {
        "polygons": len(names),
        "incidents": len(lon),
        "inside": int((ours != join.OUTSIDE).sum()),
        "import_s": round(import_s, 3),
        "import_read_s": round(read_s, 3),
        "import_checks_s": round(prepare_s, 3),
        "join_s": round(join_s, 4),
        "sjoin_s": round(sjoin_s, 4),
        "join_to_sjoin": round(join_s / sjoin_s, 3),
        "same_areas_as_sjoin": bool((ours == expected).all()),
        "overlaps_found": result["overlaps"],
        "repeats": repeats,
    }
