"""Retention of alert media: clips, snapshots and reports, per class and within a disk budget.

Each alert's clips and snapshot are kept for the days of its class (``CRIMEVIZ_ALERT_RETENTION``,
e.g. ``alert=30,detection=7,dismissed=3``: a dismissed alert's class is ``dismissed``,
otherwise its severity), then deleted; while the folders together exceed the disk budget
(``CRIMEVIZ_ALERT_DISK_MB``), the oldest deletable ones go first. Reports stay. The media of a
confirmed alert, and of one a reviewer labelled (:mod:`crimeviz.cctv.labels`: training data), are kept
until an administrator releases them (:func:`release`). The alert rows stay (the
record of what happened); their ``media_purged_at`` says when the files went. Every
deletion and release is audited.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from crimeviz.cctv import labels
from crimeviz.cctv.live import alert_store
from crimeviz.store import audit
from crimeviz.store.db import transaction

DEFAULT_DAYS = {"alert": 30, "detection": 7, "dismissed": 3}


def retention_days(environ=os.environ) -> dict[str, float]:
    """Days kept per class: the defaults, overridden by ``$CRIMEVIZ_ALERT_RETENTION``."""
    days = dict(DEFAULT_DAYS)
    for item in environ.get("CRIMEVIZ_ALERT_RETENTION", "").split(","):
        if item.strip():
            name, sep, value = item.partition("=")
            if not sep or name.strip() not in DEFAULT_DAYS:
                raise ValueError(f"CRIMEVIZ_ALERT_RETENTION: write class=days with classes {', '.join(DEFAULT_DAYS)}")
            days[name.strip()] = float(value)
    return days


def disk_budget_bytes(environ=os.environ) -> int | None:
    value = environ.get("CRIMEVIZ_ALERT_DISK_MB")
    return int(float(value) * 1024 * 1024) if value else None


def _media(row) -> list[Path]:
    """The alert's clips (every part) and snapshot; the report stays as the record."""
    for key in ("clip", "snapshot", "report_json"):
        if row[key]:
            folder = Path(row[key]).parent
            return [f for f in [*folder.glob("clip*.mp4"), folder / "snapshot.jpg"] if f.is_file()]
    return []


def _size(row) -> int:
    return sum(f.stat().st_size for f in _media(row))


def purge(
    con,
    by: str,
    now: datetime | None = None,
    days: dict[str, float] | None = None,
    budget_bytes: int | None = None,
) -> dict:
    """Deletes the media of alerts past their class's retention, then the oldest until within the budget."""
    now = now or datetime.now()
    days = days or retention_days()
    alert_store.ensure_tables(con)
    labels.ensure_tables(con)
    rows = con.execute(
        """SELECT alert_id, started_at, ended_at, severity, status, released_by, clip, snapshot, report_json,
                  EXISTS (SELECT 1 FROM cctv_labels l WHERE l.source = 'alert' AND l.source_id = a.alert_id)
                      AS labelled
           FROM cctv_alerts a WHERE media_purged_at IS NULL AND ended_at IS NOT NULL ORDER BY started_at"""
    ).df()
    held = ((rows["status"] == "confirmed") | rows["labelled"].astype(bool)) & rows["released_by"].isna()
    candidates = rows[~held]
    expired, rest = [], []
    for row in candidates.to_dict("records"):
        kind = "dismissed" if row["status"] == "dismissed" else row["severity"]
        (expired if row["ended_at"] < now - timedelta(days=days.get(kind, DEFAULT_DAYS["alert"])) else rest).append(row)
    over_budget = []
    if budget_bytes is not None:
        total = sum(_size(r) for r in rows.to_dict("records")) - sum(_size(r) for r in expired)
        for row in rest:  # oldest first
            if total <= budget_bytes:
                break
            if _media(row):
                total -= _size(row)
                over_budget.append(row)
    freed = 0
    for reason, group in (("retention", expired), ("disk budget", over_budget)):
        for row in group:
            for path in _media(row):
                freed += path.stat().st_size
                path.unlink(missing_ok=True)
            with transaction(con):
                con.execute(
                    "UPDATE cctv_alerts SET media_purged_at = ?, clip = NULL, snapshot = NULL WHERE alert_id = ?",
                    [now, row["alert_id"]],
                )
                audit.record(con, by, "cctv.alert.purge", "cctv_alert", row["alert_id"], {"reason": reason})
    return {"purged_retention": len(expired), "purged_budget": len(over_budget), "freed_bytes": freed}


def release(con, alert_id: int, by: str) -> None:
    """Lets a confirmed or labelled alert's media be purged like any other (an administrator's decision; audited)."""
    labels.ensure_tables(con)
    with transaction(con):
        rows = con.execute(
            """SELECT status, EXISTS (SELECT 1 FROM cctv_labels l WHERE l.source = 'alert' AND l.source_id = ?)
               FROM cctv_alerts WHERE alert_id = ?""",
            [alert_id, alert_id],
        ).fetchall()
        if not rows:
            raise ValueError(f"no alert with id {alert_id}")
        if rows[0][0] != "confirmed" and not rows[0][1]:
            raise ValueError(
                f"alert {alert_id} is not confirmed nor labelled; only confirmed or labelled alerts are held"
            )
        con.execute("UPDATE cctv_alerts SET released_by = ? WHERE alert_id = ?", [by, alert_id])
        audit.record(con, by, "cctv.alert.release", "cctv_alert", alert_id)
