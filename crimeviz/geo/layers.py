"""Polygon layers from GeoJSON, zipped Shapefile or GeoPackage files (read with pyogrio), checked,
repaired where they can be, reprojected to WGS84 (pyproj) and measured.

What is refused, each with one line saying why (nothing is stored): an unreadable file, a layer with
no features, no declared CRS or coordinates that do not fit the declared CRS, features that are not
polygons, empty geometries, a missing, blank or repeated area name, and (when repair is off) invalid
polygons. Invalid polygons (self-intersections, bow-ties, …) are otherwise repaired with
``shapely.make_valid`` and listed in the report, as are overlaps between areas of the layer.
"""

import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyproj import CRS

WGS84 = "EPSG:4326"
FORMATS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".zip": "zipped Shapefile", ".gpkg": "GeoPackage"}
POLYGONAL = ("Polygon", "MultiPolygon")
# Overlaps smaller than this (m²) are rounding along shared edges, not areas counted twice.
OVERLAP_M2 = 1.0
EXAMPLES = 3


class LayerRejected(ValueError):
    """A layer that cannot be imported; the message is one line for the user."""


@dataclass
class LayerReport:
    """What the checks found: the source CRS, repaired features and overlapping pairs of areas."""

    features: int
    source_crs: str
    reprojected: bool
    repaired: list[dict] = field(default_factory=list)
    overlaps: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "features": self.features,
            "source_crs": self.source_crs,
            "reprojected": self.reprojected,
            "repaired": self.repaired,
            "overlaps": self.overlaps,
        }


@dataclass
class PreparedLayer:
    """Areas ready to store: unique names, WGS84 polygons and their areas (km²), with the report."""

    names: list[str]
    geometries: np.ndarray
    area_km2: np.ndarray
    report: LayerReport


def _source(path: Path) -> str:
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise LayerRejected(
            f"{path.name}: unsupported file type {path.suffix or '(none)'}; use .geojson, .zip (Shapefile) or .gpkg"
        )
    return _zip_folder(path) if kind == "zipped Shapefile" else str(path)


def _zip_folder(path: Path) -> str:
    """The GDAL path of the folder inside the zip that holds its Shapefiles (the root or one subfolder)."""
    try:
        with zipfile.ZipFile(path) as archive:
            shapefiles = [PurePosixPath(n) for n in archive.namelist() if n.lower().endswith(".shp")]
    except (OSError, zipfile.BadZipFile):
        raise LayerRejected(f"{path.name}: not a zip archive") from None
    folders = sorted({str(p.parent) for p in shapefiles})
    if not folders:
        raise LayerRejected(f"{path.name}: the archive holds no Shapefile (.shp)")
    if len(folders) > 1:
        raise LayerRejected(f"{path.name} holds Shapefiles in {len(folders)} folders ({', '.join(folders)}); zip one")
    return f"/vsizip/{path}" + ("" if folders[0] == "." else f"/{folders[0]}")


def _first_line(exc: Exception, path: Path) -> str:
    """The first line of a reader's message, naming the file only (no folder of the server)."""
    return (str(exc).splitlines() or [type(exc).__name__])[0].replace(str(path), path.name)


def source_layers(path: Path | str) -> list[str]:
    """The layers inside the file (a GeoPackage or zip may hold several)."""
    path = Path(path)
    if not path.is_file():
        raise LayerRejected(f"{path}: no such file")
    source = _source(path)
    try:
        return [str(name) for name, _ in pyogrio.list_layers(source)]
    except Exception as exc:  # pyogrio raises several types for unreadable data
        raise LayerRejected(
            f"{path.name}: cannot be read as {FORMATS[path.suffix.lower()]} ({_first_line(exc, path)})"
        ) from None


