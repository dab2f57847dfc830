"""``python -m crimeviz areas …``: polygon layers (beats, divisions, wards, custom zones).

``import`` reads a GeoJSON, zipped Shapefile or GeoPackage, checks, repairs and reprojects it to WGS84,
stores it and joins every incident to it (admin); ``fields`` shows a file's layers and fields, ``list``
the stored layers, ``remove`` deletes one (admin); ``counts`` writes incidents per area and ``change``
the counts, per km² and the change against the previous period of equal length that the Map's
choropleth shows (the ``incidents`` permission, audited as exports); ``bench`` times a 50k-polygon
import and join.
"""

import json
from datetime import date
from pathlib import Path

from crimeviz.cli.common import CommandError, authorised, db_arg, incident_store, user_args


def cmd_fields(args) -> int:
    from crimeviz.geo import layers

    frame = layers.read(args.file, args.source_layer)
    print(
        json.dumps(
            {
                "layers": layers.source_layers(args.file),
                "fields": layers.name_fields(frame),
                "features": len(frame),
                "crs": frame.crs.to_string() if frame.crs else None,
            }
        )
    )
    return 0


def cmd_import(args) -> int:
    from crimeviz.store import areas, db

    if not args.file.is_file():
        raise CommandError(f"{args.file}: no such file")
    con = db.connect(args.db)
    user = authorised(con, args, "data")
    result = areas.import_layer(
        con, args.file, args.layer, args.name_field, user.username, args.source_layer, not args.no_repair
    )
    print(json.dumps(result, default=str))
    return 0


def cmd_list(args) -> int:
    from crimeviz.store import areas, db

    frame = areas.layers(db.connect(args.db))
    print(frame.to_json(orient="records", date_format="iso"))
    return 0


def cmd_remove(args) -> int:
    from crimeviz.store import areas, db

    con = db.connect(args.db)
    user = authorised(con, args, "data")
    print(json.dumps(areas.remove_layer(con, args.layer, user.username)))
    return 0


def cmd_counts(args) -> int:
    from crimeviz.store import areas, audit, queries
    from crimeviz.store.filters import IncidentFilter

    con = incident_store(args.db)
    user = authorised(con, args, "incidents")
    opts = queries.options(con)
    f = IncidentFilter(args.start or opts["first_date"], args.end or opts["last_date"])
    if f.problems():
        raise CommandError("; ".join(f.problems()))
    table, outside = areas.counts(con, args.layer, f)
    out = {
        "layer": args.layer,
        "start": f.start.isoformat(),
        "end": f.end.isoformat(),
        "areas": json.loads(table.round({"area_km2": 4}).to_json(orient="records")),
        "outside": outside,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
    audit.record(
        con, user.username, "areas.export", "area_layer", args.layer, {"start": f.start, "end": f.end, "out": args.json}
    )
    print(json.dumps({"layer": args.layer, "areas": len(table), "outside": outside, "out": str(args.json)}))
    return 0


def cmd_change(args) -> int:
    import math

    from crimeviz.store import areas, audit, queries
    from crimeviz.store.filters import IncidentFilter

    con = incident_store(args.db)
    user = authorised(con, args, "incidents")
    opts = queries.options(con)
    f = IncidentFilter(args.start or opts["first_date"], args.end or opts["last_date"], tuple(args.offence) or None)
    if f.problems():
        raise CommandError("; ".join(f.problems()))
    table = areas.change(con, args.layer, f)
    before = areas.previous_period(f)
    rows = table.round({"area_km2": 4, "per_km2": 3, "pct_change": 1}).to_dict("records")
    for row in rows:  # NaN (no incident before) is not JSON
        row["pct_change"] = None if math.isnan(row["pct_change"]) else row["pct_change"]
    out = {
        "layer": args.layer,
        "start": f.start.isoformat(),
        "end": f.end.isoformat(),
        "previous_start": before.start.isoformat(),
        "previous_end": before.end.isoformat(),
        "offences": list(f.offences or []),
        "areas": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2, default=int), encoding="utf-8")
    detail = {"start": f.start, "end": f.end, "offences": f.offences, "out": args.json}
    audit.record(con, user.username, "areas.export", "area_layer", args.layer, detail)
    print(json.dumps({"layer": args.layer, "areas": len(rows), "out": str(args.json)}))
    return 0


def cmd_bench(args) -> int:
    from crimeviz.bench import areas as bench

    print(json.dumps(bench.bench_areas(incident_store(args.db), args.polygons, args.repeats), indent=2))
    return 0


def add_subcommands(subparsers) -> None:
    p = subparsers.add_parser("import", help="import a polygon layer and join every incident to it (admin)")
    p.add_argument("file", type=Path, help=".geojson, .zip (Shapefile) or .gpkg")
    p.add_argument("--layer", required=True, help="the layer's name in CrimeViz (an existing layer is replaced)")
    p.add_argument("--name-field", required=True, help="the attribute that names each area")
    p.add_argument("--source-layer", default=None, help="which layer of the file (when it holds several)")
    p.add_argument("--no-repair", action="store_true", help="refuse invalid polygons instead of repairing them")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_import)

    p = subparsers.add_parser("fields", help="a file's layers and attribute fields (to choose --name-field)")
    p.add_argument("file", type=Path)
    p.add_argument("--source-layer", default=None)
    p.set_defaults(func=cmd_fields)

    p = subparsers.add_parser("list", help="the stored area layers (JSON)")
    db_arg(p)
    p.set_defaults(func=cmd_list)

    p = subparsers.add_parser("remove", help="delete an area layer and its joins (admin)")
    p.add_argument("layer")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_remove)

    p = subparsers.add_parser("counts", help="incidents per area of a layer, and outside every area (JSON file)")
    p.add_argument("layer")
    p.add_argument("--start", type=date.fromisoformat, default=None, help="first day (default: the first incident)")
    p.add_argument("--end", type=date.fromisoformat, default=None, help="last day, inclusive (default: the last)")
    p.add_argument("--json", type=Path, required=True, help="where to write the counts")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_counts)

    p = subparsers.add_parser(
        "change", help="incidents per area, per km² and their change vs the previous period of equal length (JSON)"
    )
    p.add_argument("layer")
    p.add_argument("--start", type=date.fromisoformat, default=None, help="first day (default: the first incident)")
    p.add_argument("--end", type=date.fromisoformat, default=None, help="last day, inclusive (default: the last)")
    p.add_argument("--offence", action="append", default=[], help="count only this offence; repeatable")
    p.add_argument("--json", type=Path, required=True, help="where to write the table")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_change)

    add_bench_arguments(subparsers.add_parser("bench", help=BENCH_HELP))


BENCH_HELP = "time a 50k-polygon import and the join of every incident, against geopandas sjoin (JSON)"


def add_bench_arguments(parser) -> None:
    """``areas bench`` (also ``bench areas``)."""
    parser.add_argument("--polygons", type=int, default=50_000, help="areas in the synthetic layer")
    parser.add_argument("--repeats", type=int, default=3, help="timed joins of each method (median)")
    db_arg(parser)
    parser.set_defaults(func=cmd_bench)
