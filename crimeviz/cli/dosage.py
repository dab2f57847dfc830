"""``python -m crimeviz dosage …``: patrol dosage from AVL/GPS pings.

``import`` loads a CSV or Parquet file of pings (unit, time, lat, lon; the ``data`` permission);
``synth`` makes synthetic pings from an approved plan, stored as source ``synthetic:plan-ID`` (for
tests and demonstrations; the ``data`` permission); ``report`` writes minutes per cell, area and shift,
dosage vs crime, visits vs the approved plans and dwell times (the ``patrol`` permission, audited as
an export). See ``crimeviz.patrol.dosage`` for the gap and speed filters.
"""

import json
from datetime import date
from pathlib import Path

from crimeviz.cli.common import CommandError, authorised, db_arg, incident_store, user_args


def cmd_import(args) -> int:
    from crimeviz.store import avl, db, importer

    if not args.file.is_file():
        raise CommandError(f"{args.file}: no such file")
    mapping = avl.parse_mapping(args.mapping) if args.mapping else None
    con = db.connect(args.db)
    user = authorised(con, args, "data")
    try:
        result = avl.import_file(
            con, args.file, mapping, user.username, args.date_format, args.source, args.reject_dir, args.timezone
        )
    except importer.ImportFailed as exc:
        if exc.reject_file is None:
            raise
        raise CommandError(f"{exc} in {Path(exc.reject_file).parent}") from None
    print(json.dumps(result.summary(), default=str))
    return 0


def cmd_synth(args) -> int:
    from crimeviz.patrol import dosage
    from crimeviz.patrol import store as plans
    from crimeviz.patrol.risk import PlanError
    from crimeviz.store import avl, db

    con = db.connect(args.db)
    user = authorised(con, args, "data")
    try:
        plan = plans.load_plan(con, args.plan)
    except PlanError as exc:
        raise CommandError(str(exc)) from None
    if plan.status != "approved":
        raise CommandError(f"plan {args.plan} is a draft: synthetic pings are made from approved plans only")
    pings = dosage.synthetic_pings(plan, args.seed)
    source = dosage.synthetic_source(plan.plan_id)
    loaded = avl.save_synthetic(con, pings, source, user.username, {"plan": plan.plan_id, "seed": args.seed})
    print(
        json.dumps(
            {"synthetic": True, "source": source, "plan": plan.plan_id, "units": len(plan.beats), "loaded": loaded}
        )
    )
    return 0


def cmd_report(args) -> int:
    from crimeviz.patrol import dosage
    from crimeviz.store import audit

    con = incident_store(args.db)
    user = authorised(con, args, "patrol")
    settings = dosage.Settings(args.res, args.max_gap_min, args.max_speed_kmh)
    result = dosage.report(con, args.start, args.end, settings, args.layer)
    out = result.to_json()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    audit.record(
        con,
        user.username,
        "dosage.export",
        "dosage_report",
        f"{args.start}..{args.end}",
        {"layer": args.layer, "res": args.res, "out": args.json, "synthetic": result.synthetic},
    )
    print(json.dumps({**result.summary(), "out": str(args.json)}))
    return 0


def cmd_bench(args) -> int:
    from crimeviz.bench import dosage as bench

    print(json.dumps(bench.bench_dosage(args.units, args.pings_per_unit, args.repeats), indent=2))
    return 0


def add_subcommands(subparsers) -> None:
    from crimeviz.patrol import dosage

    p = subparsers.add_parser("import", help="import AVL/GPS pings (unit, time, lat, lon) from CSV or Parquet (admin)")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--mapping",
        default=None,
        help="unit=COL,time=COL,lat=COL,lon=COL (default: guessed from the column names)",
    )
    p.add_argument("--date-format", default=None, help="strftime format of the time (default: detected)")
    p.add_argument("--timezone", default=None, help="zone UTC offsets are converted to (default: the store's)")
    p.add_argument("--source", default=None, help="source name stored with the pings (default: file name)")
    p.add_argument("--reject-dir", type=Path, default=None, help="where to write rejected rows (default: beside FILE)")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_import)

    p = subparsers.add_parser(
        "synth", help="synthetic pings following an approved plan's beats, labelled synthetic (tests, demos)"
    )
    p.add_argument("--plan", type=int, required=True, help="an approved plan's id")
    p.add_argument("--seed", type=int, default=0)
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_synth)

    p = subparsers.add_parser("report", help="dosage vs crime, per area and shift, vs plans, dwell times (JSON file)")
    p.add_argument("--start", type=date.fromisoformat, required=True, help="first day")
    p.add_argument("--end", type=date.fromisoformat, required=True, help="last day (inclusive)")
    p.add_argument("--layer", default=None, help="an area layer for minutes per area and shift")
    p.add_argument("--res", type=int, choices=(7, 8, 9), default=9, help="H3 resolution (default: %(default)s)")
    p.add_argument(
        "--max-gap-min",
        type=float,
        default=dosage.MAX_GAP_MIN,
        help="longer gaps between fixes count as not present (default: %(default)s)",
    )
    p.add_argument(
        "--max-speed-kmh",
        type=float,
        default=dosage.MAX_SPEED_KMH,
        help="fixes implying a faster move are dropped as bad (default: %(default)s)",
    )
    p.add_argument("--json", type=Path, required=True, help="where to write the report")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_report)

    p = subparsers.add_parser("bench", help="time the report and its bad-fix filter on synthetic tracks (JSON)")
    p.add_argument("--units", type=int, default=50)
    p.add_argument("--pings-per-unit", type=int, default=20_000, help="a fix every 30 s (default: about a week)")
    p.add_argument("--repeats", type=int, default=3)
    p.set_defaults(func=cmd_bench)
