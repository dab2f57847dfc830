"""``python -m crimeviz cctv …``: score, train, evaluate, bench.

Registered by the main CLI with::

    p = sub.add_parser("cctv")
    crimeviz.cctv.cli.add_subcommands(p.add_subparsers(dest="cctv_command", required=True))

Every command prints JSON on stdout (what packages print while loading models goes
to stderr) and returns an exit status; bad input raises :class:`crimeviz.cli.CommandError`
or a ``ValueError`` (e.g. :class:`VideoError`), which the main CLI prints as one
``error: …`` line with exit status 2. Only ``score --camera`` writes to the store: it
signs in with ``--user`` and needs the ``cctv`` permission.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crimeviz import config
from crimeviz.files import file_sha256

DEFAULT_THRESHOLD = 0.5


def _common(parser: argparse.ArgumentParser, db_help: str = "DuckDB file") -> None:
    from crimeviz.cli.common import db_arg

    db_arg(parser, db_help)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for PyTorch (default 2)")


def _weights_arg(parser: argparse.ArgumentParser) -> None:
    from crimeviz.cctv import DEMO_WEIGHTS

    parser.add_argument(
        "--weights",
        type=Path,
        default=DEMO_WEIGHTS,
        help="CrimeViz MGFN checkpoint, or an official MGFN state dict for .npy features "
        f"(default: the demo model, {DEMO_WEIGHTS.relative_to(config.ROOT)})",
    )


def _i3d_args(parser: argparse.ArgumentParser, default: str = "") -> None:
    parser.add_argument(
        "--i3d-weights",
        type=Path,
        default=None,
        help="Kinetics-400 I3D ResNet-50 weights as the official extractor loads them (i3d_r50_kinetics.pth, "
        f"written by its utils/convert_weights.py, or the Caffe2 .pkl it converts) {default}".rstrip(),
    )


def _setup(args) -> None:
    import torch

    torch.set_num_threads(max(1, args.threads))


def _load_scorer(path: Path):
    from crimeviz.cctv.model import load_scorer

    return load_scorer(path)


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload) + "\n")


def _check_features(path: Path, shape: tuple[int, ...], scorer) -> None:
    """CommandError naming ``path`` when features of ``shape`` do not fit ``scorer``'s weights."""
    from crimeviz.cctv.features import check_feature_shape
    from crimeviz.cli.common import CommandError

    try:
        check_feature_shape(shape, scorer.model.feature_dim, f"the weights {scorer.version}")
    except ValueError as exc:
        raise CommandError(f"{path.name}: {exc}") from None


