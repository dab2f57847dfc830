"""Session tokens: a reload keeps a user signed in; sign-out, a new password, expiry or forgery end it."""

import os
from datetime import datetime, timedelta

import pytest

from crimeviz.access import accounts, auth, sessions
from crimeviz.store import audit

PASSWORD = "a long test password"


@pytest.fixture
def ana(empty_store):
    auth.add_user(empty_store, "ana", PASSWORD, "analyst")
    return empty_store


def test_token_restores_the_user(ana):
    token = sessions.issue(ana, "ana")
    assert sessions.user_for(ana, token) == auth.User("ana", "ana", "analyst")


def test_token_expires(ana):
    token = sessions.issue(ana, "ana")
    assert sessions.user_for(ana, token, datetime.now() + sessions.LIFETIME + timedelta(seconds=1)) is None


def test_sign_out_voids_earlier_tokens(ana):
    token = sessions.issue(ana, "ana")
    audit.record(ana, "ana", "sign_out", "user", "ana")
    assert sessions.user_for(ana, token) is None
    assert sessions.user_for(ana, sessions.issue(ana, "ana")) is not None  # a later sign-in works


def test_password_change_voids_tokens(ana):
    token = sessions.issue(ana, "ana")
    auth.update_user(ana, "ana", by="root", password="another long password")
    assert sessions.user_for(ana, token) is None


def test_disabled_account_is_not_restored(ana):
    token = sessions.issue(ana, "ana")
    auth.update_user(ana, "ana", by="root", active=False)
    assert sessions.user_for(ana, token) is None


def test_forged_or_altered_tokens_are_refused(ana, secrets_file):
    auth.add_user(ana, "root", PASSWORD, "admin")
    token = sessions.issue(ana, "ana")
    body, mac = token.split(".")
    other_body = sessions.issue(ana, "root").split(".")[0]
    for bad in (f"{other_body}.{mac}", f"{body}.{mac[:-2]}AA", body, "", "x.y", "..."):
        assert sessions.user_for(ana, bad) is None
    key = secrets_file.with_name("session.key")
    assert key.stat().st_mode & 0o077 == 0
    key.write_text("00" * 32)  # a new key voids every token signed with the old one
    assert sessions.user_for(ana, token) is None


def test_sign_out_in_the_repeated_autumn_hour_voids_earlier_tokens(ana):
    token = sessions.issue(ana, "ana")
    audit.record(ana, "ana", "sign_out", "user", "ana")
    # the clocks went back an hour between the sign-in and the sign-out: the local time repeats
    ana.execute("UPDATE audit_log SET logged_at = logged_at - INTERVAL 1 HOUR WHERE action = 'sign_out'")
    assert sessions.user_for(ana, token) is None


def test_a_cut_off_key_is_refused_not_used(ana, secrets_file):
    key = secrets_file.with_name("session.key")
    for text in ("", "ab" * 16, "not hex"):  # left by a crash, or short
        key.write_text(text)
        with pytest.raises(accounts.AccountsUnavailable, match="no valid session key"):
            sessions.issue(ana, "ana")


def test_racing_processes_share_the_first_key(ana, secrets_file, monkeypatch):
    key = secrets_file.with_name("session.key")
    link = os.link

    def other_process_first(source, target):
        key.write_text("11" * 32)  # another server process linked its key in meanwhile
        link(source, target)

    monkeypatch.setattr(os, "link", other_process_first)
    token = sessions.issue(ana, "ana")
    monkeypatch.setattr(os, "link", link)
    assert key.read_text() == "11" * 32
    assert sessions.user_for(ana, token) is not None  # signed with the key every process uses
    assert [p.name for p in key.parent.iterdir() if p.name.startswith(".session")] == []
