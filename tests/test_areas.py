"""Area layers: reading three formats, reprojection, repair or refusal, the join and its boundary rule,
counts against an independent geopandas sjoin, and joins at import of either side."""

import json
import zipfile
from datetime import date

import geopandas as gpd
import pandas as pd
import pytest
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, Polygon, box
from shapely.geometry.polygon import orient

from crimeviz.geo.layers import LayerRejected
from crimeviz.store import areas, audit, db, importer
from crimeviz.store.filters import IncidentFilter
from tests.conftest import incident_rows

WGS84 = "EPSG:4326"
# Two squares sharing the edge lon = -79.38; "Alpha" has a square hole.
HOLE = [(-79.395, 43.645), (-79.385, 43.645), (-79.385, 43.655), (-79.395, 43.655)]
ALPHA = Polygon(box(-79.40, 43.64, -79.38, 43.66).exterior.coords, [HOLE])
BETA = box(-79.38, 43.64, -79.36, 43.66)
AREAS = {"Alpha": ALPHA, "Beta": BETA}
# (lon, lat, area under the documented rule)
POINTS = [
    (-79.399, 43.641, "Alpha"),  # inside
    (-79.37, 43.65, "Beta"),  # inside
    (-79.38, 43.65, "Alpha"),  # on the shared edge: the lower name
    (-79.38, 43.64, "Alpha"),  # on the shared corner
    (-79.39, 43.65, None),  # strictly inside the hole
    (-79.395, 43.65, "Alpha"),  # on the hole's outline
    (-79.36, 43.65, "Beta"),  # on the layer's outer edge
    (-79.36, 43.66, "Beta"),  # on an outer corner
    (-79.30, 43.70, None),  # far outside
]
EVERYTHING = IncidentFilter(date(2000, 1, 1), date(2030, 12, 31))


def layer_frame(crs=WGS84, names=("Alpha", "Beta"), geometries=(ALPHA, BETA), **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"ward": list(names), **columns}, geometry=list(geometries), crs=crs)


def write(frame: gpd.GeoDataFrame, folder, kind: str = "geojson", name: str = "wards"):
    """Write ``frame`` as GeoJSON, a zipped Shapefile or a GeoPackage; returns the path."""
    if kind == "geojson":
        path = folder / f"{name}.geojson"
        frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    elif kind == "gpkg":
        path = folder / f"{name}.gpkg"
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    else:
        shp = folder / "shp"
        shp.mkdir(exist_ok=True)
        frame.to_file(shp / f"{name}.shp", engine="pyogrio")
        path = folder / f"{name}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for part in shp.iterdir():
                archive.write(part, part.name)
    return path


def point_store(con, points=POINTS):
    rows = incident_rows([("2021-03-01 08:00", "Assault", lat, lon) for lon, lat, _ in points])
    db.insert_incidents(con, db.with_cells(rows, "hand"))
    return con


def counted(con, layer="wards", f=EVERYTHING) -> tuple[dict, int]:
    table, outside = areas.counts(con, layer, f)
    return dict(zip(table["name"], table["incidents"])), outside


def sjoin_counts(points, frame: gpd.GeoDataFrame, name_field: str = "ward") -> tuple[dict, int]:
    """Independent reference: geopandas sjoin (closed polygons), ties to the lowest name."""
    lon, lat = zip(*[(p[0], p[1]) for p in points])
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=WGS84)
    joined = gpd.sjoin(pts, frame.to_crs(WGS84)[[name_field, "geometry"]], predicate="covered_by")
    first = joined.groupby(level=0)[name_field].min()
    counts = first.value_counts().to_dict()
    return {name: counts.get(name, 0) for name in frame[name_field]}, len(points) - len(first)


def nothing_stored(con) -> bool:
    areas.ensure(con)
    tables = [con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in areas.TABLES]
    return tables == [0, 0, 0] and audit.entries(con, action="areas.").empty


def test_counts_equal_an_independent_geopandas_sjoin(empty_store, tmp_path):
    con = point_store(empty_store)
    frame = layer_frame()
    areas.import_layer(con, write(frame, tmp_path), "wards", "ward", "root")
    assert counted(con) == sjoin_counts(POINTS, frame) == ({"Alpha": 4, "Beta": 3}, 2)