def cmd_score(args) -> int:
    """Scores a clip (or an .npy of precomputed features); optionally saves a report."""
    from crimeviz.cctv import evaluation, report, store, video
    from crimeviz.cctv.review import recording_start
    from crimeviz.cctv.scoring import alert_segments, frame_scores, score_clip
    from crimeviz.cli.common import CommandError, authorised

    _setup(args)
    if not 0 < args.threshold < 1:
        raise CommandError("--threshold must be between 0 and 1")
    start = recording_start(args.start or "")
    features = args.clip.suffix.lower() == ".npy"
    i3d = _check_i3d_args(args, features)
    if args.pdf and not args.camera:
        raise CommandError("--pdf writes the saved report: give --camera too")
    if args.camera and features:
        raise CommandError("reports need a video clip; .npy features have no frames to show")
    con = camera = user = None
    if args.camera:  # sign in and find the camera before spending time on the clip
        from crimeviz.store import db

        con = db.connect(args.db)
        user = authorised(con, args, "cctv")
        store.ensure_tables(con)
        camera = store.camera(con, name=args.camera)
        if camera is None:
            raise CommandError(f"no camera named {args.camera!r}; an administrator adds cameras on the CCTV page")
    limits = video.Limits(max_seconds=args.max_minutes * 60) if args.max_minutes else None
    if not features:
        video.probe(args.clip, limits)  # a clip that is no video fails before the model loads
    scorer = _load_scorer(args.weights)
    extraction = _i3d_extraction(args, scorer) if i3d else None
    if features:
        array = evaluation.load_features(args.clip)
        _check_features(args.clip, array.shape, scorer)
        snippet_scores = scorer.snippet_scores(array)
        scores = frame_scores(snippet_scores, 16 * len(snippet_scores), 16, smooth=False)
        segments = [s.to_dict(start) for s in alert_segments(scores, args.fps, args.threshold)]
        payload = {
            "clip": args.clip.name,
            "fps": args.fps,
            "n_frames": len(scores),
            "model": {"version": scorer.version, "label": scorer.label},
            "threshold": args.threshold,
            "segments": segments,
            "snippet_scores": snippet_scores.round(5).tolist(),
            "frame_scores": scores.round(5).tolist(),
            "timings": {},
        }
    else:
        result = score_clip(args.clip, scorer, limits) if not i3d else _score_i3d(args.clip, scorer, extraction, limits)
        payload = result.to_dict(args.threshold, start)
        if camera:
            record = report.build_report(
                result,
                camera,
                args.clip.name,
                file_sha256(args.clip),
                args.threshold,
                user.username,
                args.note,
                recording_start=start,
            )
            keyframes = report.keyframe_jpegs(result.info, [s["peak_frame"] for s in record["segments"]])
            record["report_id"] = payload["report_id"] = store.save_report(
                con, record, keyframes, result.features, scorer.spec and scorer.spec.to_dict()
            )
            if args.pdf:
                args.pdf.write_bytes(report.to_pdf(record, keyframes))
    if args.json:
        _write_json(args.json, payload)
    summary = {k: payload[k] for k in ("clip", "fps", "n_frames", "timings") if k in payload}
    summary.update(
        segments=len(payload["segments"]),
        peak=max(payload["frame_scores"]),
        model=payload["model"]["version"],
        report_id=payload.get("report_id"),
    )
    print(json.dumps(summary))
    return 0


def _check_i3d_args(args, features: bool) -> bool:
    """Whether ``score`` computes I3D features; CommandError for options that do not go together."""
    from crimeviz.cli.common import CommandError

    if args.features != "i3d":
        if args.i3d_weights or args.device != "cpu":
            raise CommandError("--i3d-weights and --device are used with --features i3d")
        return False
    _device(args.device)
    if features:
        raise CommandError("--features i3d computes features from a video clip; an .npy already holds features")
    if not args.i3d_weights:
        raise CommandError("--features i3d needs --i3d-weights FILE (the official extractor's i3d_r50_kinetics.pth)")
    return True


def _i3d_extraction(args, scorer) -> tuple:
    """(I3D feature extractor, its version) for ``score --features i3d``; one-line errors for unfit weights."""
    from crimeviz.cctv.i3d_features import I3DFeatureExtractor, check_official_mgfn, i3d_version, load_i3d

    check_official_mgfn(scorer)
    extractor = I3DFeatureExtractor(load_i3d(args.i3d_weights), args.crops, _device(args.device))
    return extractor, i3d_version(args.i3d_weights, args.crops)


def _device(name: str) -> str:
    """``name`` if PyTorch can run there (cpu, or cuda with a visible GPU); else CommandError."""
    import torch

    from crimeviz.cli.common import CommandError

    if name == "cpu" or (name.split(":")[0] == "cuda" and torch.cuda.is_available()):
        return name
    reason = "no CUDA GPU is visible to PyTorch here" if name.startswith("cuda") else "give cpu or cuda"
    raise CommandError(f"--device {name}: {reason}")


def _score_i3d(clip: Path, scorer, extraction: tuple, limits):
    from crimeviz.cctv.i3d_features import score_clip_i3d

    return score_clip_i3d(clip, scorer, *extraction, limits)


def cmd_bench_i3d(args) -> int:
    """Seconds per 16-frame snippet of I3D features, 1 and 10 crops, against CrimeViz's features."""
    from crimeviz.bench import cctv as bench
    from crimeviz.bench import i3d

    _setup(args)
    clip = args.clip or bench.default_clip()
    print(json.dumps(i3d.run(clip, args.snippets, args.threads, args.i3d_weights, _device(args.device)), indent=2))
    return 0


