"""Live alerts for the Map: the alerts of a date range at their cameras, with review and label.

An alert is stored with the camera's location (issue 18) and its type and severity come from the
reviewer's label (:mod:`crimeviz.cctv.labels`, issue 19): a true alarm's type and 1–10 severity,
"false alarm" or "unsure" for the other verdicts, and ``unlabelled`` where nobody labelled it.
Stores made before the live monitor have no alert tables: they have no alerts to show.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd

from crimeviz.cctv.live import notify
from crimeviz.store.db import table_names

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
    "link",
)
_LABELLED = "l.verdict, l.event_type, l.instrument, l.severity AS label_severity"
_NO_LABELS = "NULL AS verdict, NULL AS event_type, NULL AS instrument, NULL AS label_severity"


def alerts_for_map(con, start: date, end: date) -> pd.DataFrame:
    """Alerts that started from ``start`` to ``end`` (days, inclusive), oldest first (:data:`COLUMNS`):
    where (the camera's location stored with the alert), the monitor's peak and class (``detection``),
    the review status, the label's type, instrument and severity (1–10, None when not rated), and the
    address of the alert's page (:func:`notify.alert_path`). Empty when the store has no alert tables."""
    tables = table_names(con)
    if not {"cctv_alerts", "cameras"} <= tables:
        return pd.DataFrame(columns=list(COLUMNS))
    labelled = "cctv_labels" in tables
    rows = con.execute(
        f"""SELECT a.alert_id, c.name AS camera, a.started_at, a.ended_at, a.peak, a.severity AS detection,
                   a.status, a.lat, a.lon, {_LABELLED if labelled else _NO_LABELS}
            FROM cctv_alerts a JOIN cameras c USING (camera_id)
            {"LEFT JOIN cctv_labels l ON l.source = 'alert' AND l.source_id = a.alert_id" if labelled else ""}
            WHERE a.started_at >= ? AND a.started_at < ?
            ORDER BY a.started_at, a.alert_id""",
        [datetime.combine(start, time()), datetime.combine(end + timedelta(days=1), time())],
    ).df()
    rows["type"] = [alert_type(v, t) for v, t in zip(rows["verdict"], rows["event_type"])]
    rows["severity"] = rows["label_severity"].astype("Int64")
    rows["link"] = rows["alert_id"].map(notify.alert_path)
    return rows.loc[:, list(COLUMNS)]


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
