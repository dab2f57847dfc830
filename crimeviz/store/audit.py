"""The audit trail: who signed in, imported, exported, uploaded, scored, approved — and when.

The app only ever appends (``record``); there is no update or delete path in CrimeViz.
The ``audit_log`` table is created with the store (``crimeviz.db.SCHEMA``).
"""

import json

from crimeviz.store.db import transaction


def record(
    con, username: str, action: str, object_type: str | None = None, object_id=None, detail: dict | None = None
) -> None:
    """Append one entry (inside the caller's transaction, if any)."""
    with transaction(con):
        con.execute(
            "INSERT INTO audit_log (username, action, object_type, object_id, detail) VALUES (?, ?, ?, ?, ?)",
            [
                username,
                action,
                object_type,
                None if object_id is None else str(object_id),
                json.dumps(detail, default=str) if detail else None,
            ],
        )


def entries(con, limit: int = 1000, username: str | None = None, action: str | None = None):
    """Newest entries first, optionally for one user or action prefix."""
    clauses, params = ["TRUE"], []
    if username:
        clauses.append("username = ?")
        params.append(username)
    if action:
        clauses.append("starts_with(action, ?)")
        params.append(action)
    return con.execute(
        f"SELECT * FROM audit_log WHERE {' AND '.join(clauses)} ORDER BY entry_id DESC LIMIT ?", params + [int(limit)]
    ).df()