def cmd_train(args) -> int:
    """Trains the demo model on sample footage with injected anomalies."""
    from crimeviz.cctv import train
    from crimeviz.cli.common import CommandError

    _setup(args)
    source = args.source_dir / train.TRAIN_CLIP
    if not source.is_file():
        raise CommandError(f"{source}: missing; install Debian's opencv-doc for OpenCV's sample clips")
    cfg = train.TrainConfig(windows=args.windows, iterations=args.iterations, seed=args.seed)
    metrics = train.train(
        args.source_dir, args.out, cfg, args.demo_clip, log=lambda line: print(line, file=sys.stderr, flush=True)
    )
    print(json.dumps({"weights": str(args.out), **metrics}, indent=2))
    return 0


def cmd_evaluate(args) -> int:
    """The official frame-level ROC-AUC on precomputed I3D features."""
    import numpy as np

    from crimeviz.cctv import evaluation
    from crimeviz.cli.common import CommandError

    _setup(args)
    files = list(args.features)
    if args.list:
        if not args.list.is_file():
            raise CommandError(f"{args.list}: no such list file")
        files += evaluation.read_feature_list(args.list)
    if not files:
        raise CommandError("give feature files (.npy) or --list FILE")
    if not args.gt.is_file():
        raise CommandError(f"{args.gt}: no such ground-truth file")
    ground_truth = np.load(args.gt, allow_pickle=False)
    scorer = _load_scorer(args.weights)
    for path in files:  # every file's header before any scoring (memory-mapped: nothing is read yet)
        try:
            shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
        except (OSError, ValueError):
            shape = evaluation.load_features(path).shape  # raises the reason in words
        _check_features(path, shape, scorer)
    result = evaluation.official_evaluation(scorer, files, ground_truth)
    print(json.dumps(result, indent=2))
    return 0


def cmd_bench(args) -> int:
    """Throughput, per-snippet latency and report time on CPU."""
    from crimeviz.bench import cctv as bench

    _setup(args)
    clip = args.clip or bench.default_clip()
    print(json.dumps(bench.run(clip, args.weights, args.snippets, args.threads), indent=2))
    return 0


def _signed_in(args, permission: str):
    """(connection, user) for a command that changes the store."""
    from crimeviz.cli.common import authorised
    from crimeviz.store import db

    con = db.connect(args.db)
    return con, authorised(con, args, permission)


def _label_source(text: str) -> tuple[str, int]:
    """``ID`` or ``alert:ID`` / ``report:ID`` -> (source, id); a bare ID is a saved review (report)."""
    from crimeviz.cli.common import CommandError

    source, _, number = text.rpartition(":")
    source = source.lower() or "report"
    if source not in ("report", "alert") or not number.isdigit():
        raise CommandError(f"{text!r}: give a review id (12 or report:12) or an alert id (alert:7)")
    return source, int(number)


def cmd_label(args) -> int:
    """Labels a saved review or an alert (verdict, type, instrument, severity, corrected bounds); audited."""
    from crimeviz.cctv import labels

    source, source_id = _label_source(args.id)
    con, user = _signed_in(args, "cctv")
    values = {
        "source": source,
        "source_id": source_id,
        "verdict": args.verdict,
        "event_type": args.type,
        "instrument": args.instrument,
        "severity": args.severity,
        "start_s": args.start_s,
        "end_s": args.end_s,
        "note": args.note,
    }
    label_id = labels.save_label(con, values, user.username, origin="cli")
    print(json.dumps({"label_id": label_id, **{k: v for k, v in values.items() if v not in (None, "")}}))
    return 0


def cmd_labels_export(args) -> int:
    from crimeviz.cctv import labels
    from crimeviz.cli.common import CommandError

    kind = args.out.suffix.lower().lstrip(".")
    if kind not in ("csv", "json"):
        raise CommandError("--out must end in .csv or .json")
    con, user = _signed_in(args, "cctv")
    data = labels.export(con, kind, user.username)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(json.dumps({"exported": str(args.out), "rows": len(labels.export_frame(con))}))
    return 0


