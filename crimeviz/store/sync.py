"""Folder sync: import each new incident file dropped into a folder, once, in name order.

A file is known by its name and SHA-256 (``synced_files``): a file done before is skipped, the same
name with new content is a new file. The record of a done file is written in the transaction of
its import batch, so a file is never imported without being recorded or recorded without being
imported, and a second sync running at the same time skips what the first has done.

The sync stops at the first file that cannot be imported (recorded as ``failed`` with its one-line
reason), leaving the later ones for the next run: files are applied in order, so a later export
never lands before an earlier one that updates the same cases. Fix or replace the file (new
content is a new file) and the next run goes on from there.

Files whose name contains ``.deletions.`` list withdrawn cases (the mapping's ``case_id`` column).
Writers should drop files whole (write elsewhere, then ``mv`` into the folder): a half-copied file
would fail and stop the sync until the next run.
"""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from crimeviz.files import file_sha256
from crimeviz.store import batches, importer

SUFFIXES = (".csv", ".parquet", ".pq")
DELETIONS = ".deletions."
REJECTS = "rejects"  # sub-folder the rejected rows go to (never scanned)


class AlreadySynced(Exception):
    """Another sync imported this file meanwhile; this import is rolled back."""


@dataclass
class SyncReport:
    folder: str
    imported: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: dict | None = None
    waiting: list = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "folder": self.folder,
            "imported": self.imported,
            "skipped": self.skipped,
            "failed": self.failed,
            "not_tried": self.waiting,
        }


def candidates(folder: Path) -> list[Path]:
    """The incident files at the top of ``folder``, in name order (hidden files and rejected rows'
    files, ``*.rejects-*.csv``, left out)."""
    return sorted(
        (
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".") and ".rejects-" not in p.name
        ),
        key=lambda p: p.name,
    )


def done(con, name: str, digest: str) -> bool:
    row = con.execute(
        "SELECT status FROM synced_files WHERE file_name = ? AND file_sha256 = ?", [name, digest]
    ).fetchall()
    return bool(row) and row[0][0] == "done"


def _record(con, path: Path, digest: str, status: str, batch, message, by: str) -> None:
    con.execute(
        "INSERT INTO synced_files (file_name, file_sha256, folder, status, import_id, message, synced_at, username) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (file_name, file_sha256) DO UPDATE SET "
        "folder = excluded.folder, status = excluded.status, import_id = excluded.import_id, "
        "message = excluded.message, synced_at = excluded.synced_at, username = excluded.username",
        [path.name, digest, str(path.parent), status, batch, message, datetime.now(), by],
    )


def sync_folder(
    con,
    folder: Path,
    mapping: dict[str, str],
    by: str,
    *,
    source: str | None = None,
    date_format: str | None = None,
    checks: importer.Checks | None = None,
    reject_dir: Path | None = None,
) -> SyncReport:
    """Import the files of ``folder`` not done before, in name order, each as one batch of ``source``
    (default: the folder's name, so later exports update the cases of earlier ones); stop at the
    first failure. Rejected rows go to ``reject_dir`` (default ``folder/rejects``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise importer.ImportFailed(f"{folder}: no such folder")
    batches.ensure(con)
    source = source or folder.resolve().name
    reject_dir = reject_dir or folder / REJECTS
    report = SyncReport(str(folder))
    files = candidates(folder)
    for index, path in enumerate(files):
        digest = file_sha256(path)
        if done(con, path.name, digest):
            report.skipped.append(path.name)
            continue

        def record_done(con, batch, path=path, digest=digest):
            if done(con, path.name, digest):
                raise AlreadySynced(path.name)
            _record(con, path, digest, "done", batch, None, by)

        try:
            if DELETIONS in path.name:
                if "case_id" not in mapping:
                    raise importer.ImportFailed("a deletions file needs case_id=COLUMN in the mapping")
                counts = importer.import_deletions(con, path, mapping["case_id"], source, by, also=record_done)
                report.imported.append({"file": path.name, **counts.summary(), "rejected": 0})
            else:
                result = importer.import_file(
                    con, path, mapping, by, date_format, source, reject_dir, checks, also=record_done
                )
                report.imported.append({"file": path.name, **result.counts.summary(), "rejected": result.rejected})
        except AlreadySynced:
            report.skipped.append(path.name)
        except importer.ImportFailed as exc:
            message = str(exc).splitlines()[0] if str(exc) else "failed"
            _record(con, path, digest, "failed", None, message, by)
            report.failed = {"file": path.name, "error": message}
            report.waiting = [p.name for p in files[index + 1 :]]
            break
    return report


def files(con) -> pd.DataFrame:
    """Every file a sync has seen: name, SHA-256, folder, status (done/failed), batch, message, when, by whom."""
    batches.ensure(con)
    return con.execute(
        "SELECT file_name, file_sha256, folder, status, import_id AS batch, message, synced_at, username "
        "FROM synced_files ORDER BY synced_at DESC"
    ).df()
