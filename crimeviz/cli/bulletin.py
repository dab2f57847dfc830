"""``python -m crimeviz bulletin --date D --period 7 --out F.pdf --user U``: the printable CompStat-style brief.

An export: it signs in with ``--user`` (a role with the ``incidents`` permission), leaves out the
sections the role may not see (forecasts, CCTV reviews) and is audited (``bulletin.export``).
"""

import argparse
import json
import time
from datetime import date
from pathlib import Path

from crimeviz.cli.common import authorised, db_arg, incident_store, user_args


def cmd_bulletin(args) -> int:
    from crimeviz.bulletin import brief

    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        raise ValueError(f"--date must be a date as YYYY-MM-DD, not {args.date!r}") from None
    con = incident_store(args.db)
    user = authorised(con, args, "incidents")
    t0 = time.perf_counter()
    pdf, b = brief.export(con, user, day, args.period, args.forecast_method, args.layer)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(pdf)
    summary = {
        "out": str(args.out),
        "date": str(day),
        "period": args.period,
        "incidents": int(b.windows["current"].iloc[0]),
        "hot_spots": len(b.hot),
        "spike_cells": int(b.spike_cells["spike"].sum()),
        "forecast": None if b.forecast is None else b.forecast.attrs.get("method"),
        "cctv_alerts": None if b.cctv is None else len(b.cctv),
        "bytes": len(pdf),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    print(json.dumps(summary, indent=1))
    return 0


def add_command(sub) -> None:
    """Register ``bulletin`` on the top-level subparsers."""
    p: argparse.ArgumentParser = sub.add_parser("bulletin", help="printable CompStat-style bulletin (PDF)")
    p.add_argument("--date", required=True, help="last day of the bulletin's period, YYYY-MM-DD")
    p.add_argument("--period", type=int, default=7, help="days in the period (default: %(default)s)")
    p.add_argument("--out", type=Path, required=True, help="PDF file to write")
    p.add_argument(
        "--forecast-method",
        default="cdna",
        help="forecast of the next day (default: %(default)s; the 365-day moving count if it cannot run)",
    )
    p.add_argument(
        "--layer",
        default=None,
        help="area layer of the CompStat tables (default: the neighbourhoods recorded on the incidents)",
    )
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_bulletin)
