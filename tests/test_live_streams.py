"""Live monitoring against real streams on 127.0.0.1: HTTP MJPEG (FFmpeg) and RTSP (GStreamer).

Every server a test starts is stopped by it (by PID, in ``with`` blocks).
"""

import contextlib
import email
import email.policy
import json
import os
import random
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest

from crimeviz.access import auth
from crimeviz.cctv import cameras
from crimeviz.cctv.live import alert_store, notify
from crimeviz.cctv.live.source import OFFLINE, ONLINE, STOPPED, StreamReader
from crimeviz.store import db
from tests.live_helpers import (
    ROOT,
    VTEST,
    MjpegServer,
    MultipartCamera,
    RtspServer,
    SmtpReceiver,
    WebhookReceiver,
    anomaly_clip,
    clip_stream,
    ffmpeg_processes,
    free_port,
    wait_until,
)

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or not VTEST.exists() or not os.path.exists("/usr/bin/python3"),
    reason="needs Debian's ffmpeg, opencv-doc and python3-gi (make system-packages)",
)
PASSWORD = "live monitor password"
SECRET = "webhook signing secret"


def frames_arrive(reader: StreamReader, n: int, timeout: float) -> list:
    got = []
    wait_until(lambda: (frame := reader.read(0.1)) is not None and got.append(frame) is None and len(got) >= n, timeout)
    return got


def test_blackout_on_an_mjpeg_camera_raises_an_alert_with_clip_report_webhook_and_email(tmp_path, monkeypatch):
    path = tmp_path / "store.duckdb"
    con = db.connect(path)
    auth.add_user(con, "rev", PASSWORD, "reviewer")
    clip = anomaly_clip(tmp_path / "gate.avi", normal_s=5.0)
    with MjpegServer(clip) as server, WebhookReceiver() as hook, SmtpReceiver() as smtp:
        cfg = cameras.CameraConfig(
            "Gate",
            server.url,
            43.6532,
            -79.3832,
            detect_fps=10.0,
            pre_capture_s=1.0,
            post_capture_s=1.0,
        )
        cameras.add(con, cfg, "boss")
        con.close()
        env = {
            **os.environ,
            "CRIMEVIZ_PASSWORD": PASSWORD,
            "CRIMEVIZ_WEBHOOK_SECRET": SECRET,
            "CRIMEVIZ_ALERTS_DIR": str(tmp_path / "alerts"),
            "CRIMEVIZ_PUBLIC_URL": "http://cctv.example",
        }
        out = tmp_path / "monitor.json"
        cmd = [sys.executable, "-m", "crimeviz", "monitor", "--camera", "gate", "--for", "14", "--json", str(out)]
        cmd += ["--db", str(path), "--user", "rev", "--stride", "8", "--webhook", hook.url]
        cmd += ["--email-to", "duty@example.org", "--smtp", f"127.0.0.1:{smtp.port}"]
        run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
        assert run.returncode == 0, run.stderr[-2000:]
        received, mails = list(hook.received), list(smtp.messages)
    summary = json.loads(out.read_text())
    assert summary["cameras"][0]["name"] == "Gate" and summary["cameras"][0]["frames"] > 60, (
        summary,
        run.stderr[-3000:],
    )
    assert len(summary["alerts"]) == 1, (summary, run.stderr[-3000:])
    alert = summary["alerts"][0]
    assert alert["camera"] == "Gate" and alert["peak"] > 0.5 and alert["end"] > alert["start"]
    latency = summary["latency_s"]
    assert latency["snippet_p95"] is not None and latency["report_p95"] < 3.0 and latency["ping_p95"] < 3.0, latency
    # the report: preliminary within 3 s, complete once the clip was finished
    report = json.loads(Path(alert["report_json"]).read_text())
    assert report["status"] == "complete" and report["camera"]["name"] == "Gate"
    assert report["model"]["label"] and report["curve"]
    assert Path(alert["report"]).read_bytes()[:5] == b"%PDF-"
    width, frames = clip_stream(alert["clip"])
    assert width == 320 and frames >= 30  # pre + blackout + post at 10 fps
    assert (tmp_path / "alerts" / f"alert-{alert['id']}" / "snapshot.jpg").read_bytes()[:2] == b"\xff\xd8"
    # the ping: one signed webhook, one e-mail, both naming the alert and linking to its page
    assert len(received) == 1
    _, headers, body = received[0]
    assert notify.verify(SECRET, headers["x-crimeviz-signature"], body)
    assert not notify.verify("another secret", headers["x-crimeviz-signature"], body)
    payload = json.loads(body)
    assert payload["alert_id"] == alert["id"] and payload["camera"] == "Gate"
    assert payload["units"] == []  # no approved patrol plan on duty in this store
    assert payload["link"] == f"http://cctv.example/live?alert={alert['id']}"
    assert len(mails) == 1 and mails[0][1] == ["duty@example.org"]
    mail = email.message_from_string(mails[0][2], policy=email.policy.default)
    assert mail["Subject"] == f"CCTV alert #{alert['id']} at Gate" and payload["link"] in mail.get_content()
    con = db.connect(path)
    row = alert_store.alert(con, alert["id"])
    assert row["status"] == "new" and row["severity"] == "alert" and row["report_complete"]
    assert alert_store.pings(con)["delivered_at"].notna().all()


