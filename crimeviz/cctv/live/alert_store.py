"""Live alerts, their pings and each camera's latest state in the store (bound parameters only).

- ``cctv_alerts``: one row per alert segment (a review item: start, end, peak, severity,
  the camera's location, clip, snapshot and report files, the score curve, the promoted
  model's classification as JSON), unique per camera and start, so a segment written
  twice (a restarted monitor) stays one row.
- ``cctv_alert_pings``: the outbox. Pings are written in the transaction that makes a
  segment an alert, and marked when delivered; a monitor that stops before delivering
  sends them when it starts again, and receivers get the same delivery id twice at most
  (no ping lost, none doubled at a receiver that keeps the id).
- ``cctv_camera_status``: what the Live page shows per camera (state, fps, latest frame,
  rolling scores), replaced at every snippet.

Reviewers acknowledge, confirm or dismiss alerts with a note (:func:`review`), audited.
"""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd

from crimeviz.cctv.live.alerts import Segment
from crimeviz.store import audit
from crimeviz.store.db import column_names, ensure_schema, transaction

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS cctv_alert_seq;
CREATE TABLE IF NOT EXISTS cctv_alerts (
    alert_id        BIGINT PRIMARY KEY DEFAULT nextval('cctv_alert_seq'),
    camera_id       BIGINT NOT NULL,
    started_at      TIMESTAMP NOT NULL,
    ended_at        TIMESTAMP,
    last_seen_at    TIMESTAMP NOT NULL,
    peak            DOUBLE NOT NULL,
    peak_at         TIMESTAMP NOT NULL,
    severity        VARCHAR NOT NULL,
    status          VARCHAR NOT NULL,
    note            VARCHAR NOT NULL,
    reviewed_by     VARCHAR,
    reviewed_at     TIMESTAMP,
    lat             DOUBLE NOT NULL,
    lon             DOUBLE NOT NULL,
    threshold       DOUBLE NOT NULL,
    model_version   VARCHAR NOT NULL,
    model_label     VARCHAR NOT NULL,
    clip            VARCHAR,
    snapshot        VARCHAR,
    report_json     VARCHAR,
    report_pdf      VARCHAR,
    report_complete BOOLEAN NOT NULL,
    curve           VARCHAR NOT NULL,
    released_by     VARCHAR,
    media_purged_at TIMESTAMP,
    classification  VARCHAR,
    UNIQUE (camera_id, started_at)
);
CREATE TABLE IF NOT EXISTS cctv_alert_pings (
    alert_id     BIGINT NOT NULL,
    channel      VARCHAR NOT NULL,
    target       VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    attempts     INTEGER NOT NULL,
    last_error   VARCHAR,
    PRIMARY KEY (alert_id, channel, target)
);
CREATE TABLE IF NOT EXISTS cctv_camera_status (
    camera_id   BIGINT PRIMARY KEY,
    state       VARCHAR NOT NULL,
    fps         DOUBLE NOT NULL,
    frames      BIGINT NOT NULL,
    dropped     BIGINT NOT NULL,
    reconnects  BIGINT NOT NULL,
    last_error  VARCHAR,
    level       DOUBLE,
    curve       VARCHAR NOT NULL,
    latest_jpeg BLOB,
    updated_at  TIMESTAMP NOT NULL
);
"""
TABLES = ("cctv_alerts", "cctv_alert_pings", "cctv_camera_status")
STATUSES = ("new", "acknowledged", "confirmed", "dismissed")
REVIEW_ACTIONS = {"acknowledge": "acknowledged", "confirm": "confirmed", "dismiss": "dismissed"}
MAX_NOTE = 5000
MONITOR_USER = "monitor"
# Stores made before alerts were classified gain the column on first use.
_CLASSIFICATION = "ALTER TABLE cctv_alerts ADD COLUMN IF NOT EXISTS classification VARCHAR"


def ensure_tables(con) -> None:
    """The camera tables (:mod:`crimeviz.cctv.cameras`) and the live ones."""
    from crimeviz.cctv import cameras

    cameras.ensure_tables(con)
    ensure_schema(con, SCHEMA, TABLES)
    if "classification" not in column_names(con, "cctv_alerts"):
        with transaction(con):
            con.execute(_CLASSIFICATION)


def when(epoch: float | None) -> datetime | None:
    """Epoch seconds -> the store's local wall-clock time."""
    return None if epoch is None else datetime.fromtimestamp(epoch)


def epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def open_alert(
    con,
    camera,
    seg: Segment,
    model: tuple[str, str],
    pings: list[tuple[str, str]],
    now: float,
    by: str = MONITOR_USER,
    files=None,
) -> int:
    """Stores a new segment (and, for an ``alert``, its pings) in one transaction; returns its id.

    ``files(alert_id)`` may name the alert's clip and snapshot (:data:`FILE_COLUMNS`), written in
    the same transaction. A segment already stored for this camera and start keeps its row (and
    its id comes back).
    """
    with transaction(con):
        con.execute(
            """INSERT INTO cctv_alerts (camera_id, started_at, ended_at, last_seen_at, peak, peak_at, severity,
                   status, note, lat, lon, threshold, model_version, model_label, report_complete, curve)
               VALUES (?, ?, NULL, ?, ?, ?, ?, 'new', '', ?, ?, ?, ?, ?, FALSE, '[]')
               ON CONFLICT (camera_id, started_at) DO NOTHING""",
            [
                camera.camera_id,
                when(seg.start),
                when(seg.last_above),
                seg.peak,
                when(seg.peak_at),
                seg.severity,
                camera.lat,
                camera.lon,
                camera.threshold,
                *model,
            ],
        )
        alert_id = con.execute(
            "SELECT alert_id FROM cctv_alerts WHERE camera_id = ? AND started_at = ?",
            [camera.camera_id, when(seg.start)],
        ).fetchall()[0][0]
        if files is not None:
            _set_files(con, alert_id, files(alert_id))
        if seg.severity == "alert":
            _add_pings(con, alert_id, pings, now)
        audit.record(con, by, "cctv.alert.open", "cctv_alert", alert_id, {"camera": camera.name})
    return alert_id


def _add_pings(con, alert_id: int, pings: list[tuple[str, str]], now: float) -> None:
    for channel, target in pings:
        con.execute(
            """INSERT INTO cctv_alert_pings (alert_id, channel, target, created_at, delivered_at, attempts)
               VALUES (?, ?, ?, ?, NULL, 0) ON CONFLICT (alert_id, channel, target) DO NOTHING""",
            [alert_id, channel, target, when(now)],
        )


def update_alert(
    con, seg: Segment, pings: list[tuple[str, str]] | None = None, now: float | None = None, by: str = MONITOR_USER
) -> None:
    """Writes a segment's end, peak and severity; with ``pings``, adds them (a promotion to ``alert``)."""
    with transaction(con):
        con.execute(
            """UPDATE cctv_alerts SET ended_at = ?, last_seen_at = ?, peak = ?, peak_at = ?, severity = ?
               WHERE alert_id = ?""",
            [when(seg.end), when(seg.last_above), seg.peak, when(seg.peak_at), seg.severity, seg.alert_id],
        )
        if pings:
            _add_pings(con, seg.alert_id, pings, now)
        if seg.end is not None:
            audit.record(con, by, "cctv.alert.close", "cctv_alert", seg.alert_id, {"peak": round(seg.peak, 4)})


FILE_COLUMNS = ("clip", "snapshot", "report_json", "report_pdf", "report_complete", "curve", "classification")
_JSON_COLUMNS = ("curve", "classification")


def set_files(con, alert_id: int, **files) -> None:
    """Records an alert's clip, snapshot, report files, report state, curve and classification (keys of
    ``FILE_COLUMNS``)."""
    with transaction(con):
        _set_files(con, alert_id, files)


