"""The live camera registry: settings validated by key, credentials kept apart, audited CLI."""

import json
from dataclasses import replace
from datetime import datetime, time

import pytest

from crimeviz.access import auth
from crimeviz.cctv import cameras
from crimeviz.cli import main as main_cli
from crimeviz.store import audit, db

PASSWORD = "camera admin password"


def test_credentials_leave_the_url_and_come_back_only_to_connect():
    url, secret = cameras.split_credentials("rtsp://bob:p%40ss@10.0.0.5:554/live?ch=1")
    assert url == "rtsp://10.0.0.5:554/live?ch=1"
    assert secret == "bob:p@ss"
    cfg = cameras.CameraConfig("gate", url, 43.6, -79.4, credentials=secret)
    assert "p@ss" not in repr(cfg) and "p@ss" not in json.dumps(cfg.public())
    assert cfg.public()["credentials"] == "stored"
    assert cameras.connect_url(cfg) == "rtsp://bob:p%40ss@10.0.0.5:554/live?ch=1"
    message = "Connection to rtsp://bob:p%40ss@10.0.0.5:554/live failed (password p@ss)"
    assert cameras.redact(message, cfg) == "Connection to rtsp://***@10.0.0.5:554/live failed (password ***)"


def test_credentials_in_the_query_string_are_kept_like_user_and_password():
    """Cameras that take ?user=…&pwd=… (Foscam, some Dahua CGI streams): stored apart, put back only to connect."""
    url, secret = cameras.split_credentials("http://cam:81/videostream.cgi?ch=1&user=admin&pwd=s3cr%26t")
    assert (url, secret) == ("http://cam:81/videostream.cgi?ch=1", "?user=admin&pwd=s3cr%26t")
    cfg = cameras.CameraConfig("gate", url, 43.6, -79.4, credentials=secret)
    assert "s3cr" not in json.dumps(cfg.public()) and cfg.public()["credentials"] == "stored"
    assert cameras.connect_url(cfg) == "http://cam:81/videostream.cgi?ch=1&user=admin&pwd=s3cr%26t"
    message = "Impossible to open 'http://cam:81/videostream.cgi?ch=1&user=admin&pwd=s3cr%26t'; pwd s3cr&t"
    assert (
        cameras.redact(message, cfg)
        == "Impossible to open 'http://cam:81/videostream.cgi?ch=1&user=***&pwd=***'; pwd ***"
    )
    door_url, door_secret = cameras.split_credentials("rtsp://bob:pw1@cam/x?token=abc&ch=2")
    both = cameras.CameraConfig("door", door_url, 43.6, -79.4, credentials=door_secret)
    assert cameras.connect_url(both) == "rtsp://bob:pw1@cam/x?ch=2&token=abc"
    con = db.connect(":memory:")
    cameras.add(con, cfg, "admin")
    assert cameras.get(con, "gate").url == url and cameras.get(con, "gate").credentials == secret
    for bad in ("?ch=1", "?pwd=x&ch=1", "a:b?ch=1", "nocolon"):
        with pytest.raises(cameras.CameraConfigError, match="credentials: give user:password"):
            cameras.add(con, replace(cfg, name=f"bad {bad}", credentials=bad), "admin")
    with pytest.raises(cameras.CameraConfigError, match="url: credentials belong in the credentials setting"):
        cameras.add(con, replace(cfg, name="leaky", url="http://cam/v.cgi?password=x", credentials=None), "admin")