def cmd_labels_import(args) -> int:
    from crimeviz.cctv import labels

    records = labels.read_records(args.file)
    con, user = _signed_in(args, "cctv")
    print(json.dumps({"imported": labels.import_records(con, records, user.username)}))
    return 0


def cmd_labels_types(args) -> int:
    from crimeviz.cctv import labels

    if not args.set:
        from crimeviz.store import db

        print(json.dumps({"types": labels.event_types(db.connect(args.db))}))
        return 0
    con, user = _signed_in(args, "models")
    print(json.dumps({"types": labels.set_event_types(con, args.set.split(","), user.username)}))
    return 0


def cmd_retrain(args) -> int:
    """Fine-tunes MGFN and the classification heads on the labels; promoted only if better on held-out clips."""
    from crimeviz.cctv import retrain

    _setup(args)
    con, user = _signed_in(args, "models")
    cfg = retrain.RetrainConfig(
        iterations=args.iterations, heldout_share=args.heldout_share, min_per_class=args.min_per_class, seed=args.seed
    )
    result = retrain.retrain(
        con, user.username, cfg, log=lambda line: print(line, file=sys.stderr, flush=True), promote=not args.no_promote
    )
    if args.json:
        _write_json(args.json, result.report)
    print(json.dumps(result.report, indent=2))
    return 0


def cmd_models_list(args) -> int:
    from crimeviz.cctv import registry
    from crimeviz.store import db

    frame = registry.versions(db.connect(args.db)).drop(columns=["training"])
    rows = json.loads(frame.to_json(orient="records", date_format="iso"))
    for row in rows:
        row["metrics"] = json.loads(row["metrics"])
    print(json.dumps({"promoted": registry.promoted_pointer(), "versions": rows}, indent=2))
    return 0


def cmd_models_promote(args) -> int:
    from crimeviz.cctv import registry

    con, user = _signed_in(args, "models")
    record = registry.promote(con, args.version, user.username, args.reason or "promoted by an administrator")
    print(json.dumps({"promoted": record["version_id"], "name": record["name"], "file": record["file"]}))
    return 0


def cmd_models_rollback(args) -> int:
    from crimeviz.cctv import registry

    con, user = _signed_in(args, "models")
    record = registry.rollback(con, user.username, args.reason or "")
    print(json.dumps({"promoted": record["version_id"], "name": record["name"], "file": record["file"]}))
    return 0


def cmd_calibrate(args) -> int:
    """Per-camera threshold for a target number of false alarms per hour, from its dismissed alerts."""
    from crimeviz.cctv import calibration

    con, user = _signed_in(args, "models")
    result = calibration.calibrate(
        con, args.camera, args.target_per_hour, user.username, hours=args.hours, apply=not args.dry_run
    )
    print(json.dumps(result))
    return 0


def cmd_loop_eval(args) -> int:
    """Labels, calibration, retraining and rollback measured on OpenCV's sample footage (a fresh store in --out)."""
    from crimeviz.bench import cctv_loop

    _setup(args)
    result = cctv_loop.run(
        args.out, args.source_dir, args.iterations, log=lambda line: print(line, file=sys.stderr, flush=True)
    )
    if args.json:
        _write_json(args.json, result)
    print(json.dumps(result, indent=2))
    return 0


