"""``python -m crimeviz``: every action of the app, scriptable. Each command takes ``--db``."""

import argparse
import getpass
import importlib
import json
import os
import sys
from datetime import date
from pathlib import Path

from crimeviz import config
from crimeviz.access.auth import ROLES
from crimeviz.cli.common import CommandError, authorised, db_arg, user_args
from crimeviz.store import importer

# Feature packages that register their own subcommands with ``add_subcommands(subparsers)``.
FEATURE_COMMANDS = {
    "forecast": ("crimeviz.cli.forecast", "next-day hotspot forecasts: train, evaluate, bench"),
    "cctv": (
        "crimeviz.cli.cctv",
        "CCTV review with MGFN: score, label, retrain, models, calibrate, train, evaluate, bench",
    ),
    "cameras": ("crimeviz.cli.cameras", "live cameras: add, edit, list, remove (credentials never shown)"),
    "streetview": ("crimeviz.cli.streetview", "street-level imagery: DevianceNet scores and training"),
    "patrol": ("crimeviz.cli.patrol", "patrol plans: build, approve, export, review, bench"),
    "areas": ("crimeviz.cli.areas", "area layers (beats, wards, zones): import, list, remove, counts, bench"),
    "analyze": ("crimeviz.cli.analyze", "analyst methods: near-repeat (Knox test), emerging hot spots, spikes"),
    "dosage": ("crimeviz.cli.dosage", "patrol dosage from AVL/GPS pings: import, synth, report"),
    "basemap": ("crimeviz.cli.basemap", "the basemap under the maps: import MBTiles/PMTiles, url, use, off"),
}


def cmd_users_add(args) -> int:
    """Add an account; the first one (the bootstrap administrator) needs no sign-in."""
    from crimeviz.access import auth
    from crimeviz.store import db

    con = db.connect(args.db)
    by = None if auth.user_count() == 0 else authorised(con, args, "users").username
    password = os.environ.get("CRIMEVIZ_NEW_PASSWORD")
    if password is None and sys.stdin.isatty():
        password = getpass.getpass(f"New password for {args.username}: ")
        if getpass.getpass("Repeat it: ") != password:
            raise CommandError("the passwords differ")
    if not password:
        raise CommandError("no password: set CRIMEVIZ_NEW_PASSWORD or run the command in a terminal")
    if by is None and args.role != "admin":
        raise CommandError("the first account must be an admin (--role admin)")
    user = auth.add_user(con, args.username, password, args.role, args.display_name, by=by)
    print(json.dumps({"added": user.username, "role": user.role}))
    return 0


def cmd_users_list(args) -> int:
    from crimeviz.access import auth

    print(auth.users().to_json(orient="records"))
    return 0


def cmd_retention_purge(args) -> int:
    from crimeviz.access import retention
    from crimeviz.store import db

    con = db.connect(args.db)
    user = authorised(con, args, "data")
    print(json.dumps(retention.purge(con, user.username, args.days)))
    return 0


def cmd_db_build(args) -> int:
    from crimeviz.store import areas, db

    con = db.open_store(args.db)
    areas.add_default_layer(con, "db build")  # a store built before area layers existed gets it too
    print(json.dumps({"db": db.describe(args.db), "incidents": db.incident_count(con)}))
    return 0


def cmd_import(args) -> int:
    from crimeviz.store import db, importer

    mapping = importer.parse_mapping(args.mapping)
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    checks = importer.Checks(
        earliest=args.earliest,
        timezone=args.timezone or importer.local_timezone(),
        area=importer.Area.parse(args.area) if args.area else None,
        reject_outside=args.reject_outside,
    )
    con = db.connect(args.db)
    user = authorised(con, args, "data")
    try:
        result = importer.import_file(
            con, path, mapping, user.username, args.date_format, args.source, args.reject_dir, checks
        )
    except importer.ImportFailed as exc:
        if exc.reject_file is None:
            raise
        raise CommandError(f"{exc} in {Path(exc.reject_file).parent}") from None
    print(json.dumps(result.summary(), default=str))
    return 0


