"""``python -m crimeviz analyze …``: analyst methods on the incident store.

``near-repeat`` runs the Knox test of Ratcliffe's Near Repeat Calculator for one offence and
period and prints the table (JSON). ``--json OUT`` writes the full report, with the near-repeat
chains (incident ids); as an export it signs in with ``--user`` (analyst or above) and is audited.
``emerging`` classifies H3 cells into Esri's emerging hot spot categories; ``spikes`` lists the cells
and areas whose last 7 days are improbably high against their 365-day rate. Both print a summary
(JSON) and write the full report with ``--json OUT`` (an audited export, like near-repeat's).
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


def _offence_filter(con, offences: list[str] | None, start: date, end: date):
    from crimeviz.store import counts
    from crimeviz.store.filters import IncidentFilter

    if offences:
        known = counts.offence_types(con)
        unknown = [o for o in offences if o not in known]
        if unknown:
            raise ValueError(f"no offence {unknown[0]!r} in the store; offences: {', '.join(known)}")
    return IncidentFilter(start, end, tuple(offences) if offences else None)


def _write(args, text_for) -> str:
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(text_for(), encoding="utf-8")
    return str(args.json)


def cmd_emerging(args) -> int:
    from crimeviz.explore import emerging

    start, end = _day(args.start, "--start"), _day(args.end, "--end")
    con = incident_store(args.db)
    user = authorised(con, args, "incidents") if args.json else None
    f = _offence_filter(con, args.offence, start, end)
    t0 = time.perf_counter()
    result = emerging.for_filter(con, f, args.res, args.slice, args.k, args.alpha)
    report = emerging.report(result, start, end, f.offences)
    summary = {k: v for k, v in report.items() if k not in ("cells", "slices")}
    summary |= {"slices": len(result.slices), "cells": len(result.cells), "seconds": round(time.perf_counter() - t0, 3)}
    if args.json:
        summary["out"] = _write(args, lambda: emerging.export_json(con, user.username, report))
    print(json.dumps(summary, indent=1))
    return 0


def cmd_spikes(args) -> int:
    from crimeviz.explore import spikes
    from crimeviz.store import areas

    day = _day(args.date, "--date")
    con = incident_store(args.db)
    user = authorised(con, args, "incidents") if args.json else None
    f = _offence_filter(con, args.offence, day, day)
    layer = args.layer
    if layer is None:
        names = areas.layer_names(con)
        layer = areas.DEFAULT_LAYER if areas.DEFAULT_LAYER in names else (names[0] if names else None)
    cells = spikes.cell_spikes(con, f, day, args.res, args.alpha, args.min_count)
    by_area = spikes.area_spikes(con, f, day, layer, args.alpha, args.min_count) if layer else None
    report = spikes.report(cells, by_area, day, args.res, layer, f.offences, args.alpha, args.min_count)
    summary = {k: v for k, v in report.items() if k not in ("cells", "areas")}
    summary |= {"cell_spikes": len(report["cells"]), "area_spikes": len(report.get("areas", []))}
    if args.json:
        summary["out"] = _write(args, lambda: spikes.export_json(con, user.username, report))
    print(json.dumps(summary, indent=1))
    return 0


def add_subcommands(sub) -> None:
    p = sub.add_parser("near-repeat", help="Knox near-repeat test (Ratcliffe's Near Repeat Calculator)")
    p.add_argument("--offence", required=True)
    p.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    p.add_argument("--end", required=True, help="last day (inclusive), YYYY-MM-DD")
    p.add_argument("--json", type=Path, default=None, help="write the report with the chains here (export: --user)")
    add_near_repeat_arguments(p)
    user_args(p)
    p.set_defaults(func=cmd_near_repeat)

    p = sub.add_parser("emerging", help="emerging hot spots (Esri's categories: Gi* per slice, Mann-Kendall trend)")
    p.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    p.add_argument("--end", required=True, help="last day (inclusive), YYYY-MM-DD")
    p.add_argument("--res", type=int, default=8, choices=(7, 8, 9), help="H3 resolution (default: %(default)s)")
    p.add_argument("--slice", default="week", choices=("week", "month"), help="time slice (default: %(default)s)")
    p.add_argument("--k", type=int, default=1, help="k-ring of the Gi* neighbourhood (default: %(default)s)")
    p.add_argument(
        "--alpha", type=float, default=0.05, help="false discovery rate and trend level (default: %(default)s)"
    )
    p.add_argument("--offence", action="append", default=None, help="only this offence (repeat for several)")
    p.add_argument("--json", type=Path, default=None, help="write the report with every cell here (export: --user)")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_emerging)

    p = sub.add_parser("spikes", help="cells and areas whose last 7 days are improbably high (Poisson, BH)")
    p.add_argument("--date", required=True, help="last day of the 7-day window, YYYY-MM-DD")
    p.add_argument("--res", type=int, default=8, choices=(7, 8, 9), help="H3 resolution (default: %(default)s)")
    p.add_argument("--layer", default=None, help="area layer (default: the derived neighbourhoods, if any)")
    p.add_argument("--alpha", type=float, default=0.05, help="false discovery rate (default: %(default)s)")
    p.add_argument("--min-count", type=int, default=3, help="fewest incidents a spike has (default: %(default)s)")
    p.add_argument("--offence", action="append", default=None, help="only this offence (repeat for several)")
    p.add_argument("--json", type=Path, default=None, help="write the report here (export: --user)")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_spikes)
