"""Area layers in the store: their polygons, every incident's area in every layer, counts per area.

A layer's areas are stored as WKB with their area (km²); ``incident_areas`` holds one row per incident
and layer, with the area's name or NULL when the incident lies outside every area of the layer (the
rule for points on boundaries is in ``crimeviz.geo.join``). Incidents are joined to a layer when it is
imported or replaced (all of them) and when incidents are imported (the new ones, see
:func:`join_new_incidents`). Callers check the role (``data``) before writing; every write is audited.
"""

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from h3.api import basic_int as h3int

from crimeviz.geo import derive, join
from crimeviz.geo.layers import LayerRejected, PreparedLayer, load, prepare
from crimeviz.store import audit, db, grid, queries
from crimeviz.store.filters import IncidentFilter, where

SCHEMA = """
CREATE TABLE IF NOT EXISTS area_layers (
    layer       VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    name_field  VARCHAR NOT NULL,
    derived     BOOLEAN NOT NULL,
    imported_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    imported_by VARCHAR NOT NULL,
    report      VARCHAR
);
CREATE TABLE IF NOT EXISTS areas (
    layer    VARCHAR NOT NULL,
    name     VARCHAR NOT NULL,
    area_km2 DOUBLE NOT NULL,
    geometry BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS incident_areas (
    incident_id UBIGINT NOT NULL,
    layer       VARCHAR NOT NULL,
    area        VARCHAR
);
"""
TABLES = ("area_layers", "areas", "incident_areas")
DEFAULT_LAYER = "neighbourhoods (derived)"
MAX_NAME = 64


def ensure(con) -> None:
    db.ensure_schema(con, SCHEMA, TABLES)


def check_layer_name(layer: str) -> str:
    """The layer name, stripped; LayerRejected if blank, too long or not printable."""
    name = (layer or "").strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise LayerRejected(f"a layer name is 1-{MAX_NAME} printable characters, not {layer!r}")
    return name


def layer_names(con) -> list[str]:
    ensure(con)
    return [r[0] for r in con.execute("SELECT layer FROM area_layers ORDER BY layer").fetchall()]


def layers(con) -> pd.DataFrame:
    """One row per layer: name, areas, total km², derived flag, source file, name field, when and by whom."""
    ensure(con)
    return con.execute(
        "SELECT l.layer, count(a.name) AS areas, round(sum(a.area_km2), 3) AS area_km2, l.derived, l.source, "
        "l.name_field, l.imported_at, l.imported_by FROM area_layers l LEFT JOIN areas a ON a.layer = l.layer "
        "GROUP BY l.layer, l.derived, l.source, l.name_field, l.imported_at, l.imported_by ORDER BY l.layer"
    ).df()


def incident_points(con, unjoined_to: str | None = None) -> pd.DataFrame:
    """``id``, ``lon``, ``lat`` of every incident, or of those not yet joined to the layer ``unjoined_to``."""
    if unjoined_to is None:
        return con.execute("SELECT id, lon, lat FROM incidents").df()
    return con.execute(
        "SELECT i.id, i.lon, i.lat FROM incidents i WHERE NOT EXISTS "
        "(SELECT 1 FROM incident_areas a WHERE a.incident_id = i.id AND a.layer = ?)",
        [unjoined_to],
    ).df()


def _assignments(con, layer: str, names: list[str], geometries, new_only: bool) -> pd.DataFrame:
    """``incident_id``, ``layer``, ``area`` for all incidents (or those not yet joined to ``layer``)."""
    points = incident_points(con, layer if new_only else None)
    index = join.assign(points["lon"].to_numpy(), points["lat"].to_numpy(), geometries)
    labels = np.array(list(names) + [None], dtype=object)
    return pd.DataFrame({"incident_id": points["id"], "layer": layer, "area": labels[index]})


def _insert(con, table: str, frame: pd.DataFrame) -> None:
    db.insert_frame(con, table, frame)


def save_layer(
    con, layer: str, prepared: PreparedLayer, source: str, name_field: str, by: str, derived: bool = False
) -> dict:
    """Store (or replace) ``layer`` and join every incident to it, in one audited transaction."""
    layer = check_layer_name(layer)
    ensure(con)
    order = np.argsort(np.array(prepared.names, dtype=object), kind="stable")
    names = [prepared.names[i] for i in order]
    geometries = prepared.geometries[order]
    rows = pd.DataFrame(
        {"layer": layer, "name": names, "area_km2": prepared.area_km2[order], "geometry": shapely.to_wkb(geometries)}
    )
    report = prepared.report.summary()
    with db.transaction(con):
        replaced = _delete(con, layer)
        con.execute(
            "INSERT INTO area_layers (layer, source, name_field, derived, imported_by, report) VALUES (?, ?, ?, ?, ?, ?)",
            [layer, source, name_field, derived, by, json.dumps(report)],
        )
        _insert(con, "areas", rows)
        assigned = _assignments(con, layer, names, geometries, new_only=False)
        _insert(con, "incident_areas", assigned)
        outside = int(assigned["area"].isna().sum())
        summary = {
            "layer": layer,
            "areas": len(names),
            "replaced": replaced,
            "incidents": len(assigned),
            "outside": outside,
            "repaired": len(report["repaired"]),
            "overlaps": len(report["overlaps"]),
        }
        db.bump_data_version(con)  # filters by area and every cache of per-area results change
        audit.record(con, by, "areas.import", "area_layer", layer, {**summary, "source": source})
    return {**summary, "report": report}


