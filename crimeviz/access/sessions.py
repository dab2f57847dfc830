"""Signed session tokens, kept in a browser cookie: a reload, a bookmark or a link keeps the user
signed in until the token expires, they sign out, or their password changes.

A token is ``base64url(JSON {"u": user, "iat": issued, "exp": expires, "fp": fingerprint})`` and
``"."`` and the payload's HMAC-SHA256 (RFC 2104) under a key kept beside the accounts file
(``.streamlit/session.key``, git-ignored, owner-only, made on first use). The fingerprint is an
HMAC of the account's password hash, so a new password voids every older token; a token issued
before the user's last sign-out (in the audit trail) is void too.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
from datetime import datetime, timedelta

from crimeviz import config
from crimeviz.access import accounts, auth

COOKIE = "crimeviz_session"
LIFETIME = timedelta(hours=8)


def _key() -> bytes:
    """The signing key; created (random, owner-only) when there is none yet."""
    path = config.secrets_path().with_name("session.key")
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another server process made it first
            return bytes.fromhex(path.read_text().strip())
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        return bytes.fromhex(path.read_text().strip())


def _mac(key: bytes, data: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, data, hashlib.sha256).digest()).decode().rstrip("=")


def _fingerprint(key: bytes, username: str, password_hash: str) -> str:
    return _mac(key, f"{username}\0{password_hash}".encode())[:22]


def issue(username: str, now: datetime | None = None) -> str:
    """A token for ``username``'s account as it is now, valid for LIFETIME."""
    now = now or datetime.now()
    key = _key()
    account = accounts.accounts()[username]
    payload = {
        "u": username,
        "iat": now.timestamp(),
        "exp": (now + LIFETIME).timestamp(),
        "fp": _fingerprint(key, username, account["password_hash"]),
    }
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{body}.{_mac(key, body.encode())}"


def _payload(token: str) -> dict | None:
    """The token's payload if its signature is ours, else None."""
    body, _, mac = token.partition(".")
    if not body or not hmac.compare_digest(mac, _mac(_key(), body.encode())):
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None


def last_sign_out(con, username: str) -> datetime | None:
    return con.execute(
        "SELECT max(logged_at) FROM audit_log WHERE action = 'sign_out' AND object_id = ?", [username]
    ).fetchall()[0][0]


def user_for(con, token: str | None, now: datetime | None = None) -> auth.User | None:
    """The user ``token`` keeps signed in, or None when it is missing, forged, expired, issued
    before their last sign-out, or their account is disabled or has a new password."""
    payload = _payload(token) if token and isinstance(token, str) else None
    if not isinstance(payload, dict) or not {"u", "iat", "exp", "fp"} <= payload.keys():
        return None
    now = now or datetime.now()
    username = str(payload["u"])
    account = accounts.accounts().get(username)
    signed_out = last_sign_out(con, username)
    if (
        payload["exp"] <= now.timestamp()
        or account is None
        or not account.get("active", True)
        or account.get("role") not in auth.ROLES
        or not hmac.compare_digest(str(payload["fp"]), _fingerprint(_key(), username, account["password_hash"]))
        or (signed_out is not None and payload["iat"] <= signed_out.timestamp())
    ):
        return None
    return auth.User(username, account.get("display_name", username), account["role"])
