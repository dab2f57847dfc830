"""The monitor process killed (``kill -9``, FFmpeg children included) during an alert, then started again.

A camera written here (:class:`MultipartCamera`) shows ``vtest.avi`` and, while ``flicker`` is set, a
picture blacked out every other 0.3 s (a tampered camera: the abrupt change the demo model knows, kept up). The first monitor opens the alert and delivers its
ping, and is killed. The second continues the same alert while the blackout lasts, closes it when
the picture is steady again and completes its report: one alert, one ping, no second row.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pandas as pd
import pytest

from crimeviz.access import auth
from crimeviz.cctv import cameras, snippet_store
from crimeviz.cctv.live import alert_store
from crimeviz.store import db
from tests.live_helpers import ROOT, VTEST, MultipartCamera, WebhookReceiver, wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or not VTEST.exists(), reason="needs Debian's ffmpeg and opencv-doc"
)
PASSWORD = "live monitor password"
SECRET = "webhook signing secret"


def _vtest_frames(n: int = 100) -> list:
    capture = cv2.VideoCapture(str(VTEST))
    frames = [cv2.resize(capture.read()[1], (384, 288)) for _ in range(n)]
    capture.release()
    return frames


def _read(path: Path, read):
    con = db.connect(path)
    try:
        return read(con)
    finally:
        con.close()


def _state(path: Path) -> dict:
    """The camera's state, its alerts and their pings, as the app would read them while the monitor runs."""

    def read(con):
        status = alert_store.camera_status(con)
        return {
            "state": status["state"].iloc[0],
            "alerts": [alert_store.alert(con, i) for i in sorted(alert_store.alerts(con)["alert_id"])],
            "pings": alert_store.pings(con).to_dict("records"),
        }

    return _read(path, read)


def _high_scores_since(path: Path, moment: float) -> list:
    """The camera's rolling scores above 0.5 of snippets after ``moment`` (epoch seconds)."""
    curve = _read(path, alert_store.camera_status)["curve"].iloc[0]
    return [s for t, s in json.loads(curve or "[]") if t > moment and s > 0.5]


def test_a_monitor_killed_during_an_alert_continues_it_after_a_restart_without_a_second_alert_or_ping(tmp_path):
    path = tmp_path / "store.duckdb"
    con = db.connect(path)
    auth.add_user(con, "rev", PASSWORD, "reviewer")
    normal, flicker = _vtest_frames(), {"on": False}
    black = normal[0] * 0

    def frame(i: int):
        return black if flicker["on"] and (i // 3) % 2 else normal[i % len(normal)]

    with MultipartCamera(frame, fps=10) as camera:
        cameras.add(con, cameras.CameraConfig("Gate", camera.url, 43.65, -79.38, detect_fps=10.0), "boss")
        con.close()
        with WebhookReceiver() as hook:
            env = {
                **os.environ,
                "CRIMEVIZ_PASSWORD": PASSWORD,
                "CRIMEVIZ_WEBHOOK_SECRET": SECRET,
                "CRIMEVIZ_ALERTS_DIR": str(tmp_path / "alerts"),
            }
            cmd = [sys.executable, "-m", "crimeviz", "monitor", "--camera", "gate", "--db", str(path)]
            cmd += ["--user", "rev", "--stride", "8", "--webhook", hook.url]

            def start(log: str) -> subprocess.Popen:
                with open(tmp_path / log, "w") as err:
                    return subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=err, start_new_session=True)

            first = start("first.log")
            try:
                assert wait_until(lambda: _state(path)["state"] == "online", 60), (tmp_path / "first.log").read_text()
                time.sleep(6)  # the scorer's context fills with the normal scene
                flicker["on"] = True
                # killed once the ping is marked delivered (NaT, not yet, is truthy: test it as such)
                assert wait_until(lambda: any(pd.notna(p["delivered_at"]) for p in _state(path)["pings"]), 40)
            finally:
                os.killpg(first.pid, signal.SIGKILL)  # the monitor and its FFmpeg readers and clip writers
                first.wait(timeout=10)
            killed_at = time.time()
            before = _state(path)["alerts"]
            assert len(before) == 1 and before[0]["ended_at"] is None  # left open by the kill
            alert_id = before[0]["alert_id"]

            second = start("second.log")
            try:
                # the flicker is scored again after the scorer's warm-up: the same alert goes on
                assert wait_until(lambda: len(_high_scores_since(path, killed_at)) >= 5, 60), (
                    tmp_path / "second.log"
                ).read_text()
                flicker["on"] = False
                assert wait_until(lambda: _state(path)["alerts"][0]["report_complete"], 60)
            finally:
                second.send_signal(signal.SIGTERM)
                assert second.wait(timeout=60) == 0, (tmp_path / "second.log").read_text()[-3000:]
            received = list(hook.received)
    after = _state(path)
    assert [a["alert_id"] for a in after["alerts"]] == [alert_id]
    alert = after["alerts"][0]
    assert alert["ended_at"].timestamp() > killed_at + 2 and alert["severity"] == "alert"  # seen after the restart
    # one ping, sent by the first monitor only: a ping marked delivered is never sent again after a restart
    # (one killed between sending and marking is sent again, with the same delivery id for the receiver to drop)
    assert {json.loads(body)["alert_id"] for _, _, body in received} == {alert_id}
    assert len({headers["x-crimeviz-delivery"] for _, headers, _ in received}) == 1
    assert all(at < killed_at for at, _, _ in received), [at - killed_at for at, _, _ in received]
    assert len(after["pings"]) == 1 and pd.notna(after["pings"][0]["delivered_at"])
    report = json.loads(Path(alert["report_json"]).read_text())
    assert report["status"] == "complete" and report["alert_id"] == alert_id
    # the clip cut short by the kill plays (fragmented MP4), and the continued alert has its own part
    assert Path(alert["clip"]).name == "clip.mp4" and report["clips"] == ["clip.mp4", "clip-2.mp4"]
    # the features stored when it opened stop at the kill: removed, so retraining decodes the clip instead
    assert _read(path, lambda con: snippet_store.load(con, "alert", alert_id)) is None
    assert alert["classification"]["note"].startswith("not classified: this monitor began watching after")
    for clip in report["clips"]:
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "json"]
            + [str(Path(alert["clip"]).with_name(clip))],
            capture_output=True,
            text=True,
        )
        assert int(json.loads(probe.stdout)["streams"][0]["nb_read_frames"]) >= 5, (clip, probe.stderr)
