"""Retention: uploads older than the period are deleted by an audited, admin-only command."""

import json
import os
import time

import pytest

from crimeviz.access import auth, retention
from crimeviz.cli import main as cli
from crimeviz.store import audit, db

PASSWORD = "a long test password"


def make_upload(root, name, age_days):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "clip.mp4").write_bytes(b"x" * 1000)
    stamp = time.time() - age_days * 86_400
    os.utime(folder, (stamp, stamp))
    return folder


def test_purge_deletes_only_expired_uploads_and_is_audited(empty_store, tmp_path):
    old = make_upload(tmp_path, "cctv-old", 31)
    recent = make_upload(tmp_path, "cctv-recent", 29)
    summary = retention.purge(empty_store, "root", 30, tmp_path)
    assert (summary["deleted"], summary["bytes"]) == (1, 1000)
    assert not old.exists() and recent.exists()
    entry = audit.entries(empty_store, action="retention.purge")
    assert entry["username"].tolist() == ["root"] and json.loads(entry["detail"][0])["deleted"] == 1


def test_purge_refuses_a_zero_period(empty_store, tmp_path):
    with pytest.raises(ValueError, match="at least 1 day"):
        retention.purge(empty_store, "root", 0, tmp_path)


def test_cli_purge_is_for_admins(tmp_path, monkeypatch, capsys):
    path = tmp_path / "r.duckdb"
    con = db.connect(path)
    auth.add_user(con, "root", PASSWORD, "admin")
    auth.add_user(con, "rev", PASSWORD, "reviewer")
    con.close()
    uploads = tmp_path / "uploads"
    make_upload(uploads, "cctv-old", 40)
    monkeypatch.setenv("CRIMEVIZ_UPLOADS", str(uploads))
    monkeypatch.setenv("CRIMEVIZ_PASSWORD", PASSWORD)
    monkeypatch.setenv("CRIMEVIZ_USER", "rev")
    assert cli.main(["retention", "purge", "--db", str(path)]) == 2
    assert "reviewer role may not use data" in capsys.readouterr().err
    monkeypatch.setenv("CRIMEVIZ_USER", "root")
    assert cli.main(["retention", "purge", "--db", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"] == 1