def test_rtsp_camera_reconnects_after_the_server_freezes_and_after_it_dies():
    port = free_port()
    with RtspServer(port) as server:
        reader = StreamReader(
            server.url, 5, (160, 120), stall_s=1.5, connect_timeout_s=8, backoff_s=0.2, max_backoff_s=0.5
        ).start()
        try:
            assert len(frames_arrive(reader, 3, 10)) == 3 and reader.state == ONLINE
            assert reader.read(0.1).image.shape == (120, 160, 3)
            server.freeze()
            assert wait_until(lambda: reader.state != ONLINE, 6)
            # the watchdog or FFmpeg's own socket timeout (both stall_s) notices first
            assert "no frame" in reader.last_error or "timed out" in reader.last_error
            server.thaw()
            reader.read(0.1)
            assert wait_until(lambda: reader.state == ONLINE and reader.read(0.1) is not None, 10)
            server.stop()
            assert wait_until(lambda: reader.state != ONLINE, 6)
            with RtspServer(port):
                assert wait_until(lambda: reader.state == ONLINE and reader.read(0.1) is not None, 10)
                assert reader.reconnects >= 2
        finally:
            reader.stop()


def test_a_camera_that_never_connects_goes_offline_without_showing_its_password():
    cfg = cameras.CameraConfig(
        "Back door", f"rtsp://127.0.0.1:{free_port()}/cam", 43.6, -79.4, credentials="viewer:topsecret42"
    )
    url = cameras.connect_url(cfg)
    assert "topsecret42" in url
    reader = StreamReader(
        url,
        5,
        (160, 120),
        redact=partial(cameras.redact, cfg=cfg),
        connect_timeout_s=1,
        backoff_s=0.1,
        offline_after=2,
    )
    with reader:
        assert wait_until(lambda: reader.state == OFFLINE, 8)
        assert reader.frames == 0 and reader.last_error and "topsecret42" not in reader.last_error


def _ffmpeg_children(pid: int) -> dict[int, str]:
    """``pid``'s FFmpeg children and their command lines, as every local user can read them."""
    return {child: cmdline for child, (parent, cmdline) in ffmpeg_processes().items() if parent == pid}


def _leaks(secrets: list[str], since: float) -> list[str]:
    """Where ``secrets`` lie outside this process: an FFmpeg child's command line, a file an FFmpeg child holds
    open (deleted or not), a file in the temporary directory written since ``since``."""

    def holds(path: Path, info: os.stat_result) -> bool:
        if not stat.S_ISREG(info.st_mode) or info.st_size > 1 << 24:
            return False
        data = path.read_bytes()
        return any(secret.encode() in data for secret in secrets)

    found = []
    for pid, cmdline in _ffmpeg_children(os.getpid()).items():
        found += [f"command line {cmdline!r}" for secret in secrets if secret in cmdline]
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if holds(fd, fd.stat()):
                    found.append(f"FFmpeg's open file {os.readlink(fd)}")
    for root, _, names in os.walk(tempfile.gettempdir()):
        for name in names:
            path = Path(root, name)
            with contextlib.suppress(OSError):
                info = path.lstat()
                if info.st_mtime >= since and holds(path, info):
                    found.append(f"temporary file {path}")
    return found


