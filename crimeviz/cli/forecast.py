"""``python -m crimeviz forecast {train,evaluate,predict,bench}``.

The main CLI registers these with :func:`add_subcommands` and calls
``args.func(args)``, which returns the exit code. :func:`main` runs them alone.
"""

import argparse
import json
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import torch

from crimeviz import config
from crimeviz.forecast import bootstrap, checkpoint
from crimeviz.forecast.frames import ALL, offences
from crimeviz.forecast.predict import METHODS
from crimeviz.forecast.protocol import PROTOCOL
from crimeviz.store import db


def add_subcommands(subparsers) -> None:
    """Register ``train``, ``evaluate``, ``predict`` and ``bench`` on an ``add_subparsers()`` object."""
    train = subparsers.add_parser("train", help="train CDNA and write a checkpoint")
    _common(train)
    train.add_argument(
        "--out",
        type=Path,
        default=checkpoint.DEFAULT_CHECKPOINT,
        help="checkpoint to write (default: the committed one)",
    )
    train.add_argument("--res", type=int, default=8, help="H3 resolution (7, 8 or 9)")
    train.add_argument("--epochs", type=int, help="epochs (default from TrainConfig)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--start", type=date.fromisoformat, help="first day of history (default: first stored)")
    train.add_argument("--train-end", type=date.fromisoformat, default=PROTOCOL.train_end)
    train.add_argument("--val-start", type=date.fromisoformat, default=PROTOCOL.val_start)
    train.add_argument("--val-end", type=date.fromisoformat, default=PROTOCOL.val_end)
    train.add_argument(
        "--grid-end", type=date.fromisoformat, help="grid: cells with an incident up to this day (default: --train-end)"
    )
    train.add_argument("--burn-in", type=int, help="days of history before the first training target")
    train.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    train.set_defaults(func=run_train)

    evaluate = subparsers.add_parser("evaluate", help="backtest CDNA and the baselines over a period")
    _common(evaluate)
    evaluate.add_argument("--start", type=date.fromisoformat, default=PROTOCOL.test_start)
    evaluate.add_argument("--end", type=date.fromisoformat, default=PROTOCOL.test_end)
    evaluate.add_argument("--json", type=Path, help="write the full report here")
    evaluate.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, from: {', '.join(METHODS)}")
    evaluate.add_argument(
        "--groups", default=ALL, help="comma-separated offence groups ('all' or offence names), or 'each'"
    )
    evaluate.add_argument("--checkpoint", type=Path, default=checkpoint.DEFAULT_CHECKPOINT)
    evaluate.add_argument(
        "--train-end",
        type=date.fromisoformat,
        default=PROTOCOL.train_end,
        help="end of the training period (valid area, SEPP fit)",
    )
    evaluate.add_argument(
        "--tune",
        action="store_true",
        help="choose kernel, ProMap and self-exciting settings and the ensemble's weights on the validation year "
        "instead of the defaults",
    )
    evaluate.add_argument(
        "--shifts",
        default="none",
        help="also backtest shifts: 'none', 'each' (the configured shifts, $CRIMEVIZ_SHIFTS) or comma-separated names",
    )
    evaluate.add_argument(
        "--resamples", type=int, default=2000, help="paired bootstrap resamples of the days (at least 1000)"
    )
    evaluate.set_defaults(func=run_evaluate)

    predict = subparsers.add_parser("predict", help="one day's hotspot forecast over the store's grid (JSON)")
    _common(predict)
    predict.add_argument("--date", type=date.fromisoformat, required=True, help="the day to forecast (YYYY-MM-DD)")
    predict.add_argument("--method", default="cdna", help=f"one of: {', '.join(METHODS)}")
    predict.add_argument("--group", default=ALL, help="'all' or an offence name")
    predict.add_argument("--res", type=int, default=8, help="H3 resolution (7, 8 or 9)")
    predict.add_argument("--shift", help="forecast one shift of the day (a name from $CRIMEVIZ_SHIFTS)")
    predict.add_argument("--checkpoint", type=Path, help="CDNA checkpoint (default: the app's)")
    predict.add_argument("--json", type=Path, help="write the forecast here (default: standard output)")
    predict.set_defaults(func=run_predict)

    bench = subparsers.add_parser("bench", help="time next-day inference and training (JSON)")
    _common(bench)
    bench.add_argument("--checkpoint", type=Path, default=checkpoint.DEFAULT_CHECKPOINT)
    bench.add_argument("--repeats", type=int, default=20)
    bench.add_argument("--train-batches", type=int, default=5)
    bench.set_defaults(func=run_bench)


