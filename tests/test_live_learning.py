"""The learning loop on live alerts: the monitor keeps each alert's snippet features (retraining decodes
nothing) and the promoted model's classification heads label the alert, its report and the Live page.

The monitor runs in-process on a real HTTP MJPEG stream (FFmpeg on 127.0.0.1, stopped by its PID)
of OpenCV's sample clip with a blackout cut into it (the anomaly the demo model was trained on).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from crimeviz.cctv import DEMO_WEIGHTS, cameras, labels, registry, retrain, snippet_store
from crimeviz.cctv.live import alert_store, live_report, monitor
from crimeviz.cctv.model import load_scorer
from crimeviz.store import db
from tests.live_helpers import VTEST, MjpegServer, anomaly_clip

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or not VTEST.exists(), reason="needs Debian's ffmpeg and opencv-doc"
)
PAGE = str(Path(__file__).resolve().parents[1] / "app_pages" / "live.py")
PRE_S, POST_S = 1.0, 1.0


@pytest.fixture
def registry_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CRIMEVIZ_CCTV_REGISTRY", str(tmp_path / "registry"))
    monkeypatch.delenv("CRIMEVIZ_CCTV_WEIGHTS", raising=False)
    return tmp_path / "registry"


def promote_demo_with_heads(con, tmp_path) -> int:
    """The demo model with classification heads fitted (retrain.fit_heads) on seeded confirmed segments of two
    types, three each; no instrument labelled, so that head has too few examples. Registered and promoted."""
    scorer = load_scorer(DEMO_WEIGHTS)
    rng = np.random.default_rng(0)
    confirmed = []
    for i in range(6):
        features = rng.normal(0, 1, (12, scorer.spec.dim)).astype(np.float32)
        features[4:8, :40] += 3.0 * (i % 2)
        mask = np.zeros(12, np.uint8)
        mask[4:8] = 1
        kind = ("assault", "robbery")[i % 2]
        confirmed.append(
            SimpleNamespace(
                verdict="true", features=features, snippet_labels=mask, event_type=kind, instrument=None, severity=3 + i
            )
        )
    heads, _ = retrain.fit_heads(scorer, confirmed, retrain.RetrainConfig(min_per_class=3))
    path = tmp_path / "demo-with-heads.pt"
    torch.save({**torch.load(DEMO_WEIGHTS, weights_only=True), "heads": heads}, path)
    version = registry.register(con, path, "demo-with-heads", "admin", {}, {}, "# demo with heads\n")
    registry.promote(con, version, "admin", "test")
    return version


def run_monitor(con, tmp_path) -> dict:
    clip = anomaly_clip(tmp_path / "gate.avi", normal_s=5.0)
    with MjpegServer(clip) as server:
        cfg = cameras.CameraConfig(
            "Gate", server.url, 43.6532, -79.3832, detect_fps=10.0, pre_capture_s=PRE_S, post_capture_s=POST_S
        )
        cameras.add(con, cfg, "boss")
        mon = monitor.Monitor(con, load_scorer(), [cameras.get(con, "gate")], media_dir=tmp_path / "alerts")
        summary = mon.run(13)
    assert summary["cameras"][0]["error"] is None, summary
    assert len(summary["alerts"]) == 1, summary
    return summary["alerts"][0]


def test_an_alert_keeps_its_snippet_features_and_the_promoted_heads_classify_it(
    registry_dir, tmp_path, toronto_db, monkeypatch
):
    store = tmp_path / "store.duckdb"
    shutil.copy(toronto_db, store)
    con = db.connect(store)
    version = promote_demo_with_heads(con, tmp_path)
    alert = run_monitor(con, tmp_path)
    row = alert_store.alert(con, alert["id"])

    # the features the monitor scored over the clip (pre-capture through post-capture), one per 16 frames
    features, meta = snippet_store.load(con, "alert", alert["id"])
    snippet_s = 16 / 10.0
    covered = (row["ended_at"] - row["started_at"]).total_seconds() + PRE_S + POST_S
    assert abs(len(features) - covered / snippet_s) <= 1.5, (len(features), covered)
    assert meta["snippet_s"] == pytest.approx(snippet_s) and features.shape[1] == load_scorer().spec.dim
    assert meta["camera_id"] == row["camera_id"] and meta["feature_spec"]["snippet_len"] == 16

    # retraining reads them: the clip is gone and nothing is decoded
    labels.save_label(con, {"source": "alert", "source_id": alert["id"], "verdict": "true"}, "rev")
    Path(row["clip"]).unlink()
    items, skipped = retrain.labelled_items(con, load_scorer())
    assert skipped["alert_clips_decoded"] == 0 and skipped["no_stored_features"] == 0 and len(items) == 1
    assert np.array_equal(items[0].features, features) and items[0].snippet_labels.any()

    # the classification: in the row, the report JSON, the Live queue and the alert's page
    classification = row["classification"]
    assert classification["model_version"] == version and classification["event_type"] in ("assault", "robbery")
    assert classification["instrument"] == retrain.NOT_ENOUGH and 1 <= classification["severity"] <= 10
    report = json.loads(Path(row["report_json"]).read_text())
    assert report["status"] == "complete" and report["classification"] == classification
    con.close()
    text = live_report.classification_text(classification)
    monkeypatch.setenv("CRIMEVIZ_DB", str(store))
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["user"] = auth.User("test-reviewer", "Test reviewer", "reviewer")
    at.run()
    assert not at.exception
    queue = at.dataframe[0].value.set_index("alert_id")
    assert queue.loc[alert["id"], "classification"] == text
    at.query_params["alert"] = str(alert["id"])
    at.run()
    assert not at.exception
    assert f"Classification: {text}" in [t.value for t in at.text]


def test_without_heads_promoted_an_alert_says_so_rather_than_guess(registry_dir, tmp_path):
    promoted = retrain.PromotedHeads()
    features = np.zeros((4, 8), np.float32)
    assert retrain.classify_alert(promoted, features, 1.6, (1.0, 3.0)) == {"note": retrain.NO_MODEL}
    con = db.connect(":memory:")
    version = registry.register(con, DEMO_WEIGHTS, "demo", "admin", {}, {}, "# demo\n")
    registry.promote(con, version, "admin")  # a version without heads
    assert retrain.classify_alert(promoted, features, 1.6, (1.0, 3.0)) == {"note": retrain.NO_MODEL}
    assert live_report.classification_text({"note": retrain.NO_MODEL}) == retrain.NO_MODEL
