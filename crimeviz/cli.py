"""``python -m crimeviz``: every action of the app, scriptable. Each command takes ``--db``."""

import argparse
import importlib
import json
import sys
from pathlib import Path

from crimeviz import config


# Feature packages that register their own subcommands with ``add_subcommands(subparsers)``.
FEATURE_COMMANDS = {
    "streetview": ("crimeviz.streetview.cli", "street-level imagery: DevianceNet scores and training"),
}


class CommandError(Exception):
    """A command that cannot go ahead; printed as one line, exit status 2."""


def _db_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=None,
                        help=f"DuckDB file (default: $CRIMEVIZ_DB or {config.db_path()})")


def cmd_db_build(args) -> int:
    from crimeviz import db
    con = db.open_store(args.db)
    print(json.dumps({"db": str(args.db or config.db_path()), "incidents": db.incident_count(con)}))
    return 0


def cmd_import(args) -> int:
    from crimeviz import db, importer
    mapping = importer.parse_mapping(args.mapping)
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    con = db.connect(args.db)
    result = importer.import_file(con, path, mapping, args.date_format, args.source, args.reject_dir)
    print(json.dumps(result.summary(), default=str))
    return 0


def cmd_toronto_convert(args) -> int:
    from crimeviz import toronto
    frame, counts = toronto.convert(args.source)
    toronto.write_parquet(frame, args.out)
    print(json.dumps(counts))
    return 0


def cmd_bench_map(args) -> int:
    from crimeviz import bench
    print(json.dumps(bench.bench_map(args.db, args.rows, args.repeats), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m crimeviz", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    p = dbsub.add_parser("build", help="create the store and load the embedded Toronto data if empty")
    _db_arg(p)
    p.set_defaults(func=cmd_db_build)

    p = sub.add_parser("import", help="import incidents from a CSV or Parquet file")
    p.add_argument("file")
    p.add_argument("--mapping", required=True,
                   help="lat=COL,lon=COL,occurred_at=COL,offence=COL[,premises=COL,neighbourhood=COL]")
    p.add_argument("--date-format", default=None, help="strftime format of occurred_at (default: detect)")
    p.add_argument("--source", default=None, help="source name stored with the rows (default: file name)")
    p.add_argument("--reject-dir", type=Path, default=None, help="where to write rejected rows (default: beside FILE)")
    _db_arg(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("toronto", help="the embedded Toronto data")
    tsub = p.add_subparsers(dest="toronto_command", required=True)
    p = tsub.add_parser("convert", help="rebuild data/toronto_mci.parquet from the PyPI package's CSVs")
    p.add_argument("--source", type=Path, required=True, help="folder with train.csv and test.csv")
    p.add_argument("--out", type=Path, default=config.TORONTO_PARQUET)
    _db_arg(p)
    p.set_defaults(func=cmd_toronto_convert)

    p = sub.add_parser("bench", help="benchmarks (JSON on stdout)")
    bsub = p.add_subparsers(dest="bench_command", required=True)
    p = bsub.add_parser("map", help="the Map page's H3 aggregation vs direct DuckDB SQL")
    p.add_argument("--rows", type=int, default=10_000_000, help="rows of the synthetic large table")
    p.add_argument("--repeats", type=int, default=7)
    _db_arg(p)
    p.set_defaults(func=cmd_bench_map)

    for name, (module, help_text) in FEATURE_COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        importlib.import_module(module).add_subcommands(p.add_subparsers(dest=f"{name}_command", required=True))
    return parser


def main(argv=None) -> int:
    from crimeviz.db import StoreUnavailable
    from crimeviz.importer import ImportFailed
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CommandError, ImportFailed, StoreUnavailable, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