def _set_files(con, alert_id: int, files: dict) -> None:
    unknown = set(files) - set(FILE_COLUMNS)
    if unknown:
        raise ValueError(f"no alert column {sorted(unknown)[0]}")
    values = {k: json.dumps(v) if k in _JSON_COLUMNS else v for k, v in files.items()}
    con.execute(
        f"UPDATE cctv_alerts SET {', '.join(k + ' = ?' for k in values)} WHERE alert_id = ?",
        [*values.values(), alert_id],
    )


def last_segment(con, camera_id: int) -> Segment | None:
    """The camera's latest segment (open or closed) for :class:`AlertTracker` to continue from."""
    rows = con.execute(
        """SELECT alert_id, started_at, ended_at, last_seen_at, peak, peak_at, severity FROM cctv_alerts
           WHERE camera_id = ? ORDER BY started_at DESC LIMIT 1""",
        [camera_id],
    ).fetchall()
    if not rows:
        return None
    alert_id, start, end, seen, peak, peak_at, severity = rows[0]
    return Segment(epoch(start), epoch(seen), peak, epoch(peak_at), severity, epoch(end), alert_id)


def pending_pings(con) -> list[dict]:
    """Pings not yet delivered, oldest first, with what the message says."""
    rows = con.execute(
        """SELECT p.alert_id, p.channel, p.target, p.attempts FROM cctv_alert_pings p
           WHERE p.delivered_at IS NULL ORDER BY p.created_at, p.alert_id""",
    ).fetchall()
    return [dict(zip(("alert_id", "channel", "target", "attempts"), r)) for r in rows]


def mark_ping(con, alert_id: int, channel: str, target: str, delivered: float | None, error: str | None) -> None:
    with transaction(con):
        con.execute(
            """UPDATE cctv_alert_pings SET attempts = attempts + 1, delivered_at = ?, last_error = ?
               WHERE alert_id = ? AND channel = ? AND target = ?""",
            [when(delivered), error, alert_id, channel, target],
        )


def pings(con, alert_id: int | None = None) -> pd.DataFrame:
    return con.execute(
        "SELECT * FROM cctv_alert_pings WHERE ? IS NULL OR alert_id = ? ORDER BY created_at, channel, target",
        [alert_id, alert_id],
    ).df()


_ALERT_COLUMNS = (
    "alert_id",
    "camera_id",
    "started_at",
    "ended_at",
    "last_seen_at",
    "peak",
    "peak_at",
    "severity",
    "status",
    "note",
    "reviewed_by",
    "reviewed_at",
    "lat",
    "lon",
    "threshold",
    "model_version",
    "model_label",
    "clip",
    "snapshot",
    "report_json",
    "report_pdf",
    "report_complete",
    "curve",
    "released_by",
    "media_purged_at",
    "classification",
)


def alert(con, alert_id: int) -> dict | None:
    """One alert with its camera's name, or None."""
    ensure_tables(con)
    rows = con.execute(
        f"SELECT {', '.join('a.' + c for c in _ALERT_COLUMNS)}, c.name FROM cctv_alerts a "
        "JOIN cameras c USING (camera_id) WHERE a.alert_id = ?",
        [alert_id],
    ).fetchall()
    if not rows:
        return None
    out = dict(zip((*_ALERT_COLUMNS, "camera"), rows[0]))
    out["curve"] = json.loads(out["curve"])
    out["classification"] = json.loads(out["classification"]) if out["classification"] else None
    return out


