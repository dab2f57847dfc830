"""Session tokens: a reload keeps a user signed in; sign-out, a new password, expiry or forgery end it."""

from datetime import datetime, timedelta

import pytest

from crimeviz.access import auth, sessions
from crimeviz.store import audit

PASSWORD = "a long test password"


@pytest.fixture
def ana(empty_store):
    auth.add_user(empty_store, "ana", PASSWORD, "analyst")
    return empty_store


def test_token_restores_the_user(ana):
    token = sessions.issue("ana")
    assert sessions.user_for(ana, token) == auth.User("ana", "ana", "analyst")


def test_token_expires(ana):
    token = sessions.issue("ana")
    assert sessions.user_for(ana, token, datetime.now() + sessions.LIFETIME + timedelta(seconds=1)) is None


def test_sign_out_voids_earlier_tokens(ana):
    token = sessions.issue("ana")
    audit.record(ana, "ana", "sign_out", "user", "ana")
    assert sessions.user_for(ana, token) is None
    assert sessions.user_for(ana, sessions.issue("ana")) is not None  # a later sign-in works


def test_password_change_voids_tokens(ana):
    token = sessions.issue("ana")
    auth.update_user(ana, "ana", by="root", password="another long password")
    assert sessions.user_for(ana, token) is None


def test_disabled_account_is_not_restored(ana):
    token = sessions.issue("ana")
    auth.update_user(ana, "ana", by="root", active=False)
    assert sessions.user_for(ana, token) is None


def test_forged_or_altered_tokens_are_refused(ana, secrets_file):
    auth.add_user(ana, "root", PASSWORD, "admin")
    token = sessions.issue("ana")
    body, mac = token.split(".")
    other_body = sessions.issue("root").split(".")[0]
    for bad in (f"{other_body}.{mac}", f"{body}.{mac[:-2]}AA", body, "", "x.y", "..."):
        assert sessions.user_for(ana, bad) is None
    key = secrets_file.with_name("session.key")
    assert key.stat().st_mode & 0o077 == 0
    key.write_text("00" * 32)  # a new key voids every token signed with the old one
    assert sessions.user_for(ana, token) is None
