"""AVL/GPS pings of patrol units: the ``avl_pings`` table, its import and its reads.

A ping is one position fix of one unit (``unit``, local time ``seen_at``, ``lat``, ``lon``) with its
H3 cell at resolution 9; ``synthetic`` marks pings made from a plan (``crimeviz.patrol.dosage``) rather
than recorded by a vehicle. A unit has one fix per instant: a second row with the same unit and time is
a duplicate and skipped (``ON CONFLICT … DO NOTHING``).

Imports use the incident importer's reader, date detection, time-zone handling and reject file, with
their own column mapping (``unit``, ``time``, ``lat``, ``lon``). Callers check the role (``data``);
every write is one transaction with its entry in the audit trail.
"""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from crimeviz.files import file_sha256
from crimeviz.store import audit, db, grid, importer
from crimeviz.store.importer import ImportFailed

SCHEMA = """
CREATE TABLE IF NOT EXISTS avl_pings (
    unit      VARCHAR NOT NULL,
    seen_at   TIMESTAMP NOT NULL,
    lat       DOUBLE NOT NULL,
    lon       DOUBLE NOT NULL,
    h3_9      BIGINT NOT NULL,
    source    VARCHAR NOT NULL,
    synthetic BOOLEAN NOT NULL,
    PRIMARY KEY (unit, seen_at)
);
"""
TABLES = ("avl_pings",)
FIELDS = ("unit", "time", "lat", "lon")
MAX_UNIT = 64
GUESSES = {
    "unit": ("unit", "unit_id", "vehicle", "vehicle_id", "callsign", "call_sign", "car", "device", "device_id"),
    "time": ("time", "timestamp", "datetime", "date_time", "seen_at", "recorded_at", "gps_time", "fix_time"),
    "lat": importer.GUESSES["lat"],
    "lon": importer.GUESSES["lon"],
}


def ensure(con) -> None:
    db.ensure_schema(con, SCHEMA, TABLES)


def parse_mapping(text: str) -> dict[str, str]:
    """``unit=COL,time=COL,lat=COL,lon=COL`` → {field: column}; ImportFailed naming a bad entry."""
    return importer.field_mapping(text, FIELDS)


def guess_mapping(columns) -> dict[str, str | None]:
    """A first guess at FIELD → COLUMN from common AVL column names (case-insensitive)."""
    lower = {str(c).lower().strip().replace(" ", "_").replace("-", "_"): c for c in columns}
    return {name: next((lower[g] for g in names if g in lower), None) for name, names in GUESSES.items()}


def _check_mapping(mapping: dict[str, str], columns) -> dict[str, str]:
    missing = [f for f in FIELDS if not mapping.get(f)]
    if missing:
        raise ImportFailed(f"mapping lacks required field(s): {', '.join(missing)} (give --mapping unit=…,time=…)")
    absent = [c for c in mapping.values() if c not in columns]
    if absent:
        raise ImportFailed(
            f"column(s) {', '.join(map(repr, absent))} not in the file; it has: {', '.join(map(str, columns))}"
        )
    return mapping


@dataclass
class Checked:
    """``frame``'s rows split into clean pings (``unit``, ``seen_at``, ``lat``, ``lon``) and rejects
    (the file's columns with ``source_row`` and ``reject_reason``)."""

    clean: pd.DataFrame
    rejects: pd.DataFrame
    date_format: str
    converted: bool


def validate(frame: pd.DataFrame, mapping: dict[str, str], date_format: str | None, timezone: str) -> Checked:
    """Check every row: a unit (1–MAX_UNIT characters), a time understood and not in the future,
    finite coordinates in range and not 0,0. Repeated (unit, time) rows in the file keep the first."""
    _check_mapping(mapping, frame.columns)
    importer.refuse_binary_columns(frame, mapping)
    fmt = date_format or importer.detect_date_format(frame[mapping["time"]])
    try:
        when, converted = importer.parse_dates(frame[mapping["time"]], fmt, timezone)
    except ValueError as exc:  # an invalid strftime pattern
        raise ImportFailed(f"cannot parse times with format {fmt!r}: {exc}") from None
    now = pd.Timestamp.now(tz=importer.zone(timezone)).tz_localize(None)
    lat = pd.to_numeric(frame[mapping["lat"]], errors="coerce")
    lon = pd.to_numeric(frame[mapping["lon"]], errors="coerce")
    unit = frame[mapping["unit"]].astype("string").str.strip()
    reasons = pd.Series("", index=frame.index, dtype=object)

    def flag(mask, reason):
        reasons[mask & (reasons == "")] = reason

    flag(unit.isna() | (unit == ""), "missing unit")
    flag(unit.str.len().fillna(0) > MAX_UNIT, f"unit longer than {MAX_UNIT} characters")
    flag(frame[mapping["lat"]].isna() | frame[mapping["lon"]].isna(), "missing coordinates")
    flag(lat.isna() | lon.isna(), "coordinates are not numbers")
    flag(~np.isfinite(lat.fillna(0)) | ~np.isfinite(lon.fillna(0)), "coordinates are not finite")
    flag((lat.abs() > 90) | (lon.abs() > 180), "coordinates out of range")
    flag((lat == 0) & (lon == 0), "coordinates are 0,0 (no fix)")
    flag(frame[mapping["time"]].isna(), "missing time")
    flag(when.isna(), f"time not understood (format {fmt})")
    flag(when > now, "time in the future")
    bad = reasons != ""
    clean = pd.DataFrame({"unit": unit.astype(object), "seen_at": when, "lat": lat, "lon": lon})[~bad]
    rejects = frame[bad].copy()
    rejects.insert(0, "reject_reason", reasons[bad])
    rejects.insert(0, "source_row", rejects.index + 2)
    return Checked(clean, rejects, fmt, converted)