def import_layer(
    con,
    path: Path,
    layer: str,
    name_field: str,
    by: str,
    source_layer: str | None = None,
    repair: bool = True,
) -> dict:
    """Read, check and store the polygons of ``path`` as ``layer`` (replacing a layer of that name)."""
    layer = check_layer_name(layer)
    prepared = load(path, name_field, source_layer, repair)
    return save_layer(con, layer, prepared, Path(path).name, name_field, by)


def add_default_layer(con, by: str) -> dict | None:
    """The Toronto neighbourhoods derived from the incidents (the Map's neighbourhood outlines) as
    DEFAULT_LAYER, unless the store already has area layers or no named neighbourhoods."""
    if layer_names(con):
        return None
    cells = queries.neighbourhood_cells(con)
    if cells.empty:
        return None
    prepared = prepare(derive.cells_to_areas(cells), "name")
    return save_layer(con, DEFAULT_LAYER, prepared, "incidents (H3 cells, resolution 8)", "neighbourhood", by, True)


def _delete(con, layer: str) -> bool:
    found = con.execute("SELECT count(*) FROM area_layers WHERE layer = ?", [layer]).fetchall()[0][0] > 0
    for table in ("incident_areas", "areas", "area_layers"):
        con.execute(f"DELETE FROM {table} WHERE layer = ?", [layer])
    return found


def remove_layer(con, layer: str, by: str) -> dict:
    """Delete ``layer``, its areas and its joins (audited); ValueError if there is no such layer."""
    known = layer_names(con)
    if layer not in known:
        raise ValueError(f"no area layer {layer!r}; layers: {', '.join(known) or '(none)'}")
    with db.transaction(con):
        areas = con.execute("SELECT count(*) FROM areas WHERE layer = ?", [layer]).fetchall()[0][0]
        _delete(con, layer)
        db.bump_data_version(con)
        audit.record(con, by, "areas.remove", "area_layer", layer, {"areas": areas})
    return {"removed": layer, "areas": areas}


def layer_geometries(con, layer: str) -> tuple[list[str], np.ndarray]:
    """Names (in join order) and WGS84 geometries of ``layer``'s areas."""
    rows = con.execute("SELECT name, geometry FROM areas WHERE layer = ? ORDER BY name", [layer]).fetchall()
    return [r[0] for r in rows], shapely.from_wkb([bytes(r[1]) for r in rows])


def join_new_incidents(con) -> int:
    """Join incidents not yet joined to each layer (the importer calls this after loading); returns rows added."""
    ensure(con)
    added = 0
    with db.transaction(con):
        for layer in layer_names(con):
            names, geometries = layer_geometries(con, layer)
            assigned = _assignments(con, layer, names, geometries, new_only=True)
            if len(assigned):
                _insert(con, "incident_areas", assigned)
            added += len(assigned)
    return added


def _known(con, layer: str) -> None:
    known = layer_names(con)
    if layer not in known:
        raise ValueError(f"no area layer {layer!r}; layers: {', '.join(known) or '(none)'}")


def area_names(con, layer: str) -> list[str]:
    """The names of ``layer``'s areas, in code-point order (the join's tie order)."""
    ensure(con)
    return [r[0] for r in con.execute("SELECT name FROM areas WHERE layer = ? ORDER BY name", [layer]).fetchall()]


def counts(con, layer: str, f: IncidentFilter) -> tuple[pd.DataFrame, int]:
    """Incidents matching ``f`` per area of ``layer`` (``name``, ``incidents``, ``area_km2``, every area
    listed, busiest first) and how many match but lie outside every area."""
    _known(con, layer)
    sql, params = where(f)
    table = con.execute(
        "SELECT a.name, count(m.id) AS incidents, a.area_km2 FROM areas a LEFT JOIN "
        f"(SELECT i.id, ia.area FROM incidents i JOIN incident_areas ia ON ia.incident_id = i.id "
        f"AND ia.layer = ? WHERE {sql}) m ON m.area = a.name WHERE a.layer = ? "
        "GROUP BY a.name, a.area_km2 ORDER BY incidents DESC, a.name",
        [layer, *params, layer],
    ).df()
    outside = con.execute(
        "SELECT count(*) FROM incidents i LEFT JOIN incident_areas ia ON ia.incident_id = i.id AND ia.layer = ? "
        f"WHERE ia.area IS NULL AND {sql}",
        [layer, *params],
    ).fetchall()[0][0]
    return table, int(outside)


def previous_period(f: IncidentFilter) -> IncidentFilter:
    """``f`` over the period of equal length that ends the day before ``f.start``."""
    days = (f.end - f.start).days + 1
    return f.with_dates(f.start - timedelta(days=days), f.start - timedelta(days=1))


