"""Helpers every CLI command shares: one-line errors, ``--db``, ``--user`` and the role check."""

import argparse
import getpass
import os
import sys
from pathlib import Path

from crimeviz import config


class CommandError(Exception):
    """A command that cannot go ahead; printed as one line, exit status 2."""


def db_arg(parser: argparse.ArgumentParser, what: str = "DuckDB file") -> None:
    """``--db``, which every command takes (feature packages register theirs with this too)."""
    parser.add_argument(
        "--db",
        type=store_location,
        default=None,
        help=f"{what} or postgresql:// URL (default: $CRIMEVIZ_DB_URL, $CRIMEVIZ_DB or {config.db_path()})",
    )


def store_location(text: str):
    """A ``postgresql://`` URL as given, anything else as a file path."""
    return text if config.is_server_url(text) else Path(text)


def user_args(parser: argparse.ArgumentParser) -> None:
    """``--user`` for commands that change the database (password: $CRIMEVIZ_PASSWORD or a prompt)."""
    parser.add_argument(
        "--user",
        default=os.environ.get("CRIMEVIZ_USER"),
        help="account to act as (default $CRIMEVIZ_USER); password from $CRIMEVIZ_PASSWORD or asked for in a terminal",
    )


def incident_store(path):
    """A connection to the store at ``path``; CommandError when it holds no incidents to work on."""
    from crimeviz.store import db

    con = db.connect(path)
    if db.incident_count(con) == 0:
        raise CommandError("the store holds no incidents: run `python -m crimeviz db build` or import some")
    return con


def authorised(con, args, permission: str):
    """Sign ``args.user`` in and check ``permission``: every CLI write path goes through here."""
    from crimeviz.access import auth

    if not args.user:
        raise CommandError("this command changes the database: give --user NAME (see `python -m crimeviz users add`)")
    password = os.environ.get("CRIMEVIZ_PASSWORD")
    if password is None and sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.user}: ")
    if not password:
        raise CommandError("no password: set CRIMEVIZ_PASSWORD or run the command in a terminal")
    return auth.require(auth.sign_in(con, args.user, password), permission)
