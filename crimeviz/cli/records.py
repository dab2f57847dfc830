"""Incidents as a living record, from scripts: ``imports list|undo``, ``sync DIR``, ``db info``,
``export incidents``.

``sync`` is what a cron line or a systemd timer runs (see README, "Scheduled imports"): each new
file of a folder is imported once, in name order, stopping at the first file that fails.
"""

import json
from datetime import date
from pathlib import Path

from crimeviz.access.auth import AccessDenied
from crimeviz.cli.common import CommandError, authorised, db_arg, user_args
from crimeviz.store import batches, importer


def cmd_imports_list(args) -> int:
    from crimeviz.store import db, info

    con = db.connect(args.db)
    imports = info.store_info(con)["imports"]
    if args.json:
        print(json.dumps(imports, default=str))
    else:
        print(batches.table(con).to_string(index=False) if imports else "no imports")
    return 0


def cmd_imports_history(args) -> int:
    from crimeviz.store import db

    con = db.connect(args.db)
    versions = batches.history(con, args.source, args.case)
    if args.json:
        print(versions.to_json(orient="records", date_format="iso"))
    else:
        print(versions.to_string(index=False) if len(versions) else f"no earlier versions of case {args.case}")
    return 0


def cmd_imports_undo(args) -> int:
    from crimeviz.store import db

    con = db.connect(args.db)
    user = authorised(con, args, "data")
    if user.role != "admin":
        raise AccessDenied("only an admin may undo an import")
    try:
        result = batches.undo(con, user.username, args.batch)
    except batches.UndoRefused as exc:
        raise CommandError(str(exc)) from None
    print(json.dumps(result))
    return 0


def cmd_imports_deletions(args) -> int:
    from crimeviz.store import db

    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    con = db.connect(args.db)
    user = authorised(con, args, "data")
    counts = importer.import_deletions(con, path, args.case_id, args.source, user.username)
    print(json.dumps(counts.summary()))
    return 0


def cmd_sync(args) -> int:
    from crimeviz.store import db, sync

    mapping = importer.parse_mapping(args.mapping)
    checks = importer.Checks(
        earliest=args.earliest,
        timezone=args.timezone or importer.local_timezone(),
        area=importer.Area.parse(args.area) if args.area else None,
    )
    con = db.connect(args.db)
    user = authorised(con, args, "data")
    report = sync.sync_folder(
        con,
        args.folder,
        mapping,
        user.username,
        source=args.source,
        date_format=args.date_format,
        checks=checks,
        reject_dir=args.reject_dir,
    )
    print(json.dumps(report.summary(), default=str))
    if report.failed:
        waiting = f"; {len(report.waiting)} later file(s) wait for it" if report.waiting else ""
        raise CommandError(f"{report.failed['file']}: {report.failed['error']}{waiting}")
    return 0


def cmd_db_info(args) -> int:
    from crimeviz.store import db, info

    con = db.connect(args.db)
    facts = info.store_info(con)
    if args.json:
        print(json.dumps(facts, default=str))
        return 0
    print(f"data version {facts['data_version']}; last batch {facts['last_batch']}")
    for name, rows in facts["tables"].items():
        print(f"{name:24} {rows:>12,}")
    return 0


def cmd_export_incidents(args) -> int:
    from crimeviz.explore import exports
    from crimeviz.store import counts, db
    from crimeviz.store.filters import IncidentFilter

    con = db.connect(args.db)
    user = authorised(con, args, "incidents")
    first, last = counts.first_incident(con), counts.last_incident(con)
    if first is None:
        raise CommandError("the store holds no incidents")
    start = args.start or first.date()
    end = args.end or last.date()
    f = IncidentFilter(start, end, tuple(args.offence) if args.offence else None)
    if problems := f.problems():
        raise CommandError("; ".join(problems))
    data, rows = exports.incidents_csv(con, user.username, f, args.source)
    out = Path(args.out)
    partial = out.with_name(f".{out.name}.partial")
    partial.write_bytes(data)
    partial.replace(out)  # a reader never sees half a file
    print(json.dumps({"out": str(out), "rows": rows, "start": str(start), "end": str(end)}))
    return 0


def _mapping_args(p) -> None:
    p.add_argument(
        "--mapping",
        required=True,
        help="lat=COL,lon=COL,occurred_at=COL,offence=COL[,premises=COL,neighbourhood=COL,case_id=COL,status=COL]",
    )
    p.add_argument("--source", default=None, help="source name of the rows (default: the folder's name)")
    p.add_argument("--date-format", default=None, help="strftime format of occurred_at (default: detect)")
    p.add_argument("--earliest", type=date.fromisoformat, default=importer.EARLIEST)
    p.add_argument("--timezone", default=None, help="zone that dates with UTC offsets are converted to")
    p.add_argument("--area", default=None, metavar="S,W,N,E", help="where the incidents are expected")
    p.add_argument("--reject-dir", type=Path, default=None, help="where rejected rows go (default: DIR/rejects)")


def add_commands(sub, dbsub) -> None:
    """Register ``imports``, ``sync`` and ``export`` on the top-level parser and ``info`` under ``db``."""
    p = dbsub.add_parser("info", help="rows per table, import batches and the data version")
    p.add_argument("--json", action="store_true")
    db_arg(p)
    p.set_defaults(func=cmd_db_info)

    p = sub.add_parser("imports", help="import batches: list them, undo the last one (admin)")
    isub = p.add_subparsers(dest="imports_command", required=True)
    p = isub.add_parser("list", help="every batch with its counts (added, updated, unchanged, removed)")
    p.add_argument("--json", action="store_true")
    db_arg(p)
    p.set_defaults(func=cmd_imports_list)
    p = isub.add_parser("history", help="earlier versions of one case, with the batch that replaced or removed each")
    p.add_argument("--source", required=True)
    p.add_argument("--case", required=True, help="the source's case id")
    p.add_argument("--json", action="store_true")
    db_arg(p)
    p.set_defaults(func=cmd_imports_history)
    p = isub.add_parser(
        "undo", help="undo the last batch (admin): the incidents are restored exactly as they were before it"
    )
    p.add_argument("--batch", type=int, default=None, help="the batch to undo (must be the last one; default: it)")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_imports_undo)
    p = isub.add_parser(
        "deletions", help="withdraw the cases a CSV or Parquet file lists (one batch; undo takes it back)"
    )
    p.add_argument("file")
    p.add_argument("--case-id", required=True, metavar="COLUMN", help="the column holding the case ids")
    p.add_argument("--source", required=True, help="the source the cases were imported as")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_imports_deletions)

    p = sub.add_parser(
        "sync",
        help="import each new file of a folder once, in name order; stops at the first file that fails "
        "(see README, Scheduled imports)",
    )
    p.add_argument("folder", type=Path)
    _mapping_args(p)
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("export", help="exports (audited)")
    esub = p.add_subparsers(dest="export_command", required=True)
    p = esub.add_parser("incidents", help="incidents as spreadsheet-safe CSV, the columns of the Map's cell CSV")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--start", type=date.fromisoformat, default=None, help="first day (default: the first incident's)")
    p.add_argument("--end", type=date.fromisoformat, default=None, help="last day (default: the last incident's)")
    p.add_argument("--offence", action="append", default=None, help="an offence to keep (repeat for several)")
    p.add_argument("--source", default=None, help="only the incidents of this source")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_export_incidents)
