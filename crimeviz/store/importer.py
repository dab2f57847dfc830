"""Import any city's incidents from CSV or Parquet: validate, report rejects, load all-or-nothing."""

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from crimeviz.files import file_sha256
from crimeviz.store import audit, db

REQUIRED = ("lat", "lon", "occurred_at", "offence")
OPTIONAL = ("premises", "neighbourhood")
# Tried in order when no --date-format is given; the one parsing most sample rows wins.
DATE_FORMATS = (
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
    """An import that cannot go ahead; the message is one line for the user."""


@dataclass
class ImportResult:
    loaded: int
    duplicates: int
    rejected: int
    reject_file: str | None
    source: str
    date_format: str
    examples: list = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "reject_file": self.reject_file,
            "source": self.source,
            "date_format": self.date_format,
            "reject_examples": self.examples,
        }


def parse_mapping(text: str) -> dict[str, str]:
    """``lat=Y,lon=X,...`` → {field: column}; checks the field names and required fields."""
    mapping = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, column = part.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not column:
            raise ImportFailed(f"mapping entry {part!r} is not FIELD=COLUMN")
        if name not in REQUIRED + OPTIONAL:
            raise ImportFailed(f"unknown mapping field {name!r}; fields are {', '.join(REQUIRED + OPTIONAL)}")
        mapping[name] = column
    return check_mapping(mapping)


def check_mapping(mapping: dict[str, str], columns=None) -> dict[str, str]:
    missing = [f for f in REQUIRED if not mapping.get(f)]
    if missing:
        raise ImportFailed(f"mapping lacks required field(s): {', '.join(missing)}")
    if columns is not None:
        absent = [c for c in mapping.values() if c not in columns]
        if absent:
            raise ImportFailed(
                f"column(s) {', '.join(map(repr, absent))} not in the file; it has: {', '.join(map(str, columns))}"
            )
    return mapping


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV (all columns as text) or Parquet file; ImportFailed if it cannot be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding_errors="strict")
        elif suffix in (".parquet", ".pq"):
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


def detect_date_format(values: pd.Series) -> str:
    """The DATE_FORMATS entry that parses most of a sample of ``values``, or ``mixed``."""
    sample = values.dropna().astype(str).str.strip()
    sample = sample[sample != ""].head(500)
    best, best_ok = "mixed", 0
    for fmt in DATE_FORMATS:
        ok = pd.to_datetime(sample, format=fmt, errors="coerce").notna().sum()
        if ok > best_ok:
            best, best_ok = fmt, ok
    return best


def parse_dates(values: pd.Series, fmt: str) -> pd.Series:
    """Parse to naive local timestamps; timezone-aware input keeps its wall-clock time."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        parsed = pd.to_datetime(values.astype("string").str.strip(), format=fmt, errors="coerce")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.astype("datetime64[us]")


def validate(frame: pd.DataFrame, mapping: dict[str, str], date_format: str | None):
    """Split ``frame`` into (clean incident rows, rejects with a reason, format used)."""
    check_mapping(mapping, frame.columns)
    fmt = date_format or detect_date_format(frame[mapping["occurred_at"]])
    lat = pd.to_numeric(frame[mapping["lat"]], errors="coerce")
    lon = pd.to_numeric(frame[mapping["lon"]], errors="coerce")
    when = parse_dates(frame[mapping["occurred_at"]], fmt)
    offence = frame[mapping["offence"]].astype("string").str.strip()
    reasons = pd.Series("", index=frame.index, dtype=object)

    def flag(mask, reason):
        reasons[mask & (reasons == "")] = reason

    flag(frame[mapping["lat"]].isna() | frame[mapping["lon"]].isna(), "missing coordinates")
    flag(lat.isna() | lon.isna(), "coordinates are not numbers")
    flag(~np.isfinite(lat.fillna(0)) | ~np.isfinite(lon.fillna(0)), "coordinates are not finite")
    flag((lat.abs() > 90) | (lon.abs() > 180), "coordinates out of range")
    flag((lat == 0) & (lon == 0), "coordinates are 0,0 (no location)")
    flag(frame[mapping["occurred_at"]].isna(), "missing date")
    flag(when.isna(), f"date not understood (format {fmt})")
    flag(offence.isna() | (offence == ""), "missing offence")
    bad = reasons != ""

    def text(name):
        if name not in mapping:
            return pd.Series(None, index=frame.index, dtype=object)
        col = frame[mapping[name]].astype("string").str.strip()
        return col.where(col != "", None).astype(object)

    clean = pd.DataFrame(
        {
            "occurred_at": when,
            "offence": offence.astype(object),
            "premises": text("premises"),
            "neighbourhood": text("neighbourhood"),
            "lat": lat,
            "lon": lon,
        }
    )[~bad]
    rejects = frame[bad].copy()
    rejects.insert(0, "reject_reason", reasons[bad])
    rejects.insert(0, "source_row", rejects.index + 2)  # 1-based line number under a CSV header
    return clean, rejects, fmt


def import_file(
    con,
    path: Path,
    mapping: dict[str, str],
    by: str,
    date_format: str | None = None,
    source: str | None = None,
    reject_dir: Path | None = None,
) -> ImportResult:
    """Validate and load ``path`` into the store in one transaction, audited as done ``by`` a user.

    Rejected rows are written to a CSV in ``reject_dir`` (default: next to the file)
    and never loaded; if no row is valid nothing is loaded and ImportFailed is raised.
    """
    path = Path(path)
    frame = read_table(path)
    try:
        clean, rejects, fmt = validate(frame, mapping, date_format)
    except ValueError as exc:  # e.g. an invalid strftime pattern
        raise ImportFailed(f"cannot parse dates with format {date_format!r}: {exc}") from None
    source = source or path.stem
    reject_file = None
    if len(rejects):
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        target_dir = Path(reject_dir) if reject_dir else path.parent
        target_dir.mkdir(parents=True, exist_ok=True)
        reject_file = str(target_dir / f"{path.stem}.rejects-{stamp}.csv")
        rejects.to_csv(reject_file, index=False)
    examples = json.loads(rejects.head(EXAMPLES).to_json(orient="records", date_format="iso"))
    if clean.empty:
        raise ImportFailed(
            f"no valid rows: all {len(rejects)} rejected, e.g. {rejects['reject_reason'].iloc[0]} (see {reject_file})"
        )
    rows = db.with_cells(clean, source)
    with db.transaction(con):
        loaded = db.insert_incidents(con, rows)
        digest = file_sha256(path)
        con.execute(
            "INSERT INTO imports (source, file_sha256, loaded, duplicates, rejected) VALUES (?, ?, ?, ?, ?)",
            [source, digest, loaded, len(rows) - loaded, len(rejects)],
        )
        audit.record(
            con,
            by,
            "import",
            "file",
            path.name,
            {"sha256": digest, "source": source, "loaded": loaded, "rejected": len(rejects)},
        )
    return ImportResult(loaded, len(rows) - loaded, len(rejects), reject_file, source, fmt, examples)


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
}


def guess_mapping(columns) -> dict[str, str | None]:
    """A first guess at FIELD → COLUMN from common column names (case-insensitive)."""
    lower = {str(c).lower().strip().replace(" ", "_").replace("-", "_"): c for c in columns}
    return {field: next((lower[g] for g in names if g in lower), None) for field, names in GUESSES.items()}