def test_points_on_boundaries_follow_the_documented_rule(empty_store, tmp_path):
    con = point_store(empty_store)
    areas.import_layer(con, write(layer_frame(), tmp_path), "wards", "ward", "root")
    stored = con.execute(
        "SELECT i.lon, i.lat, ia.area FROM incidents i JOIN incident_areas ia ON ia.incident_id = i.id"
    ).fetchall()
    assert sorted(stored, key=str) == sorted(POINTS, key=str)


@pytest.mark.parametrize("kind", ["geojson", "zip", "gpkg"])
def test_every_format_gives_the_same_areas(empty_store, tmp_path, kind):
    con = point_store(empty_store)
    result = areas.import_layer(con, write(layer_frame(), tmp_path, kind), "wards", "ward", "root")
    assert result["areas"] == 2 and result["incidents"] == len(POINTS) and result["outside"] == 2
    assert counted(con) == ({"Alpha": 4, "Beta": 3}, 2)
    assert areas.layers(con)["areas"].tolist() == [2]


def test_a_zipped_shapefile_may_sit_in_a_folder(empty_store, tmp_path):
    path = write(layer_frame(), tmp_path, "zip")
    with zipfile.ZipFile(path) as archive:
        parts = {f"City wards/{n}": archive.read(n) for n in archive.namelist()}
    path = _zip_of(tmp_path / "shp", parts)
    areas.import_layer(point_store(empty_store), path, "wards", "ward", "root")
    assert counted(empty_store) == ({"Alpha": 4, "Beta": 3}, 2)


def test_a_projected_layer_is_reprojected_to_wgs84(empty_store, tmp_path):
    con = point_store(empty_store)
    frame = layer_frame().to_crs("EPSG:2952")  # NAD83(CSRS) / MTM zone 10, metres
    result = areas.import_layer(con, write(frame, tmp_path, "gpkg"), "wards", "ward", "root")
    assert result["report"]["reprojected"] and result["report"]["source_crs"] == "EPSG:2952"
    alpha, beta = areas.layer_geometries(con, "wards")[1]
    assert alpha.hausdorff_distance(ALPHA) < 1e-7 and beta.hausdorff_distance(BETA) < 1e-7
    geodesic = {name: abs(Geod(ellps="WGS84").geometry_area_perimeter(orient(g))[0]) / 1e6 for name, g in AREAS.items()}
    km2 = dict(con.execute("SELECT name, area_km2 FROM areas").fetchall())
    assert km2 == {name: pytest.approx(value, rel=1e-4) for name, value in geodesic.items()}
    assert km2["Beta"] == pytest.approx(3.585, abs=0.001)  # 1.613 km east-west by 2.222 km north-south
    assert counted(con) == sjoin_counts(POINTS, frame)


def test_a_bowtie_is_repaired_and_reported(empty_store, tmp_path):
    bowtie = Polygon([(-79.40, 43.70), (-79.38, 43.72), (-79.38, 43.70), (-79.40, 43.72)])
    path = write(layer_frame(names=("Bow", "Beta"), geometries=(bowtie, BETA)), tmp_path)
    result = areas.import_layer(point_store(empty_store), path, "wards", "ward", "root")
    [fixed] = result["report"]["repaired"]
    assert fixed["name"] == "Bow" and fixed["problem"].startswith("Self-intersection")
    stored = dict(zip(*areas.layer_geometries(empty_store, "wards")))["Bow"]
    assert stored.is_valid and isinstance(stored, MultiPolygon) and len(stored.geoms) == 2


def test_overlapping_areas_are_flagged(empty_store, tmp_path):
    overlapping = box(-79.39, 43.64, -79.37, 43.66)  # half over each square
    inside = box(-79.375, 43.645, -79.365, 43.655)  # wholly inside Beta
    frame = layer_frame(names=("Alpha", "Beta", "Gamma", "Delta"), geometries=(ALPHA, BETA, overlapping, inside))
    result = areas.import_layer(point_store(empty_store), write(frame, tmp_path), "wards", "ward", "root")
    pairs = {tuple(sorted((o["a"], o["b"]))) for o in result["report"]["overlaps"]}
    assert pairs == {("Alpha", "Gamma"), ("Beta", "Gamma"), ("Beta", "Delta"), ("Delta", "Gamma")}
    assert counted(empty_store)[0]["Beta"] == 3  # the overlap rule: Beta < Delta < Gamma
    assert result["overlaps"] == 4