def alerts(con, status: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Alerts newest first (optionally of one status), with the camera's name and classification (JSON text);
    no curves."""
    ensure_tables(con)
    return con.execute(
        """SELECT a.alert_id, c.name AS camera, a.started_at, a.ended_at, a.peak, a.severity, a.status, a.note,
                  a.reviewed_by, a.lat, a.lon, a.report_complete, a.classification
           FROM cctv_alerts a JOIN cameras c USING (camera_id)
           WHERE ? IS NULL OR a.status = ? ORDER BY a.started_at DESC, a.alert_id DESC LIMIT ?""",
        [status, status, int(limit)],
    ).df()


def review(con, alert_id: int, action: str, note: str, by: str, now: datetime | None = None) -> str:
    """Acknowledge, confirm or dismiss an alert with a note (done ``by`` a reviewer); audited. Returns the status."""
    if action not in REVIEW_ACTIONS:
        raise ValueError(f"unknown action {action!r}; choose acknowledge, confirm or dismiss")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValueError(f"the note is longer than {MAX_NOTE} characters")
    status = REVIEW_ACTIONS[action]
    with transaction(con):
        if not con.execute("SELECT 1 FROM cctv_alerts WHERE alert_id = ?", [alert_id]).fetchall():
            raise ValueError(f"no alert with id {alert_id}")
        con.execute(
            "UPDATE cctv_alerts SET status = ?, note = ?, reviewed_by = ?, reviewed_at = ? WHERE alert_id = ?",
            [status, note, by, now or datetime.now(), alert_id],
        )
        audit.record(con, by, f"cctv.alert.{action}", "cctv_alert", alert_id, {"note": note[:200]})
    return status


def write_status(con, camera_id: int, status: dict, level: float | None, curve: list, jpeg: bytes | None) -> None:
    """Replaces the camera's row in ``cctv_camera_status``."""
    write_statuses(con, [(camera_id, status, level, curve, jpeg)])


def write_statuses(con, rows: list[tuple[int, dict, float | None, list, bytes | None]]) -> None:
    """Replaces the rows of several cameras (camera_id, status, level, curve, latest JPEG) in one transaction."""
    with transaction(con):
        for camera_id, status, level, curve, jpeg in rows:
            _write_status(con, camera_id, status, level, curve, jpeg)


def _write_status(con, camera_id: int, status: dict, level: float | None, curve: list, jpeg: bytes | None) -> None:
    values = [
        status["state"],
        float(status["fps"]),
        int(status["frames"]),
        int(status.get("dropped", 0)),
        int(status.get("reconnects", 0)),
        status.get("last_error"),
        level,
        json.dumps(curve),
        jpeg,
        datetime.now(),
    ]
    con.execute(
        """INSERT INTO cctv_camera_status (camera_id, state, fps, frames, dropped, reconnects, last_error, level,
               curve, latest_jpeg, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (camera_id) DO UPDATE SET state = excluded.state, fps = excluded.fps,
               frames = excluded.frames, dropped = excluded.dropped, reconnects = excluded.reconnects,
               last_error = excluded.last_error, level = excluded.level, curve = excluded.curve,
               latest_jpeg = coalesce(excluded.latest_jpeg, cctv_camera_status.latest_jpeg),
               updated_at = excluded.updated_at""",
        [camera_id, *values],
    )


def camera_status(con) -> pd.DataFrame:
    """Every live camera with its latest state (cameras the monitor never ran show as ``never started``)."""
    ensure_tables(con)
    return con.execute(
        """SELECT c.camera_id, c.name, c.lat, c.lon, coalesce(s.state, 'never started') AS state, s.fps, s.frames,
                  s.dropped, s.reconnects, s.last_error, s.level, s.curve, s.latest_jpeg, s.updated_at
           FROM cameras c JOIN camera_streams cs USING (camera_id)
           LEFT JOIN cctv_camera_status s USING (camera_id) ORDER BY lower(c.name)"""
    ).df()


def curve_frame(curve) -> pd.DataFrame:
    """Rolling scores (JSON text or a list of [epoch seconds, score]) as a frame indexed by local time."""
    points = json.loads(curve) if isinstance(curve, str) else (curve or [])
    frame = pd.DataFrame(points, columns=["at", "score"])
    frame["at"] = pd.to_datetime(frame["at"].map(when))
    return frame.set_index("at")
