"""Users, roles and sign-in: bcrypt-hashed local accounts in the DuckDB store.

Roles (issue 7): analyst — maps, trends, forecasts, street view; commander — analyst plus
patrol plans; reviewer — CCTV review and reports; admin — everything, plus imports,
cameras, users, settings and the audit trail. Pages and CLI write paths call
``require(user, permission)``; the navigation only lists what a role may use.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import bcrypt

from crimeviz import audit, db

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


def user_count(con) -> int:
    return con.execute("SELECT count(*) FROM users WHERE active").fetchall()[0][0]


def add_user(con, username: str, password: str, role: str, display_name: str | None = None,
             by: str | None = None) -> User:
    """Create an account (audited). ValueError for a bad name, role, password or a taken name."""
    if not USERNAME.match(username):
        raise ValueError("user names are 2-32 characters: lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    check_new_password(password)
    if con.execute("SELECT count(*) FROM users WHERE username = ?", [username]).fetchall()[0][0]:
        raise ValueError(f"user {username!r} already exists")
    digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12)).decode()
    with db.transaction(con):
        con.execute("INSERT INTO users (username, display_name, role, password_hash) VALUES (?, ?, ?, ?)",
                    [username, display_name or username, role, digest])
        audit.record(con, by or username, "user.add", "user", username, {"role": role})
    return User(username, display_name or username, role)


def update_user(con, username: str, by: str, role: str | None = None, active: bool | None = None,
                password: str | None = None) -> None:
    """Change a user's role, active flag or password (audited)."""
    if role is not None and role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if password is not None:
        check_new_password(password)
    if not con.execute("SELECT count(*) FROM users WHERE username = ?", [username]).fetchall()[0][0]:
        raise ValueError(f"no user {username!r}")
    with db.transaction(con):
        if role is not None:
            con.execute("UPDATE users SET role = ? WHERE username = ?", [role, username])
        if active is not None:
            con.execute("UPDATE users SET active = ? WHERE username = ?", [active, username])
        if password is not None:
            digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12)).decode()
            con.execute("UPDATE users SET password_hash = ? WHERE username = ?", [digest, username])
        audit.record(con, by, "user.update", "user", username,
                     {"role": role, "active": active, "password_changed": password is not None})


def users(con):
    return con.execute("SELECT username, display_name, role, active, created_at FROM users ORDER BY 1").df()


def recent_failures(con, username: str, now: datetime | None = None) -> int:
    """Failed sign-ins for ``username`` within LOCKOUT and since their last successful one."""
    now = now or datetime.now()
    return con.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'sign_in.failed' AND object_id = ? AND logged_at > ? "
        "AND entry_id > (SELECT coalesce(max(entry_id), 0) FROM audit_log WHERE action = 'sign_in' AND object_id = ?)",
        [username, now - LOCKOUT, username]).fetchall()[0][0]


def sign_in(con, username: str, password: str) -> User:
    """Check a password (audited, with lock-out after repeated failures); AccessDenied if wrong."""
    username = username.strip().lower()
    if recent_failures(con, username) >= MAX_FAILURES:
        audit.record(con, username, "sign_in.locked", "user", username)
        raise AccessDenied(f"too many failed attempts: try again in {LOCKOUT.seconds // 60} minutes")
    rows = con.execute("SELECT display_name, role, password_hash FROM users WHERE username = ? AND active",
                       [username]).fetchall()
    stored = rows[0][2].encode() if rows else _DUMMY_HASH
    ok = bcrypt.checkpw(password.encode()[:72], stored) and bool(rows)
    if not ok:
        audit.record(con, username, "sign_in.failed", "user", username)
        raise AccessDenied("wrong user name or password")
    audit.record(con, username, "sign_in", "user", username)
    return User(username, rows[0][0], rows[0][1])
