"""Reviewers' labels, stored snippet features, the model registry, calibration and retraining, in tiny worlds.

Reviews are stored with made-up snippet features (no video is decoded): normal
snippets are noise, the snippets of an "incident" carry an offset in a few feature
channels, so a fine-tuned model has something real to find and the right answer is obvious.
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest
import torch

from crimeviz.cctv import calibration, labels, registry, retrain, snippet_store, store
from crimeviz.cctv.features import MOTION_STATS, FeatureSpec
from crimeviz.cctv.model import load_scorer, save_checkpoint
from crimeviz.store import db
from models.mgfn import MGFN

SPEC = FeatureSpec()
FPS = 16.0  # one snippet a second


@pytest.fixture
def con(tmp_path, monkeypatch):
    monkeypatch.setenv("CRIMEVIZ_CCTV_REGISTRY", str(tmp_path / "registry"))
    connection = db.connect(":memory:")
    store.ensure_tables(connection)
    labels.ensure_tables(connection)
    store.add_camera(connection, "Gate", 43.65, -79.38, "admin")
    store.add_camera(connection, "Yard", 43.66, -79.39, "admin")
    return connection


@pytest.fixture
def random_weights(tmp_path, monkeypatch):
    torch.manual_seed(0)
    path = tmp_path / "random.pt"
    k = len(MOTION_STATS)
    save_checkpoint(
        path, MGFN.small(SPEC.dim), {}, SPEC, np.zeros(k), np.ones(k), "random-test", "Seeded random weights.", {}
    )
    monkeypatch.delenv("CRIMEVIZ_CCTV_WEIGHTS", raising=False)
    monkeypatch.setattr(registry, "promoted_weights", lambda root=None, _real=registry.promoted_weights: _real(root))
    return path


def clip_features(rng, snippets: int, event: tuple[int, int] | None = None) -> np.ndarray:
    features = rng.normal(0, 1, (snippets, SPEC.dim)).astype(np.float32)
    if event:
        features[event[0] : event[1], :40] += 2.5
    return features


def add_review(con, camera: str, features: np.ndarray, segments=(), threshold: float = 0.5) -> int:
    cam = store.camera(con, name=camera)
    n = len(features) * SPEC.snippet_len
    record = {
        "created_at": datetime(2026, 1, 1, 12).isoformat(),
        "camera": {k: cam[k] for k in ("camera_id", "name", "lat", "lon")},
        "clip": {
            "name": "c.mp4",
            "sha256": "0" * 64,
            "duration_s": n / FPS,
            "fps": FPS,
            "n_frames": n,
            "width": 320,
            "height": 240,
        },
        "threshold": threshold,
        "peak": 0.9 if segments else 0.1,
        "segments": [{"start_s": a, "end_s": b, "peak": p} for a, b, p in segments],
        "model": {"version": "test", "label": "test"},
        "reviewer": "rev",
        "note": "",
        "frame_scores": [0.1] * n,
    }
    return store.save_report(con, record, [], features, SPEC.to_dict())


def test_a_label_is_validated_stored_audited_and_replaced_when_relabelled(con):
    rid = add_review(con, "Gate", clip_features(np.random.default_rng(0), 20), [(3.0, 6.0, 0.8)])
    values = {
        "source": "report",
        "source_id": rid,
        "verdict": "true",
        "event_type": "Assault",
        "instrument": "knife",
        "severity": 7,
        "start_s": 2.0,
        "end_s": 7.5,
    }
    labels.save_label(con, values, "rev")
    labels.save_label(
        con,
        {
            **values,
            "verdict": "false",
            "event_type": None,
            "instrument": None,
            "severity": None,
            "start_s": None,
            "end_s": None,
        },
        "rev2",
    )
    frame = labels.labels(con)
    assert len(frame) == 1 and frame.iloc[0]["verdict"] == "false" and frame.iloc[0]["labelled_by"] == "rev2"
    actions = [r[0] for r in con.execute("SELECT action FROM audit_log WHERE action = 'cctv.label'").fetchall()]
    assert len(actions) == 2


@pytest.mark.parametrize(
    "change, message",
    [
        ({"verdict": "maybe"}, "verdict"),
        ({"verdict": "false"}, "true alarms only"),
        ({"event_type": "jaywalking"}, "unknown type"),
        ({"instrument": "sword"}, "unknown instrument"),
        ({"severity": 11}, "1 to 10"),
        ({"start_s": 5.0, "end_s": 4.0}, "end after"),
        ({"end_s": None}, "both segment bounds"),
        ({"end_s": 99.0}, "the clip lasts"),
        ({"source_id": 999}, "no report with id 999"),
    ],
)
def test_a_bad_label_is_refused_in_one_line_and_nothing_is_stored(con, change, message):
    rid = add_review(con, "Gate", clip_features(np.random.default_rng(0), 20))
    values = {
        "source": "report",
        "source_id": rid,
        "verdict": "true",
        "event_type": "robbery",
        "severity": 5,
        "start_s": 1.0,
        "end_s": 3.0,
        **change,
    }
    with pytest.raises(ValueError, match=message):
        labels.save_label(con, values, "rev")
    assert labels.labels(con).empty


def test_the_type_list_is_ucf_crime_until_an_administrator_edits_it(con):
    assert labels.event_types(con) == list(labels.UCF_CRIME_TYPES) and len(labels.UCF_CRIME_TYPES) == 13
    assert labels.set_event_types(con, ["Assault", " trespass ", "assault"], "admin") == ["assault", "trespass"]
    rid = add_review(con, "Gate", clip_features(np.random.default_rng(0), 20))
    labels.save_label(con, {"source": "report", "source_id": rid, "verdict": "true", "event_type": "trespass"}, "r")
    with pytest.raises(ValueError, match="unknown type"):
        labels.validate(
            {"source": "report", "source_id": rid, "verdict": "true", "event_type": "robbery"}, labels.event_types(con)
        )


def test_labels_export_to_csv_and_json_and_import_back_all_or_nothing(con, tmp_path):
    rng = np.random.default_rng(1)
    ids = [add_review(con, "Gate", clip_features(rng, 20)) for _ in range(3)]
    labels.save_label(
        con,
        {
            "source": "report",
            "source_id": ids[0],
            "verdict": "true",
            "event_type": "robbery",
            "instrument": "gun",
            "severity": 8,
            "start_s": 1,
            "end_s": 4,
            "note": "=HYPERLINK(x)",
        },
        "r",
    )
    labels.save_label(con, {"source": "report", "source_id": ids[1], "verdict": "false"}, "r")
    csv_bytes = labels.export(con, "csv", "r")
    assert b"'=HYPERLINK" in csv_bytes  # a formula stays text in a spreadsheet
    (tmp_path / "l.csv").write_bytes(csv_bytes)
    (tmp_path / "l.json").write_bytes(labels.export(con, "json", "r"))
    before = labels.export_frame(con)
    con.execute("DELETE FROM cctv_labels")
    assert labels.import_records(con, labels.read_records(tmp_path / "l.csv"), "admin") == 2
    after = labels.export_frame(con)
    cols = ["source_id", "verdict", "event_type", "instrument", "severity", "start_s", "end_s", "note"]
    assert after[cols].astype(str).equals(before[cols].astype(str))
    rows = labels.read_records(tmp_path / "l.json")
    rows.append({"source": "report", "source_id": ids[2], "verdict": "true", "severity": 0})
    con.execute("DELETE FROM cctv_labels")
    with pytest.raises(ValueError, match="row 3: severity"):
        labels.import_records(con, rows, "admin")
    rows[-1] = {"source": "report", "source_id": 12345, "verdict": "false"}
    with pytest.raises(ValueError, match="row 3: no report with id 12345"):
        labels.import_records(con, rows, "admin")
    assert labels.labels(con).empty


def test_snippet_features_are_stored_with_the_review_and_read_back(con):
    features = clip_features(np.random.default_rng(2), 12)
    rid = add_review(con, "Yard", features)
    loaded, meta = snippet_store.load(con, "report", rid)
    assert loaded.shape == features.shape and np.allclose(loaded, features, atol=2e-2)
    assert meta["snippet_s"] == pytest.approx(1.0) and meta["feature_spec"]["snippet_len"] == 16
    assert snippet_store.listing(con)["hours"].sum() == pytest.approx(12 / 3600)


def test_promotion_and_rollback_switch_the_weights_the_app_scores_with(con, tmp_path, random_weights):
    from crimeviz.cctv import DEMO_WEIGHTS, app_weights

    assert app_weights() == DEMO_WEIGHTS
    first = registry.register(con, random_weights, "first", "admin", {}, {}, "# first\n")
    other = tmp_path / "other.pt"
    other.write_bytes(random_weights.read_bytes() + b"")
    torch.save({**torch.load(random_weights, weights_only=True), "name": "second"}, other)
    second = registry.register(con, other, "second", "admin", {}, {}, "# second\n")
    loads = []
    current = registry.CurrentScorer(loader=lambda path: loads.append(path) or path)
    registry.promote(con, first, "admin")
    assert current.get() == app_weights() == registry.registry_dir() / registry.version(con, first)["file"]
    assert current.get() and len(loads) == 1  # cached while nothing changes
    held = registry.PromotedScorer(current)  # what the live monitor holds: follows the promoted version
    assert held.name.startswith("first-")
    registry.promote(con, second, "admin")
    assert current.get().name.startswith("second-") and len(loads) == 2
    assert held.name.startswith("second-")
    registry.rollback(con, "admin")
    assert registry.promoted_id(con) == first and current.get().name.startswith("first-")
    statuses = dict(registry.versions(con)[["version_id", "status"]].itertuples(index=False))
    assert statuses == {first: "promoted", second: "retired"}
    audit = [r[0] for r in con.execute("SELECT action FROM audit_log WHERE action LIKE 'cctv.model.%'").fetchall()]
    assert audit.count("cctv.model.promote") == 2 and audit.count("cctv.model.rollback") == 1


def test_calibrated_threshold_keeps_at_most_the_target_rate_and_never_goes_lower():
    peaks = [0.55, 0.6, 0.7, 0.9]
    assert calibration.calibrated_threshold(peaks, hours=2, target_per_hour=1, current=0.5) == pytest.approx(0.601)
    assert calibration.calibrated_threshold(peaks, hours=1, target_per_hour=0, current=0.5) == pytest.approx(0.901)
    assert calibration.calibrated_threshold(peaks, hours=10, target_per_hour=1, current=0.5) == 0.5
    assert calibration.calibrated_threshold([0.3], hours=1, target_per_hour=0, current=0.5) == 0.5
    assert calibration.calibrated_threshold([0.995], hours=1, target_per_hour=0, current=0.5) == calibration.CEILING


def test_calibration_uses_the_cameras_false_reviews_and_names_missed_true_ones(con):
    rng = np.random.default_rng(3)
    false_ids = [add_review(con, "Gate", clip_features(rng, 1800), [(10, 20, p)]) for p in (0.6, 0.8)]
    true_id = add_review(con, "Gate", clip_features(rng, 1800), [(5, 9, 0.7)])
    add_review(con, "Yard", clip_features(rng, 100), [(1, 2, 0.95)])
    for rid in false_ids:
        labels.save_label(con, {"source": "report", "source_id": rid, "verdict": "false"}, "rev")
    labels.save_label(con, {"source": "report", "source_id": true_id, "verdict": "true"}, "rev")
    result = calibration.calibrate(con, "Gate", target_per_hour=0.5, by="admin")
    assert result["hours"] == pytest.approx(1.5) and result["false_alarms"] == 2
    assert result["threshold_after"] == pytest.approx(0.801)  # one false alarm in 1.5 h allowed: the 0.6 one
    assert result["false_alarms_per_hour_before"] == pytest.approx(1.33)
    assert result["confirmed_missed_after"] == 1
    assert calibration.current_threshold(con, store.camera(con, name="Gate")["camera_id"]) == pytest.approx(0.801)


def _tiny_world(con, rng, n_true=8, n_false=6):
    """Confirmed reviews with an incident at snippets 10-14 and dismissed ones without; types for the heads."""
    types = ["robbery", "assault"]
    for i in range(n_true):
        camera = "Gate" if i % 2 else "Yard"
        rid = add_review(con, camera, clip_features(rng, 32, (10, 14)), [(9.0, 15.0, 0.7)])
        labels.save_label(
            con,
            {
                "source": "report",
                "source_id": rid,
                "verdict": "true",
                "event_type": types[i % 2],
                "severity": 3 + 4 * (i % 2),
                "start_s": 10.0,
                "end_s": 14.0,
            },
            "rev",
            origin="cli",
        )
    for i in range(n_false):
        rid = add_review(con, "Gate" if i % 2 else "Yard", clip_features(rng, 32), [(2.0, 6.0, 0.6)])
        labels.save_label(con, {"source": "report", "source_id": rid, "verdict": "false"}, "rev", origin="cli")
    add_review(con, "Gate", clip_features(rng, 48))  # unlabelled normal footage of a camera


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model trains faster without threads competing on a shared machine
    yield
    torch.set_num_threads(threads)


def test_retraining_promotes_a_better_candidate_and_says_where_labels_are_too_few(
    con, random_weights, monkeypatch, one_thread
):
    monkeypatch.setenv("CRIMEVIZ_CCTV_WEIGHTS", str(random_weights))
    _tiny_world(con, np.random.default_rng(4), n_true=10)
    cfg = retrain.RetrainConfig(iterations=80, lr=1e-3, batch=2, min_per_class=3, heldout_share=0.3)
    result = retrain.retrain(con, "admin", cfg, log=lambda _: None)
    report = result.report
    assert report["heldout_clips"] == 5 and report["train_clips"] == 11
    cur, cand = report["current_metrics"], report["candidate_metrics"]
    assert cand["frame_auc"] > cur["frame_auc"] and cand["frame_auc"] > 0.9
    assert result.promoted and registry.promoted_id(con) == result.version_id
    assert report["heads"]["instrument"]["trained"] is False  # no instrument was labelled
    assert cand["instrument"] == {"note": retrain.NOT_ENOUGH}
    assert cand["event_type"]["clips"] >= 1
    assert cur["event_type"] == {"note": "this version has no classification heads"}
    version = registry.version(con, result.version_id)
    assert version["training"]["cameras"] == ["Gate", "Yard"] and "frame AUC" in version["card"]
    heads = retrain.read_heads(version["path"])
    assert heads["event_type"]["classes"] == ["assault", "robbery"]
    from types import SimpleNamespace

    scorer = load_scorer(version["path"])
    features = clip_features(np.random.default_rng(9), 32, (10, 14))
    segments = [SimpleNamespace(start_s=10.0, end_s=14.0)]
    table = retrain.classify_segments(scorer, heads, features, 1.0, segments)
    assert table.iloc[0]["event type"] in ("assault", "robbery") and table.iloc[0]["instrument"] == retrain.NOT_ENOUGH
    assert 1 <= int(table.iloc[0]["severity"]) <= 10
    plain = retrain.classify_segments(scorer, {}, features, 1.0, segments)
    assert set(plain.iloc[0][["event type", "instrument", "severity"]]) == {retrain.NOT_ENOUGH}


def test_retraining_with_too_few_labels_says_so_and_registers_nothing_new(con, random_weights, monkeypatch):
    monkeypatch.setenv("CRIMEVIZ_CCTV_WEIGHTS", str(random_weights))
    rid = add_review(con, "Gate", clip_features(np.random.default_rng(5), 20), [(1, 2, 0.7)])
    labels.save_label(con, {"source": "report", "source_id": rid, "verdict": "true"}, "rev")
    result = retrain.retrain(con, "admin", retrain.RetrainConfig(iterations=5), log=lambda _: None)
    assert not result.promoted and retrain.NOT_ENOUGH in result.report["reason"]
    assert len(registry.versions(con)) == 1  # the baseline only
    assert json.loads(registry.versions(con).iloc[0]["training"])["note"].startswith("the weights in use")


def test_a_labelled_alert_has_its_clip_decoded_once_and_its_segment_marked(con, random_weights, tmp_path):
    from crimeviz.cctv import cameras
    from crimeviz.cctv.live import alert_store
    from crimeviz.cctv.live.alerts import Segment
    from crimeviz.cctv.model import load_scorer
    from tests.test_cctv_video import make_clip

    clip = make_clip(tmp_path / "alert.avi", n_frames=64, event=(16, 40))  # 6.4 s at 10 fps
    cameras.add(con, cameras.CameraConfig("Door", f"file://{clip}", 43.6, -79.4, pre_capture_s=1.6), "admin")
    cfg = cameras.get(con, name="Door")
    start = datetime(2026, 1, 1, 12).timestamp()
    seg = Segment(start, start + 2.4, 0.9, start + 1.0, "alert")
    alert_id = alert_store.open_alert(con, cfg, seg, ("v", "label"), [], start)
    seg.alert_id, seg.end = alert_id, start + 2.4
    alert_store.update_alert(con, seg)
    alert_store.set_files(con, alert_id, clip=str(clip))
    labels.save_label(con, {"source": "alert", "source_id": alert_id, "verdict": "true"}, "rev")
    scorer = load_scorer(random_weights)
    items, counts = retrain.labelled_items(con, scorer)
    assert counts["alert_clips_decoded"] == 1 and len(items) == 1
    item = items[0]
    assert item.features.shape == (4, SPEC.dim) and item.snippet_s == pytest.approx(1.6)
    assert item.snippet_labels.tolist() == [0, 1, 1, 0]  # the segment: 1.6 s (pre-capture) to 4.0 s
    _, counts = retrain.labelled_items(con, scorer)
    assert counts["alert_clips_decoded"] == 0  # stored the first time


def test_labelled_alerts_scored_on_another_models_features_are_left_out_of_retraining(con, random_weights):
    """An alert from a monitor that ran the official detector stored 2048-d I3D features: not this model's input."""
    from crimeviz.cctv import cameras, snippet_store
    from crimeviz.cctv.live import alert_store
    from crimeviz.cctv.live.alerts import Segment
    from crimeviz.cctv.model import load_scorer

    cameras.add(con, cameras.CameraConfig("Door", "rtsp://127.0.0.1:9/cam", 43.6, -79.4), "admin")
    cfg = cameras.get(con, name="Door")
    start = datetime(2026, 1, 1, 12).timestamp()
    alert_id = alert_store.open_alert(
        con, cfg, Segment(start, start + 2.4, 0.9, start + 1.0, "alert"), ("v", "l"), [], start
    )
    i3d = np.random.default_rng(1).random((5, 2048), dtype=np.float32)
    snippet_store.save(con, "alert", alert_id, cfg.camera_id, i3d, 3.2, "mgfn-ucf/i3d-r50-1crop", {"features": "i3d"})
    labels.save_label(con, {"source": "alert", "source_id": alert_id, "verdict": "true"}, "rev")
    items, counts = retrain.labelled_items(con, load_scorer(random_weights))
    assert items == [] and counts["other_features"] == 1 and counts["alert_clips_decoded"] == 0
    items, counts = retrain.labelled_items(con)  # without a model to compare, every stored item counts
    assert len(items) == 1 and items[0].features.shape == (5, 2048)