def _add_loop_commands(subparsers) -> None:
    """label, labels, retrain, models, calibrate."""
    from crimeviz.cctv import labels, retrain
    from crimeviz.cli.common import user_args

    p = subparsers.add_parser("label", help="label a saved review or alert: true/false/unsure, type, severity")
    p.add_argument("id", help="review id (12 or report:12) or alert id (alert:7)")
    p.add_argument("--verdict", required=True, choices=labels.VERDICTS)
    p.add_argument("--type", default=None, help="true alarms: the incident type (see `cctv labels types`)")
    p.add_argument("--instrument", default=None, choices=labels.INSTRUMENTS)
    p.add_argument("--severity", type=int, default=None, help="true alarms: 1 (minor) to 10 (most severe)")
    p.add_argument("--start-s", type=float, default=None, help="corrected segment start, seconds into the clip")
    p.add_argument("--end-s", type=float, default=None, help="corrected segment end, seconds into the clip")
    p.add_argument("--note", default="")
    _common(p)
    user_args(p)
    p.set_defaults(func=cmd_label)

    labels_parser = subparsers.add_parser("labels", help="labels: export, import, types")
    sub = labels_parser.add_subparsers(dest="labels_command", required=True)
    p = sub.add_parser("export", help="every label as CSV or JSON (by the extension of --out); audited")
    p.add_argument("--out", type=Path, required=True)
    _common(p)
    user_args(p)
    p.set_defaults(func=cmd_labels_export)
    p = sub.add_parser("import", help="labels from a CSV or JSON export; all rows or none")
    p.add_argument("file", type=Path)
    _common(p)
    user_args(p)
    p.set_defaults(func=cmd_labels_import)
    p = sub.add_parser("types", help="the incident types reviewers choose from; --set replaces them (admin)")
    p.add_argument("--set", default=None, help="comma-separated list, e.g. 'assault,robbery,vandalism'")
    _common(p)
    user_args(p)
    p.set_defaults(func=cmd_labels_types)

    p = subparsers.add_parser("retrain", help="fine-tune MGFN and the classification heads on the labels (admin)")
    p.add_argument("--json", type=Path, default=None, help="write candidate vs current metrics here")
    p.add_argument("--iterations", type=int, default=retrain.RetrainConfig.iterations)
    p.add_argument("--heldout-share", type=float, default=retrain.RetrainConfig.heldout_share)
    p.add_argument("--min-per-class", type=int, default=retrain.RetrainConfig.min_per_class)
    p.add_argument("--seed", type=int, default=retrain.RetrainConfig.seed)
    p.add_argument("--no-promote", action="store_true", help="register the candidate but never promote it")
    _common(p)
    user_args(p)
    p.set_defaults(func=cmd_retrain)

    models_parser = subparsers.add_parser("models", help="the model registry: list, promote, rollback")
    sub = models_parser.add_subparsers(dest="models_command", required=True)
    p = sub.add_parser("list", help="every version with its status and held-out metrics")
    _common(p)
    p.set_defaults(func=cmd_models_list)
    for name, func in (("promote", cmd_models_promote), ("rollback", cmd_models_rollback)):
        p = sub.add_parser(name, help=f"{name} (admin); the app and CLI score with it from their next call")
        if name == "promote":
            p.add_argument("version", type=int)
        p.add_argument("--reason", default="")
        _common(p)
        user_args(p)
        p.set_defaults(func=func)

    p = subparsers.add_parser("calibrate", help="a camera's threshold for a target of false alarms per hour (admin)")
    p.add_argument("camera")
    p.add_argument("--target-per-hour", type=float, required=True)
    p.add_argument("--hours", type=float, default=None, help="hours watched (default: its stored scored footage)")
    p.add_argument("--dry-run", action="store_true", help="report the threshold without applying it")
    _common(p)
    user_args(p)
    p.set_defaults(func=cmd_calibrate)

    from crimeviz.cctv.train import SOURCE_DIR

    p = subparsers.add_parser(
        "loop-eval", help="measure labels -> calibration -> retrain -> rollback on sample footage"
    )
    p.add_argument("--out", type=Path, required=True, help="folder for the evaluation's own store, clips and registry")
    p.add_argument("--source-dir", type=Path, default=SOURCE_DIR)
    p.add_argument("--iterations", type=int, default=retrain.RetrainConfig.iterations)
    p.add_argument("--json", type=Path, default=None)
    _common(p)
    p.set_defaults(func=cmd_loop_eval)


