"""Import any city's incidents from CSV or Parquet: validate, report rejects, load all-or-nothing."""

import csv
import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from crimeviz.files import file_sha256
from crimeviz.store import areas, batches, db, persons, safe_csv

REQUIRED = ("lat", "lon", "occurred_at", "offence")
# case_id: the source's own case number; a row whose case is stored replaces it (see store.batches).
# status: the case's status; a value in batches.REMOVAL_STATUSES withdraws the case.
OPTIONAL = ("premises", "neighbourhood", "case_id", "status")
# Victim/accused age and gender, relation to the victim: stored apart, for aggregate counts only (store.persons).
OPTIONAL += tuple(persons.FIELDS)
ALIASES = {"incident_id": "case_id"}  # the field's former name, still accepted
TEXT_FIELDS = ("offence", "premises", "neighbourhood", "case_id", "status")
MAX_TEXT = 200  # characters in a text field; longer values are rejected, never stored
EARLIEST = date(1900, 1, 1)
DEFAULT_TIMEZONE = "America/Toronto"
SAMPLE = 5_000  # distinct date values (evenly spaced in sorted order) compared when detecting the format
# Tried when no --date-format is given; the one parsing most distinct values (of the whole column) wins.
DATE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
)
EXAMPLES = 5


class ImportFailed(Exception):
    """An import that cannot go ahead; the message is one line for the user. ``reject_file`` is the
    full path of the rejected rows' CSV when one was written (the message names only the file)."""

    def __init__(self, message: str, reject_file: str | None = None):
        super().__init__(message)
        self.reject_file = reject_file


def local_timezone() -> str:
    """The store's local time zone: ``$CRIMEVIZ_TIMEZONE`` or America/Toronto."""
    return os.environ.get("CRIMEVIZ_TIMEZONE", DEFAULT_TIMEZONE)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ImportFailed for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportFailed(f"unknown time zone {name!r} (give an IANA name such as America/Toronto)") from None


@dataclass(frozen=True)
class Area:
    """A latitude/longitude box; rows outside it are far from the rest of the data."""

    south: float
    west: float
    north: float
    east: float
    origin: str = "given"

    @classmethod
    def parse(cls, text: str) -> "Area":
        """``SOUTH,WEST,NORTH,EAST`` in degrees (e.g. ``43.5,-79.7,43.9,-79.1``)."""
        try:
            south, west, north, east = (float(v) for v in text.split(","))
        except ValueError:
            raise ImportFailed(f"area {text!r} is not SOUTH,WEST,NORTH,EAST in degrees") from None
        if not (-90 <= south < north <= 90 and -180 <= west < east <= 180):
            raise ImportFailed(f"area {text!r}: need -90 <= SOUTH < NORTH <= 90 and -180 <= WEST < EAST <= 180")
        return cls(south, west, north, east)

    @classmethod
    def around(cls, lat: tuple[float, float], lon: tuple[float, float], origin: str) -> "Area":
        """The box between Tukey's "far out" fences of latitude and longitude given their quartiles:
        3 interquartile ranges (at least 0.1°) beyond them (Tukey, Exploratory Data Analysis, 1977,
        §2H), so a few stray rows neither stretch the box nor fall inside it."""
        (south, north), (west, east) = (_fences(*lat), _fences(*lon))
        return cls(max(south, -90), max(west, -180), min(north, 90), min(east, 180), origin)

    def contains(self, lat: pd.Series, lon: pd.Series) -> pd.Series:
        return lat.between(self.south, self.north) & lon.between(self.west, self.east)

    def describe(self) -> str:
        return f"{self.south:.3f},{self.west:.3f},{self.north:.3f},{self.east:.3f} ({self.origin})"


def _fences(lower_quartile: float, upper_quartile: float) -> tuple[float, float]:
    pad = max(3 * (upper_quartile - lower_quartile), 0.1)
    return lower_quartile - pad, upper_quartile + pad