def test_rtsp_credentials_reach_the_camera_but_never_a_command_line_or_a_file():
    since = time.time()
    with RtspServer(credentials="viewer:topsecret42") as server:
        good = cameras.CameraConfig("Gate", server.url, 43.6, -79.4, credentials="viewer:topsecret42")
        reader = StreamReader(cameras.connect_url(good), 5, (160, 120), redact=partial(cameras.redact, cfg=good))
        with reader:
            assert wait_until(lambda: _ffmpeg_children(os.getpid()), 5)
            assert "concat" in next(iter(_ffmpeg_children(os.getpid()).values()))
            assert _leaks(["topsecret42"], since) == []  # while FFmpeg connects
            assert frames_arrive(reader, 3, 15)[-1].image.shape == (120, 160, 3)
            assert _leaks(["topsecret42"], since) == []
        bad = cameras.CameraConfig("Gate", server.url, 43.6, -79.4, credentials="viewer:wrongguess9")
        reader = StreamReader(
            cameras.connect_url(bad), 5, (160, 120), redact=partial(cameras.redact, cfg=bad), backoff_s=0.1
        )
        with reader:
            assert wait_until(lambda: _ffmpeg_children(os.getpid()), 5)
            assert _leaks(["wrongguess9"], since) == []
            assert wait_until(lambda: reader.last_error is not None, 10)
            assert reader.frames == 0 and "401" in reader.last_error and "wrongguess9" not in reader.last_error


def test_credentials_in_a_cameras_query_string_stay_off_the_command_line_and_out_of_its_errors():
    """Hikvision/Dahua style ``?user=...&password=...`` (and ``user:password@``) over HTTP MJPEG."""
    since = time.time()
    secrets = ["topsecret42", "qs-secret-77"]
    with MultipartCamera(partial(_pattern, (320, 240))) as camera:
        url = camera.url.replace("http://", "http://viewer:topsecret42@") + "?user=admin&password=qs-secret-77"
        reader = StreamReader(url, 5, (160, 120), stall_s=1.5, connect_timeout_s=3, backoff_s=0.1)
        reader.start()
        try:
            assert frames_arrive(reader, 3, 10)[-1].image.shape == (120, 160, 3)
            assert "concat" in next(iter(_ffmpeg_children(os.getpid()).values()))
            assert _leaks(secrets, since) == []
        except BaseException:
            reader.stop()
            raise
    with reader:  # the camera is gone: FFmpeg's message names neither its URL nor the script pipe
        assert wait_until(lambda: reader.state != ONLINE and reader.failures >= 1, 10)
        assert reader.last_error and not any(secret in reader.last_error for secret in secrets), reader.last_error
        assert "/dev/fd" not in reader.last_error


def test_a_camera_url_ffmpeg_cannot_be_given_fails_like_a_connection():
    """A URL with a control character cannot go into the ffconcat script (a newline would add a directive):
    each try fails, the camera goes offline with the reason in one line, and the reader goes on until stopped."""
    reader = StreamReader(
        "rtsp://viewer:topsecret42@127.0.0.1:1/cam\nfile '/etc/passwd'",
        5,
        (160, 120),
        redact=cameras.redact,
        backoff_s=0.05,
        max_backoff_s=0.1,
        offline_after=2,
    )
    with reader:
        assert wait_until(lambda: reader.state == OFFLINE and reader.reconnects >= 3, 5)
        assert reader.last_error == "FFmpeg could not be started: a camera URL cannot hold control characters"
        assert reader.frames == 0 and not _ffmpeg_children(os.getpid())
    assert reader.state == STOPPED and not any(thread.is_alive() for thread in reader._threads)


def test_resolution_change_keeps_the_analysis_size(tmp_path):
    clip = anomaly_clip(tmp_path / "c.avi", 2, 0, 2)
    port = free_port()
    reader = StreamReader(f"http://127.0.0.1:{port}/cam.mjpg", 5, (320, 240), stall_s=1.5, backoff_s=0.1)
    with MjpegServer(clip, port, size=(384, 288)):
        reader.start()
        try:
            assert frames_arrive(reader, 3, 10)[-1].image.shape == (240, 320, 3)
        except BaseException:
            reader.stop()
            raise
    try:
        with MjpegServer(clip, port, size=(200, 150)):
            assert wait_until(lambda: reader.state == ONLINE and reader.frames > 8, 15)
            assert frames_arrive(reader, 2, 5)[-1].image.shape == (240, 320, 3)
    finally:
        reader.stop()


