"""Reviewers' labels on alerts and saved reviews: verdict, type, instruments, severity, corrected bounds.

One label per item (an alert of the live monitor or a saved upload review), replaced
when relabelled; every change is audited (``cctv.label``). A label says:

- ``verdict``: ``true`` (a real incident), ``false`` (a false alarm) or ``unsure``;
- for true alarms only: ``event_type`` (UCF-Crime's 13 anomaly classes by default —
  Sultani, Chen and Shah, "Real-world Anomaly Detection in Surveillance Videos", CVPR
  2018, Sec. 3.1 — a list an administrator may edit), ``instrument`` (:data:`INSTRUMENTS`),
  ``severity`` 1–10;
- ``start_s``/``end_s``: the segment's corrected bounds in seconds from the start of
  the item's stored snippet features (the clip's start for a review).

Exports (CSV through :mod:`crimeviz.store.safe_csv`, JSON) and imports go through
:func:`validate`, the same check as a form or the CLI; an import with one bad row
stores nothing and names the row.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from crimeviz.store import audit, safe_csv
from crimeviz.store.db import ensure_schema, transaction

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS cctv_label_seq;
CREATE TABLE IF NOT EXISTS cctv_labels (
    label_id    BIGINT PRIMARY KEY DEFAULT nextval('cctv_label_seq'),
    source      VARCHAR NOT NULL,
    source_id   BIGINT NOT NULL,
    camera_id   BIGINT NOT NULL,
    verdict     VARCHAR NOT NULL,
    event_type  VARCHAR,
    instrument  VARCHAR,
    severity    INTEGER,
    start_s     DOUBLE,
    end_s       DOUBLE,
    note        VARCHAR NOT NULL,
    labelled_by VARCHAR NOT NULL,
    labelled_at TIMESTAMP NOT NULL,
    UNIQUE (source, source_id)
);
CREATE TABLE IF NOT EXISTS cctv_label_types (
    name     VARCHAR PRIMARY KEY,
    position INTEGER NOT NULL,
    set_by   VARCHAR NOT NULL,
    set_at   TIMESTAMP NOT NULL
);
"""
TABLES = ("cctv_labels", "cctv_label_types")
VERDICTS = ("true", "false", "unsure")
UCF_CRIME_TYPES = (
    "abuse",
    "arrest",
    "arson",
    "assault",
    "burglary",
    "explosion",
    "fighting",
    "road accident",
    "robbery",
    "shooting",
    "shoplifting",
    "stealing",
    "vandalism",
)
INSTRUMENTS = ("none", "knife", "gun", "blunt object", "vehicle", "other")
SOURCES = ("report", "alert")
MAX_NOTE = 2000
MAX_TYPE = 40
EXPORT_COLUMNS = (
    "source",
    "source_id",
    "camera",
    "verdict",
    "event_type",
    "instrument",
    "severity",
    "start_s",
    "end_s",
    "note",
    "labelled_by",
    "labelled_at",
)


@dataclass(frozen=True)
class Label:
    """A validated label (see the module docstring); None where a field does not apply."""

    source: str
    source_id: int
    verdict: str
    event_type: str | None = None
    instrument: str | None = None
    severity: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    note: str = ""


def ensure_tables(con) -> None:
    """The review and alert tables labels point at, and the label tables."""
    from crimeviz.cctv import store
    from crimeviz.cctv.live import alert_store

    store.ensure_tables(con)
    alert_store.ensure_tables(con)
    ensure_schema(con, SCHEMA, TABLES)


def event_types(con) -> list[str]:
    """The type list reviewers choose from: the administrator's, else UCF-Crime's 13 classes."""
    ensure_tables(con)
    rows = con.execute("SELECT name FROM cctv_label_types ORDER BY position").fetchall()
    return [r[0] for r in rows] or list(UCF_CRIME_TYPES)