def store_area(con) -> Area | None:
    """:meth:`Area.around` the incidents already stored, or ``None`` for an empty store."""
    row = con.execute(
        "SELECT quantile_cont(lat, 0.25), quantile_cont(lat, 0.75), quantile_cont(lon, 0.25), "
        "quantile_cont(lon, 0.75) FROM incidents"
    ).fetchall()[0]
    if row[0] is None:
        return None
    return Area.around(row[:2], row[2:], "the store's extent")


@dataclass(frozen=True)
class Checks:
    """Plausibility rules for an import: the earliest date accepted, the zone UTC offsets are
    converted to, the area rows are expected in (default: the store's extent, else the file's)
    and whether rows outside it are rejected (default: loaded and listed)."""

    earliest: date = EARLIEST
    timezone: str = field(default_factory=local_timezone)
    area: Area | None = None
    reject_outside: bool = False


@dataclass
class ImportResult:
    """What an import did. ``loaded`` (added) and ``duplicates`` (unchanged) keep their former
    names; ``counts`` is the batch (``store.batches.Counts``: id, added, updated, unchanged, removed)."""

    loaded: int
    duplicates: int
    rejected: int
    reject_file: str | None
    source: str
    date_format: str
    examples: list = field(default_factory=list)
    reasons: dict = field(default_factory=dict)
    outside: dict = field(default_factory=dict)
    timezone_note: str | None = None
    counts: batches.Counts | None = None

    def summary(self) -> dict:
        return {
            **(self.counts.summary() if self.counts else {}),
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "reject_file": self.reject_file,
            "source": self.source,
            "date_format": self.date_format,
            "timezone": self.timezone_note,
            "reject_reasons": self.reasons,
            "reject_examples": self.examples,
            "outside_area": self.outside,
        }


def field_mapping(text: str, fields, aliases: dict[str, str] | None = None) -> dict[str, str]:
    """``FIELD=COLUMN,…`` → {field: column} for the given ``fields`` (``aliases``: other names for
    them); ImportFailed naming a malformed entry or an unknown field."""
    mapping = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, column = part.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not column:
            raise ImportFailed(f"mapping entry {part!r} is not FIELD=COLUMN")
        name = (aliases or {}).get(name, name)
        if name not in fields:
            raise ImportFailed(f"unknown mapping field {name!r}; fields are {', '.join(fields)}")
        mapping[name] = column
    return mapping


def parse_mapping(text: str) -> dict[str, str]:
    """``lat=Y,lon=X,...`` → {field: column}; checks the field names and required fields."""
    return check_mapping(field_mapping(text, REQUIRED + OPTIONAL, ALIASES))


def check_mapping(mapping: dict[str, str], columns=None) -> dict[str, str]:
    missing = [f for f in REQUIRED if not mapping.get(f)]
    if missing:
        raise ImportFailed(f"mapping lacks required field(s): {', '.join(missing)}")
    if mapping.get("status") and not mapping.get("case_id"):
        raise ImportFailed("a status column needs a case id column (case_id=COLUMN) to know which case it withdraws")
    if columns is not None:
        absent = [c for c in mapping.values() if c not in columns]
        if absent:
            raise ImportFailed(
                f"column(s) {', '.join(map(repr, absent))} not in the file; it has: {', '.join(map(str, columns))}"
            )
    return mapping


def column_names(path: Path) -> list[str]:
    """The column names as the file has them (pandas renames a repeated ``Lat`` to ``Lat.1``)."""
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return next(csv.reader(handle), [])
    return list(pq.read_schema(path).names)