def test_garbage_from_the_camera_is_survived():
    """A server that answers an MJPEG header and then random bytes: no frame, no crash, reconnects."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    served = []

    def serve():
        rng = random.Random(7)
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=ffmpeg\r\n\r\n")
                conn.sendall(b"--ffmpeg\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8" + rng.randbytes(20000))
                served.append(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    reader = StreamReader(f"http://127.0.0.1:{port}/cam.mjpg", 5, (160, 120), connect_timeout_s=1, backoff_s=0.1)
    try:
        with reader:
            assert wait_until(lambda: len(served) >= 2, 10)
            assert reader.state != ONLINE and reader.reconnects >= 1
    finally:
        listener.close()
        thread.join(timeout=5)


def test_a_restarted_monitor_finishes_the_interrupted_alert_and_sends_its_ping_once(tmp_path):
    """A monitor killed during an alert left it open with its ping undelivered; the next one (here on a
    file looped as a demo camera, a calm scene) closes it where it was last seen, completes its
    report, delivers the ping once, and opens no second alert."""
    import time

    from crimeviz.cctv.live import monitor
    from crimeviz.cctv.live.alerts import AlertTracker
    from crimeviz.cctv.model import load_scorer

    con = db.connect(tmp_path / "store.duckdb")
    clip = anomaly_clip(tmp_path / "calm.avi", normal_s=6.0, black_s=0.0, after_s=0.0)
    cameras.add(con, cameras.CameraConfig("Yard", clip.as_uri(), 43.65, -79.38, detect_fps=5.0), "boss")
    cfg = cameras.get(con, "yard")
    alert_store.ensure_tables(con)
    with WebhookReceiver() as hook:
        settings = notify.Settings(webhooks=(hook.url,), webhook_secret=SECRET)
        now = time.time()
        seg = AlertTracker(0.5, 1).update(now - 30, now - 27, 0.97)[0].segment
        alert_id = alert_store.open_alert(con, cfg, seg, ("demo", "synthetic demo"), settings.targets(), now - 27)
        mon = monitor.Monitor(con, load_scorer(), [cfg], settings, media_dir=tmp_path / "alerts")
        summary = mon.run(6)
        received = list(hook.received)
    assert summary["cameras"][0]["frames"] >= 20 and summary["cameras"][0]["error"] is None
    assert alert_store.alerts(con)["alert_id"].tolist() == [alert_id]
    row = alert_store.alert(con, alert_id)
    assert row["ended_at"] is not None and abs(row["ended_at"].timestamp() - (now - 27)) < 0.01
    assert row["report_complete"] and Path(row["report_pdf"]).is_file()
    assert [json.loads(body)["alert_id"] for _, _, body in received] == [alert_id]


def test_a_camera_outside_its_schedule_is_not_watched(tmp_path):
    from datetime import datetime, timedelta

    from crimeviz.cctv.live import monitor
    from crimeviz.cctv.model import load_scorer

    con = db.connect(tmp_path / "store.duckdb")
    clip = anomaly_clip(tmp_path / "calm.avi", normal_s=3.0, black_s=0.0, after_s=0.0)
    later = datetime.now() + timedelta(hours=2)
    schedule = f"{later:%H}:00-{(later + timedelta(hours=1)):%H}:00"
    cameras.add(con, cameras.CameraConfig("Night", clip.as_uri(), 43.65, -79.38, schedule=schedule), "boss")
    cameras.add(con, cameras.CameraConfig("Off", clip.as_uri(), 43.65, -79.38, enabled=False), "boss")
    chosen = monitor.watched(cameras.all_cameras(con), None)
    assert [c.name for c in chosen] == ["Night"]  # disabled cameras are left out
    summary = monitor.Monitor(con, load_scorer(), chosen, media_dir=tmp_path / "alerts").run(2)
    assert summary["cameras"][0]["state"] == "off schedule" and summary["cameras"][0]["frames"] == 0
    assert alert_store.camera_status(con).set_index("name").loc["Night", "state"] == "off schedule"


def _pattern(size, i):
    image = np.zeros((size[1], size[0], 3), np.uint8)
    cv2.circle(image, ((i * 7) % size[0], size[1] // 2), max(4, size[1] // 8), (255, 255, 255), -1)
    return image


def test_a_stream_that_changes_resolution_and_sends_garbage_mid_stream_keeps_coming():
    """320×240, then 200×150, then a part of random bytes, then 320×240 again, all on one connection."""
    rng = np.random.default_rng(5)

    def frames(i):
        if i < 20:
            return _pattern((320, 240), i)
        if i == 40:
            return b"\xff\xd8" + rng.bytes(5000)
        return _pattern((200, 150), i) if i < 40 else _pattern((320, 240), i)

    with MultipartCamera(frames) as camera:
        reader = StreamReader(camera.url, 10, (160, 120), stall_s=3, backoff_s=0.1)
        with reader:
            assert wait_until(lambda: camera.sent > 55, 20)
            got = frames_arrive(reader, 200, 2)
            # every frame after the change and after the garbage came through, on the first connection
            assert reader.frames >= 50 and reader.reconnects == 0 and reader.state == ONLINE
        assert all(f.image.shape == (120, 160, 3) for f in got)
