"""Per-camera alert thresholds from that camera's dismissed alerts, for a target false-alarm rate.

A camera's false alarms are its dismissed alerts and the segments of its reviews
labelled false (:mod:`crimeviz.cctv.labels`); each stops being an alarm once the
threshold is above its peak. With ``hours`` of footage watched and a target of ``r``
false alarms per hour, at most ``floor(r * hours)`` of them may remain, so the
threshold goes just above the peak of the next one (:func:`calibrated_threshold`).
It is never lowered: what scored below the current threshold was never shown to a
reviewer, so the dismissed alerts say nothing about it. The result names the
confirmed alarms the new threshold would miss, so an administrator sees the cost.
Applied thresholds are kept in ``cctv_camera_thresholds`` (audited) and, for a live
camera, written to its stream settings (:func:`crimeviz.cctv.cameras.edit`).
"""

from __future__ import annotations

import json
import math
from datetime import datetime

from crimeviz.cctv import snippet_store
from crimeviz.store import audit
from crimeviz.store.db import ensure_schema, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS cctv_camera_thresholds (
    camera_id       BIGINT PRIMARY KEY,
    threshold       DOUBLE NOT NULL,
    previous        DOUBLE NOT NULL,
    target_per_hour DOUBLE NOT NULL,
    hours           DOUBLE NOT NULL,
    dismissed       INTEGER NOT NULL,
    set_by          VARCHAR NOT NULL,
    set_at          TIMESTAMP NOT NULL
);
"""
STEP = 1e-3  # the new threshold sits this far above the highest false alarm it removes
CEILING = 0.99  # the highest threshold a live camera accepts


def ensure_tables(con) -> None:
    from crimeviz.cctv import labels

    labels.ensure_tables(con)
    ensure_schema(con, SCHEMA, ("cctv_camera_thresholds",))


def calibrated_threshold(false_peaks: list[float], hours: float, target_per_hour: float, current: float) -> float:
    """The lowest threshold >= ``current`` that leaves at most ``target_per_hour * hours`` false alarms."""
    if hours <= 0 or not math.isfinite(hours):
        raise ValueError("the hours watched must be more than zero")
    if target_per_hour < 0 or not math.isfinite(target_per_hour):
        raise ValueError("the target must be zero or more false alarms per hour")
    allowed = math.floor(target_per_hour * hours + 1e-9)
    alarms = sorted((p for p in false_peaks if p >= current), reverse=True)
    if len(alarms) <= allowed:
        return current
    return min(CEILING, max(current, alarms[allowed] + STEP))


def _peaks(con, camera_id: int, verdict: str) -> list[float]:
    """Peaks of the camera's alerts and review segments with ``verdict`` (false: dismissed alerts too)."""
    status = "dismissed" if verdict == "false" else "confirmed"
    alerts = con.execute(
        """SELECT a.peak FROM cctv_alerts a LEFT JOIN cctv_labels l ON l.source = 'alert' AND l.source_id = a.alert_id
           WHERE a.camera_id = ? AND (l.verdict = ? OR (l.verdict IS NULL AND a.status = ?))""",
        [camera_id, verdict, status],
    ).fetchall()
    reports = con.execute(
        """SELECT r.segments FROM cctv_reports r JOIN cctv_labels l ON l.source = 'report' AND l.source_id = r.report_id
           WHERE r.camera_id = ? AND l.verdict = ?""",
        [camera_id, verdict],
    ).fetchall()
    peaks = [float(r[0]) for r in alerts]
    for (segments,) in reports:
        found = [float(s["peak"]) for s in json.loads(segments)]
        if verdict == "false":
            peaks += found  # every segment of a false review was a false alarm
        elif found:
            peaks.append(max(found))  # a true review counts once, at its highest segment
    return peaks


def observed_hours(con, camera_id: int) -> float:
    """Hours of the camera's footage with stored snippet features (its scored reviews and alerts)."""
    listing = snippet_store.listing(con)
    return float(listing.loc[listing["camera_id"] == camera_id, "hours"].sum())


def current_threshold(con, camera_id: int, default: float = 0.5) -> float:
    """The calibrated threshold, else the live camera's, else ``default``."""
    ensure_tables(con)
    rows = con.execute("SELECT threshold FROM cctv_camera_thresholds WHERE camera_id = ?", [camera_id]).fetchall()
    if rows:
        return float(rows[0][0])
    rows = con.execute("SELECT threshold FROM camera_streams WHERE camera_id = ?", [camera_id]).fetchall()
    return float(rows[0][0]) if rows else default


def calibrate(
    con,
    camera: str,
    target_per_hour: float,
    by: str,
    hours: float | None = None,
    current: float | None = None,
    apply: bool = True,
    now: datetime | None = None,
) -> dict:
    """Works out (and with ``apply`` stores, audited) the camera's threshold for ``target_per_hour``."""
    from crimeviz.cctv import cameras, store

    ensure_tables(con)
    found = store.camera(con, name=camera)
    if found is None:
        raise ValueError(f"no camera named {camera!r}")
    camera_id = found["camera_id"]
    hours = observed_hours(con, camera_id) if hours is None else float(hours)
    if hours <= 0:
        raise ValueError(f"no hours of {found['name']}'s footage are known; give the hours it was watched")
    before = current_threshold(con, camera_id) if current is None else float(current)
    false_peaks = _peaks(con, camera_id, "false")
    true_peaks = _peaks(con, camera_id, "true")
    after = calibrated_threshold(false_peaks, hours, target_per_hour, before)
    result = {
        "camera": found["name"],
        "target_per_hour": target_per_hour,
        "hours": round(hours, 4),
        "false_alarms": len(false_peaks),
        "threshold_before": round(before, 4),
        "threshold_after": round(after, 4),
        "false_alarms_per_hour_before": round(sum(p >= before for p in false_peaks) / hours, 2),
        "false_alarms_per_hour_after": round(sum(p >= after for p in false_peaks) / hours, 2),
        "confirmed_alarms": len(true_peaks),
        "confirmed_missed_after": sum(before <= p < after for p in true_peaks),
        "applied": False,
    }
    left = sum(p >= after for p in false_peaks)
    if left > math.floor(target_per_hour * hours + 1e-9):
        result["note"] = (
            f"the target cannot be met: {left} false alarm(s) peak at or above {CEILING}, the highest threshold "
            "a camera takes; the model itself must learn them (label them and retrain)"
        )
    if not apply:
        return result
    live = cameras.get(con, camera_id=camera_id)
    with transaction(con):
        con.execute(
            """INSERT INTO cctv_camera_thresholds (camera_id, threshold, previous, target_per_hour, hours, dismissed,
                   set_by, set_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (camera_id) DO UPDATE SET threshold = excluded.threshold, previous = excluded.previous,
                   target_per_hour = excluded.target_per_hour, hours = excluded.hours,
                   dismissed = excluded.dismissed, set_by = excluded.set_by, set_at = excluded.set_at""",
            [camera_id, after, before, target_per_hour, hours, len(false_peaks), by, now or datetime.now()],
        )
        audit.record(con, by, "cctv.threshold.calibrate", "camera", camera_id, result)
        if live is not None and abs(live.threshold - after) > 1e-9:
            cameras.edit(con, live.name, by, threshold=round(after, 4))
    result["applied"] = True
    return result
