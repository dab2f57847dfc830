"""The CCTV model registry: every MGFN version, what it was trained on, its metrics, which one scores.

Files live under ``data/models/cctv/registry/`` (``$CRIMEVIZ_CCTV_REGISTRY``): each
version's checkpoint (named by its content hash, so a file never changes once
written) and its model card beside it. The ``cctv_models`` table holds each version's
training data (label ids, cameras, dates), metrics, card and status (``candidate``,
``promoted``, ``retired``, ``rejected``); ``cctv_model_promotions`` is the history of
promotions and rollbacks. The promoted version is also named in ``promoted.json``
in the folder, replaced atomically, which :func:`crimeviz.cctv.app_weights` reads on
every call: the upload page (its model cache is keyed on the path) and a
:class:`CurrentScorer` pick up a promotion or rollback without a restart.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from datetime import datetime
from pathlib import Path

import pandas as pd

from crimeviz import config
from crimeviz.store import audit
from crimeviz.store.db import ensure_schema, transaction

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS cctv_model_seq;
CREATE TABLE IF NOT EXISTS cctv_models (
    version_id BIGINT PRIMARY KEY DEFAULT nextval('cctv_model_seq'),
    name       VARCHAR NOT NULL,
    file       VARCHAR NOT NULL,
    sha256     VARCHAR NOT NULL,
    parent_id  BIGINT,
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL,
    training   VARCHAR NOT NULL,
    metrics    VARCHAR NOT NULL,
    card       VARCHAR NOT NULL,
    status     VARCHAR NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS cctv_model_promotion_seq;
CREATE TABLE IF NOT EXISTS cctv_model_promotions (
    promotion_id BIGINT PRIMARY KEY DEFAULT nextval('cctv_model_promotion_seq'),
    version_id   BIGINT NOT NULL,
    action       VARCHAR NOT NULL,
    done_by      VARCHAR NOT NULL,
    done_at      TIMESTAMP NOT NULL,
    reason       VARCHAR NOT NULL
);
"""
TABLES = ("cctv_models", "cctv_model_promotions")
POINTER = "promoted.json"
STATUSES = ("candidate", "promoted", "retired", "rejected")


def registry_dir() -> Path:
    """``$CRIMEVIZ_CCTV_REGISTRY`` or ``data/models/cctv/registry``."""
    return Path(os.environ.get("CRIMEVIZ_CCTV_REGISTRY") or config.DATA_DIR / "models" / "cctv" / "registry")


def ensure_tables(con) -> None:
    ensure_schema(con, SCHEMA, TABLES)


def promoted_pointer(root: Path | None = None) -> dict | None:
    """What ``promoted.json`` says (version_id, name, file, sha256, path), or None when nothing is promoted."""
    path = (root or registry_dir()) / POINTER
    try:
        pointer = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    pointer["path"] = str(path.parent / pointer["file"])
    return pointer