def read(path: Path | str, source_layer: str | None = None) -> gpd.GeoDataFrame:
    """The features of one layer of ``path``; ``source_layer`` is needed when the file holds several."""
    path = Path(path)
    names = source_layers(path)
    if source_layer is None:
        if len(names) != 1:
            raise LayerRejected(f"{path.name} holds {len(names)} layers; choose one of: {', '.join(names)}")
        source_layer = names[0]
    elif source_layer not in names:
        raise LayerRejected(f"{path.name} has no layer {source_layer!r}; it has: {', '.join(names)}")
    try:
        frame = gpd.read_file(_source(path), layer=source_layer, engine="pyogrio")
    except Exception as exc:
        raise LayerRejected(f"{path.name}: cannot be read ({_first_line(exc, path)})") from None
    if frame.empty:
        raise LayerRejected(f"{path.name}: the layer {source_layer!r} has no features")
    return frame


def name_fields(frame: gpd.GeoDataFrame) -> list[str]:
    """Attribute fields that could name the areas (every column but the geometry)."""
    return [str(c) for c in frame.columns if c != frame.geometry.name]


def _feature(names, i: int) -> str:
    return f"feature {i + 1} ({names[i]!r})"


def _names(frame: gpd.GeoDataFrame, name_field: str) -> list[str]:
    if name_field not in frame.columns or name_field == frame.geometry.name:
        raise LayerRejected(f"no field {name_field!r}; the layer's fields are: {', '.join(name_fields(frame))}")
    values = frame[name_field]
    text = values.astype("string").str.strip()
    blank = np.flatnonzero((values.isna() | (text == "")).to_numpy())
    if len(blank):
        raise LayerRejected(
            f"{len(blank)} feature(s) have no {name_field!r}, e.g. feature {blank[0] + 1}; every area needs a name"
        )
    counts = text.value_counts()
    repeated = counts[counts > 1]
    if len(repeated):
        name, times = repeated.index[0], int(repeated.iloc[0])
        raise LayerRejected(
            f"{name_field!r} names {len(repeated)} area(s) more than once (e.g. {name!r} {times} times); "
            "choose a field that names each area once"
        )
    return text.tolist()