def add_subcommands(subparsers) -> None:
    """Registers score, train, evaluate, bench, label(s), retrain, models and calibrate on ``add_subparsers()``."""
    from crimeviz.cctv import DEMO_WEIGHTS, train
    from crimeviz.cli.common import user_args

    p = subparsers.add_parser("score", help="anomaly score per frame of a clip (JSON)")
    p.add_argument("clip", type=Path, help="video file (mp4/avi/mov/mkv/webm) or .npy features (T, 10, 2048)")
    p.add_argument("--json", type=Path, default=None, help="write fps, n_frames, frame_scores, segments, timings")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="alert threshold (default 0.5)")
    p.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="longest clip accepted (default: $CRIMEVIZ_CCTV_MAX_MINUTES or 30)",
    )
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of .npy features (default 30, UCF-Crime)")
    p.add_argument("--camera", default=None, help="save a report for this registered camera in --db (needs --user)")
    p.add_argument("--note", default="", help="reviewer note stored with the report")
    p.add_argument(
        "--start",
        default=None,
        metavar="ISO",
        help="when the clip's first frame was recorded (e.g. 2021-06-01T14:02:07): segments get wall-clock times",
    )
    p.add_argument("--pdf", type=Path, default=None, help="also write the saved report as a printable PDF")
    p.add_argument(
        "--features",
        choices=("crimeviz", "i3d"),
        default="crimeviz",
        help="snippet features of a video clip: crimeviz (EfficientNet-Lite0 + motion, for CrimeViz checkpoints) "
        "or i3d (I3D ResNet-50 as the official extractor, for the official MGFN UCF-Crime --weights)",
    )
    _i3d_args(p)
    p.add_argument("--crops", type=int, choices=(10, 1), default=10, help="I3D crops: 10 (official) or 1 (centre)")
    p.add_argument("--device", default="cpu", help="where I3D runs: cpu (default) or cuda")
    _weights_arg(p)
    _common(p)
    user_args(p)
    p.set_defaults(func=cmd_score)

    p = subparsers.add_parser("train", help="train the demo model (sample footage, injected anomalies)")
    p.add_argument(
        "--source-dir",
        type=Path,
        default=train.SOURCE_DIR,
        help=f"folder with vtest.avi and tree.avi (default {train.SOURCE_DIR})",
    )
    p.add_argument("--out", type=Path, default=DEMO_WEIGHTS, help="checkpoint to write")
    p.add_argument(
        "--demo-clip",
        type=Path,
        default=None,
        help="also write the demo clip (held-out footage with injected events) here",
    )
    p.add_argument("--windows", type=int, default=train.TrainConfig.windows, help="training videos per class")
    p.add_argument("--iterations", type=int, default=train.TrainConfig.iterations)
    p.add_argument("--seed", type=int, default=train.TrainConfig.seed)
    _common(p)
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("evaluate", help="official frame-level ROC-AUC on precomputed I3D features")
    p.add_argument("features", nargs="*", type=Path, help=".npy feature files, in ground-truth order")
    p.add_argument("--list", type=Path, default=None, help="file naming the .npy files, one per line")
    p.add_argument("--gt", type=Path, required=True, help="per-frame 0/1 ground truth (.npy), all videos")
    _weights_arg(p)
    _common(p)
    p.set_defaults(func=cmd_evaluate)

    p = subparsers.add_parser("bench", help="CPU throughput, snippet latency and report time (JSON)")
    p.add_argument(
        "--clip",
        type=Path,
        default=None,
        help="clip to score (default: OpenCV's vtest.avi, 768×576 10 fps, else the demo clip)",
    )
    p.add_argument("--snippets", type=int, default=30, help="snippets timed for latency")
    _weights_arg(p)
    _common(p, "DuckDB file, left untouched: report saving is timed in an in-memory store")
    p.set_defaults(func=cmd_bench)

    p = subparsers.add_parser("bench-i3d", help="seconds per snippet of I3D features, 1 and 10 crops (JSON)")
    p.add_argument("--clip", type=Path, default=None, help="clip to decode (default: as bench)")
    p.add_argument("--snippets", type=int, default=5, help="snippets timed per mode, after one warm-up")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    _i3d_args(p, "(default: initial weights; the time of a pass does not depend on them)")
    _common(p, "DuckDB file (not used: the benchmark reads no store)")
    p.set_defaults(func=cmd_bench_i3d)

    _add_loop_commands(subparsers)