def _common(parser) -> None:
    from crimeviz.cli.common import db_arg

    db_arg(parser, "DuckDB incident store")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _open(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    path = Path(args.db or config.db_path())
    return db.connect(path, read_only=True) if path.exists() else db.open_store(path)


def run_train(args) -> int:
    from crimeviz.forecast.train import TrainConfig, train

    overrides = {
        "res": args.res,
        "seed": args.seed,
        "start": args.start,
        "train_end": args.train_end,
        "val_start": args.val_start,
        "val_end": args.val_end,
        "grid_end": args.grid_end,
    }
    overrides |= {k: v for k, v in (("epochs", args.epochs), ("burn_in", args.burn_in)) if v is not None}
    con = _open(args)
    forecaster = train(con, replace(TrainConfig(), **overrides), args.out, progress=not args.quiet, on=args.device)
    validation = forecaster.meta["metrics"]["validation"][ALL]
    print(
        json.dumps(
            {
                "checkpoint": str(args.out),
                "best_epoch": forecaster.meta["training"]["best_epoch"],
                "seconds": forecaster.meta["training"]["seconds"],
                "validation_pai": {k: v["mean"] for k, v in validation["pai"].items()},
            },
            indent=2,
        )
    )
    return 0


def run_evaluate(args) -> int:
    from crimeviz.forecast.evaluate import backtest
    from crimeviz.forecast.protocol import Protocol

    con = _open(args)
    groups = [ALL, *offences(con)] if args.groups == "each" else args.groups.split(",")
    methods = args.methods.split(",")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        print(f"unknown methods: {', '.join(unknown)}", file=sys.stderr)
        return 2
    if args.resamples < 1000:
        print("--resamples must be at least 1000", file=sys.stderr)
        return 2
    try:
        shift_list = _shifts(args.shifts)
    except ValueError as exc:
        print(f"shifts: {exc}", file=sys.stderr)
        return 2
    protocol = replace(Protocol(), train_end=args.train_end)
    report = backtest(
        con,
        args.start,
        args.end,
        methods,
        groups,
        checkpoint_path=args.checkpoint,
        protocol=protocol,
        tune=args.tune,
        progress=not args.quiet,
        shift_list=shift_list,
        resamples=args.resamples,
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    print(summary_table(report))
    return 0


def _shifts(text: str):
    from crimeviz.forecast import shifts

    if text == "none":
        return ()
    if text == "each":
        return shifts.configured()
    return tuple(shifts.by_name(name.strip()) for name in text.split(","))


def summary_table(report: dict) -> str:
    """Mean daily PAI per method and coverage, one block per offence group."""
    lines = []
    for group, result in report["groups"].items():
        coverages = list(next(iter(result["methods"].values()))["pai"])
        lines.append(f"PAI (mean over days), {group}, {report['protocol']['period']}")
        lines.append(f"{'method':16s}" + "".join(f"{c:>8s}" for c in coverages))
        rows = result["methods"] | {"(oracle)": result["diagnostics"]["oracle_static"]}
        for method, r in rows.items():
            lines.append(f"{method:16s}" + "".join(f"{r['pai'][c]['mean']:8.2f}" for c in coverages))
        if "bootstrap" in result:
            lines += [bootstrap.verdict(result["bootstrap"], m) for m in result["methods"] if bootstrap.learned(m)]
        lines.append("")
    for shift in report.get("shifts", {}).values():
        lines.append(summary_table({"protocol": report["protocol"] | {"period": f"{shift['label']} shifts"}} | shift))
    return "\n".join(lines)


def run_predict(args) -> int:
    from crimeviz.forecast.predict import forecast_json

    if args.method not in METHODS:
        raise ValueError(f"unknown method {args.method!r}; choose one of {', '.join(METHODS)}")
    report = forecast_json(_open(args), args.date, args.method, args.group, args.res, args.checkpoint, args.shift)
    if report.get("warning"):
        print(f"warning: {report['warning']}", file=sys.stderr)
    text = json.dumps(report, indent=1)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    else:
        print(text)
    return 0


def run_bench(args) -> int:
    from crimeviz.bench.forecast import bench

    print(json.dumps(bench(_open(args), args.checkpoint, args.repeats, args.train_batches), indent=2))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="crimeviz forecast", description=__doc__)
    add_subcommands(parser.add_subparsers(dest="forecast_command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