def promoted_weights(root: Path | None = None) -> Path | None:
    """The promoted checkpoint's path, or None."""
    pointer = promoted_pointer(root)
    return Path(pointer["path"]) if pointer and Path(pointer["path"]).is_file() else None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def register(
    con,
    checkpoint: Path,
    name: str,
    by: str,
    training: dict,
    metrics: dict,
    card: str,
    parent_id: int | None = None,
    status: str = "candidate",
    now: datetime | None = None,
) -> int:
    """Copies ``checkpoint`` into the registry (``<name>-<sha12>.pt`` and ``.md``) and records it; audited."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    ensure_tables(con)
    root = registry_dir()
    root.mkdir(parents=True, exist_ok=True)
    digest = _sha256(Path(checkpoint))
    file = f"{name}-{digest[:12]}.pt"
    if not (root / file).is_file():
        shutil.copyfile(checkpoint, root / file)
    (root / file).with_suffix(".md").write_text(card)
    with transaction(con):
        version_id = con.execute(
            """INSERT INTO cctv_models (name, file, sha256, parent_id, created_at, created_by, training, metrics,
                   card, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING version_id""",
            [
                name,
                file,
                digest,
                parent_id,
                now or datetime.now(),
                by,
                json.dumps(training, default=str),
                json.dumps(metrics, default=str),
                card,
                status,
            ],
        ).fetchall()[0][0]
        audit.record(con, by, "cctv.model.register", "cctv_model", version_id, {"name": name, "status": status})
    return version_id


def versions(con) -> pd.DataFrame:
    """Every version, newest first: id, name, status, parent, who and when, file, metrics and training (JSON text)."""
    ensure_tables(con)
    return con.execute(
        """SELECT version_id, name, status, parent_id, created_by, created_at, file, sha256, metrics, training
           FROM cctv_models ORDER BY version_id DESC"""
    ).df()


def version(con, version_id: int) -> dict | None:
    """One version with its metrics, training and card decoded, and its checkpoint's path."""
    ensure_tables(con)
    rows = con.execute(
        """SELECT version_id, name, status, parent_id, created_by, created_at, file, sha256, metrics, training, card
           FROM cctv_models WHERE version_id = ?""",
        [int(version_id)],
    ).fetchall()
    if not rows:
        return None
    keys = ("version_id", "name", "status", "parent_id", "created_by", "created_at", "file", "sha256")
    out = dict(zip((*keys, "metrics", "training", "card"), rows[0]))
    out["metrics"], out["training"] = json.loads(out["metrics"]), json.loads(out["training"])
    out["path"] = str(registry_dir() / out["file"])
    return out


def summary(con) -> pd.DataFrame:
    """One row per version for a table: id, name, status, created, by, held-out frame AUC and false alarms/hour."""
    frame = versions(con)
    metrics = frame["metrics"].map(json.loads)
    return pd.DataFrame(
        {
            "version": frame["version_id"],
            "name": frame["name"],
            "status": frame["status"],
            "created": frame["created_at"],
            "by": frame["created_by"],
            "held-out frame AUC": metrics.map(lambda m: m.get("frame_auc")),
            "false alarms / camera-hour": metrics.map(lambda m: m.get("false_alarms_per_hour")),
        }
    )


def promoted_id(con) -> int | None:
    ensure_tables(con)
    rows = con.execute("SELECT version_id FROM cctv_models WHERE status = 'promoted'").fetchall()
    return rows[0][0] if rows else None


def _write_pointer(record: dict) -> None:
    root = registry_dir()
    root.mkdir(parents=True, exist_ok=True)
    pointer = {k: record[k] for k in ("version_id", "name", "file", "sha256")}
    with tempfile.NamedTemporaryFile("w", dir=root, delete=False, suffix=".tmp") as handle:
        json.dump(pointer, handle)
    os.replace(handle.name, root / POINTER)


def promote(con, version_id: int, by: str, reason: str = "", action: str = "promote", now=None) -> dict:
    """Makes ``version_id`` the scoring model (the previous one is retired); audited; returns the version."""
    record = version(con, version_id)
    if record is None:
        raise ValueError(f"no model version {version_id}")
    if not Path(record["path"]).is_file():
        raise ValueError(f"version {version_id}'s checkpoint {record['file']} is missing from {registry_dir()}")
    if _sha256(Path(record["path"])) != record["sha256"]:
        raise ValueError(f"version {version_id}'s checkpoint {record['file']} changed on disk; not promoted")
    previous = promoted_id(con)
    with transaction(con):
        con.execute("UPDATE cctv_models SET status = 'retired' WHERE status = 'promoted'")
        con.execute("UPDATE cctv_models SET status = 'promoted' WHERE version_id = ?", [int(version_id)])
        con.execute(
            "INSERT INTO cctv_model_promotions (version_id, action, done_by, done_at, reason) VALUES (?, ?, ?, ?, ?)",
            [int(version_id), action, by, now or datetime.now(), reason],
        )
        audit.record(
            con, by, f"cctv.model.{action}", "cctv_model", version_id, {"previous": previous, "reason": reason[:200]}
        )
        _write_pointer(record)  # inside the transaction: a failed write leaves the table as it was
    record["status"] = "promoted"
    return record


def rollback(con, by: str, reason: str = "", now=None) -> dict:
    """Promotes again the version promoted before the current one; audited."""
    ensure_tables(con)
    current = promoted_id(con)
    rows = con.execute(
        "SELECT version_id FROM cctv_model_promotions ORDER BY done_at DESC, promotion_id DESC"
    ).fetchall()
    earlier = [r[0] for r in rows if r[0] != current]
    if current is None or not earlier:
        raise ValueError("there is no earlier promoted version to roll back to")
    return promote(con, earlier[0], by, reason or f"rollback from version {current}", "rollback", now)


def set_status(con, version_id: int, status: str) -> None:
    if status not in ("candidate", "rejected"):
        raise ValueError("only candidate or rejected can be set directly")
    with transaction(con):
        con.execute("UPDATE cctv_models SET status = ? WHERE version_id = ?", [status, int(version_id)])


class CurrentScorer:
    """The scorer of :func:`crimeviz.cctv.app_weights`, reloaded when the promoted file changes.

    ``get()`` costs one small file read per call (the pointer), so a long-running
    process (the monitor, a page) scores with the promoted version from its next call on.
    """

    def __init__(self, loader=None):
        from crimeviz.cctv.model import load_scorer

        self.loader = loader or load_scorer
        self._key: tuple | None = None
        self._scorer = None
        self._lock = threading.Lock()

    def get(self):
        from crimeviz.cctv import app_weights

        path = app_weights()
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key != self._key:
                self._scorer, self._key = self.loader(path), key
            return self._scorer


class PromotedScorer:
    """Stands in for a :class:`crimeviz.cctv.model.Scorer` and forwards every attribute to
    ``current.get()``, so code that holds one scorer (the live monitor's backend) scores with the
    promoted version from its next snippet on. Versions made by retraining keep the feature recipe,
    so features computed before a promotion remain valid after it."""

    def __init__(self, current: CurrentScorer):
        self.__dict__["_current"] = current

    def __getattr__(self, name):
        return getattr(self._current.get(), name)
