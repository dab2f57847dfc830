"""Paths and settings shared by the app, the CLI and the tests."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data"
TORONTO_PARQUET = DATA_DIR / "toronto_mci.parquet"
TORONTO_SOURCE = "toronto-mci"
RESOLUTIONS = (7, 8, 9)


def db_path() -> Path:
    """The DuckDB file the app opens: ``$CRIMEVIZ_DB`` or ``data/crimeviz.duckdb``."""
    return Path(os.environ.get("CRIMEVIZ_DB", DATA_DIR / "crimeviz.duckdb"))


def db_url() -> str | None:
    """The server profile's PostgreSQL URL, ``$CRIMEVIZ_DB_URL`` (unset: the embedded DuckDB file)."""
    return os.environ.get("CRIMEVIZ_DB_URL") or None


def store_location() -> str:
    """Where the app's store is: ``$CRIMEVIZ_DB_URL`` if set, else the DuckDB file :func:`db_path`."""
    return db_url() or str(db_path())


def is_server_url(location) -> bool:
    return str(location).startswith(("postgresql://", "postgres://"))


def secrets_path() -> Path:
    """The accounts file: ``$CRIMEVIZ_SECRETS`` or Streamlit's ``.streamlit/secrets.toml`` (never committed)."""
    return Path(os.environ.get("CRIMEVIZ_SECRETS", ROOT / ".streamlit" / "secrets.toml"))


def uploads_dir() -> Path:
    """Where uploads (clips, incident files, image sequences) are kept until the retention purge."""
    path = Path(os.environ.get("CRIMEVIZ_UPLOADS", DATA_DIR / "uploads"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def retention_days() -> int:
    """How long uploads are kept: ``$CRIMEVIZ_RETENTION_DAYS`` (default 30)."""
    return int(os.environ.get("CRIMEVIZ_RETENTION_DAYS", "30"))


def basemap() -> str:
    """``none`` (offline, the default) or ``carto`` (basemap tiles, needs internet: CARTO under the deck.gl map,
    OpenStreetMap in the Leaflet view)."""
    value = os.environ.get("CRIMEVIZ_BASEMAP", "none").lower()
    return value if value in ("none", "carto") else "none"


def basemap_dir() -> Path:
    """Where imported basemap tiles are written: ``$CRIMEVIZ_BASEMAP_DIR`` or ``static/basemap``. The app
    serves only what lies under ``static/`` (Streamlit's static serving), so the maps draw tiles kept there."""
    return Path(os.environ.get("CRIMEVIZ_BASEMAP_DIR", ROOT / "static" / "basemap"))


def limit_torch_threads() -> None:
    """Give each model call ``$CRIMEVIZ_TORCH_THREADS`` threads (default 1): the server runs many
    sessions at once, and on a small CPU one thread per call is much faster than contention.

    Set through OMP_NUM_THREADS, which PyTorch reads when first imported, so pages that use no
    model never load it.
    """
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, int(os.environ.get("CRIMEVIZ_TORCH_THREADS", "1")))))


def four_eyes() -> bool:
    """Whether a patrol plan needs a second commander's approval: ``$CRIMEVIZ_FOUR_EYES`` (default on;
    ``0``, ``off``, ``false`` or ``no`` let the author approve their own plan)."""
    return os.environ.get("CRIMEVIZ_FOUR_EYES", "on").strip().lower() not in ("0", "off", "false", "no")
