"""Saved views: a user's named share links (a page and its query string), listed on the Saved views page.

A view stores only the page's path and the URL query string the page wrote (filters, resolution,
layers, cell, date…; see ``crimeviz.web.share``), never data: opening it re-runs the page for the
user who opens it, within their role. Names are unique per user; saving under a name again replaces
that view. Callers check the role before writing; every write is audited.
"""

import re
from datetime import datetime
from urllib.parse import parse_qsl

import pandas as pd

from crimeviz.store import audit, db

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS saved_view_seq;
CREATE TABLE IF NOT EXISTS saved_views (
    view_id    BIGINT PRIMARY KEY DEFAULT nextval('saved_view_seq'),
    username   VARCHAR NOT NULL,
    name       VARCHAR NOT NULL,
    page       VARCHAR NOT NULL,
    query      VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (username, name)
);
"""
TABLES = ("saved_views",)
MAX_NAME = 80
MAX_QUERY = 4000
PAGE_PATH = re.compile(r"[a-z][a-z0-9_]{0,40}")


class ViewRejected(ValueError):
    """A view that cannot be saved; the message is one line for the user."""


def ensure(con) -> None:
    db.ensure_schema(con, SCHEMA, TABLES)


def check(name: str, page: str, query: str) -> tuple[str, str, str]:
    """The cleaned ``(name, page, query)``; ViewRejected naming what is wrong."""
    name = " ".join((name or "").split())
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise ViewRejected(f"a view's name is 1-{MAX_NAME} printable characters")
    if not PAGE_PATH.fullmatch(page or ""):
        raise ViewRejected(f"{page!r} is not a page of the app")
    if len(query) > MAX_QUERY:
        raise ViewRejected(f"the view's settings are longer than {MAX_QUERY} characters: choose fewer items")
    try:
        parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise ViewRejected(f"the view's settings are not a query string ({exc})") from None
    return name, page, query


def save(con, username: str, name: str, page: str, query: str, now: datetime | None = None) -> int:
    """Save (or replace) ``username``'s view ``name`` of ``page`` with ``query``; returns its id (audited)."""
    ensure(con)
    name, page, query = check(name, page, query)
    now = now or datetime.now()
    with db.transaction(con):
        con.execute(
            "INSERT INTO saved_views (username, name, page, query, created_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (username, name) DO UPDATE SET page = excluded.page, query = excluded.query, "
            "created_at = excluded.created_at",
            [username, name, page, query, now],
        )
        view_id = con.execute(
            "SELECT view_id FROM saved_views WHERE username = ? AND name = ?", [username, name]
        ).fetchall()[0][0]
        audit.record(con, username, "view.save", "saved_view", view_id, {"name": name, "page": page, "query": query})
    return int(view_id)


def views(con, username: str) -> pd.DataFrame:
    """``username``'s views, newest first: ``view_id``, ``name``, ``page``, ``query``, ``created_at``."""
    ensure(con)
    return con.execute(
        "SELECT view_id, name, page, query, created_at FROM saved_views WHERE username = ? "
        "ORDER BY created_at DESC, view_id DESC",
        [username],
    ).df()


def delete(con, username: str, view_id: int) -> bool:
    """Delete one of ``username``'s own views (audited); False when they have no such view."""
    ensure(con)
    with db.transaction(con):
        found = con.execute(
            "SELECT name FROM saved_views WHERE view_id = ? AND username = ?", [int(view_id), username]
        ).fetchall()
        if not found:
            return False
        con.execute("DELETE FROM saved_views WHERE view_id = ? AND username = ?", [int(view_id), username])
        audit.record(con, username, "view.delete", "saved_view", int(view_id), {"name": found[0][0]})
    return True