def test_env_credentials_are_read_when_connecting():
    cfg = cameras.CameraConfig("gate", "rtsp://cam/x", 43.6, -79.4, credentials="env:GATE_CREDS")
    assert cameras.connect_url(cfg, {"GATE_CREDS": "u:v"}) == "rtsp://u:v@cam/x"
    assert cameras.connect_url(cfg, {}) == "rtsp://cam/x"
    assert cfg.public()["credentials"] == "env:GATE_CREDS"


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"url": "concat:a.mp4|b.mp4"}, "url"),
        ({"url": "rtsp://u:p@cam/x"}, "url"),
        ({"detect_fps": 0}, "detect_fps"),
        ({"detect_width": 321}, "detect_width"),
        ({"threshold": 1.5}, "threshold"),
        ({"schedule": "nights"}, "schedule"),
        ({"masks": (((0, 0), (2, 0), (1, 1)),)}, "masks"),
        ({"credentials": "env:1BAD"}, "credentials"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(changes, key):
    values = {"name": "gate", "url": "rtsp://cam/x", "lat": 43.6, "lon": -79.4, **changes}
    with pytest.raises(cameras.CameraConfigError, match=f"^{key}"):
        cameras.CameraConfig(**values)


def test_schedule_crossing_midnight():
    assert cameras.in_schedule("22:00-06:00", time(23, 30))
    assert cameras.in_schedule("22:00-06:00", time(5, 59))
    assert not cameras.in_schedule("22:00-06:00", time(12, 0))
    assert cameras.in_schedule("08:00-17:00", time(8, 0)) and not cameras.in_schedule("08:00-17:00", time(17, 0))
    cfg = cameras.CameraConfig("gate", "rtsp://cam/x", 43.6, -79.4, schedule="22:00-06:00", enabled=True)
    assert not cfg.watched_at(datetime(2026, 1, 1, 12, 0))
    assert not cameras.CameraConfig("g", "rtsp://cam/x", 43.6, -79.4, enabled=False).watched_at(datetime(2026, 1, 1))


def test_a_path_becomes_a_file_url(tmp_path):
    url, secret = cameras.split_credentials(str(tmp_path / "demo clip.mp4"))
    assert url.startswith("file://") and secret is None
    cfg = cameras.CameraConfig("demo", url, 43.6, -79.4)
    assert cfg.is_file and cameras.connect_url(cfg) == str(tmp_path / "demo clip.mp4")


def test_add_edit_remove_round_trip_and_audit(tmp_path):
    con = db.connect(tmp_path / "s.duckdb")
    cfg = cameras.CameraConfig(
        "Gate", "http://127.0.0.1:9/cam.mjpg", 43.65, -79.38, zones=(("door", ((0.5, 0.5), (1, 0.5), (1, 1))),)
    )
    camera_id = cameras.add(con, cfg, "boss")
    assert cameras.get(con, "gate") == cameras.CameraConfig(**{**cfg.__dict__, "camera_id": camera_id})
    with pytest.raises(cameras.CameraConfigError, match="already exists"):
        cameras.add(con, cfg, "boss")
    edited = cameras.edit(con, "GATE", "boss", detect_fps=10.0, schedule="22:00-06:00")
    assert cameras.get(con, camera_id=camera_id) == edited and edited.detect_fps == 10.0
    with pytest.raises(cameras.CameraConfigError, match="^detect_fps"):
        cameras.edit(con, "gate", "boss", detect_fps=99.0)
    assert cameras.get(con, "gate").detect_fps == 10.0  # nothing stored by the refused edit
    cameras.remove(con, "gate", "boss")
    assert cameras.all_cameras(con) == []
    actions = audit.entries(con, action="cameras.")["action"].tolist()
    assert actions == ["cameras.remove", "cameras.edit", "cameras.add"]


def test_cli_keeps_credentials_out_of_output_and_audit(tmp_path, monkeypatch, capsys):
    path = tmp_path / "s.duckdb"
    con = db.connect(path)
    auth.add_user(con, "boss", PASSWORD, "admin")
    auth.add_user(con, "rev", PASSWORD, "reviewer")
    con.close()
    monkeypatch.setenv("CRIMEVIZ_PASSWORD", PASSWORD)
    common = ["--db", str(path)]
    url = "rtsp://viewer:hunter22@127.0.0.1:8554/gate"
    assert main_cli.main(["cameras", "add", "gate", "--url", url, "--lat", "43.65", "--lon", "-79.38", *common]) == 2
    assert "--user" in capsys.readouterr().err
    argv = ["cameras", "add", "gate", "--url", url, "--lat", "43.65", "--lon", "-79.38", *common]
    assert main_cli.main([*argv, "--user", "rev"]) == 2  # reviewers may not add cameras
    assert main_cli.main([*argv, "--user", "boss", "--fps", "10"]) == 0
    assert main_cli.main(["cameras", "edit", "gate", "--cooldown", "5", "--user", "boss", *common]) == 0
    assert main_cli.main(["cameras", "list", *common]) == 0
    out = capsys.readouterr().out
    listed = json.loads(out.strip().splitlines()[-1])
    assert listed[0]["url"] == "rtsp://127.0.0.1:8554/gate" and listed[0]["cooldown_s"] == 5.0
    assert listed[0]["detect_fps"] == 10.0 and listed[0]["credentials"] == "stored"
    con = db.connect(path)
    trail = audit.entries(con).to_json()
    assert "hunter22" not in out and "hunter22" not in trail
    assert cameras.connect_url(cameras.get(con, "gate")) == url
    con.close()
    assert main_cli.main(["cameras", "remove", "gate", "--user", "boss", *common]) == 0
