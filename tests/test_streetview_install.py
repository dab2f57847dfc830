"""Installing street-view models for every user is an administrator's action, on the command line too."""

import pytest

from crimeviz.access import auth
from crimeviz.store import db
from crimeviz.streetview import checkpoints
from tests.test_streetview_cli import PASSWORD, default_store, run  # noqa: F401 (fixture)
from tests.test_streetview_scoring import RECORD, small_lite


@pytest.fixture
def accounts(tmp_path, monkeypatch):
    """A store with an administrator ``chief`` and an analyst ``ana``; an empty installed folder."""
    monkeypatch.setenv("CRIMEVIZ_STREETVIEW_WEIGHTS", str(tmp_path / "weights"))
    path = tmp_path / "store.duckdb"
    con = db.connect(path)
    auth.add_user(con, "chief", PASSWORD, "admin")
    auth.add_user(con, "ana", PASSWORD, "analyst")
    con.close()
    checkpoints.save_lite(small_lite(), tmp_path / "lite.pth", RECORD)
    return path


def installs(path) -> list[tuple]:
    con = db.connect(path)
    try:
        return con.execute(
            "SELECT username, object_id FROM audit_log WHERE action = 'streetview.install' ORDER BY entry_id"
        ).fetchall()
    finally:
        con.close()


def test_an_administrator_installs_a_checkpoint_and_it_is_audited(accounts, tmp_path, capsys):
    code, out = run(["install", str(tmp_path / "lite.pth"), "--user", "chief", "--db", str(accounts)], capsys)
    assert code == 0 and out["installed"] == "lite.pth" and out["model"] == "DevianceNet-Lite"
    assert checkpoints.installed() == [tmp_path / "weights" / "lite.pth"]
    assert installs(accounts) == [("chief", "lite.pth")]


def test_analysts_cannot_install_nor_train_into_the_installed_folder(accounts, tmp_path, capsys):
    code, message = run(["install", str(tmp_path / "lite.pth"), "--user", "ana", "--db", str(accounts)], capsys)
    assert (code, message) == (2, "the analyst role may not use models")
    code, message = run(["install", str(tmp_path / "lite.pth"), "--db", str(accounts)], capsys)
    assert code == 2 and "give --user NAME" in message
    code, message = run(["train", str(tmp_path), "--out", str(tmp_path / "weights" / "mine.pth")], capsys)
    assert code == 2 and message.startswith("models in the installed folder are offered to every user")
    assert checkpoints.installed() == [] and installs(accounts) == []
