"""Cameras and CCTV review reports in the DuckDB store (bound parameters only).

A report is written in one transaction with everything needed to show or export
it again without the clip: scores, alert segments, key-frame JPEGs, the model
version and its training label, the reviewer and their note, and the recording's
start (ISO text as given; NULL when not known) behind its wall-clock times. Every write is
audited in its own transaction (``cameras.add``, ``cameras.edit``, ``cctv.report``).
"""

from __future__ import annotations

import json
import math
from datetime import datetime

import pandas as pd

from crimeviz.store import audit
from crimeviz.store.db import column_names, ensure_schema, transaction

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS camera_seq;
CREATE TABLE IF NOT EXISTS cameras (
    camera_id  BIGINT PRIMARY KEY DEFAULT nextval('camera_seq'),
    name       VARCHAR NOT NULL UNIQUE,
    lat        DOUBLE NOT NULL,
    lon        DOUBLE NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);
CREATE SEQUENCE IF NOT EXISTS cctv_report_seq;
CREATE TABLE IF NOT EXISTS cctv_reports (
    report_id     BIGINT PRIMARY KEY DEFAULT nextval('cctv_report_seq'),
    camera_id     BIGINT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    clip_name     VARCHAR NOT NULL,
    clip_sha256   VARCHAR NOT NULL,
    duration_s    DOUBLE NOT NULL,
    fps           DOUBLE NOT NULL,
    n_frames      BIGINT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    threshold     DOUBLE NOT NULL,
    peak          DOUBLE NOT NULL,
    n_segments    INTEGER NOT NULL,
    segments      VARCHAR NOT NULL,
    frame_scores  FLOAT[] NOT NULL,
    keyframes     BLOB[] NOT NULL,
    model_version VARCHAR NOT NULL,
    model_label   VARCHAR NOT NULL,
    reviewer      VARCHAR NOT NULL,
    note          VARCHAR NOT NULL,
    recording_start VARCHAR
);
"""
# Stores made before reports had wall-clock times gain the column on first use.
_RECORDING_START = "ALTER TABLE cctv_reports ADD COLUMN IF NOT EXISTS recording_start VARCHAR"
MAX_NAME = 100
MAX_NOTE = 5000
_REPORT_COLUMNS = (
    "camera_id",
    "created_at",
    "clip_name",
    "clip_sha256",
    "duration_s",
    "fps",
    "n_frames",
    "width",
    "height",
    "threshold",
    "peak",
    "n_segments",
    "segments",
    "frame_scores",
    "keyframes",
    "model_version",
    "model_label",
    "reviewer",
    "note",
    "recording_start",
)


def ensure_tables(con) -> None:
    """Creates the ``cameras`` and ``cctv_reports`` tables if they are missing."""
    ensure_schema(con, SCHEMA, ("cameras", "cctv_reports"))
    if "recording_start" not in column_names(con, "cctv_reports"):
        with transaction(con):
            con.execute(_RECORDING_START)


def _check_camera(name: str, lat: float, lon: float) -> str:
    name = (name or "").strip()
    if not name:
        raise ValueError("a camera needs a name")
    if len(name) > MAX_NAME:
        raise ValueError(f"camera names are at most {MAX_NAME} characters")
    if not (isinstance(lat, (int, float)) and -90 <= lat <= 90 and math.isfinite(lat)):
        raise ValueError("latitude must be between -90 and 90")
    if not (isinstance(lon, (int, float)) and -180 <= lon <= 180 and math.isfinite(lon)):
        raise ValueError("longitude must be between -180 and 180")
    return name


def _name_taken(con, name: str, other_than: int | None = None) -> bool:
    rows = con.execute("SELECT camera_id FROM cameras WHERE lower(name) = lower(?)", [name]).fetchall()
    return any(r[0] != other_than for r in rows)


def add_camera(con, name: str, lat: float, lon: float, by: str) -> int:
    """Registers a camera (done ``by`` a user); names are unique ignoring case. Returns its id."""
    name = _check_camera(name, lat, lon)
    ensure_tables(con)
    with transaction(con):
        if _name_taken(con, name):
            raise ValueError(f"a camera named {name!r} already exists")
        camera_id = con.execute(
            "INSERT INTO cameras (name, lat, lon) VALUES (?, ?, ?) RETURNING camera_id", [name, float(lat), float(lon)]
        ).fetchall()[0][0]
        audit.record(con, by, "cameras.add", "camera", camera_id, {"name": name, "lat": lat, "lon": lon})
    return camera_id


def update_camera(con, camera_id: int, name: str, lat: float, lon: float, by: str) -> None:
    """Renames or moves a camera (done ``by`` a user); its reports follow it on the map."""
    name = _check_camera(name, lat, lon)
    with transaction(con):
        if not con.execute("SELECT 1 FROM cameras WHERE camera_id = ?", [camera_id]).fetchall():
            raise ValueError(f"no camera with id {camera_id}")
        if _name_taken(con, name, other_than=camera_id):
            raise ValueError(f"a camera named {name!r} already exists")
        con.execute(
            "UPDATE cameras SET name = ?, lat = ?, lon = ? WHERE camera_id = ?",
            [name, float(lat), float(lon), camera_id],
        )
        audit.record(con, by, "cameras.edit", "camera", camera_id, {"name": name, "lat": lat, "lon": lon})


def cameras(con) -> pd.DataFrame:
    """All cameras with their number of reports, by name."""
    return con.execute("""
        SELECT c.camera_id, c.name, c.lat, c.lon, c.created_at, count(r.report_id) AS reports
        FROM cameras c LEFT JOIN cctv_reports r USING (camera_id)
        GROUP BY c.camera_id, c.name, c.lat, c.lon, c.created_at ORDER BY lower(c.name)""").df()


def camera(con, camera_id: int | None = None, name: str | None = None) -> dict | None:
    """One camera by id or by name (ignoring case), or None."""
    rows = con.execute(
        "SELECT camera_id, name, lat, lon FROM cameras WHERE camera_id = ? OR lower(name) = lower(?)", [camera_id, name]
    ).fetchall()
    return dict(zip(("camera_id", "name", "lat", "lon"), rows[0])) if rows else None


def save_report(con, report: dict, keyframes: list[bytes], features=None, feature_spec: dict | None = None) -> int:
    """Stores a report built by :func:`crimeviz.cctv.report.build_report`; returns its id.

    All or nothing, audited as done by the report's reviewer: the camera must exist
    and every field must be present. With ``features`` (the scored clip's (S, F) raw
    snippet features) and their ``feature_spec``, they are kept for retraining
    (:mod:`crimeviz.cctv.snippet_store`) in the same transaction.
    """
    note = report.get("note", "")
    if len(note) > MAX_NOTE:
        raise ValueError(f"the note is longer than {MAX_NOTE} characters")
    clip = report["clip"]
    values = [
        report["camera"]["camera_id"],
        datetime.fromisoformat(report["created_at"]),
        clip["name"],
        clip["sha256"],
        clip["duration_s"],
        clip["fps"],
        clip["n_frames"],
        clip["width"],
        clip["height"],
        report["threshold"],
        report["peak"],
        len(report["segments"]),
        json.dumps(report["segments"]),
        report["frame_scores"],
        keyframes,
        report["model"]["version"],
        report["model"]["label"],
        report["reviewer"],
        note,
        clip.get("recording_start"),
    ]
    with transaction(con):
        if camera(con, report["camera"]["camera_id"]) is None:
            raise ValueError("the report's camera is not registered")
        placeholders = ", ".join("?" for _ in _REPORT_COLUMNS)
        report_id = con.execute(
            f"INSERT INTO cctv_reports ({', '.join(_REPORT_COLUMNS)}) VALUES ({placeholders}) RETURNING report_id",
            values,
        ).fetchall()[0][0]
        audit.record(
            con,
            report["reviewer"],
            "cctv.report",
            "cctv_report",
            report_id,
            {
                "camera": report["camera"]["name"],
                "clip_sha256": clip["sha256"],
                "segments": len(report["segments"]),
                "model": report["model"]["version"],
            },
        )
        if features is not None and feature_spec is not None:
            from crimeviz.cctv import snippet_store

            snippet_store.save(
                con,
                "report",
                report_id,
                report["camera"]["camera_id"],
                features,
                feature_spec["snippet_len"] / clip["fps"],
                report["model"]["version"],
                feature_spec,
            )
    return report_id


def reports(con, camera_id: int | None = None) -> pd.DataFrame:
    """Saved reports, newest first, optionally of one camera (no scores or images)."""
    return con.execute(
        """
        SELECT r.report_id, r.created_at, c.name AS camera, r.clip_name, r.duration_s, r.n_segments,
               r.peak, r.threshold, r.model_version, r.reviewer, r.note
        FROM cctv_reports r JOIN cameras c USING (camera_id)
        WHERE ? IS NULL OR r.camera_id = ?
        ORDER BY r.created_at DESC, r.report_id DESC""",
        [camera_id, camera_id],
    ).df()


def load_report(con, report_id: int) -> tuple[dict, list[bytes]]:
    """A saved report as :func:`build_report` makes it, and its key-frame JPEGs."""
    rows = con.execute(
        f"""
        SELECT r.report_id, c.name, c.lat, c.lon, {', '.join('r.' + c for c in _REPORT_COLUMNS)}
        FROM cctv_reports r JOIN cameras c USING (camera_id) WHERE r.report_id = ?""",
        [report_id],
    ).fetchall()
    if not rows:
        raise ValueError(f"no report with id {report_id}")
    report_id, name, lat, lon, *values = rows[0]
    row = dict(zip(_REPORT_COLUMNS, values))
    report = {
        "report_id": report_id,
        "created_at": row["created_at"].isoformat(timespec="seconds"),
        "camera": {"camera_id": row["camera_id"], "name": name, "lat": lat, "lon": lon},
        "clip": {
            "name": row["clip_name"],
            "sha256": row["clip_sha256"],
            "duration_s": row["duration_s"],
            "fps": row["fps"],
            "n_frames": row["n_frames"],
            "width": row["width"],
            "height": row["height"],
            "recording_start": row["recording_start"],
        },
        "threshold": row["threshold"],
        "peak": row["peak"],
        "segments": json.loads(row["segments"]),
        "model": {"version": row["model_version"], "label": row["model_label"]},
        "reviewer": row["reviewer"],
        "note": row["note"],
        "frame_scores": [round(float(s), 5) for s in row["frame_scores"]],
    }
    return report, list(row["keyframes"])


def reports_for_map(con) -> pd.DataFrame:
    """One point per report at its camera: lat, lon, camera, created_at, peak, n_segments, report_id."""
    ensure_tables(con)
    return con.execute("""
        SELECT c.lat, c.lon, c.name AS camera, r.created_at, r.peak, r.n_segments, r.report_id
        FROM cctv_reports r JOIN cameras c USING (camera_id)
        ORDER BY r.created_at, r.report_id""").df()
