"""Live alerts for the Map: the alerts of a date range at their cameras, with review, label and classification.

An alert is stored with the camera's location (issue 18) and its type and severity come from the
reviewer's label (:mod:`crimeviz.cctv.labels`, issue 19): a true alarm's type and 1–10 severity,
"false alarm" or "unsure" for the other verdicts. Where nobody labelled it, the promoted model's
classification stored with the alert (:func:`crimeviz.cctv.retrain.classify_alert`) says, as far as its
heads could; an alert with neither is ``unlabelled``. Stores made before the live monitor have no alert
tables: they have no alerts to show. Review status, verdicts, labels and classifications are the reviewers'
work: the Map offers them only to roles with the ``cctv`` permission, and their CSV export is audited.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

import pandas as pd

from crimeviz.access import auth
from crimeviz.cctv.labels import INSTRUMENTS
from crimeviz.cctv.live import live_report, notify
from crimeviz.store import audit
from crimeviz.store.db import column_names, table_names
from crimeviz.store.safe_csv import to_csv_bytes

UNLABELLED = "unlabelled"
FALSE_ALARM = "false alarm"
UNSURE = "unsure"
NO_TYPE = "true alarm, no type"
CLASSES = ("alert", "detection")  # the monitor's severity: above the alert or only the detection threshold
COLUMNS = (
    "alert_id",
    "camera",
    "started_at",
    "ended_at",
    "peak",
    "detection",
    "status",
    "lat",
    "lon",
    "type",
    "instrument",
    "severity",
    "by",
    "model",
    "link",
)
_LABELLED = "l.verdict, l.event_type, l.instrument, l.severity AS label_severity"
_NO_LABELS = "NULL AS verdict, NULL AS event_type, NULL AS instrument, NULL AS label_severity"


def alerts_for_map(con, start: date, end: date) -> pd.DataFrame:
    """Alerts that started from ``start`` to ``end`` (days, inclusive), oldest first (:data:`COLUMNS`):
    where (the camera's location stored with the alert), the monitor's peak and class (``detection``),
    the review status, the type, instrument and severity (1–10, None when not rated) and ``by`` whom
    ("reviewer", "model" or None), the model's classification in words, and the address of the alert's
    page (:func:`notify.alert_path`). Empty when the store has no alert tables."""
    tables = table_names(con)
    if not {"cctv_alerts", "cameras"} <= tables:
        return pd.DataFrame(columns=list(COLUMNS))
    labelled = "cctv_labels" in tables
    classified = "classification" in column_names(con, "cctv_alerts")  # older stores gain it on the monitor's use
    rows = con.execute(
        f"""SELECT a.alert_id, c.name AS camera, a.started_at, a.ended_at, a.peak, a.severity AS detection,
                   a.status, a.lat, a.lon, {_LABELLED if labelled else _NO_LABELS},
                   {"a.classification" if classified else "NULL AS classification"}
            FROM cctv_alerts a JOIN cameras c USING (camera_id)
            {"LEFT JOIN cctv_labels l ON l.source = 'alert' AND l.source_id = a.alert_id" if labelled else ""}
            WHERE a.started_at >= ? AND a.started_at < ?
            ORDER BY a.started_at, a.alert_id""",
        [datetime.combine(start, time()), datetime.combine(end + timedelta(days=1), time())],
    ).df()
    models = [json.loads(c) if isinstance(c, str) else None for c in rows["classification"]]
    known = _labelled_types(con) if labelled else set()
    said = [
        _from_label(v, t, i, s) if isinstance(v, str) else _from_model(m, known)
        for v, t, i, s, m in zip(
            rows["verdict"], rows["event_type"], rows["instrument"], rows["label_severity"], models
        )
    ]
    rows = rows.assign(
        type=[x[0] for x in said],
        instrument=[x[1] for x in said],
        severity=pd.array([x[2] for x in said], dtype="Int64"),
        by=[x[3] for x in said],
        model=[None if m is None else live_report.classification_text(m) for m in models],
        link=rows["alert_id"].map(notify.alert_path),
    )
    return rows.loc[:, list(COLUMNS)]


def _labelled_types(con) -> set[str]:
    """The types reviewers gave: the only classes a model's type head can have learnt."""
    rows = con.execute("SELECT DISTINCT event_type FROM cctv_labels WHERE event_type IS NOT NULL").fetchall()
    return {r[0] for r in rows}


def _from_label(verdict: str, event_type, instrument, severity) -> tuple:
    """(type, instrument, severity, by) from a reviewer's label."""
    rated = None if pd.isna(severity) else int(severity)
    return alert_type(verdict, event_type), instrument if isinstance(instrument, str) else None, rated, "reviewer"


def _from_model(classification: dict | None, known: set[str]) -> tuple:
    """(type, instrument, severity, by) from the model's classification, as far as its heads said (a head
    trained on too few labels answers in words, not with a class); unlabelled where it said nothing."""
    said = classification or {}
    kind = said.get("event_type") if said.get("event_type") in known else None
    instrument = said.get("instrument") if said.get("instrument") in INSTRUMENTS else None
    severity = said.get("severity") if isinstance(said.get("severity"), int) and 1 <= said["severity"] <= 10 else None
    if kind is None and instrument is None and severity is None:
        return UNLABELLED, None, None, None
    return kind or UNLABELLED, instrument, severity, "model"


def alert_type(verdict: str | None, event_type: str | None) -> str:
    """What the Map calls an alert: its labelled type, else what the verdict says, else unlabelled."""
    if not isinstance(verdict, str):
        return UNLABELLED
    if verdict == "true":
        return event_type if isinstance(event_type, str) else NO_TYPE
    return FALSE_ALARM if verdict == "false" else UNSURE


def keep(alerts: pd.DataFrame, types: list[str], min_severity: int, classes: list[str]) -> pd.DataFrame:
    """The alerts of ``types`` (empty: every type) and ``classes`` rated at least ``min_severity``;
    a minimum of 1 keeps the alerts nobody rated too."""
    kept = alerts["detection"].isin(classes)
    if types:
        kept &= alerts["type"].isin(types)
    if min_severity > 1:
        kept &= alerts["severity"].fillna(0) >= min_severity
    return alerts[kept].reset_index(drop=True)


def alerts_csv(con, user: auth.User, alerts: pd.DataFrame, start: date, end: date) -> bytes:
    """``alerts`` (those the Map lists for ``start`` to ``end``) as spreadsheet-safe CSV, for roles with CCTV
    access only (audited: ``map.export.alerts_csv``)."""
    auth.require(user, "cctv")
    detail = {"rows": len(alerts), "alerts": [int(a) for a in alerts["alert_id"]]}
    audit.record(con, user.username, "map.export.alerts_csv", "cctv_alerts", f"{start}..{end}", detail)
    return to_csv_bytes(alerts)
