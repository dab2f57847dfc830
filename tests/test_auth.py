"""Accounts, roles, sign-in lock-out and the audit trail."""

import tomllib
from datetime import datetime, timedelta

import pytest

from crimeviz.access import auth
from crimeviz.store import audit

PASSWORD = "correct horse battery"


def test_roles_grant_what_the_issue_says():
    grants = {role: {p for p, roles in auth.PERMISSIONS.items() if role in roles} for role in auth.ROLES}
    assert grants["analyst"] == {"incidents", "forecasts", "streetview"}
    assert grants["commander"] == grants["analyst"] | {"patrol"}
    assert grants["reviewer"] == {"cctv"}
    assert grants["admin"] == set(auth.PERMISSIONS)


def test_require_refuses_other_roles_and_anonymous():
    analyst = auth.User("ana", "Ana", "analyst")
    assert auth.require(analyst, "incidents") is analyst
    with pytest.raises(auth.AccessDenied, match="analyst role may not use patrol"):
        auth.require(analyst, "patrol")
    with pytest.raises(auth.AccessDenied, match="sign in"):
        auth.require(None, "incidents")


def test_passwords_are_bcrypt_hashed_in_the_secrets_file_and_checked(empty_store, secrets_file):
    auth.add_user(empty_store, "ana", PASSWORD, "analyst")
    text = secrets_file.read_text()
    stored = tomllib.loads(text)["crimeviz"]["users"]["ana"]["password_hash"]
    assert stored.startswith("$2b$12$") and PASSWORD not in text
    assert secrets_file.stat().st_mode & 0o077 == 0  # readable by its owner only
    assert auth.sign_in(empty_store, "Ana ", PASSWORD) == auth.User("ana", "ana", "analyst")
    with pytest.raises(auth.AccessDenied, match="wrong user name or password"):
        auth.sign_in(empty_store, "ana", "wrong password!!")
    with pytest.raises(auth.AccessDenied, match="wrong user name or password"):
        auth.sign_in(empty_store, "nobody", PASSWORD)


@pytest.mark.parametrize(
    "name, password, role, message",
    [
        ("Ana Smith", PASSWORD, "analyst", "user names"),
        ("ana", "short", "analyst", "at least 12"),
        ("ana", PASSWORD, "superuser", "role must be"),
    ],
)
def test_add_user_validates(empty_store, name, password, role, message):
    with pytest.raises(ValueError, match=message):
        auth.add_user(empty_store, name, password, role)
    assert auth.user_count() == 0


def test_lockout_after_repeated_failures(empty_store):
    auth.add_user(empty_store, "ana", PASSWORD, "analyst")
    for _ in range(auth.MAX_FAILURES):
        with pytest.raises(auth.AccessDenied):
            auth.sign_in(empty_store, "ana", "not the password")
    with pytest.raises(auth.AccessDenied, match="too many failed attempts"):
        auth.sign_in(empty_store, "ana", PASSWORD)
    later = datetime.now() + auth.LOCKOUT + timedelta(seconds=1)
    assert auth.recent_failures(empty_store, "ana", later) == 0


def test_deactivated_user_cannot_sign_in(empty_store):
    auth.add_user(empty_store, "ana", PASSWORD, "analyst")
    auth.update_user(empty_store, "ana", by="admin", active=False)
    with pytest.raises(auth.AccessDenied):
        auth.sign_in(empty_store, "ana", PASSWORD)


def test_audit_trail_records_who_did_what(empty_store):
    auth.add_user(empty_store, "root", PASSWORD, "admin")
    auth.sign_in(empty_store, "root", PASSWORD)
    audit.record(empty_store, "root", "import", "file", "chicago.csv", {"loaded": 2})
    log = audit.entries(empty_store)
    assert list(log["action"]) == ["import", "sign_in", "user.add"]
    assert log["detail"].iloc[0] == '{"loaded": 2}'
    assert list(audit.entries(empty_store, action="sign_in")["action"]) == ["sign_in"]


def test_no_bootstrap_once_any_account_exists_even_if_all_are_deactivated(empty_store, tmp_path, monkeypatch, capsys):
    from crimeviz.cli import main as cli

    auth.add_user(empty_store, "root", PASSWORD, "admin")
    auth.update_user(empty_store, "root", by="root", active=False)
    assert auth.user_count() == 1
    monkeypatch.setenv("CRIMEVIZ_NEW_PASSWORD", PASSWORD)
    monkeypatch.delenv("CRIMEVIZ_USER", raising=False)
    code = cli.main(["users", "add", "mallory", "--role", "admin", "--db", str(tmp_path / "other.duckdb")])
    assert code == 2 and "give --user" in capsys.readouterr().err
    assert "mallory" not in set(auth.users()["username"])


def test_first_start_form_is_not_offered_once_every_account_is_deactivated(toronto_db, tmp_path, monkeypatch):
    import shutil

    from streamlit.testing.v1 import AppTest

    from crimeviz.store import db
    from tests.conftest import ROOT

    path = tmp_path / "app.duckdb"
    shutil.copy(toronto_db, path)
    monkeypatch.setenv("CRIMEVIZ_DB", str(path))
    con = db.connect(path)
    auth.add_user(con, "root", PASSWORD, "admin")
    auth.update_user(con, "root", by="root", active=False)
    con.close()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert "Create the first administrator" not in [s.value for s in at.subheader]
    assert not [t for t in at.text_input if t.key == "signin_repeat"]