def change(con, layer: str, f: IncidentFilter) -> pd.DataFrame:
    """Per area of ``layer``: ``name``, ``area_km2``, ``incidents`` (matching ``f``), ``per_km2``,
    ``previous`` (the same filter over the period of equal length just before, see
    :func:`previous_period`), ``change`` and ``pct_change`` (NaN where ``previous`` is 0); every area, by name."""
    now, _ = counts(con, layer, f)
    before, _ = counts(con, layer, previous_period(f))
    out = now.sort_values("name", ignore_index=True)
    out["per_km2"] = out["incidents"] / out["area_km2"]
    out["previous"] = out["name"].map(before.set_index("name")["incidents"]).fillna(0).astype(int)
    out["change"] = out["incidents"] - out["previous"]
    out["pct_change"] = 100 * out["change"] / out["previous"].where(out["previous"] > 0)
    return out


def compstat(con, layer: str, f: IncidentFilter, days: int, top: int = 15) -> pd.DataFrame:
    """CompStat table per area of ``layer``: counts in the ``days`` ending at ``f.end`` vs the ``days``
    before (the rest of ``f`` applies). Columns: area, current, previous, change, pct_change; the
    ``top`` areas by current count (then by change), as ``queries.neighbourhood_change`` does for
    the neighbourhoods recorded on the incidents."""
    current = f.with_dates(f.end - timedelta(days=days - 1), f.end)
    table = change(con, layer, current)
    table = table.rename(columns={"name": "area", "incidents": "current"})
    table["pct_change"] = table["pct_change"].round(1)
    table = table.sort_values(["current", "change", "area"], ascending=[False, False, True]).head(top)
    return table[["area", "current", "previous", "change", "pct_change"]].reset_index(drop=True)


def monthly(con, layer: str, f: IncidentFilter) -> pd.DataFrame:
    """Incidents matching ``f`` per month and area of ``layer`` (``month``, ``area``, ``n``); incidents
    outside every area are left out. Months with no incident in an area have no row."""
    _known(con, layer)
    sql, params = where(f)
    return con.execute(
        "SELECT date_trunc('month', i.occurred_at) AS month, ia.area, count(*) AS n FROM incidents i "
        "JOIN incident_areas ia ON ia.incident_id = i.id AND ia.layer = ? "
        f"WHERE ia.area IS NOT NULL AND {sql} GROUP BY 1, 2 ORDER BY 1, 2",
        [layer, *params],
    ).df()


def study_cells(con, layer: str, names, res: int) -> list[int]:
    """Every cell at ``res`` holding a stored incident that lies in one of the areas ``names`` of
    ``layer``: the study area of statistics restricted to those areas (whole cells, so a cell
    crossing the areas' edge is in it; only its incidents inside the areas are counted)."""
    _known(con, layer)
    column = grid.cell_column(res)
    names = list(names)
    if not names:
        return []
    marks = ", ".join("?" for _ in names)
    return [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT i.{column} FROM incidents i JOIN incident_areas ia ON ia.incident_id = i.id "
            f"AND ia.layer = ? WHERE ia.area IN ({marks}) ORDER BY 1",
            [layer, *names],
        ).fetchall()
    ]


def cell_areas(con, layer: str, cells) -> list[str | None]:
    """The area of ``layer`` holding each H3 cell's centre (by the join's rule), None where no area does.

    Cells have no single area when an area's edge crosses them; their centre decides, the rule
    ``h3.polygon_to_cells`` uses (centre containment), so a cell belongs to one area at most.
    """
    _known(con, layer)
    names, geometries = layer_geometries(con, layer)
    ints = [c if isinstance(c, (int, np.integer)) else grid.to_int(c) for c in cells]
    centres = np.array([h3int.cell_to_latlng(int(c)) for c in ints], dtype=float).reshape(-1, 2)
    index = join.assign(centres[:, 1], centres[:, 0], geometries)
    labels = np.array(list(names) + [None], dtype=object)
    return labels[index].tolist()


def features(con, layer: str, tolerance_deg: float = 0.00005) -> list[dict]:
    """``layer``'s areas as GeoJSON features (``properties.name``), WGS84, simplified to
    ``tolerance_deg`` (about 5 m; topology kept) and rounded to 5 decimals, for maps."""
    _known(con, layer)
    names, geometries = layer_geometries(con, layer)
    simple = shapely.simplify(geometries, tolerance_deg, preserve_topology=True)
    out = []
    for name, geom in zip(names, simple):
        shape = json.loads(shapely.to_geojson(shapely.set_precision(geom, 1e-5)))
        out.append({"type": "Feature", "geometry": shape, "properties": {"name": name}})
    return out


def scratch_store(con, path: Path):
    """A new store at ``path`` holding a copy of ``con``'s incidents (and nothing else): benchmarks
    write layers there, never into the analyst's store or its audit trail."""
    scratch = db.connect(path)
    db.insert_frame(scratch, "incidents", con.execute("SELECT * FROM incidents").df())
    return scratch