def refuse_repeated_columns(path: Path) -> None:
    """ImportFailed naming the positions of a column name the file has more than once."""
    names = column_names(path)
    for name in dict.fromkeys(names):
        positions = [i + 1 for i, n in enumerate(names) if n == name]
        if len(positions) > 1:
            where = ", ".join(map(str, positions))
            raise ImportFailed(f"{path.name}: column {name!r} appears {len(positions)} times (columns {where}); rename")


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV (all columns as text) or Parquet file; ImportFailed if it cannot be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding_errors="strict")
            refuse_repeated_columns(path)
        elif suffix in (".parquet", ".pq"):
            refuse_repeated_columns(path)
            frame = pd.read_parquet(path)
        else:
            raise ImportFailed(f"{path.name}: unsupported file type {suffix or '(none)'}; use .csv or .parquet")
    except ImportFailed:
        raise
    except FileNotFoundError:
        raise ImportFailed(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ImportFailed(f"{path.name}: not UTF-8 text") from None
    except Exception as exc:  # pandas/pyarrow raise many types for malformed files
        raise ImportFailed(f"{path.name}: cannot be read ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    if frame.empty:
        raise ImportFailed(f"{path.name}: the file has no data rows")
    return frame


def spread_sample(values: pd.Series, size: int = SAMPLE) -> pd.Series:
    """The distinct non-blank values, or ``size`` of them evenly spaced in sorted order
    (so a file sorted by date is sampled from its first day to its last)."""
    text = pd.Series(values.dropna().astype(str).str.strip().unique())
    text = text[text != ""].sort_values(ignore_index=True)
    if len(text) > size:
        text = text.iloc[np.linspace(0, len(text) - 1, size).round().astype(int)].reset_index(drop=True)
    return text


def detect_date_format(values: pd.Series) -> str:
    """The DATE_FORMATS entry that parses most values of the whole column, or ``mixed``.

    ImportFailed when another format parses as many values but reads them differently
    (``03/04/2021``: 4 March or 3 April?), so day and month are never swapped silently.
    """
    sample = spread_sample(values)
    parsed = {fmt: pd.to_datetime(sample, format=fmt, errors="coerce", utc=True) for fmt in DATE_FORMATS}
    counts = {fmt: int(p.notna().sum()) for fmt, p in parsed.items()}
    best = max(DATE_FORMATS, key=lambda fmt: counts[fmt])
    if counts[best] == 0:
        return "mixed"
    best_days = parsed[best].dt.floor("D")
    for rival in DATE_FORMATS:
        rival_days = parsed[rival].dt.floor("D")
        differs = rival_days.ne(best_days) & rival_days.notna() & best_days.notna()
        if rival != best and counts[rival] == counts[best] and differs.any():
            example = sample[differs].iloc[0]
            raise ImportFailed(
                f"dates such as {example!r} read as both {best} and {rival}; give the date format "
                "(--date-format, or Date format on the Data page)"
            )
    return best


def parse_dates(values: pd.Series, fmt: str, timezone: str = DEFAULT_TIMEZONE) -> tuple[pd.Series, bool]:
    """Naive local timestamps and whether UTC offsets were converted to ``timezone`` to get them."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        text = values.astype("string").str.strip()
        try:
            parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc="%z" in fmt)
        except ValueError as exc:
            if "timezone" not in str(exc).lower():
                raise
            raise ImportFailed(
                "the dates mix time zones in a form that is not recognised; give --date-format (e.g. %Y-%m-%dT%H:%M:%S%z)"
            ) from None
    aware = getattr(parsed.dt, "tz", None) is not None
    if aware:
        parsed = parsed.dt.tz_convert(zone(timezone)).dt.tz_localize(None)
    return parsed.astype("datetime64[us]"), aware


def refuse_binary_columns(frame: pd.DataFrame, mapping: dict[str, str]) -> None:
    """ImportFailed for a mapped column holding bytes (a binary Parquet column), whatever its field."""
    for name, column in mapping.items():
        values = frame[column]
        if values.dtype == object and values.map(lambda v: isinstance(v, (bytes, bytearray))).any():
            raise ImportFailed(f"column {column!r} (mapped to {name}) holds binary data, not text or numbers")


@dataclass
class Validated:
    """``frame`` split into clean incident rows and rejects (with ``source_row`` and ``reject_reason``);
    ``outside``: the otherwise valid rows that lie outside ``area`` (loaded unless rejected);
    ``removals``: the case ids whose status withdraws them (column ``case_id``)."""

    clean: pd.DataFrame
    rejects: pd.DataFrame
    date_format: str
    converted: bool
    area: Area | None
    outside: pd.DataFrame
    removals: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"case_id": []}, dtype=object))


def withdrawn(status: pd.Series) -> pd.Series:
    """Whether each status (trimmed, any case) is one of ``batches.REMOVAL_STATUSES``."""
    return status.astype("string").str.strip().str.casefold().isin(batches.REMOVAL_STATUSES).fillna(False)


def _text(frame: pd.DataFrame, mapping: dict[str, str], name: str) -> pd.Series:
    if name not in mapping:
        return pd.Series(None, index=frame.index, dtype=object)
    col = frame[mapping[name]].astype("string").str.strip()
    return col.where(col != "", None).astype(object)


def validate(
    frame: pd.DataFrame, mapping: dict[str, str], date_format: str | None, checks: Checks | None = None, con=None
) -> Validated:
    """Check every row of ``frame``; rows far from ``checks.area`` (else the store's extent in ``con``,
    else the file's own) are listed, and rejected when ``checks.reject_outside``.

    With a case id, a case repeated in the file is taken from its last row (exports list a case's
    versions oldest first); its earlier rows are rejected as repeated. A row whose status withdraws
    the case needs only its case id: it is a removal, not an incident."""
    checks = checks or Checks()
    now = pd.Timestamp.now(tz=zone(checks.timezone)).tz_localize(None)
    check_mapping(mapping, frame.columns)
    refuse_binary_columns(frame, mapping)
    fmt = date_format or detect_date_format(frame[mapping["occurred_at"]])
    lat = pd.to_numeric(frame[mapping["lat"]], errors="coerce")
    lon = pd.to_numeric(frame[mapping["lon"]], errors="coerce")
    when, converted = parse_dates(frame[mapping["occurred_at"]], fmt, checks.timezone)
    text = {name: _text(frame, mapping, name) for name in TEXT_FIELDS}
    reasons = pd.Series("", index=frame.index, dtype=object)
    removal = withdrawn(text["status"]) if "status" in mapping else pd.Series(False, index=frame.index)

    def flag(mask, reason, rows=~removal):
        reasons[mask & rows & (reasons == "")] = reason

    if "case_id" in mapping:
        every = pd.Series(True, index=frame.index)
        flag(text["case_id"].notna() & text["case_id"].duplicated(keep="last"), "case id repeated further down", every)
        flag(text["case_id"].isna() & removal, "status withdraws the case but the row has no case id", every)
        flag(text["case_id"].str.len() > MAX_TEXT, f"case_id longer than {MAX_TEXT} characters", every)
    flag(frame[mapping["lat"]].isna() | frame[mapping["lon"]].isna(), "missing coordinates")
    flag(lat.isna() | lon.isna(), "coordinates are not numbers")
    flag(~np.isfinite(lat.fillna(0)) | ~np.isfinite(lon.fillna(0)), "coordinates are not finite")
    flag((lat.abs() > 90) | (lon.abs() > 180), "coordinates out of range")
    flag((lat == 0) & (lon == 0), "coordinates are 0,0 (no location)")
    flag(frame[mapping["occurred_at"]].isna(), "missing date")
    flag(when.isna(), f"date not understood (format {fmt})")
    flag(when > now, "date in the future")
    flag(when < pd.Timestamp(checks.earliest), f"date before {checks.earliest.isoformat()}")
    flag(text["offence"].isna(), "missing offence")
    for name in TEXT_FIELDS:
        flag(text[name].str.len() > MAX_TEXT, f"{name} longer than {MAX_TEXT} characters")
    area = checks.area or (store_area(con) if con is not None else None)
    if area is None and (reasons == "").any():
        ok = reasons == ""
        area = Area.around(lat[ok].quantile([0.25, 0.75]), lon[ok].quantile([0.25, 0.75]), "the file's extent")
    far = (reasons == "") & ~removal & ~area.contains(lat, lon) if area is not None else removal & False
    if checks.reject_outside:
        flag(far & area.contains(lon, lat), "far from the data (latitude and longitude swapped?)")
        flag(far, "far from the data")
    bad = reasons != ""
    clean = pd.DataFrame(
        {
            "occurred_at": when,
            "offence": text["offence"],
            "premises": text["premises"],
            "neighbourhood": text["neighbourhood"],
            "lat": lat,
            "lon": lon,
            "case_id": text["case_id"],
        }
    )[~bad & ~removal]
    removals = pd.DataFrame({"case_id": text["case_id"][~bad & removal]})
    return Validated(
        clean,
        _numbered(frame, bad, reasons),
        fmt,
        converted,
        area,
        _numbered(frame, far),
        removals.reset_index(drop=True),
    )


def _numbered(frame: pd.DataFrame, mask: pd.Series, reasons: pd.Series | None = None) -> pd.DataFrame:
    """The rows of ``frame`` under ``mask`` with their 1-based line number under a CSV header first."""
    rows = frame[mask].copy()
    if reasons is not None:
        rows.insert(0, "reject_reason", reasons[mask])
    rows.insert(0, "source_row", rows.index + 2)
    return rows


def _records(rows: pd.DataFrame) -> list[dict]:
    return json.loads(rows.head(EXAMPLES).to_json(orient="records", date_format="iso", default_handler=str))


def write_rejects(rejects: pd.DataFrame, path: Path, reject_dir: Path | None) -> str:
    """Write rejected rows (formula-like text neutralised) beside ``path`` or in ``reject_dir``."""
    target_dir = Path(reject_dir) if reject_dir else path.parent
    target = target_dir / f"{path.stem}.rejects-{datetime.now():%Y%m%d-%H%M%S}.csv"
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        target.write_bytes(safe_csv.to_csv_bytes(rejects))
    except OSError as exc:
        raise ImportFailed(f"cannot write the rejected rows to {target_dir}: {exc.strerror or exc}") from None
    return str(target)


def with_ids(clean: pd.DataFrame, source: str) -> pd.DataFrame:
    """Store rows for ``clean`` plus their ``case_id``; with a case id, a row's id comes from (source,
    case id) (``db.case_ids``), so a later version of the case replaces it."""
    rows = db.with_cells(clean.drop(columns="case_id"), source)
    rows["case_id"] = clean["case_id"].to_numpy()
    given = clean["case_id"].notna().to_numpy()
    if given.any():
        rows.loc[given, "id"] = db.case_ids(source, clean["case_id"].to_numpy()[given])
    return rows


def removal_rows(case_id: pd.Series, source: str) -> pd.DataFrame:
    """``id`` and ``case_id`` of the cases to withdraw."""
    cases = case_id.dropna().astype(str).reset_index(drop=True)
    return pd.DataFrame({"id": db.case_ids(source, cases), "case_id": cases.astype(object)})


def import_file(
    con,
    path: Path,
    mapping: dict[str, str],
    by: str,
    date_format: str | None = None,
    source: str | None = None,
    reject_dir: Path | None = None,
    checks: Checks | None = None,
    also=None,
) -> ImportResult:
    """Validate and load ``path`` into the store as one batch (one transaction, see
    ``store.batches.apply``), audited as done ``by`` a user.

    Rejected rows are written to a CSV in ``reject_dir`` (default: next to the file)
    and never loaded; if no row is valid nothing is loaded and ImportFailed is raised.
    ``also(con, batch)`` runs in the batch's transaction (the folder sync records its file there).
    """
    path = Path(path)
    checks = checks or Checks()
    frame = read_table(path)
    try:
        checked = validate(frame, mapping, date_format, checks, con)
    except ValueError as exc:  # e.g. an invalid strftime pattern
        raise ImportFailed(f"cannot parse dates with format {date_format!r}: {exc}") from None
    source = source or path.stem
    clean, rejects = checked.clean, checked.rejects
    reject_file = write_rejects(rejects, path, reject_dir) if len(rejects) else None
    if clean.empty and checked.removals.empty:
        raise ImportFailed(
            f"no valid rows: all {len(rejects)} rejected, e.g. {rejects['reject_reason'].iloc[0]}; "
            f"see {Path(reject_file).name}",
            reject_file,
        )
    rows = with_ids(clean, source)
    removals = removal_rows(checked.removals["case_id"], source)
    people = persons.from_file(frame, mapping).loc[clean.index].reset_index(drop=True)
    also = persons.writer(rows["id"].to_numpy(), people, removals["id"].to_numpy(), also)
    counts = batches.apply(
        con,
        rows,
        removals,
        source=source,
        by=by,
        file_name=path.name,
        file_sha256=file_sha256(path),
        rejected=len(rejects),
        also=also,
    )
    areas.join_new_incidents(con)
    outside = {}
    if len(checked.outside):
        outside = {
            "count": len(checked.outside),
            "rejected": checks.reject_outside,
            "area": checked.area.describe(),
            "examples": _records(checked.outside),
        }
    return ImportResult(
        counts.added,
        counts.unchanged,
        len(rejects),
        reject_file,
        source,
        checked.date_format,
        _records(rejects),
        rejects["reject_reason"].value_counts().to_dict(),
        outside,
        f"UTC offsets converted to {checks.timezone} local time" if checked.converted else None,
        counts,
    )


def import_deletions(con, path: Path, case_column: str, source: str, by: str, also=None) -> batches.Counts:
    """Withdraw the cases of ``source`` that the CSV or Parquet file ``path`` lists in ``case_column``
    (blank cells are skipped), as one batch audited as done ``by`` a user."""
    path = Path(path)
    if not source:
        raise ImportFailed("a deletions file needs the source its cases were imported as (--source)")
    frame = read_table(path)
    if case_column not in frame.columns:
        raise ImportFailed(f"column {case_column!r} not in the file; it has: {', '.join(map(str, frame.columns))}")
    cases = frame[case_column].astype("string").str.strip()
    cases = cases[cases.notna() & (cases != "")].drop_duplicates()
    if cases.empty:
        raise ImportFailed(f"{path.name}: no case ids in column {case_column!r}")
    removals = removal_rows(cases.astype(object), source)
    also = persons.writer(np.array([], dtype="int64"), pd.DataFrame(), removals["id"].to_numpy(), also)
    counts = batches.apply(
        con, None, removals, source=source, by=by, file_name=path.name, file_sha256=file_sha256(path), also=also
    )
    return counts


GUESSES = {
    "lat": ("lat", "latitude", "y", "lat_wgs84"),
    "lon": ("lon", "long", "lng", "longitude", "x", "long_wgs84"),
    "occurred_at": (
        "occurred_at",
        "occurrencedate",
        "date",
        "datetime",
        "date_time",
        "occ_date",
        "incident_date",
        "date_occurred",
        "report_date",
        "timestamp",
    ),
    "offence": ("offence", "offense", "mci", "primary_type", "crime_type", "category", "type", "offence_type"),
    "premises": ("premises", "premises_type", "location_description", "premise_type", "location_type"),
    "neighbourhood": ("neighbourhood", "neighborhood", "community_area", "district", "beat", "ward"),
    # Never a bare "id": a row number would make rows of different files duplicates of each other.
    "case_id": ("case_id", "incident_id", "event_unique_id", "case_number", "incident_number", "report_number"),
    "status": ("status", "case_status", "record_status"),
}


GUESSES |= persons.GUESSES


def guess_mapping(columns) -> dict[str, str | None]:
    """A first guess at FIELD → COLUMN from common column names (case-insensitive)."""
    lower = {str(c).lower().strip().replace(" ", "_").replace("-", "_"): c for c in columns}
    return {field: next((lower[g] for g in names if g in lower), None) for field, names in GUESSES.items()}
