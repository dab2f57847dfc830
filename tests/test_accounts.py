"""Accounts in the secrets file: other sections survive, bad files change nothing, writers queue."""

import multiprocessing
import os
import tomllib

import pytest

from crimeviz.access import accounts, auth

PASSWORD = "correct horse battery"
OTHER = '''# Streamlit's OpenID Connect settings (kept as they are)
[auth]
redirect_uri = "http://localhost:8501/oauth2callback"
cookie_secret = "not a real secret"

[crimeviz.oidc_roles]
"Ana@Police.example" = "analyst"
'''


def test_accounts_are_written_beside_the_other_sections_which_stay_verbatim(empty_store, secrets_file):
    secrets_file.write_text(OTHER)
    auth.add_user(empty_store, "ana.b", PASSWORD, "analyst", display_name='Ana "B" Ünal')
    auth.add_user(empty_store, "root", PASSWORD, "admin")
    text = secrets_file.read_text()
    assert text.startswith(OTHER.rstrip("\n"))
    parsed = tomllib.loads(text)
    assert sorted(parsed["crimeviz"]["users"]) == ["ana.b", "root"]  # a dotted name stays one key
    assert parsed["crimeviz"]["users"]["ana.b"]["display_name"] == 'Ana "B" Ünal'
    assert accounts.oidc_roles() == {"ana@police.example": "analyst"}
    auth.update_user(empty_store, "ana.b", by="root", role="commander")
    assert tomllib.loads(secrets_file.read_text())["auth"]["cookie_secret"] == "not a real secret"
    assert auth.sign_in(empty_store, "ana.b", PASSWORD).role == "commander"
    assert list(auth.users().columns) == ["username", "display_name", "role", "active", "created_at"]


def test_a_broken_secrets_file_is_named_and_left_alone(empty_store, secrets_file):
    secrets_file.write_text("[crimeviz.users.ana\nrole = 'analyst'\n")
    before = secrets_file.read_bytes()
    with pytest.raises(accounts.AccountsUnavailable, match="secrets.toml is not valid TOML"):
        auth.add_user(empty_store, "root", PASSWORD, "admin")
    with pytest.raises(accounts.AccountsUnavailable, match="not valid TOML"):
        auth.sign_in(empty_store, "ana", PASSWORD)
    assert secrets_file.read_bytes() == before


def test_an_account_with_an_unknown_role_cannot_sign_in(empty_store, secrets_file):
    auth.add_user(empty_store, "ana", PASSWORD, "analyst")
    secrets_file.write_text(secrets_file.read_text().replace('role = "analyst"', 'role = "superuser"'))
    with pytest.raises(auth.AccessDenied, match="wrong user name or password"):
        auth.sign_in(empty_store, "ana", PASSWORD)


def _add(args):
    path, name = args
    os.environ["CRIMEVIZ_SECRETS"] = path
    with accounts.editing() as users:
        users[name] = {"role": "analyst", "password_hash": "x", "active": True}


def test_concurrent_writers_lose_no_account(secrets_file):
    names = [f"user{i:02d}" for i in range(24)]
    with multiprocessing.get_context("fork").Pool(6) as pool:
        pool.map(_add, [(str(secrets_file), name) for name in names])
    assert sorted(accounts.accounts()) == names


@pytest.mark.parametrize(
    "claims, roles, expected",
    [
        (
            {"email": "Ana@Police.example", "name": "Ana"},
            {"ana@police.example": "analyst"},
            auth.User("ana@police.example", "Ana", "analyst"),
        ),
        (
            {"email": "cmdr@police.example", "email_verified": True},
            {"cmdr@police.example": "commander"},
            auth.User("cmdr@police.example", "cmdr@police.example", "commander"),
        ),
    ],
)
def test_identity_provider_users_get_the_role_mapped_to_their_email(claims, roles, expected):
    assert auth.provider_user(claims, roles) == expected


@pytest.mark.parametrize(
    "claims, roles, message",
    [
        ({"email": "eve@example.com"}, {"ana@police.example": "analyst"}, "has no CrimeViz role"),
        ({"email": "ana@police.example", "email_verified": False}, {"ana@police.example": "analyst"}, "verified"),
        ({"name": "No Mail"}, {}, "verified e-mail"),
        ({"email": "ana@police.example"}, {"ana@police.example": "superuser"}, "has no CrimeViz role"),
    ],
)
def test_identity_provider_users_without_a_valid_role_are_refused(claims, roles, message):
    with pytest.raises(auth.AccessDenied, match=message):
        auth.provider_user(claims, roles)


def test_the_documented_example_is_valid_once_uncommented(tmp_path):
    import re

    from tests.conftest import ROOT

    example = (ROOT / ".streamlit" / "secrets.example.toml").read_text()
    assert tomllib.loads(example) == {}  # as shipped it configures nothing
    setting = re.compile(r'^# (\[|"?[\w.@-]+"? = )')
    path = tmp_path / "uncommented.toml"
    path.write_text("\n".join(line[2:] for line in example.splitlines() if setting.match(line)))
    parsed = accounts.read(path)
    assert accounts.accounts(path)["chief"]["role"] == "admin"
    assert set(accounts.oidc_roles(path).values()) <= set(auth.ROLES)
    assert {"redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url"} <= set(parsed["auth"])
