"""``python -m crimeviz analyze …``: analyst methods on the incident store.

``near-repeat`` runs the Knox test of Ratcliffe's Near Repeat Calculator for one offence and
period and prints the table (JSON). ``--json OUT`` writes the full report, with the near-repeat
chains (incident ids); as an export it signs in with ``--user`` (analyst or above) and is audited.
"""

import argparse
import json
import time
from datetime import date
from pathlib import Path

from crimeviz.cli.common import authorised, db_arg, incident_store, user_args


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} must be a date as YYYY-MM-DD, not {text!r}") from None


def add_near_repeat_arguments(parser: argparse.ArgumentParser) -> None:
    """Offence, period, bands, permutations and seed (``bench analyze`` takes them too)."""
    parser.add_argument("--distance-bands", default="0,100,200,400", help="edges in metres, bands [a, b)")
    parser.add_argument("--time-bands", default="0,7,14,28", help="edges in whole days, bands [a, b)")
    parser.add_argument("--permutations", type=int, default=99, help="Monte-Carlo permutations (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the permutations (default: random)")
    db_arg(parser)


def cmd_near_repeat(args) -> int:
    from crimeviz.explore import near_repeat

    start, end = _day(args.start, "--start"), _day(args.end, "--end")
    distance_bands = near_repeat.parse_bands(args.distance_bands, "distance")
    time_bands = near_repeat.parse_bands(args.time_bands, "time")
    con = incident_store(args.db)
    user = authorised(con, args, "incidents") if args.json else None
    t0 = time.perf_counter()
    result, _ = near_repeat.for_offence(
        con, args.offence, start, end, distance_bands, time_bands, args.permutations, args.seed
    )
    report = near_repeat.report(result, args.offence, start, end)
    summary = {k: v for k, v in report.items() if k != "chains"}
    summary |= {"chains": len(result.chains), "seconds": round(time.perf_counter() - t0, 3)}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(near_repeat.export_json(con, user.username, report), encoding="utf-8")
        summary["out"] = str(args.json)
    print(json.dumps(summary, indent=1))
    return 0


def cmd_bench(args) -> int:
    from crimeviz.bench import analyze as bench

    print(json.dumps(bench.bench_near_repeat(incident_store(args.db), args), indent=2))
    return 0


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """``bench analyze``: a year of the commonest offence, against brute force on the same data."""
    parser.add_argument("--year", type=int, default=None, help="default: the last full year in the store")
    parser.add_argument(
        "--baseline-permutations",
        type=int,
        default=9,
        help="permutations both methods run for the timed comparison (default: %(default)s)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    add_near_repeat_arguments(parser)
    parser.set_defaults(func=cmd_bench)


def add_subcommands(sub) -> None:
    p = sub.add_parser("near-repeat", help="Knox near-repeat test (Ratcliffe's Near Repeat Calculator)")
    p.add_argument("--offence", required=True)
    p.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    p.add_argument("--end", required=True, help="last day (inclusive), YYYY-MM-DD")
    p.add_argument("--json", type=Path, default=None, help="write the report with the chains here (export: --user)")
    add_near_repeat_arguments(p)
    user_args(p)
    p.set_defaults(func=cmd_near_repeat)