def test_a_clean_tiling_has_no_overlaps(empty_store, tmp_path):
    result = areas.import_layer(point_store(empty_store), write(layer_frame(), tmp_path), "wards", "ward", "root")
    assert result["report"]["overlaps"] == [] and result["report"]["repaired"] == []


def _no_prj(tmp_path):
    path = write(layer_frame(), tmp_path, "zip")
    with zipfile.ZipFile(path) as archive:
        parts = {n: archive.read(n) for n in archive.namelist() if not n.endswith(".prj")}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def _two_layers(tmp_path):
    path = write(layer_frame(), tmp_path, "gpkg")
    layer_frame().to_file(path, layer="beats", driver="GPKG", engine="pyogrio")
    return path


def _zip_of(tmp_path, names: dict[str, bytes]):
    path = tmp_path / "wards.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    return path


BAD = {
    "not a zip": (lambda p: (p / "wards.zip").write_bytes(b"PK not really") and p / "wards.zip", "ward", "not a zip"),
    "zip without a shapefile": (
        lambda p: _zip_of(p, {"readme.txt": b"wards"}),
        "ward",
        "wards.zip: the archive holds no Shapefile (.shp)",
    ),
    "points": (
        lambda p: write(layer_frame(geometries=(Point(-79.39, 43.65), Point(-79.37, 43.65))), p),
        "ward",
        "2 feature(s) are not polygons, e.g. feature 1 ('Alpha') is a Point",
    ),
    "empty geometry": (
        lambda p: write(layer_frame(geometries=(ALPHA, Polygon())), p, "gpkg"),
        "ward",
        "1 feature(s) have an empty geometry, e.g. feature 2 ('Beta')",
    ),
    "no CRS": (_no_prj, "ward", "declares no coordinate reference system"),
    "wrong CRS": (
        lambda p: write(layer_frame().to_crs("EPSG:2952").set_crs(WGS84, allow_override=True), p, "gpkg"),
        "ward",
        "are not degrees, although the file declares EPSG:4326: the declared CRS is wrong",
    ),
    "missing name field": (lambda p: write(layer_frame(), p), "NAME", "no field 'NAME'; the layer's fields are: ward"),
    "repeated names": (
        lambda p: write(layer_frame(names=("Alpha", "Alpha")), p),
        "ward",
        "'ward' names 1 area(s) more than once (e.g. 'Alpha' 2 times)",
    ),
    "blank name": (
        lambda p: write(layer_frame(names=("Alpha", " ")), p),
        "ward",
        "1 feature(s) have no 'ward', e.g. feature 2",
    ),
    "not geodata": (
        lambda p: (p / "wards.geojson").write_text("this is not JSON") and p / "wards.geojson",
        "ward",
        "wards.geojson: cannot be read as GeoJSON",
    ),
    "unsupported type": (
        lambda p: (p / "wards.kml").write_text("<kml/>") and p / "wards.kml",
        "ward",
        "unsupported file type .kml",
    ),
    "several layers": (_two_layers, "ward", "holds 2 layers; choose one of: wards, beats"),
    "no features": (lambda p: write(layer_frame().iloc[:0], p, "gpkg"), "ward", "has no features"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_layers_are_refused_with_one_line_and_nothing_stored(empty_store, tmp_path, case):
    make, field, message = BAD[case]
    con = point_store(empty_store)
    with pytest.raises(LayerRejected) as caught:
        areas.import_layer(con, make(tmp_path), "wards", field, "root")
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(tmp_path) not in str(caught.value)  # the file's name, not the server's folders
    assert nothing_stored(con)


def test_an_invalid_polygon_is_refused_when_repair_is_off(empty_store, tmp_path):
    bowtie = Polygon([(-79.40, 43.70), (-79.38, 43.72), (-79.38, 43.70), (-79.40, 43.72)])
    path = write(layer_frame(geometries=(bowtie, BETA)), tmp_path)
    with pytest.raises(LayerRejected, match=r"1 feature\(s\) are invalid polygons, e.g. feature 1 \('Alpha'\): Self"):
        areas.import_layer(point_store(empty_store), path, "wards", "ward", "root", repair=False)
    assert nothing_stored(empty_store)


def test_incidents_imported_later_are_joined(empty_store, tmp_path):
    con = point_store(empty_store, POINTS[:2])
    areas.import_layer(con, write(layer_frame(), tmp_path), "wards", "ward", "root")
    assert counted(con) == ({"Alpha": 1, "Beta": 1}, 0)
    csv = tmp_path / "more.csv"
    pd.DataFrame(
        {
            "lat": [p[1] for p in POINTS[2:]],
            "lon": [p[0] for p in POINTS[2:]],
            "when": "2021-03-02 10:00",
            "what": "Theft",
        }
    ).to_csv(csv, index=False)
    importer.import_file(con, csv, {"lat": "lat", "lon": "lon", "occurred_at": "when", "offence": "what"}, "root")
    assert counted(con) == ({"Alpha": 4, "Beta": 3}, 2)
    joined = con.execute("SELECT count(*), count(DISTINCT incident_id) FROM incident_areas").fetchall()[0]
    assert joined == (len(POINTS), len(POINTS))


def test_replacing_a_layer_rejoins_every_incident(empty_store, tmp_path):
    con = point_store(empty_store)
    areas.import_layer(con, write(layer_frame(), tmp_path), "wards", "ward", "root")
    bigger = layer_frame(names=("Whole",), geometries=(box(-79.41, 43.63, -79.29, 43.71),))
    result = areas.import_layer(con, write(bigger, tmp_path, name="whole"), "wards", "ward", "root")
    assert result["replaced"] and counted(con) == ({"Whole": len(POINTS)}, 0)
    assert con.execute("SELECT count(*) FROM incident_areas").fetchall()[0][0] == len(POINTS)
    assert len(audit.entries(con, action="areas.import")) == 2


def test_counts_respect_the_period(empty_store, tmp_path):
    con = point_store(empty_store)
    areas.import_layer(con, write(layer_frame(), tmp_path), "wards", "ward", "root")
    assert counted(con, f=IncidentFilter(date(2021, 3, 2), date(2021, 3, 31))) == ({"Alpha": 0, "Beta": 0}, 0)
    assert counted(con, f=IncidentFilter(date(2021, 3, 1), date(2021, 3, 1))) == ({"Alpha": 4, "Beta": 3}, 2)


def test_removing_a_layer_deletes_its_areas_and_joins_and_is_audited(empty_store, tmp_path):
    con = point_store(empty_store)
    areas.import_layer(con, write(layer_frame(), tmp_path), "wards", "ward", "root")
    assert areas.remove_layer(con, "wards", "root") == {"removed": "wards", "areas": 2}
    assert [con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in areas.TABLES] == [0, 0, 0]
    entry = audit.entries(con, action="areas.remove").iloc[0]
    assert (entry["username"], entry["object_id"], json.loads(entry["detail"])) == ("root", "wards", {"areas": 2})
    with pytest.raises(ValueError, match="no area layer 'wards'; layers: \\(none\\)"):
        areas.remove_layer(con, "wards", "root")


def test_default_layer_is_the_derived_neighbourhoods(small_store):
    result = areas.add_default_layer(small_store, "db build")
    assert result["layer"] == areas.DEFAULT_LAYER and result["outside"] == 0
    listed = areas.layers(small_store).iloc[0]
    assert listed["derived"] and listed["areas"] == 3
    names = small_store.execute("SELECT neighbourhood, count(*) FROM incidents GROUP BY 1").fetchall()
    assert counted(small_store, areas.DEFAULT_LAYER) == (dict(names), 0)
    assert areas.add_default_layer(small_store, "db build") is None  # only into a store without layers


def test_toronto_store_has_the_derived_layer_and_every_incident_is_joined(toronto_db):
    con = db.connect(toronto_db, read_only=True)
    try:
        assert areas.layers(con)["layer"].tolist() == [areas.DEFAULT_LAYER]
        table, outside = areas.counts(con, areas.DEFAULT_LAYER, EVERYTHING)
        assert table["incidents"].sum() + outside == db.incident_count(con)
        assert len(table) > 100 and outside < 100
    finally:
        con.close()
