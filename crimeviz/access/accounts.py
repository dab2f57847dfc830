"""Local accounts, kept in Streamlit's secrets file (``.streamlit/secrets.toml``, never committed).

Each account is a ``[crimeviz.users."NAME"]`` table with ``display_name``, ``role``, a bcrypt
``password_hash``, ``active`` and ``created_at``; ``[crimeviz.oidc_roles]`` maps identity-provider
e-mail addresses to roles for the optional ``st.login`` sign-in. CrimeViz rewrites only the
``[crimeviz.users…]`` tables and keeps every other line (comments, Streamlit's ``[auth]`` section)
as it was. Writes hold an exclusive lock, are checked to parse before they replace the file, and
leave it readable by its owner only. ``.streamlit/secrets.example.toml`` documents the format.
"""

import fcntl
import json
import os
import re
import tempfile
import tomllib
from contextlib import contextmanager
from pathlib import Path

from crimeviz import config

_OWN_TABLE = re.compile(r"^\s*\[\s*crimeviz\s*\.\s*users\b")
_ANY_TABLE = re.compile(r"^\s*\[")


class AccountsUnavailable(Exception):
    """The secrets file cannot be read or written; the message says which file and why."""


def read(path: Path | None = None) -> dict:
    """The whole secrets file as a dict (empty when there is no file)."""
    path = path or config.secrets_path()
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AccountsUnavailable(f"{path} is not valid TOML ({exc}); fix it or restore a backup") from exc
    except OSError as exc:
        raise AccountsUnavailable(f"{path} cannot be read ({exc.strerror})") from exc


def accounts(path: Path | None = None) -> dict[str, dict]:
    """``{username: {display_name, role, password_hash, active, created_at}}``."""
    return dict(read(path).get("crimeviz", {}).get("users", {}))


def oidc_roles(path: Path | None = None) -> dict[str, str]:
    """``{e-mail (lower case): role}`` for people who sign in through the identity provider."""
    roles = read(path).get("crimeviz", {}).get("oidc_roles", {})
    return {email.strip().lower(): role for email, role in roles.items()}


@contextmanager
def editing(path: Path | None = None):
    """Yield the accounts for changing in place; they are written back when the block succeeds."""
    path = path or config.secrets_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        users = accounts(path)
        yield users
        _write(path, users)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _write(path: Path, users: dict[str, dict]) -> None:
    """Replace the ``[crimeviz.users…]`` tables of ``path`` with ``users``, keeping all other lines."""
    kept, own = [], False
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    for line in text.splitlines():
        if _ANY_TABLE.match(line):
            own = bool(_OWN_TABLE.match(line))
        if not own:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    blocks = [
        f"[crimeviz.users.{_toml_value(name)}]\n"
        + "".join(f"{key} = {_toml_value(value)}\n" for key, value in fields.items())
        for name, fields in sorted(users.items())
    ]
    new = "\n".join(kept) + ("\n\n" if kept else "") + "\n".join(blocks)
    tomllib.loads(new)  # never replace a readable file with an unreadable one
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secrets-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(new)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise AccountsUnavailable(f"{path} cannot be written ({exc.strerror}); nothing was changed") from exc