def _check_shapes(geometries: np.ndarray, names: list[str]) -> None:
    empty = np.flatnonzero(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    if len(empty):
        raise LayerRejected(f"{len(empty)} feature(s) have an empty geometry, e.g. {_feature(names, empty[0])}")
    kinds = shapely.get_type_id(geometries)
    wrong = np.flatnonzero(~np.isin(kinds, [3, 6]))  # Polygon, MultiPolygon
    if len(wrong):
        kind = shapely.geometry.base.GEOMETRY_TYPES[kinds[wrong[0]]]
        raise LayerRejected(
            f"{len(wrong)} feature(s) are not polygons, e.g. {_feature(names, wrong[0])} is a {kind}; "
            "an area layer holds Polygon or MultiPolygon features"
        )


def crs_label(crs: CRS | None) -> str:
    """A CRS as its EPSG code, or its name when it has none."""
    if crs is None:
        return "not declared"
    return f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else crs.name


def _to_wgs84(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoSeries, str]:
    if frame.crs is None:
        raise LayerRejected(
            "the file declares no coordinate reference system (a Shapefile needs its .prj); "
            "save it with its CRS and import again"
        )
    crs = frame.crs
    label = crs_label(crs)
    xmin, ymin, xmax, ymax = frame.total_bounds
    if crs.is_geographic and not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
        raise LayerRejected(
            f"the coordinates (x {xmin:.6g} to {xmax:.6g}, y {ymin:.6g} to {ymax:.6g}) are not degrees, "
            f"although the file declares {label}: the declared CRS is wrong"
        )
    try:
        series = frame.geometry.to_crs(WGS84)
    except Exception as exc:
        raise LayerRejected(f"cannot reproject from {label} to WGS84 ({_first_line(exc)})") from None
    bounds = series.total_bounds
    if not (
        np.isfinite(bounds).all() and -180 <= bounds[0] <= bounds[2] <= 180 and -90 <= bounds[1] <= bounds[3] <= 90
    ):
        raise LayerRejected(
            f"the coordinates do not fit the declared CRS {label} (they fall outside the earth in WGS84): "
            "the declared CRS is wrong"
        )
    return series, label


def _polygonal(geometry):
    """The polygons of a repaired geometry (make_valid may add lines or points along the fixes)."""
    parts = shapely.get_parts(geometry)
    return shapely.multipolygons(shapely.get_parts(parts[np.isin(shapely.get_type_id(parts), [3, 6])]))


def _repair(geometries: np.ndarray, names: list[str], repair: bool) -> tuple[np.ndarray, list[dict]]:
    invalid = np.flatnonzero(~shapely.is_valid(geometries))
    if not len(invalid):
        return geometries, []
    reasons = [shapely.is_valid_reason(geometries[i]) for i in invalid]
    if not repair:
        raise LayerRejected(
            f"{len(invalid)} feature(s) are invalid polygons, e.g. {_feature(names, invalid[0])}: {reasons[0]}; "
            "fix them or import with repair on"
        )
    out = geometries.copy()
    fixed = []
    for i, reason in zip(invalid, reasons):
        polygon = _polygonal(shapely.make_valid(geometries[i]))
        if polygon.is_empty or polygon.area == 0:
            raise LayerRejected(f"{_feature(names, i)} has no area once repaired ({reason})")
        out[i] = polygon
        fixed.append({"name": names[i], "problem": reason, "repair": "make_valid"})
    return out, fixed


def equal_area_crs(geometries: np.ndarray) -> CRS:
    """A Lambert azimuthal equal-area projection centred on the geometries (WGS84): areas in m²."""
    xmin, ymin, xmax, ymax = shapely.total_bounds(geometries)
    return CRS.from_proj4(f"+proj=laea +lat_0={(ymin + ymax) / 2} +lon_0={(xmin + xmax) / 2} +units=m +ellps=WGS84")


def equal_area(geometries: np.ndarray) -> np.ndarray:
    """WGS84 geometries on :func:`equal_area_crs` (metres)."""
    return gpd.GeoSeries(geometries, crs=WGS84).to_crs(equal_area_crs(geometries)).to_numpy()


def overlaps(projected: np.ndarray, names: list[str]) -> list[dict]:
    """Pairs of areas (equal-area geometries) whose interiors share more than OVERLAP_M2, with the
    shared area in km².

    Only areas with an edge that does not match its neighbour's (``shapely.coverage_invalid_edges``,
    fast on a clean tiling) are intersected with the areas around them.
    """
    suspects = np.flatnonzero(~shapely.is_empty(shapely.coverage_invalid_edges(projected)))
    if not len(suspects):
        return []
    found, others = shapely.STRtree(projected).query(projected[suspects], predicate="intersects")
    pairs = np.unique(np.sort(np.column_stack([suspects[found], others]), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    shared = shapely.area(shapely.intersection(projected[pairs[:, 0]], projected[pairs[:, 1]]))
    big = shared > OVERLAP_M2
    return [
        {"a": names[a], "b": names[b], "km2": round(float(m2) / 1e6, 6)} for (a, b), m2 in zip(pairs[big], shared[big])
    ]


def prepare(frame: gpd.GeoDataFrame, name_field: str, repair: bool = True) -> PreparedLayer:
    """Check, repair and reproject ``frame``'s areas, named by ``name_field``; LayerRejected if unusable."""
    if frame.empty:
        raise LayerRejected("the layer has no features")
    names = _names(frame, name_field)
    _check_shapes(frame.geometry.to_numpy(), names)
    series, label = _to_wgs84(frame)
    geometries, repaired = _repair(series.to_numpy(), names, repair)
    projected = equal_area(geometries)
    report = LayerReport(len(names), label, not frame.crs.equals(WGS84), repaired, overlaps(projected, names))
    return PreparedLayer(names, geometries, shapely.area(projected) / 1e6, report)


def load(path: Path | str, name_field: str, source_layer: str | None = None, repair: bool = True) -> PreparedLayer:
    """Read one layer of ``path`` and :func:`prepare` it."""
    return prepare(read(path, source_layer), name_field, repair)
