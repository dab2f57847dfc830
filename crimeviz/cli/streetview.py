"""``python -m crimeviz streetview …``: score, install, label, train and benchmark DevianceNet.

The main CLI registers these through :func:`add_subcommands`. DIR is a folder of
sequences (official layout, or folders of images with EXIF GPS) or a zip of them.
Every command prints JSON on stdout (what packages print while loading models goes to
stderr) and takes ``--db`` (default ``$CRIMEVIZ_DB`` or ``data/crimeviz.duckdb``);
``score``, which writes to the store, signs in with ``--user`` and needs the
``streetview`` permission; ``install``, which offers a model to every user, needs ``models``
(administrators), and ``train`` does not write into the installed folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from contextlib import redirect_stdout
from datetime import date
from pathlib import Path

from crimeviz.streetview.labels import METHODS, REFERENCES, LabelRule


def _rule_args(parser: argparse.ArgumentParser) -> None:
    defaults = LabelRule()
    parser.add_argument(
        "--method",
        choices=METHODS,
        default=defaults.method,
        help="count incidents within a radius, or in an H3 k-ring (default: %(default)s)",
    )
    parser.add_argument(
        "--radius-m", type=float, default=defaults.radius_m, help="radius in metres (default: %(default)s)"
    )
    parser.add_argument(
        "--res",
        type=int,
        default=defaults.res,
        choices=(7, 8, 9),
        help="H3 resolution of the k-ring and of the reference cells (default: %(default)s)",
    )
    parser.add_argument("--k", type=int, default=defaults.k, help="k-ring size (default: %(default)s)")
    parser.add_argument(
        "--reference",
        choices=REFERENCES,
        default=defaults.reference,
        help="quintiles over all cells with incidents, or over the labelled points (default: %(default)s)",
    )
    parser.add_argument("--start", type=date.fromisoformat, default=None, help="first incident date (YYYY-MM-DD)")
    parser.add_argument("--end", type=date.fromisoformat, default=None, help="last incident date (YYYY-MM-DD)")


def _rule(args) -> LabelRule:
    return LabelRule(args.method, args.radius_m, args.res, args.k, args.reference, args.start, args.end)


def cmd_score(args) -> int:
    from crimeviz.cli.common import authorised
    from crimeviz.store import db
    from crimeviz.streetview import checkpoints, scoring, uploads

    with uploads.sequences_in(args.dir, args.dir.stem) as found, redirect_stdout(sys.stderr):
        con = db.connect(args.db)
        user = authorised(con, args, "streetview")
        model = checkpoints.load(args.weights, args.variant)
        scored = scoring.score_sequences(con, model, found, user.username)
    print(
        json.dumps(
            {
                "scored": len(scored),
                "model": model.name,
                "checkpoint_sha256": model.sha256,
                "classes": dict(sorted(Counter(str(s.sea_class) for *_, s in scored).items())),
            }
        )
    )
    return 0


def cmd_install(args) -> int:
    from crimeviz.cli.common import CommandError, authorised
    from crimeviz.store import db
    from crimeviz.streetview import checkpoints

    if not args.weights.is_file():
        raise CommandError(f"{args.weights.name}: no such checkpoint file")
    with redirect_stdout(sys.stderr):
        con = db.connect(args.db)
        added = checkpoints.install(con, authorised(con, args, "models"), args.weights.name, args.weights.read_bytes())
    print(json.dumps({"installed": added.path.name, "model": added.name, "checkpoint_sha256": added.sha256}))
    return 0


def cmd_label(args) -> int:
    from crimeviz.cli.common import incident_store
    from crimeviz.store import safe_csv
    from crimeviz.streetview import uploads
    from crimeviz.streetview.labels import label_sequences

    rule = _rule(args)
    with uploads.sequences_in(args.dir, args.dir.stem) as found:
        labels = label_sequences(incident_store(args.db), found, rule)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(safe_csv.to_csv_bytes(labels.table.assign(rule=labels.describe())))
    counts = labels.table["sea_class"].value_counts().sort_index()
    print(
        json.dumps(
            {
                "sequences": len(labels.table),
                "out": str(args.out),
                "rule": labels.describe(),
                "thresholds": labels.thresholds,
                "classes": {str(k): int(n) for k, n in counts.items()},
            }
        )
    )
    return 0


def cmd_train(args) -> int:
    from crimeviz.cli.common import CommandError, incident_store
    from crimeviz.store import safe_csv
    from crimeviz.streetview import checkpoints, training, uploads

    if args.out.resolve().parent == checkpoints.weights_dir().resolve():
        raise CommandError(
            "models in the installed folder are offered to every user: write --out elsewhere, then an "
            "administrator runs `streetview install OUT --user NAME`"
        )
    with uploads.sequences_in(args.dir, args.dir.stem) as found, redirect_stdout(sys.stderr):
        if args.labels in ("names", "incidents"):
            con = incident_store(args.db) if args.labels == "incidents" else None
            classes, described = training.classes_for(found, args.labels, con, _rule(args))
        else:
            csv = Path(args.labels)
            if not csv.is_file():
                raise CommandError(f"{csv}: no such labels file (give names, incidents or a CSV path)")
            table = safe_csv.read_csv(csv)
            classes = training.classes_from_table(found, table)
            described = csv.name + (f": {table['rule'].iloc[0]}" if "rule" in table else "")
        record = training.train(
            found,
            classes,
            args.out,
            source=args.dir.name,
            labels=described,
            epochs=args.epochs,
            lr=args.lr,
            seed=args.seed,
            frames=args.frames,
            image_size=args.image_size,
        )
    print(json.dumps(record))
    return 0


def cmd_bench(args) -> int:
    from crimeviz.bench.streetview import bench_inference

    with redirect_stdout(sys.stderr):
        result = bench_inference(args.repeats)
    print(json.dumps(result, indent=2))
    return 0


def add_subcommands(subparsers) -> None:
    """Registers ``score``, ``install``, ``label``, ``train`` and ``bench`` on the ``streetview`` subparsers."""
    from crimeviz.cli.common import db_arg, user_args

    p = subparsers.add_parser("score", help="score every sequence in DIR and store the scores")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--weights", type=Path, required=True, help="official SEA/DIA .pth, or one from `train`")
    p.add_argument(
        "--variant",
        choices=("con", "lite"),
        default=None,
        help="expected checkpoint kind (default: recognised from the file)",
    )
    user_args(p)
    db_arg(p)
    p.set_defaults(func=cmd_score)

    p = subparsers.add_parser("install", help="install a checkpoint for every user (administrators; audited)")
    p.add_argument("weights", type=Path, metavar="W.pth", help="official SEA/DIA .pth, or one from `train`")
    user_args(p)
    db_arg(p)
    p.set_defaults(func=cmd_install)

    p = subparsers.add_parser("label", help="derive SEA classes 1-5 for DIR's sequences from nearby incidents")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--out", type=Path, required=True, help="CSV to write (sequence, lat, lon, incidents, sea_class)")
    _rule_args(p)
    db_arg(p)
    p.set_defaults(func=cmd_label)

    p = subparsers.add_parser("train", help="train the light CPU model on DIR's labelled sequences")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pth)")
    p.add_argument(
        "--labels",
        default="names",
        help="'names' (v_class<N> folders, default), 'incidents' (derive with the rule options) or a CSV from `label`",
    )
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frames", type=int, default=8, help="frames the light model samples per sequence")
    p.add_argument("--image-size", type=int, default=160, help="its input side in pixels, a multiple of 32")
    _rule_args(p)
    db_arg(p)
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("bench", help="CPU inference time for one 16-frame sequence, full and light model")
    p.add_argument("--repeats", type=int, default=3)
    db_arg(p)
    p.set_defaults(func=cmd_bench)
