"""Signed session tokens, kept in a browser cookie: a reload, a bookmark or a link keeps the user
signed in until the token expires, they sign out, or their password changes.

A token is ``base64url(JSON {"u": user, "so": sign-out, "exp": expires, "fp": fingerprint})`` and
``"."`` and the payload's HMAC-SHA256 (RFC 2104) under a key kept beside the accounts file
(``.streamlit/session.key``, git-ignored, owner-only, made on first use). The fingerprint is an
HMAC of the account's password hash, so a new password voids every older token. ``so`` is the
audit entry id of the user's last sign-out when the token was issued: a later sign-out (a higher
entry id, which unlike the local clock never repeats an hour) voids the token too.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from datetime import datetime, timedelta

from crimeviz import config
from crimeviz.access import accounts, auth

COOKIE = "crimeviz_session"
LIFETIME = timedelta(hours=8)
KEY_BYTES = 32


def _read_key(path) -> bytes:
    """The key in ``path``; a short or garbled one (e.g. cut off by a crash) is refused, never used."""
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise accounts.AccountsUnavailable(
            f"{path} holds no valid session key (want {KEY_BYTES} bytes as hex); delete it to make a new one "
            "(every session cookie then ends)"
        )
    return key


def _key() -> bytes:
    """The signing key; created (random, owner-only) when there is none yet.

    A new key is written to a temporary file and linked into place whole, so no reader ever sees
    a partial key; when two processes race, the first link wins and the other reads that key."""
    path = config.secrets_path().with_name("session.key")
    try:
        return _read_key(path)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".session.key.")  # mode 0o600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(KEY_BYTES))
            out.flush()
            os.fsync(out.fileno())
        os.link(temp, path)
    except FileExistsError:  # another server process made it first
        pass
    finally:
        os.unlink(temp)
    return _read_key(path)


def _mac(key: bytes, data: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, data, hashlib.sha256).digest()).decode().rstrip("=")


def _fingerprint(key: bytes, username: str, password_hash: str) -> str:
    return _mac(key, f"{username}\0{password_hash}".encode())[:22]


def issue(con, username: str, now: datetime | None = None) -> str:
    """A token for ``username``'s account as it is now, valid for LIFETIME or until they next sign out."""
    now = now or datetime.now()
    key = _key()
    account = accounts.accounts()[username]
    payload = {
        "u": username,
        "so": last_sign_out(con, username),
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


def last_sign_out(con, username: str) -> int:
    """The audit entry id of ``username``'s last sign-out; 0 when they never signed out."""
    return con.execute(
        "SELECT coalesce(max(entry_id), 0) FROM audit_log WHERE action = 'sign_out' AND object_id = ?", [username]
    ).fetchall()[0][0]


def user_for(con, token: str | None, now: datetime | None = None) -> auth.User | None:
    """The user ``token`` keeps signed in, or None when it is missing, forged, expired, issued
    before their last sign-out, or their account is disabled or has a new password."""
    payload = _payload(token) if token and isinstance(token, str) else None
    if not isinstance(payload, dict) or not {"u", "so", "exp", "fp"} <= payload.keys():
        return None
    now = now or datetime.now()
    username = str(payload["u"])
    account = accounts.accounts().get(username)
    if (
        payload["exp"] <= now.timestamp()
        or account is None
        or not account.get("active", True)
        or account.get("role") not in auth.ROLES
        or not hmac.compare_digest(str(payload["fp"]), _fingerprint(_key(), username, account["password_hash"]))
        or last_sign_out(con, username) > payload["so"]
    ):
        return None
    return auth.User(username, account.get("display_name", username), account["role"])