def with_cells(pings: pd.DataFrame, source: str, synthetic: bool) -> pd.DataFrame:
    """Store rows for clean pings: their resolution-9 cell, the source and the synthetic flag."""
    out = pings.reset_index(drop=True)[["unit", "seen_at", "lat", "lon"]].copy()
    cells = grid.cells_for_points(out["lat"].to_numpy(), out["lon"].to_numpy())[9]
    out["h3_9"] = cells.astype(np.int64)  # H3 cells are below 2**63
    out["source"] = source
    out["synthetic"] = synthetic
    return out


def insert(con, rows: pd.DataFrame) -> int:
    """Insert store rows (``with_cells``), skipping a (unit, time) already stored; returns how many were new."""
    ensure(con)
    with db.transaction(con):  # or part of the caller's
        before = ping_count(con)
        con.register("incoming_pings", rows)
        try:
            con.execute(
                "INSERT INTO avl_pings (unit, seen_at, lat, lon, h3_9, source, synthetic) "
                "SELECT unit, seen_at, lat, lon, h3_9, source, synthetic FROM incoming_pings "
                "ON CONFLICT (unit, seen_at) DO NOTHING"
            )
        finally:
            con.unregister("incoming_pings")
        return ping_count(con) - before


def ping_count(con) -> int:
    ensure(con)
    return con.execute("SELECT count(*) FROM avl_pings").fetchall()[0][0]


@dataclass
class PingImport:
    loaded: int
    duplicates: int
    rejected: int
    reject_file: str | None
    source: str
    date_format: str
    units: int
    reasons: dict = field(default_factory=dict)
    timezone_note: str | None = None

    def summary(self) -> dict:
        return {
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "reject_file": self.reject_file,
            "source": self.source,
            "date_format": self.date_format,
            "units": self.units,
            "timezone": self.timezone_note,
            "reject_reasons": self.reasons,
        }


def import_file(
    con,
    path: Path,
    mapping: dict[str, str] | None,
    by: str,
    date_format: str | None = None,
    source: str | None = None,
    reject_dir: Path | None = None,
    timezone: str | None = None,
) -> PingImport:
    """Validate and load the pings of a CSV or Parquet file in one audited transaction (user ``by``).

    Without ``mapping`` the columns are guessed (:func:`guess_mapping`). Rejected rows go to a CSV in
    ``reject_dir`` (default: beside the file) and are never loaded; with no valid row nothing is
    loaded and ImportFailed is raised."""
    path = Path(path)
    timezone = timezone or importer.local_timezone()
    frame = importer.read_table(path)
    mapping = mapping or {k: v for k, v in guess_mapping(frame.columns).items() if v}
    checked = validate(frame, mapping, date_format, timezone)
    reject_file = importer.write_rejects(checked.rejects, path, reject_dir) if len(checked.rejects) else None
    if checked.clean.empty:
        raise ImportFailed(
            f"no valid pings: all {len(checked.rejects)} rejected, e.g. {checked.rejects['reject_reason'].iloc[0]}; "
            f"see {Path(reject_file).name}",
            reject_file,
        )
    source = source or path.stem
    rows = with_cells(checked.clean, source, synthetic=False)
    digest = file_sha256(path)
    with db.transaction(con):
        loaded = insert(con, rows)
        audit.record(
            con,
            by,
            "dosage.import",
            "file",
            path.name,
            {"sha256": digest, "source": source, "loaded": loaded, "rejected": len(checked.rejects)},
        )
    return PingImport(
        loaded,
        len(rows) - loaded,
        len(checked.rejects),
        reject_file,
        source,
        checked.date_format,
        int(rows["unit"].nunique()),
        checked.rejects["reject_reason"].value_counts().to_dict(),
        f"UTC offsets converted to {timezone} local time" if checked.converted else None,
    )


def save_synthetic(con, pings: pd.DataFrame, source: str, by: str, detail: dict) -> int:
    """Store pings made from a plan (``unit``, ``seen_at``, ``lat``, ``lon``), flagged synthetic; audited."""
    rows = with_cells(pings, source, synthetic=True)
    with db.transaction(con):
        loaded = insert(con, rows)
        audit.record(con, by, "dosage.synth", "avl_source", source, {**detail, "loaded": loaded})
    return loaded


def version(con) -> tuple:
    """(pings, latest time, sources): changes whenever pings are added, for caches of reports."""
    ensure(con)
    return tuple(con.execute("SELECT count(*), max(seen_at), count(DISTINCT source) FROM avl_pings").fetchall()[0])


def pings(con, start: datetime, end: datetime) -> pd.DataFrame:
    """Pings with ``start <= seen_at < end``, by unit and time: ``unit``, ``seen_at``, ``lat``, ``lon``,
    ``cell`` (integer H3, resolution 9), ``source``, ``synthetic``."""
    ensure(con)
    return con.execute(
        "SELECT unit, seen_at, lat, lon, h3_9 AS cell, source, synthetic FROM avl_pings "
        "WHERE seen_at >= ? AND seen_at < ? ORDER BY unit, seen_at",
        [start, end],
    ).df()


def sources(con) -> pd.DataFrame:
    """Per source: ``pings``, ``units``, ``first``, ``last`` and whether it is ``synthetic``."""
    ensure(con)
    return con.execute(
        "SELECT source, count(*) AS pings, count(DISTINCT unit) AS units, min(seen_at) AS first, "
        "max(seen_at) AS last, bool_or(synthetic) AS synthetic FROM avl_pings GROUP BY source ORDER BY source"
    ).df()