def cmd_toronto_convert(args) -> int:
    from crimeviz.store import toronto

    frame, counts = toronto.convert(args.source)
    toronto.write_parquet(frame, args.out)
    print(json.dumps(counts))
    return 0


def cmd_bench_map(args) -> int:
    from crimeviz.bench import map as bench

    print(json.dumps(bench.bench_map(args.db, args.rows, args.repeats, args.server_url), indent=2))
    return 0


def cmd_bench_store(args) -> int:
    from crimeviz.bench import store as bench

    print(json.dumps(bench.bench_store(args.db, args.server_url, args.rows, args.repeats), indent=2))
    return 0


def cmd_bench_load(args) -> int:
    from crimeviz.bench import load as loadtest

    print(json.dumps(loadtest.bench_load(args.db, args.sessions, args.seconds, args.think, not args.no_park), indent=2))
    return 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or (given the first argument) one that loads only that feature's commands."""
    parser = argparse.ArgumentParser(prog="python -m crimeviz", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    p = dbsub.add_parser(
        "build",
        help="create the store, load the embedded Toronto data if empty, and add the neighbourhoods derived "
        "from the incidents as an area layer if the store has none",
    )
    db_arg(p)
    p.set_defaults(func=cmd_db_build)
    importlib.import_module("crimeviz.cli.records").add_commands(sub, dbsub)  # db info, imports, sync, export

    p = sub.add_parser("import", help="import incidents from a CSV or Parquet file")
    p.add_argument("file")
    p.add_argument(
        "--mapping",
        required=True,
        help="lat=COL,lon=COL,occurred_at=COL,offence=COL[,premises=COL,neighbourhood=COL,case_id=COL,status=COL] "
        "(with case_id, a changed case replaces the stored one; a status such as unfounded, deleted, void or "
        "cancelled withdraws it; give --source so later files update the same cases)",
    )
    p.add_argument(
        "--date-format", default=None, help="strftime format of occurred_at (default: detect from the whole column)"
    )
    p.add_argument(
        "--earliest",
        type=date.fromisoformat,
        default=importer.EARLIEST,
        help=f"reject rows dated before this day (default {importer.EARLIEST}); future dates are always rejected",
    )
    p.add_argument(
        "--timezone",
        default=None,
        help="zone that dates with UTC offsets are converted to "
        f"(default $CRIMEVIZ_TIMEZONE or {importer.DEFAULT_TIMEZONE})",
    )
    p.add_argument(
        "--area",
        default=None,
        metavar="S,W,N,E",
        help="where the incidents are expected (default: the store's extent, else the file's); rows outside are listed",
    )
    p.add_argument("--reject-outside", action="store_true", help="reject rows outside the area instead of listing them")
    p.add_argument("--source", default=None, help="source name stored with the rows (default: file name)")
    p.add_argument("--reject-dir", type=Path, default=None, help="where to write rejected rows (default: beside FILE)")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("users", help="accounts (roles: analyst, commander, reviewer, admin)")
    usub = p.add_subparsers(dest="users_command", required=True)
    p = usub.add_parser(
        "add",
        help="add an account (the first must be an admin and needs no sign-in); "
        "password from $CRIMEVIZ_NEW_PASSWORD or a prompt",
    )
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--display-name", default=None)
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_users_add)
    p = usub.add_parser("list", help="list accounts (JSON)")
    p.set_defaults(func=cmd_users_list)

    p = sub.add_parser("retention", help="data protection: delete uploads older than the retention period")
    rsub = p.add_subparsers(dest="retention_command", required=True)
    p = rsub.add_parser("purge", help="delete uploaded clips and files older than --days (admin; schedule it)")
    p.add_argument("--days", type=int, default=None, help="retention period (default $CRIMEVIZ_RETENTION_DAYS or 30)")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_retention_purge)

    p = sub.add_parser("toronto", help="the embedded Toronto data")
    tsub = p.add_subparsers(dest="toronto_command", required=True)
    p = tsub.add_parser("convert", help="rebuild data/toronto_mci.parquet from the PyPI package's CSVs")
    p.add_argument("--source", type=Path, required=True, help="folder with train.csv and test.csv")
    p.add_argument("--out", type=Path, default=config.TORONTO_PARQUET)
    db_arg(p)
    p.set_defaults(func=cmd_toronto_convert)

    p = sub.add_parser("bench", help="benchmarks (JSON on stdout)")
    bsub = p.add_subparsers(dest="bench_command", required=True)
    p = bsub.add_parser("map", help="the Map page's H3 aggregation vs direct DuckDB SQL")
    p.add_argument("--rows", type=int, default=10_000_000, help="rows of the synthetic large table")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument(
        "--server-url",
        default=None,
        help="an empty PostgreSQL database (postgresql://…) to measure the server profile too; it is written to",
    )
    db_arg(p)
    p.set_defaults(func=cmd_bench_map)
    p = bsub.add_parser("store", help="the Map query while another process imports; import rows/s; write visibility")
    p.add_argument("--rows", type=int, default=240_000, help="rows each import brings")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument(
        "--server-url",
        default=None,
        help="an empty PostgreSQL database (postgresql://…) to measure the server profile too; it is written to",
    )
    db_arg(p)
    p.set_defaults(func=cmd_bench_store)
    p = bsub.add_parser("load", help="N headless-browser sessions changing Map filters: rerun p50/p95, errors")
    p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--seconds", type=float, default=60, help="how long the sessions keep changing filters")
    p.add_argument(
        "--think",
        type=float,
        default=5.0,
        help="mean seconds a simulated analyst looks at the result before the next change (0: none)",
    )
    p.add_argument(
        "--no-park",
        action="store_true",
        help="keep idle pages' animation-frame loops running (they then compete with the server)",
    )
    db_arg(p)
    p.set_defaults(func=cmd_bench_load)
    p = bsub.add_parser("analyze", help="near-repeat test on a year of the commonest offence vs brute force")
    importlib.import_module("crimeviz.cli.analyze").add_bench_arguments(p)
    areas_cli = importlib.import_module("crimeviz.cli.areas")
    areas_cli.add_bench_arguments(bsub.add_parser("areas", help=areas_cli.BENCH_HELP))
    monitor_cli = importlib.import_module("crimeviz.cli.monitor")
    monitor_cli.add_bench_arguments(bsub.add_parser("monitor", help=monitor_cli.BENCH_HELP))

    p = sub.add_parser("monitor", help="watch the live cameras: rolling MGFN scores, alerts, pings, reports")
    importlib.import_module("crimeviz.cli.monitor").add_arguments(p)

    importlib.import_module("crimeviz.cli.bulletin").add_command(sub)

    for name, (module, help_text) in FEATURE_COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if command in (None, name):  # import a feature (and torch) only when it is asked for
            importlib.import_module(module).add_subcommands(p.add_subparsers(dest=f"{name}_command", required=True))
    return parser


def main(argv=None) -> int:
    from crimeviz.access.accounts import AccountsUnavailable
    from crimeviz.access.auth import AccessDenied
    from crimeviz.store.db import StoreUnavailable
    from crimeviz.store.importer import ImportFailed

    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv and not argv[0].startswith("-") else None
    args = build_parser(command).parse_args(argv)
    try:
        return args.func(args)
    except (AccessDenied, AccountsUnavailable, CommandError, ImportFailed, StoreUnavailable, ValueError) as exc:
        return fail(str(exc))
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"{where}{exc.strerror or exc}")
    except Exception as exc:  # a library's own error (Pillow, FFmpeg, numpy, pandas): one line, not a traceback
        return fail(f"{type(exc).__name__}: {exc}")


def fail(message: str) -> int:
    """Print ``message`` as one ``error:`` line on stderr; exit status 2."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    print(f"error: {lines[0] if lines else 'failed'}", file=sys.stderr)
    return 2
