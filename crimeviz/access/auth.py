"""Users, roles and sign-in: bcrypt-hashed local accounts in ``.streamlit/secrets.toml``
(see ``crimeviz.accounts``), sign-in failures and every change in the DuckDB audit trail.

Roles (issue 7): analyst — maps, trends, forecasts, street view; commander — analyst plus
patrol plans; reviewer — CCTV review and reports; admin — everything, plus imports,
cameras, street-view models (installed for every user), users, settings and the audit trail.
Pages and CLI write paths call ``require(user, permission)``; the navigation only lists what a
role may use.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import bcrypt
import pandas as pd

from crimeviz.access import accounts
from crimeviz.store import audit

ROLES = ("analyst", "commander", "reviewer", "admin")
PERMISSIONS = {
    "incidents": {"analyst", "commander", "admin"},
    "forecasts": {"analyst", "commander", "admin"},
    "streetview": {"analyst", "commander", "admin"},
    "patrol": {"commander", "admin"},
    "cctv": {"reviewer", "admin"},
    "data": {"admin"},
    "cameras": {"admin"},
    "users": {"admin"},
    "audit": {"admin"},
    "models": {"admin"},
}
MIN_PASSWORD = 12
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
# Compared against when the user does not exist, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"no such user", bcrypt.gensalt(rounds=12))


class AccessDenied(Exception):
    """The user may not do this; the message says what and why, in one line."""


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: str

    def may(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


def require(user: User | None, permission: str) -> User:
    """``user`` if their role grants ``permission``, else AccessDenied."""
    if user is None:
        raise AccessDenied("sign in first")
    if not user.may(permission):
        raise AccessDenied(f"the {user.role} role may not use {permission}")
    return user


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"passwords need at least {MIN_PASSWORD} characters")
    if len(password.encode()) > 72:
        raise ValueError("passwords may be at most 72 bytes (a bcrypt limit)")


def user_count() -> int:
    """Accounts, deactivated ones included (0: the first administrator still has to be created).

    Only a store that never had an account may be bootstrapped: counting active accounts only
    would let anyone make themselves admin once every account has been deactivated.
    """
    return len(accounts.accounts())


def _hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12)).decode()


def add_user(
    con, username: str, password: str, role: str, display_name: str | None = None, by: str | None = None
) -> User:
    """Create an account (audited in ``con``). ValueError for a bad name, role, password or a taken name."""
    if not USERNAME.match(username):
        raise ValueError("user names are 2-32 characters: lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    check_new_password(password)
    with accounts.editing() as users:
        if username in users:
            raise ValueError(f"user {username!r} already exists")
        users[username] = {
            "display_name": display_name or username,
            "role": role,
            "password_hash": _hash(password),
            "active": True,
            "created_at": datetime.now().isoformat(timespec="seconds"),
        }
    audit.record(con, by or username, "user.add", "user", username, {"role": role})
    return User(username, display_name or username, role)


def update_user(
    con, username: str, by: str, role: str | None = None, active: bool | None = None, password: str | None = None
) -> None:
    """Change a user's role, active flag or password (audited in ``con``)."""
    if role is not None and role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if password is not None:
        check_new_password(password)
    with accounts.editing() as users:
        if username not in users:
            raise ValueError(f"no user {username!r}")
        changes = {"role": role, "active": active, "password_hash": password and _hash(password)}
        users[username].update({key: value for key, value in changes.items() if value is not None})
    audit.record(
        con,
        by,
        "user.update",
        "user",
        username,
        {"role": role, "active": active, "password_changed": password is not None},
    )
    if password is not None:
        clear_lockout(con, username, by)  # a reset password lets its owner in again


def users() -> pd.DataFrame:
    """The accounts without their password hashes, by user name."""
    rows = [
        {
            "username": name,
            "display_name": fields.get("display_name", name),
            "role": fields.get("role"),
            "active": fields.get("active", True),
            "created_at": fields.get("created_at"),
        }
        for name, fields in sorted(accounts.accounts().items())
    ]
    return pd.DataFrame(rows, columns=["username", "display_name", "role", "active", "created_at"])


def provider_user(claims: dict, roles: dict[str, str]) -> User:
    """The user behind an OpenID Connect sign-in (``st.login``): identified by their verified e-mail,
    with the role ``[crimeviz.oidc_roles]`` gives that address; AccessDenied when it gives none."""
    email = str(claims.get("email") or "").strip().lower()
    if not email or claims.get("email_verified") is False:
        raise AccessDenied("the identity provider did not send a verified e-mail address")
    role = roles.get(email)
    if role not in ROLES:
        raise AccessDenied(
            f"{email} has no CrimeViz role: an administrator adds it under [crimeviz.oidc_roles] "
            "in .streamlit/secrets.toml"
        )
    return User(email, str(claims.get("name") or email), role)


# Failed sign-ins within LOCKOUT since the account's last sign-in, cleared lock-out or password reset.
_FAILURES = """
    SELECT f.object_id AS username, f.logged_at FROM audit_log f
    WHERE f.action = 'sign_in.failed' AND f.logged_at > ? AND f.entry_id > (
        SELECT coalesce(max(entry_id), 0) FROM audit_log r
        WHERE r.action IN ('sign_in', 'sign_in.unlocked') AND r.object_id = f.object_id)
"""


def recent_failures(con, username: str, now: datetime | None = None) -> int:
    """Failed sign-ins for ``username`` within LOCKOUT since their last sign-in or cleared lock-out."""
    now = now or datetime.now()
    query = f"SELECT count(*) FROM ({_FAILURES}) AS failures WHERE username = ?"
    return con.execute(query, [now - LOCKOUT, username]).fetchall()[0][0]


def locked_accounts(con, now: datetime | None = None) -> pd.DataFrame:
    """Accounts locked out now: ``username``, ``failures`` and ``locked_until``."""
    now = now or datetime.now()
    frame = con.execute(
        f"SELECT username, count(*) AS failures, array_agg(logged_at ORDER BY logged_at DESC) AS times "
        f"FROM ({_FAILURES}) AS failures GROUP BY 1 HAVING count(*) >= ? ORDER BY 1",
        [now - LOCKOUT, MAX_FAILURES],
    ).df()
    # The lock lifts when the MAX_FAILURES-th most recent failure leaves the LOCKOUT window.
    frame["locked_until"] = [times[MAX_FAILURES - 1] + LOCKOUT for times in frame.pop("times")]
    return frame


def clear_lockout(con, username: str, by: str) -> None:
    """Lift ``username``'s lock-out (audited as ``sign_in.unlocked`` by ``by``)."""
    audit.record(con, by, "sign_in.unlocked", "user", username)


def sign_in(con, username: str, password: str) -> User:
    """Check a password (audited, with lock-out after repeated failures); AccessDenied if wrong."""
    username = username.strip().lower()
    if recent_failures(con, username) >= MAX_FAILURES:
        audit.record(con, username, "sign_in.locked", "user", username)
        raise AccessDenied(f"too many failed attempts: try again in {LOCKOUT.seconds // 60} minutes")
    account = accounts.accounts().get(username)
    usable = account is not None and account.get("active", True) and account.get("role") in ROLES
    stored = account["password_hash"].encode() if usable else _DUMMY_HASH
    if not (bcrypt.checkpw(password.encode()[:72], stored) and usable):
        audit.record(con, username, "sign_in.failed", "user", username)
        raise AccessDenied("wrong user name or password")
    audit.record(con, username, "sign_in", "user", username)
    return User(username, account.get("display_name", username), account["role"])
