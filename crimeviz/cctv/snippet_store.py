"""Snippet features kept at scoring time, so retraining never decodes a clip again.

Every saved review (``source = 'report'``) and, where the monitor stores them, every
alert (``source = 'alert'``) keeps the raw snippet features MGFN scored (backbone
features + motion statistics, :mod:`crimeviz.cctv.features`) as one float16 array in a
BLOB, with the seconds each snippet covers and the feature recipe, so a fine-tuned
MGFN (:mod:`crimeviz.cctv.retrain`) trains on exactly what was scored. Float16 keeps
a 5-minute clip at 30 fps (563 snippets of 1292 values) at 1.4 MB.
"""

from __future__ import annotations

import io
import json
from datetime import datetime

import numpy as np
import pandas as pd

from crimeviz.store.db import ensure_schema, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS cctv_snippet_features (
    source        VARCHAR NOT NULL,
    source_id     BIGINT NOT NULL,
    camera_id     BIGINT NOT NULL,
    snippet_s     DOUBLE NOT NULL,
    n_snippets    INTEGER NOT NULL,
    dim           INTEGER NOT NULL,
    model_version VARCHAR NOT NULL,
    feature_spec  VARCHAR NOT NULL,
    features      BLOB NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (source, source_id)
);
"""
SOURCES = ("report", "alert")


def ensure_tables(con) -> None:
    ensure_schema(con, SCHEMA, ("cctv_snippet_features",))


def to_blob(features: np.ndarray) -> bytes:
    """(S, F) features -> float16 ``.npy`` bytes."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(features, dtype=np.float16), allow_pickle=False)
    return buffer.getvalue()


def from_blob(blob: bytes) -> np.ndarray:
    """``.npy`` bytes -> (S, F) float32 features."""
    return np.load(io.BytesIO(bytes(blob)), allow_pickle=False).astype(np.float32)


def save(
    con,
    source: str,
    source_id: int,
    camera_id: int,
    features: np.ndarray,
    snippet_s: float,
    model_version: str,
    feature_spec: dict,
    now: datetime | None = None,
) -> None:
    """Stores (or replaces) the snippet features of one report or alert, inside the caller's transaction if any."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose report or alert")
    features = np.asarray(features)
    if features.ndim != 2 or len(features) == 0:
        raise ValueError(f"snippet features must be (snippets, dim), got {features.shape}")
    ensure_tables(con)
    values = [
        camera_id,
        float(snippet_s),
        len(features),
        features.shape[1],
        model_version,
        json.dumps(feature_spec),
        to_blob(features),
        now or datetime.now(),
    ]
    with transaction(con):
        con.execute(
            """INSERT INTO cctv_snippet_features (source, source_id, camera_id, snippet_s, n_snippets, dim,
                   model_version, feature_spec, features, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (source, source_id) DO UPDATE SET camera_id = excluded.camera_id,
                   snippet_s = excluded.snippet_s, n_snippets = excluded.n_snippets, dim = excluded.dim,
                   model_version = excluded.model_version, feature_spec = excluded.feature_spec,
                   features = excluded.features, created_at = excluded.created_at""",
            [source, int(source_id), *values],
        )


def forget(con, source: str, source_id: int) -> None:
    """Removes the stored features of one report or alert (none stored: nothing happens)."""
    ensure_tables(con)
    with transaction(con):
        con.execute("DELETE FROM cctv_snippet_features WHERE source = ? AND source_id = ?", [source, int(source_id)])


def load(con, source: str, source_id: int) -> tuple[np.ndarray, dict] | None:
    """(features (S, F) float32, {camera_id, snippet_s, model_version, feature_spec}) or None."""
    ensure_tables(con)
    rows = con.execute(
        """SELECT features, camera_id, snippet_s, model_version, feature_spec FROM cctv_snippet_features
           WHERE source = ? AND source_id = ?""",
        [source, int(source_id)],
    ).fetchall()
    if not rows:
        return None
    blob, camera_id, snippet_s, version, spec = rows[0]
    meta = {"camera_id": camera_id, "snippet_s": snippet_s, "model_version": version, "feature_spec": json.loads(spec)}
    return from_blob(blob), meta


def listing(con) -> pd.DataFrame:
    """source, source_id, camera_id, snippet_s, n_snippets, hours (no arrays)."""
    ensure_tables(con)
    return con.execute(
        """SELECT source, source_id, camera_id, snippet_s, n_snippets, n_snippets * snippet_s / 3600.0 AS hours
           FROM cctv_snippet_features ORDER BY source, source_id"""
    ).df()
