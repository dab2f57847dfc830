"""Data protection: uploads are kept only for the retention period, then deleted.

Reports keep what they need without the clip (its SHA-256, scores, segments, key frames), so a
purge loses no review. Admins schedule ``python -m crimeviz retention purge`` (e.g. daily from cron).
"""

import shutil
import time
from pathlib import Path

from crimeviz import config
from crimeviz.store import audit


def expired(root: Path, days: int, now: float | None = None) -> list[Path]:
    """Upload folders under ``root`` last changed more than ``days`` days ago."""
    cutoff = (now or time.time()) - days * 86_400
    return sorted(p for p in root.iterdir() if p.is_dir() and p.stat().st_mtime < cutoff)


def purge(con, by: str, days: int | None = None, root: Path | None = None) -> dict:
    """Delete expired uploads; audited as ``retention.purge``. Returns what was deleted."""
    days = config.retention_days() if days is None else days
    if days < 1:
        raise ValueError("the retention period must be at least 1 day")
    root = root or config.uploads_dir()
    gone = expired(root, days)
    freed = sum(f.stat().st_size for p in gone for f in p.rglob("*") if f.is_file())
    for folder in gone:
        shutil.rmtree(folder)
    summary = {"deleted": len(gone), "bytes": freed, "days": days, "folder": str(root)}
    audit.record(con, by, "retention.purge", "uploads", str(root), summary)
    return summary