def set_event_types(con, names: list[str], by: str, now: datetime | None = None) -> list[str]:
    """Replaces the type list (done ``by`` an administrator; the caller checks the role); audited.

    Labels already given keep their type, even one no longer on the list.
    """
    cleaned: list[str] = []
    for name in names:
        name = " ".join(str(name).split()).lower()
        if not name:
            continue
        if len(name) > MAX_TYPE:
            raise ValueError(f"type names are at most {MAX_TYPE} characters: {name[:MAX_TYPE]}…")
        if name not in cleaned:
            cleaned.append(name)
    if not cleaned:
        raise ValueError("the type list needs at least one type")
    ensure_tables(con)
    moment = now or datetime.now()
    with transaction(con):
        con.execute("DELETE FROM cctv_label_types")
        for position, name in enumerate(cleaned):
            con.execute(
                "INSERT INTO cctv_label_types (name, position, set_by, set_at) VALUES (?, ?, ?, ?)",
                [name, position, by, moment],
            )
        audit.record(con, by, "cctv.label.types", "cctv_label_types", None, {"types": cleaned})
    return cleaned


def _blank(value) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


def _number(value, name: str) -> float | None:
    if _blank(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of seconds, not {str(value)[:20]!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be zero or more seconds")
    return number


def validate(values: dict, types: list[str]) -> Label:
    """A :class:`Label` from loose values (a form, the CLI, a CSV/JSON row); ValueError naming the field."""
    source = str(values.get("source") or "").strip().lower()
    if source not in SOURCES:
        raise ValueError(f"source must be report or alert, not {source[:20]!r}")
    try:
        source_id = int(values.get("source_id"))
    except (TypeError, ValueError):
        raise ValueError(f"the {source} id must be a whole number") from None
    verdict = values.get("verdict")
    verdict = str(verdict).lower() if isinstance(verdict, (bool, np.bool_)) else str(verdict or "").strip().lower()
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be true, false or unsure, not {verdict[:20]!r}")
    event_type = None if _blank(values.get("event_type")) else " ".join(str(values["event_type"]).split()).lower()
    instrument = None if _blank(values.get("instrument")) else str(values["instrument"]).strip().lower()
    severity = values.get("severity")
    if _blank(severity):
        severity = None
    else:
        try:
            severity = float(severity)
        except (TypeError, ValueError):
            raise ValueError("severity must be a whole number from 1 to 10") from None
        if severity != int(severity) or not 1 <= severity <= 10:
            raise ValueError("severity must be a whole number from 1 to 10")
        severity = int(severity)
    if verdict != "true" and (event_type or instrument or severity is not None):
        raise ValueError("type, instrument and severity describe true alarms only")
    if event_type is not None and event_type not in types:
        raise ValueError(f"unknown type {event_type[:MAX_TYPE]!r}; choose from {', '.join(types)}")
    if instrument is not None and instrument not in INSTRUMENTS:
        raise ValueError(f"unknown instrument {instrument[:20]!r}; choose from {', '.join(INSTRUMENTS)}")
    start_s, end_s = _number(values.get("start_s"), "start_s"), _number(values.get("end_s"), "end_s")
    if (start_s is None) != (end_s is None):
        raise ValueError("give both segment bounds (start_s and end_s) or neither")
    if start_s is not None and end_s <= start_s:
        raise ValueError("the segment must end after it starts")
    note = "" if _blank(values.get("note")) else str(values["note"]).strip()
    if len(note) > MAX_NOTE:
        raise ValueError(f"the note is longer than {MAX_NOTE} characters")
    return Label(source, source_id, verdict, event_type, instrument, severity, start_s, end_s, note)


def _item(con, source: str, source_id: int) -> tuple[int, float | None] | None:
    """(camera_id, length in seconds or None) of the labelled report or alert, or None."""
    if source == "report":
        rows = con.execute("SELECT camera_id, duration_s FROM cctv_reports WHERE report_id = ?", [source_id]).fetchall()
    else:
        rows = con.execute("SELECT camera_id, NULL FROM cctv_alerts WHERE alert_id = ?", [source_id]).fetchall()
    return tuple(rows[0]) if rows else None


def _write(con, label: Label, by: str, moment: datetime, origin: str) -> int:
    item = _item(con, label.source, label.source_id)
    if item is None:
        raise ValueError(f"no {label.source} with id {label.source_id}")
    camera_id, length = item
    if label.end_s is not None and length is not None and label.end_s > length + 1e-6:
        raise ValueError(f"the segment ends at {label.end_s:g} s but the clip lasts {length:g} s")
    values = [
        camera_id,
        label.verdict,
        label.event_type,
        label.instrument,
        label.severity,
        label.start_s,
        label.end_s,
        label.note,
        by,
        moment,
    ]
    label_id = con.execute(
        """INSERT INTO cctv_labels (source, source_id, camera_id, verdict, event_type, instrument, severity, start_s,
               end_s, note, labelled_by, labelled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (source, source_id) DO UPDATE SET camera_id = excluded.camera_id, verdict = excluded.verdict,
               event_type = excluded.event_type, instrument = excluded.instrument, severity = excluded.severity,
               start_s = excluded.start_s, end_s = excluded.end_s, note = excluded.note,
               labelled_by = excluded.labelled_by, labelled_at = excluded.labelled_at
           RETURNING label_id""",
        [label.source, label.source_id, *values],
    ).fetchall()[0][0]
    detail = {k: v for k, v in asdict(label).items() if v not in (None, "")}
    audit.record(con, by, "cctv.label", f"cctv_{label.source}", label.source_id, {**detail, "via": origin})
    return label_id


def save_label(con, values: dict, by: str, now: datetime | None = None, origin: str = "form") -> int:
    """Validates and stores one label (replacing the item's previous one); audited. Returns the label id."""
    ensure_tables(con)
    label = validate(values, event_types(con))
    with transaction(con):
        return _write(con, label, by, now or datetime.now(), origin)


def labels(con) -> pd.DataFrame:
    """Every label with its camera's name, newest first."""
    ensure_tables(con)
    return con.execute(
        """SELECT l.label_id, l.source, l.source_id, l.camera_id, c.name AS camera, l.verdict, l.event_type,
                  l.instrument, l.severity, l.start_s, l.end_s, l.note, l.labelled_by, l.labelled_at
           FROM cctv_labels l JOIN cameras c USING (camera_id)
           ORDER BY l.labelled_at DESC, l.label_id DESC"""
    ).df()


def label_for(con, source: str, source_id: int) -> dict | None:
    """The item's label as a dict, or None."""
    frame = labels(con)
    rows = frame[(frame["source"] == source) & (frame["source_id"] == int(source_id))]
    return None if rows.empty else rows.iloc[0].to_dict()


def export_frame(con) -> pd.DataFrame:
    """Labels in the export and import layout (:data:`EXPORT_COLUMNS`), oldest first."""
    frame = labels(con).iloc[::-1]
    frame = frame.assign(labelled_at=frame["labelled_at"].map(lambda t: t.isoformat(timespec="seconds")))
    return frame.loc[:, list(EXPORT_COLUMNS)].reset_index(drop=True)


def export(con, kind: str, by: str) -> bytes:
    """The labels as CSV (spreadsheet-safe) or JSON bytes; audited as an export."""
    if kind not in ("csv", "json"):
        raise ValueError("export as csv or json")
    frame = export_frame(con)
    audit.record(con, by, f"cctv.labels.export.{kind}", "cctv_labels", None, {"rows": len(frame)})
    if kind == "csv":
        return safe_csv.to_csv_bytes(frame)
    records = json.loads(frame.to_json(orient="records"))
    return (json.dumps({"labels": records}, indent=1) + "\n").encode()


def read_records(path) -> list[dict]:
    """Rows of a label file written by :func:`export` (``.csv`` or ``.json``)."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        return safe_csv.read_csv(path).to_dict(orient="records")
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path.name}: not JSON ({exc})") from None
    rows = data.get("labels") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f'{path.name}: expected {{"labels": [{{…}}, …]}}')
    return rows


def import_records(con, records: list[dict], by: str, now: datetime | None = None) -> int:
    """Stores every row through :func:`validate` in one transaction: all or nothing (the first bad row is named)."""
    ensure_tables(con)
    types = event_types(con)
    checked = []
    for number, row in enumerate(records, 1):
        try:
            checked.append(validate(row, types))
        except ValueError as exc:
            raise ValueError(f"row {number}: {exc}") from None
    moment = now or datetime.now()
    with transaction(con):
        for number, label in enumerate(checked, 1):
            try:
                _write(con, label, by, moment, "import")
            except ValueError as exc:
                raise ValueError(f"row {number}: {exc}") from None
        audit.record(con, by, "cctv.labels.import", "cctv_labels", None, {"rows": len(checked)})
    return len(checked)
