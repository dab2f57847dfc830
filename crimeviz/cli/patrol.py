"""``python -m crimeviz patrol …``: build, list, approve, export, review and benchmark patrol plans.

The main CLI registers these through :func:`add_subcommands`. Every command prints
JSON (``export`` writes a file and prints where) and takes ``--db`` (default
``$CRIMEVIZ_DB`` or ``data/crimeviz.duckdb``). Commands that change plans (``build``,
``approve``, ``reopen``) sign in with ``--user`` and need the ``patrol`` permission
(commander or admin); the plan records that user. ``approve`` follows the four-eyes rule
unless ``$CRIMEVIZ_FOUR_EYES`` turns it off: whoever created or saved a plan cannot approve it.
"""

import argparse
import json
from datetime import date, timedelta
from pathlib import Path

from crimeviz.cli.common import CommandError, authorised, db_arg, incident_store, user_args
from crimeviz.patrol.risk import HISTORICAL, SHIFTS, Shift


def _pair(text: str) -> tuple[str, float]:
    """``OFFENCE=NUMBER`` for ``--weight``."""
    name, _, value = text.rpartition("=")
    try:
        if not name.strip():
            raise ValueError(text)
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected OFFENCE=NUMBER, got {text!r}") from None


def _plan_args(parser: argparse.ArgumentParser, date_help: str | None) -> None:
    """Plan settings; ``--date`` only where ``date_help`` says what it defaults to."""
    if date_help:
        parser.add_argument("--date", type=date.fromisoformat, default=None, help=date_help)
    parser.add_argument(
        "--shift",
        choices=sorted(SHIFTS),
        default="evening",
        help="day 07–15, evening 15–23, night 23–07 (default: %(default)s)",
    )
    parser.add_argument("--shift-start", type=int, default=None, help="override the shift's first hour (0–23)")
    parser.add_argument("--shift-hours", type=int, default=None, help="override the shift's length in hours")
    parser.add_argument("--res", type=int, choices=(8, 9), default=9, help="H3 resolution (default: %(default)s)")
    parser.add_argument("--units", type=int, default=10, help="patrol units (default: %(default)s)")
    parser.add_argument(
        "--patrol-minutes", type=float, default=240.0, help="patrol time per unit (default: %(default)s)"
    )
    parser.add_argument(
        "--minutes-per-cell",
        type=float,
        default=None,
        help="time spent in each cell (default: 15 at resolution 9, 40 at 8)",
    )
    parser.add_argument(
        "--speed-kmh", type=float, default=20.0, help="travel speed between cells (default: %(default)s)"
    )
    parser.add_argument("--max-cells", type=int, default=20, help="cells per unit at most (default: %(default)s)")
    parser.add_argument("--max-area-km2", type=float, default=None, help="area per unit at most (default: no limit)")
    parser.add_argument(
        "--weight",
        type=_pair,
        action="append",
        default=[],
        metavar="OFFENCE=W",
        help="priority of an offence (default 1; 0 leaves it out); repeatable",
    )
    parser.add_argument(
        "--exclude", action="append", default=[], metavar="CELL", help="H3 cell (hex) no unit may patrol; repeatable"
    )
    parser.add_argument(
        "--source", default=HISTORICAL, help="risk source: historical or forecast:<method> (default: %(default)s)"
    )
    parser.add_argument("--area-layer", default=None, help="area layer the plan keeps to (see `areas list`)")
    parser.add_argument(
        "--area", action="append", default=[], metavar="NAME", help="patrol only in this area of the layer; repeatable"
    )
    parser.add_argument(
        "--one-area-per-unit",
        action="store_true",
        help="each unit's beat stays inside one area of the layer (its official beat)",
    )


def _params(args, day: date):
    from crimeviz.patrol.plan import PlanParams

    base = SHIFTS[args.shift]
    shift = Shift(
        base.name,
        base.start if args.shift_start is None else args.shift_start,
        base.hours if args.shift_hours is None else args.shift_hours,
    )
    return PlanParams(
        day,
        shift,
        args.res,
        args.units,
        args.patrol_minutes,
        args.minutes_per_cell,
        args.speed_kmh,
        args.max_cells,
        args.max_area_km2,
        tuple(sorted(args.weight)),
        tuple(args.exclude),
        args.source,
        args.area_layer,
        tuple(args.area),
        args.one_area_per_unit,
    )


def _last_day(con) -> date:
    from crimeviz.store.queries import options

    return options(con)["last_date"]


def _plan_json(plan) -> dict:
    units = plan.units_frame().round(4).to_dict(orient="records")
    for row, beat in zip(units, plan.beats):
        row["route"] = list(beat.cells)
    return {**plan.summary(), "beats": units}


def cmd_build(args) -> int:
    from crimeviz.patrol import store
    from crimeviz.patrol.plan import build_plan

    con = incident_store(args.db)
    user = authorised(con, args, "patrol")
    params = _params(args, args.date or _last_day(con) + timedelta(days=1))
    plan = store.save_plan(con, build_plan(con, params, user.username), user.username)
    print(json.dumps(_plan_json(plan), default=str))
    return 0


