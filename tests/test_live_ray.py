"""The Ray backend: a camera actor per camera, a shared scorer actor batching snippets of several cameras; one
cluster per session."""

import json
import os
import shutil
import threading

import numpy as np
import pytest

from crimeviz.cctv import DEMO_WEIGHTS, cameras
from crimeviz.cctv.live import alert_store, notify
from crimeviz.cctv.live.backend import ContextScorer, PendingRequests
from crimeviz.cctv.live.monitor import Monitor
from crimeviz.cctv.live.source import OFFLINE
from crimeviz.cctv.model import load_scorer
from crimeviz.store import db
from tests.live_helpers import (
    VTEST,
    MjpegServer,
    WebhookReceiver,
    anomaly_clip,
    clip_stream,
    ffmpeg_processes,
    free_port,
    wait_until,
)
from tests.test_cctv_pipeline import random_weights, scorer  # noqa: F401 (fixtures)

ray = pytest.importorskip("ray")


@pytest.fixture(scope="session")
def ray_cluster():
    """A local one-node Ray cluster for the whole test session (2 CPUs), shut down at its end."""
    from crimeviz.cctv.live import ray_backend

    ray_backend.init(num_cpus=2)
    yield ray
    ray.shutdown()


def test_pending_requests_take_one_snippet_per_camera_oldest_first():
    pending = PendingRequests()
    for camera, ticket in (("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5)):
        pending.add(camera, np.zeros(2), ticket)
    assert [t for _, _, t in pending.take(2)] == [1, 2]
    assert [t for _, _, t in pending.take(10)] == [3, 4, 5]
    assert len(pending) == 0


def test_ray_scorer_batches_cameras_and_matches_in_process_scores(ray_cluster, random_weights, scorer):  # noqa: F811
    from crimeviz.cctv.live.ray_backend import RayBackend

    # three cameras asking for more CPU than the cluster has: none is started ahead (waiting would never end)
    backend = RayBackend(
        random_weights, num_cpus=0.5, max_wait_s=0.05, context=4, feature_actors=1, camera_cpus=5.0, cameras=3
    )
    assert backend.idle == []
    rng = np.random.default_rng(1)
    features = {c: rng.normal(size=(5, scorer.model.feature_dim)).astype(np.float32) for c in ("gate", "yard")}
    expected = {c: [] for c in features}
    local = ContextScorer(scorer, context=4)
    for i in range(5):
        for camera, score in zip(features, local.score_batch([(c, f[i]) for c, f in features.items()])):
            expected[camera].append(score)
    got = {c: [] for c in features}
    barrier = threading.Barrier(2)

    def camera_thread(camera):
        for i in range(5):
            barrier.wait()
            got[camera].append(ray.get(backend.actor.score.remote(camera, features[camera][i])))

    threads = [threading.Thread(target=camera_thread, args=(c,)) for c in features]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        stats = backend.stats()
        frames = rng.integers(0, 255, (2, 160, 224, 3), dtype=np.uint8)
        embedded = ray.get(backend.embedders[0].embed.remote(frames))
    finally:
        backend.close()
    for camera in features:
        assert got[camera] == pytest.approx(expected[camera], abs=1e-5)
    assert stats["scored"] == 10 and stats["batches"] < 10  # snippets of both cameras shared forward passes
    assert embedded == pytest.approx(scorer.embed(frames), abs=1e-4)  # the feature actor's backbone is the product's


def _readers() -> dict[int, int]:
    """{pid: parent pid} of the FFmpeg processes reading a camera (raw frames to their stdout)."""
    return {pid: parent for pid, (parent, cmdline) in ffmpeg_processes().items() if " rawvideo pipe:1 " in cmdline}


@pytest.mark.skipif(shutil.which("ffmpeg") is None or not VTEST.exists(), reason="needs ffmpeg and opencv-doc")
def test_cameras_run_in_their_own_actors_and_a_dead_one_does_not_stop_the_others_alerts(ray_cluster, tmp_path):
    """A camera's reader, gate and features run in its actor; one that never connects goes offline while the other
    raises an alert (ping, clip from the frames the actor sent); a failed scorer is reported by the camera using it."""
    con = db.connect(tmp_path / "store.duckdb")
    clip = anomaly_clip(tmp_path / "gate.avi", normal_s=5.0)
    with MjpegServer(clip) as server, WebhookReceiver() as hook:
        gate = cameras.CameraConfig(
            "Gate", server.url, 43.6532, -79.3832, detect_fps=10.0, pre_capture_s=1.0, post_capture_s=1.0
        )
        dead = cameras.CameraConfig("Back door", f"rtsp://127.0.0.1:{free_port()}/cam", 43.6, -79.4)
        for cfg in (gate, dead):
            cameras.add(con, cfg, "boss")
        configs = [cameras.get(con, "gate"), cameras.get(con, "back door")]
        from crimeviz.cctv.live.ray_backend import RayBackend

        backend = RayBackend(DEMO_WEIGHTS, num_cpus=0.5, feature_cpus=0.5, camera_cpus=0.25, cameras=1)
        mon = Monitor(
            con,
            load_scorer(DEMO_WEIGHTS),
            configs,
            notify.Settings(webhooks=(hook.url,), webhook_secret="s"),
            backend=backend,
            media_dir=tmp_path / "alerts",
            reader_options={"connect_timeout_s": 2, "backoff_s": 0.1, "offline_after": 2},
        ).start()
        worker, dead_worker = mon.workers
        try:
            assert wait_until(lambda: worker.status()["pid"] is not None, 60)
            actor_pid = worker.status()["pid"]
            assert actor_pid != os.getpid()
            assert wait_until(lambda: actor_pid in _readers().values(), 60), "the camera actor never started its reader"
            decoders = [pid for pid, parent in _readers().items() if parent == actor_pid]
            assert len(decoders) == 1 and os.getpid() not in _readers().values()  # FFmpeg is the actor's child
            assert wait_until(lambda: dead_worker.status()["state"] == OFFLINE, 60), dead_worker.status()
            assert dead_worker.status()["pid"] not in (None, os.getpid(), actor_pid)  # its own actor
            assert wait_until(lambda: mon.opened, 90), (worker.status(), mon.latencies.summary())
            assert wait_until(lambda: hook.received, 30)
            ray.kill(backend.actor)  # the scorer dies: the camera that scores says why, the dead one goes on
            assert wait_until(lambda: worker.error, 30), worker.status()
            assert dead_worker.error is None and dead_worker.status()["state"] == OFFLINE
        finally:
            mon.stop()
        assert not any(pid in _readers() for pid in decoders)  # stopped with the camera
    summary = mon.summary()
    statuses = {c["name"]: c for c in summary["cameras"]}
    assert statuses["Gate"]["snippets"] >= 4 and statuses["Gate"]["frames"] > 50
    assert "ActorDiedError" in statuses["Gate"]["error"], statuses["Gate"]["error"]
    assert statuses["Back door"]["frames"] == 0 and statuses["Back door"]["error"] is None
    stored = alert_store.camera_status(con).set_index("name")  # what the Live page shows
    assert stored.loc["Gate", "state"] == "failed" and "ActorDiedError" in stored.loc["Gate", "last_error"]
    assert stored.loc["Back door", "state"] == "stopped"  # stopped with the monitor, no error
    assert [a["camera"] for a in summary["alerts"]] == ["Gate"]
    alert = summary["alerts"][0]
    assert json.loads(hook.received[0][2])["alert_id"] == alert["id"]
    # the clip is made in the monitor from the frames the actor sent: pre-capture and blackout at 10 fps
    width, frames = clip_stream(alert["clip"])
    assert width == 320 and frames >= 20
    assert (tmp_path / "alerts" / f"alert-{alert['id']}" / "snapshot.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert alert_store.alert(con, alert["id"])["severity"] == "alert"
    con.close()
