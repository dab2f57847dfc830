"""The ``deviance_scores`` table: DevianceNet scores of street-level sequences, by place.

One row per scored sequence: where (lat, lon, H3 res-9 cell), the SEA class
probabilities, most likely and expected class, the DIA deviance probability, and which
model and checkpoint (sha256) produced them, and when. Writes are all-or-nothing and
audited (``streetview.score``) in the same transaction.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crimeviz.explore import maps
from crimeviz.store import audit, db, grid

if TYPE_CHECKING:  # the Map page reads scores without loading torch
    from crimeviz.streetview.checkpoints import Score, ScoringModel

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS deviance_score_seq;
CREATE TABLE IF NOT EXISTS deviance_scores (
    score_id          BIGINT PRIMARY KEY DEFAULT nextval('deviance_score_seq'),
    created_at        TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    sequence          VARCHAR NOT NULL,
    lat               DOUBLE NOT NULL,
    lon               DOUBLE NOT NULL,
    h3_9              UBIGINT NOT NULL,
    p_class1          DOUBLE NOT NULL,
    p_class2          DOUBLE NOT NULL,
    p_class3          DOUBLE NOT NULL,
    p_class4          DOUBLE NOT NULL,
    p_class5          DOUBLE NOT NULL,
    sea_class         TINYINT NOT NULL,
    expected_class    DOUBLE NOT NULL,
    dia_prob          DOUBLE NOT NULL,
    model             VARCHAR NOT NULL,
    checkpoint_sha256 VARCHAR NOT NULL
);
"""
COLUMNS = (
    "sequence",
    "lat",
    "lon",
    "h3_9",
    "p_class1",
    "p_class2",
    "p_class3",
    "p_class4",
    "p_class5",
    "sea_class",
    "expected_class",
    "dia_prob",
    "model",
    "checkpoint_sha256",
)


def ensure_tables(con) -> None:
    db.ensure_schema(con, SCHEMA, ("deviance_scores",))


def check_location(lat, lon) -> tuple[float, float]:
    """``(lat, lon)`` as floats; ValueError in words if missing or not a place on Earth."""
    if lat is None or lon is None:
        raise ValueError("no location given: type it, click it on the map, or use images with EXIF GPS")
    lat, lon = float(lat), float(lon)
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"({lat}, {lon}) is not a valid latitude/longitude")
    return lat, lon


def save_scores(con, scored: list[tuple[str, float, float, Score]], model: ScoringModel, by: str) -> int:
    """Stores ``(sequence, lat, lon, score)`` rows in one audited transaction, done ``by`` a user;
    returns how many."""
    places = [check_location(lat, lon) for _, lat, lon, _ in scored]
    lat, lon = np.array(places).reshape(-1, 2).T
    rows = pd.DataFrame(
        {
            "sequence": [name for name, *_ in scored],
            "lat": lat,
            "lon": lon,
            "h3_9": grid.cells_for_points(lat, lon)[9],
            **{f"p_class{k + 1}": [s.sea_probs[k] for *_, s in scored] for k in range(5)},
            "sea_class": [s.sea_class for *_, s in scored],
            "expected_class": [s.expected_class for *_, s in scored],
            "dia_prob": [s.dia_prob for *_, s in scored],
            "model": model.name,
            "checkpoint_sha256": model.sha256,
        }
    )
    ensure_tables(con)
    with db.transaction(con):
        db.insert_frame(con, "deviance_scores", rows[list(COLUMNS)])
        audit.record(
            con,
            by,
            "streetview.score",
            "deviance_scores",
            None,
            {"sequences": len(rows), "model": model.name, "checkpoint_sha256": model.sha256},
        )
    return len(rows)


def recent_scores(con, limit: int = 20) -> pd.DataFrame:
    """The latest scores, newest first, for tables."""
    ensure_tables(con)
    return con.execute(
        "SELECT created_at, sequence, lat, lon, sea_class, expected_class, dia_prob, model, "
        "checkpoint_sha256 FROM deviance_scores ORDER BY score_id DESC LIMIT ?",
        [limit],
    ).df()


def scores_for_map(con) -> pd.DataFrame:
    """Every score as a map point: lat, lon, cell (res-9 hex), classes, DIA, model, time, tooltip."""
    ensure_tables(con)
    frame = con.execute(
        "SELECT lat, lon, h3_9, sea_class, expected_class, dia_prob, model, "
        "left(checkpoint_sha256, 12) AS checkpoint, created_at "
        "FROM deviance_scores ORDER BY score_id"
    ).df()
    frame["cell"] = grid.to_hex(frame["h3_9"])
    shown = frame.assign(
        expected=frame["expected_class"].map("{:.2f}".format),
        dia=frame["dia_prob"].map("{:.0%}".format),
        when=frame["created_at"].dt.strftime("%Y-%m-%d %H:%M"),
    )
    frame["tooltip"] = maps.tooltip_rows(
        shown,
        {
            "DevianceNet class": "sea_class",
            "Expected class": "expected",
            "P(deviance)": "dia",
            "Model": "model",
            "Checkpoint": "checkpoint",
            "Scored": "when",
        },
    )
    return frame[["lat", "lon", "cell", "sea_class", "expected_class", "dia_prob", "model", "created_at", "tooltip"]]
