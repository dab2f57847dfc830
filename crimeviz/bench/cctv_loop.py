"""The labelling loop measured end to end on footage that exists offline.

``python -m crimeviz cctv loop-eval --out DIR`` builds a fresh store in ``DIR`` and:

1. cuts 16-second clips from OpenCV's sample footage (Debian ``opencv-doc``): camera
   "Street" (``vtest.avi``, pedestrians) with injected events of the two synthetic
   types the demo model never saw in training (``blur``, ``fast_entry``) and without,
   and camera "Studio" (``Megamind.avi``, a real clip of another camera, no event);
   each is written as VP8 WebM and scored and saved as a review the way the CLI does
   (so its snippet features are stored);
2. labels them through the labelling API (:func:`crimeviz.cctv.labels.save_label`)
   as a reviewer who knows what happened would: a clip with an event is a true alarm
   with the event's bounds and its type (from the administrator's type list, set to
   the synthetic kinds, since none of UCF-Crime's classes happen in this footage);
   a clip without one is a false alarm;
3. calibrates each camera's threshold from its dismissed (false) reviews, before
   any retraining, then retrains (:mod:`crimeviz.cctv.retrain`), then rolls back;
4. measures each state on a test set that no step saw: new clips of the same cameras
   (new injections, flipped or dimmed), and the real hand-over-lens clip ``tree.avi``
   (camera "Tree") — frame AUC and false alarms per camera-hour at each camera's
   threshold.

Test features come from the same frozen backbone for every MGFN version, so each
version is scored on identical inputs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from crimeviz.cctv import synthetic
from crimeviz.cctv.train import DEMO_SIZE, SOURCE_DIR, dim, read_clip, reencoded

CLIP = 160  # frames: 16 s at vtest's 10 fps, 10 snippets
HELDOUT_KINDS = synthetic.HELDOUT_TYPES  # types the demo model never trained on
SEVERITY = {"blur": 3, "fast_entry": 6}  # the simulated reviewer's rating per kind
TYPE_NAME = {"blur": "blur", "fast_entry": "fast entry"}
TARGET_PER_HOUR = 10.0


def _variant(frames: np.ndarray, k: int) -> np.ndarray:
    return np.ascontiguousarray([frames, frames[:, :, ::-1], dim(frames), dim(frames[:, :, ::-1])][k % 4])


def make_clips(source_dir: Path, seed: int, n_event: int, n_normal: int, studio: int) -> list[dict]:
    """Clips as dicts: camera, frames (BGR), fps, kind (None: normal), event (start, length) in frames."""
    rng = np.random.default_rng(seed)
    street, fps = read_clip(source_dir / "vtest.avi", DEMO_SIZE)
    offsets = np.arange(0, len(street) - CLIP + 1, 20)
    clips = []
    for i in range(n_event + n_normal):
        start = int(rng.choice(offsets))
        frames = _variant(street[start : start + CLIP], int(rng.integers(4)))
        clip = {"camera": "Street", "fps": fps, "kind": None, "event": None}
        if i < n_event:
            kind = HELDOUT_KINDS[i % len(HELDOUT_KINDS)]
            event = synthetic.random_event(kind, CLIP, fps, rng, seconds=(3.0, 5.0))
            frames = synthetic.inject(frames, event, rng)
            clip.update(kind=kind, event=(event.start, event.length))
        clip["frames"] = reencoded(frames, fps, DEMO_SIZE)
        clips.append(clip)
    movie, movie_fps = read_clip(source_dir / "Megamind.avi", DEMO_SIZE)
    for k in range(studio):
        start = int(rng.integers(0, len(movie) - CLIP + 1))
        frames = _variant(movie[start : start + CLIP], k + seed)
        clips.append({"camera": "Studio", "fps": movie_fps, "kind": None, "event": None, "frames": frames})
    return clips


def snippet_truth(clip: dict, n_snippets: int, snippet_len: int) -> np.ndarray:
    truth = np.zeros(n_snippets * snippet_len, np.uint8)
    if clip["event"]:
        a, n = clip["event"]
        truth[a : a + n] = 1
    return truth


def test_metrics(scorer, test: list[dict], thresholds: dict[str, float]) -> dict:
    """Frame AUC (all test clips pooled; Street only; Tree) and false alarms per camera-hour at ``thresholds``."""
    from crimeviz.cctv.evaluation import roc_auc
    from crimeviz.cctv.scoring import alert_segments, frame_scores

    pooled: dict[str, list] = {}
    alarms: dict[str, int] = {}
    hours: dict[str, float] = {}
    for clip in test:
        n = clip["n_frames"]
        scores = frame_scores(scorer.snippet_scores(clip["features"]), n, scorer.spec.snippet_len)
        truth = clip["truth"][:n]
        for key in ("all", clip["camera"]):
            pooled.setdefault(key, []).append((truth, scores))
        segs = alert_segments(scores, clip["fps"], thresholds.get(clip["camera"], 0.5))
        alarms[clip["camera"]] = alarms.get(clip["camera"], 0) + sum(
            1 for s in segs if not truth[s.start_frame : s.end_frame].any()
        )
        hours[clip["camera"]] = hours.get(clip["camera"], 0.0) + n / clip["fps"] / 3600

    def auc(key):
        if key not in pooled:
            return None
        t, s = zip(*pooled[key])
        try:
            return round(roc_auc(np.concatenate(t), np.concatenate(s)), 4)
        except ValueError:
            return None

    total = sum(alarms.values())
    return {
        "frame_auc": auc("all"),
        "street_auc": auc("Street"),
        "tree_real_hand_auc": auc("Tree"),
        "false_alarms": total,
        "hours": round(sum(hours.values()), 4),
        "false_alarms_per_hour": round(total / sum(hours.values()), 1),
        "per_camera": {c: {"false_alarms": alarms[c], "per_hour": round(alarms[c] / hours[c], 1)} for c in hours},
        "thresholds": thresholds,
    }


def run(out: Path, source_dir: Path = SOURCE_DIR, iterations: int = 300, log: Callable[[str], None] = print) -> dict:
    from crimeviz.access import auth
    from crimeviz.cctv import app_weights, calibration, labels, registry, report, retrain, store, video
    from crimeviz.cctv.model import load_scorer
    from crimeviz.cctv.scoring import score_clip, score_frames
    from crimeviz.store import db

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    os.environ["CRIMEVIZ_CCTV_REGISTRY"] = str(out / "registry")
    os.environ.pop("CRIMEVIZ_CCTV_WEIGHTS", None)
    con = db.connect(out / "loop.duckdb")
    if not auth.user_count():
        auth.add_user(con, "admin", "loop evaluation admin", "admin")
        auth.add_user(con, "reviewer", "loop evaluation reviewer", "reviewer")
    labels.ensure_tables(con)
    for name, lat, lon in (("Street", 43.6532, -79.3832), ("Studio", 43.66, -79.39), ("Tree", 43.67, -79.4)):
        if store.camera(con, name=name) is None:
            store.add_camera(con, name, lat, lon, "admin")
    labels.set_event_types(con, [TYPE_NAME[k] for k in HELDOUT_KINDS], "admin")
    baseline_weights = app_weights()
    scorer = load_scorer(baseline_weights)
    threshold = 0.5

    log("cutting and scoring the labelled clips")
    labelled = make_clips(source_dir, seed=11, n_event=14, n_normal=10, studio=4)
    for i, clip in enumerate(labelled):
        path = out / "clips" / f"labelled-{i:02d}.webm"
        path.parent.mkdir(exist_ok=True)
        video.write_clip(clip["frames"], path, clip["fps"])
        result = score_clip(path, scorer)
        cam = store.camera(con, name=clip["camera"])
        record = report.build_report(result, cam, path.name, f"{i:064d}", threshold, "reviewer")
        report_id = store.save_report(con, record, [], result.features, scorer.spec.to_dict())
        values = {"source": "report", "source_id": report_id, "verdict": "false"}
        if clip["kind"]:
            a, n = clip["event"]
            values.update(
                verdict="true",
                event_type=TYPE_NAME[clip["kind"]],
                instrument="none",
                severity=SEVERITY[clip["kind"]],
                start_s=round(a / clip["fps"], 3),
                end_s=round(min((a + n) / clip["fps"], result.duration_s), 3),
            )
        labels.save_label(con, values, "reviewer", origin="api")
        if (i + 1) % 7 == 0:
            log(f"  {i + 1}/{len(labelled)} clips scored, saved and labelled")

    log("cutting the test clips (never stored, never labelled)")
    test = make_clips(source_dir, seed=23, n_event=14, n_normal=10, studio=3)
    tree, tree_fps = read_clip(source_dir / "tree.avi", (320, 240))
    test.append({"camera": "Tree", "fps": tree_fps, "kind": "hand", "event": (53, len(tree) - 53), "frames": tree})
    for clip in test:
        scored = score_frames(clip["frames"], scorer)
        clip.update(features=scored.features, n_frames=scored.n_frames)
        clip["truth"] = snippet_truth(clip, len(scored.features), scorer.spec.snippet_len)
        clip.pop("frames")

    default = {c: threshold for c in ("Street", "Studio", "Tree")}
    states = {"baseline (demo model, threshold 0.5)": test_metrics(scorer, test, default)}

    log("calibrating each camera's threshold from its dismissed reviews (before any retraining)")
    calibrations = {}
    for camera in ("Street", "Studio"):
        calibrations[camera] = calibration.calibrate(con, camera, TARGET_PER_HOUR, "admin", current=threshold)
    calibrated = {**default, **{c: r["threshold_after"] for c, r in calibrations.items()}}
    states["baseline + calibrated thresholds"] = test_metrics(scorer, test, calibrated)

    log("retraining")
    cfg = retrain.RetrainConfig(iterations=iterations)
    result = retrain.retrain(con, "admin", cfg, log=log)
    promoted = load_scorer(app_weights())
    states["after retrain (promoted version, threshold 0.5)"] = test_metrics(promoted, test, default)
    states["after retrain + calibrated thresholds"] = test_metrics(promoted, test, calibrated)
    rollback = None
    if result.promoted:
        rollback = registry.rollback(con, "admin", "loop evaluation: rollback check")
        states["after rollback (threshold 0.5)"] = test_metrics(load_scorer(app_weights()), test, default)
    return {
        "labelled_clips": len(labelled),
        "test_clips": len(test),
        "target_false_alarms_per_hour": TARGET_PER_HOUR,
        "calibration": calibrations,
        "retrain": result.report,
        "rollback_to": rollback and {"version_id": rollback["version_id"], "name": rollback["name"]},
        "test_set": states,
        "seconds": round(time.perf_counter() - started, 1),
    }