def cmd_list(args) -> int:
    from crimeviz.patrol import store

    print(json.dumps(_records(store.list_plans(incident_store(args.db))), default=str))
    return 0


def cmd_status(args) -> int:
    from crimeviz import config
    from crimeviz.patrol import store

    con = incident_store(args.db)
    by = authorised(con, args, "patrol").username
    plan = store.set_status(con, args.plan_id, args.status, by, four_eyes=config.four_eyes())
    print(json.dumps(plan.summary(), default=str))
    return 0


def cmd_export(args) -> int:
    from crimeviz.patrol import export, store
    from crimeviz.store import audit, grid, queries

    con = incident_store(args.db)
    user = authorised(con, args, "patrol")
    plan = store.load_plan(con, args.plan_id)
    fmt = args.format or args.out.suffix.lstrip(".").lower()
    if fmt not in ("pdf", "csv"):
        raise CommandError(f"export writes pdf or csv; give --format or an --out ending in .pdf/.csv, not {args.out}")
    names = queries.neighbourhood_names(con, plan.params.res)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "pdf":
        args.out.write_bytes(export.plan_pdf(plan, names, grid.to_hex(queries.study_cells(con, 7))))
    else:
        args.out.write_text(export.plan_csv(plan, names), encoding="utf-8", newline="")
    audit.record(
        con, user.username, "patrol.export", "patrol_plan", plan.plan_id, {"format": fmt, "out": str(args.out)}
    )
    print(json.dumps({"plan_id": plan.plan_id, "format": fmt, "out": str(args.out), "bytes": args.out.stat().st_size}))
    return 0


def _records(frame) -> list[dict]:
    """Rows as JSON-ready dicts (days as YYYY-MM-DD, floats to 4 decimals)."""
    if "day" in frame:
        frame = frame.assign(day=frame["day"].astype(str))
    return json.loads(frame.to_json(orient="records", date_format="iso", double_precision=4))


def cmd_review(args) -> int:
    from crimeviz.patrol import review, store

    con = incident_store(args.db)
    if args.plan_id is not None:
        plan = store.load_plan(con, args.plan_id)
        print(json.dumps({"plan_id": plan.plan_id, "rows": _records(review.review_plan(con, plan))}))
        return 0
    if args.start is None:
        raise CommandError("give --plan ID, or --start (and --end) to review plans built for past dates")
    template = _params(args, args.start)
    daily = review.review_period(con, template, args.start, args.end or args.start)
    out = {
        "start": args.start.isoformat(),
        "end": (args.end or args.start).isoformat(),
        "summary": _records(review.period_summary(daily)),
    }
    if args.daily:
        out["days"] = _records(daily)
    print(json.dumps(out))
    return 0


def cmd_bench(args) -> int:
    from crimeviz.bench.patrol import bench_build

    con = incident_store(args.db)
    params = _params(args, args.date or _last_day(con))
    print(json.dumps(bench_build(con, params, args.repeats), indent=2))
    return 0


def add_subcommands(subparsers) -> None:
    """Register ``build``, ``list``, ``approve``, ``reopen``, ``export``, ``review`` and ``bench``."""
    p = subparsers.add_parser("build", help="make and save a draft plan (JSON)")
    _plan_args(p, "plan date (default: the day after the last stored incident)")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_build)

    p = subparsers.add_parser("list", help="saved plans (JSON)")
    db_arg(p)
    p.set_defaults(func=cmd_list)

    for name, status, text in (
        ("approve", "approved", "approve a saved plan"),
        ("reopen", "draft", "reopen an approved plan as a draft"),
    ):
        p = subparsers.add_parser(name, help=text)
        p.add_argument("plan_id", type=int)
        db_arg(p)
        user_args(p)
        p.set_defaults(func=cmd_status, status=status)

    p = subparsers.add_parser("export", help="write a saved plan as a printable PDF or a CSV of its stops")
    p.add_argument("plan_id", type=int)
    p.add_argument("--out", type=Path, required=True, help="file to write (.pdf or .csv)")
    p.add_argument("--format", choices=("pdf", "csv"), default=None, help="default: from --out's suffix")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_export)

    p = subparsers.add_parser("review", help="coverage of what happened: a saved plan, or plans over past dates")
    p.add_argument("--plan", dest="plan_id", type=int, default=None, help="a saved plan whose shift is over")
    p.add_argument("--start", type=date.fromisoformat, default=None, help="first day to build and review plans for")
    p.add_argument("--end", type=date.fromisoformat, default=None, help="last day (default: --start)")
    p.add_argument("--daily", action="store_true", help="also print one row per day and selection")
    _plan_args(p, None)
    db_arg(p)
    p.set_defaults(func=cmd_review)

    p = subparsers.add_parser("bench", help="build time of a city-wide plan and its coverage vs top-k (JSON)")
    _plan_args(p, "plan date (default: the last stored day, so the plan can be reviewed)")
    p.set_defaults(units=20, res=9)
    p.add_argument("--repeats", type=int, default=5)
    db_arg(p)
    p.set_defaults(func=cmd_bench)
