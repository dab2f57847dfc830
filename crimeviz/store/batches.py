"""Import batches: incidents as a living record, each change kept and the last batch undoable.

Every import is a batch (a row of ``imports``). Rows carrying the source's case id are matched to
the stored version of that case (the incident id derives from source and case id, see
``db.case_ids``): a changed record replaces the stored one, whose old version goes to
``incident_history`` with the batch that replaced it; an identical one is counted as unchanged; a
new one is added. A case whose status says it was withdrawn (``REMOVAL_STATUSES``) or that a
deletions file names is removed from ``incidents`` (so from every map, chart, forecast input and
export) and kept in ``incident_history``. ``import_changes`` lists which incidents each batch
added, updated or removed, so :func:`undo` can restore exactly the state before the last batch.

The apply is one transaction of set-based statements on rows prepared before it (parsed,
validated, with ids and H3 cells), so the store's writer lock is held only briefly. Undo assumes
every change to ``incidents`` goes through a batch (imports, the Toronto seed).

Versions are kept as in a "slowly changing dimension" of type 2 (Kimball & Ross, *The Data
Warehouse Toolkit*, 3rd ed., 2013, ch. 5, "Type 2: Add New Row"), with the current version alone in
``incidents`` and the superseded ones in a separate history table, so every reader of incidents
sees one row per case without filtering on a "current" flag.
"""

from dataclasses import asdict, dataclass
from datetime import datetime

import pandas as pd

from crimeviz.store import areas, audit, db

# Status values (compared case-insensitively, spaces trimmed) that withdraw a case.
REMOVAL_STATUSES = ("unfounded", "deleted", "void", "voided", "cancelled", "canceled", "removed", "withdrawn")
CONTENT = tuple(c for c in db.INCIDENT_COLUMNS if c != "id")
ID_MASK = (1 << 63) - 1  # incident ids fit a signed 64-bit BIGINT (PostgreSQL has no unsigned type)

SCHEMA = """
CREATE TABLE IF NOT EXISTS incident_history (
    import_id     BIGINT NOT NULL,
    change        VARCHAR NOT NULL,
    case_id       VARCHAR,
    id            BIGINT NOT NULL,
    occurred_at   TIMESTAMP NOT NULL,
    offence       VARCHAR NOT NULL,
    premises      VARCHAR,
    neighbourhood VARCHAR,
    lat           DOUBLE NOT NULL,
    lon           DOUBLE NOT NULL,
    h3_7          UBIGINT NOT NULL,
    h3_8          UBIGINT NOT NULL,
    h3_9          UBIGINT NOT NULL,
    source        VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS import_changes (
    import_id   BIGINT NOT NULL,
    incident_id BIGINT NOT NULL,
    change      VARCHAR NOT NULL,
    case_id     VARCHAR,
    PRIMARY KEY (import_id, incident_id)
);
CREATE TABLE IF NOT EXISTS synced_files (
    file_name   VARCHAR NOT NULL,
    file_sha256 VARCHAR NOT NULL,
    folder      VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,
    import_id   BIGINT,
    message     VARCHAR,
    synced_at   TIMESTAMP NOT NULL,
    username    VARCHAR,
    PRIMARY KEY (file_name, file_sha256)
);
"""
TABLES = ("incident_history", "import_changes", "synced_files")
# Columns of ``imports`` that stores made before batches lack (added by :func:`ensure`).
BATCH_COLUMNS = {
    "file_name": "VARCHAR",
    "username": "VARCHAR",
    "added": "BIGINT",
    "updated": "BIGINT",
    "unchanged": "BIGINT",
    "removed": "BIGINT",
    "undone_at": "TIMESTAMP",
    "undone_by": "VARCHAR",
}


class UndoRefused(Exception):
    """An undo that cannot go ahead; the message is one line for the user."""


@dataclass
class Counts:
    """What one batch did: incidents added, updated (old version to history), unchanged, removed,
    and removals naming a case the store does not hold (``not_found``)."""

    batch: int
    added: int
    updated: int
    unchanged: int
    removed: int
    not_found: int = 0

    def summary(self) -> dict:
        return asdict(self)


def _columns(con, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table]
    ).fetchall()
    return {name: kind for name, kind in rows}


def ensure(con) -> None:
    """Create the batch tables and bring a store made before batches up to date (each step only
    when it is missing, so a store already current costs two catalog reads):

    - ``imports`` gains the batch columns (counts, user, file name, undone at/by);
    - ``incidents.id`` becomes BIGINT: ids above 2^63 - 1 are masked to 63 bits (here and in
      ``incident_areas``), the ids that :func:`db.row_ids` and :func:`db.case_ids` now give, so
      re-importing a file still finds its rows. The table is rebuilt (DuckDB cannot change the
      type of a primary key column): about a second per million incidents.
    """
    imports = _columns(con, "imports")
    incidents = _columns(con, "incidents")
    missing_tables = [t for t in TABLES if not _columns(con, t)]
    missing_columns = [c for c in BATCH_COLUMNS if c not in imports]
    wide_ids = incidents.get("id", "BIGINT").upper() != "BIGINT"
    if not (missing_tables or missing_columns or wide_ids):
        return
    areas.ensure(con)
    with db.transaction(con):
        con.execute(SCHEMA)
        for name in missing_columns:
            con.execute(f"ALTER TABLE imports ADD COLUMN IF NOT EXISTS {name} {BATCH_COLUMNS[name]}")
        if wide_ids and _columns(con, "incidents").get("id", "BIGINT").upper() != "BIGINT":
            _narrow_ids(con)


def _narrow_ids(con) -> None:
    """Rebuild ``incidents`` with BIGINT ids (masked to 63 bits), inside the caller's transaction."""
    total, distinct = con.execute(f"SELECT count(*), count(DISTINCT id & {ID_MASK}) FROM incidents").fetchall()[0]
    if total != distinct:
        raise db.StoreUnavailable(
            f"{total - distinct} incident ids would collide as 63-bit ids; the store cannot be migrated"
        )
    create = db.SCHEMA.split("CREATE TABLE IF NOT EXISTS incidents", 1)[1].split(";", 1)[0]
    columns = ", ".join(db.INCIDENT_COLUMNS)
    rest = ", ".join(CONTENT)
    con.execute(f"CREATE TABLE incidents_narrow {create}")
    con.execute(f"INSERT INTO incidents_narrow ({columns}) SELECT id & {ID_MASK}, {rest} FROM incidents")
    con.execute("DROP TABLE incidents")
    con.execute("ALTER TABLE incidents_narrow RENAME TO incidents")
    con.execute(f"UPDATE incident_areas SET incident_id = incident_id & {ID_MASK} WHERE incident_id > {ID_MASK}")


def _frame(rows: pd.DataFrame | None) -> pd.DataFrame:
    """``rows`` as INCIDENT_COLUMNS plus ``case_id`` (None where absent), one row per id (the last)."""
    columns = list(db.INCIDENT_COLUMNS) + ["case_id"]
    if rows is None or rows.empty:
        types = {"id": "int64", "occurred_at": "datetime64[us]", "lat": "float64", "lon": "float64"}
        types.update({f"h3_{res}": "uint64" for res in (7, 8, 9)})
        return pd.DataFrame({c: pd.Series(dtype=types.get(c, object)) for c in columns})
    out = rows.copy()
    if "case_id" not in out:
        out["case_id"] = None
    return out[columns].drop_duplicates("id", keep="last").reset_index(drop=True)


def apply(
    con,
    rows: pd.DataFrame | None,
    removals: pd.DataFrame | None,
    *,
    source: str,
    by: str,
    file_name: str | None = None,
    file_sha256: str | None = None,
    rejected: int = 0,
    also=None,
) -> Counts:
    """Apply one batch in one transaction and return what it did.

    ``rows``: INCIDENT_COLUMNS plus ``case_id`` (None for rows identified by their content, which
    are only ever added or counted unchanged). ``removals``: ``id`` and ``case_id`` of withdrawn
    cases. ``also(con, batch)``, when given, runs inside the same transaction (the folder sync
    records its file there, so a file is never imported without being recorded, or the reverse).
    The batch is audited (``import``) as done ``by`` the user.
    """
    ensure(con)
    incoming = _frame(rows)
    gone = pd.DataFrame(columns=["id", "case_id"]) if removals is None else removals[["id", "case_id"]]
    gone = gone.drop_duplicates("id", keep="last").astype({"id": "int64"}).reset_index(drop=True)
    same = " AND ".join(f"i.{c} IS NOT DISTINCT FROM n.{c}" for c in CONTENT)
    columns = ", ".join(db.INCIDENT_COLUMNS)
    history = ", ".join(f"i.{c}" for c in db.INCIDENT_COLUMNS)
    with db.transaction(con):
        batch = int(con.execute("SELECT nextval('import_seq')").fetchall()[0][0])
        con.register("batch_rows", incoming)
        con.register("batch_removals", gone)
        try:
            # What happens to each incoming row and removal, classified in the store (no round trip).
            con.execute(
                f"CREATE TEMPORARY TABLE batch_changes AS SELECT n.id AS incident_id, "
                "CAST(n.case_id AS VARCHAR) AS case_id, CASE WHEN i.id IS NULL THEN 'added' "
                f"WHEN n.case_id IS NULL OR ({same}) THEN 'unchanged' ELSE 'updated' END AS change "
                "FROM batch_rows n LEFT JOIN incidents i ON i.id = n.id UNION ALL "
                "SELECT r.id, CAST(r.case_id AS VARCHAR), 'removed' FROM batch_removals r "
                "JOIN incidents i ON i.id = r.id"
            )
            tally = dict(con.execute("SELECT change, count(*) FROM batch_changes GROUP BY change").fetchall())
            con.execute(
                f"INSERT INTO incident_history (import_id, change, case_id, {columns}) "
                f"SELECT {batch}, c.change, c.case_id, {history} FROM incidents i "
                "JOIN batch_changes c ON c.incident_id = i.id WHERE c.change IN ('updated', 'removed')"
            )
            assignments = ", ".join(f"{c} = n.{c}" for c in CONTENT)
            con.execute(
                f"UPDATE incidents SET {assignments} FROM batch_rows n WHERE incidents.id = n.id "
                "AND n.id IN (SELECT incident_id FROM batch_changes WHERE change = 'updated')"
            )
            con.execute(
                "DELETE FROM incidents WHERE id IN (SELECT incident_id FROM batch_changes WHERE change = 'removed')"
            )
            con.execute(
                f"INSERT INTO incidents ({columns}) SELECT {columns} FROM batch_rows "
                "WHERE id IN (SELECT incident_id FROM batch_changes WHERE change = 'added')"
            )
            con.execute(
                "INSERT INTO import_changes (import_id, incident_id, change, case_id) "
                f"SELECT {batch}, incident_id, change, case_id FROM batch_changes WHERE change <> 'unchanged'"
            )
            # An updated incident may have moved: its areas are joined again after the commit.
            con.execute(
                "DELETE FROM incident_areas WHERE incident_id IN "
                "(SELECT incident_id FROM batch_changes WHERE change IN ('updated', 'removed'))"
            )
        finally:
            con.execute("DROP TABLE IF EXISTS batch_changes")
            for name in ("batch_rows", "batch_removals"):
                con.unregister(name)  # a name never registered is no error
        counts = Counts(
            batch,
            int(tally.get("added", 0)),
            int(tally.get("updated", 0)),
            int(tally.get("unchanged", 0)),
            int(tally.get("removed", 0)),
            len(gone) - int(tally.get("removed", 0)),
        )
        con.execute(
            "INSERT INTO imports (import_id, imported_at, source, file_sha256, loaded, duplicates, rejected, "
            "file_name, username, added, updated, unchanged, removed) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                counts.batch,
                datetime.now(),
                source,
                file_sha256,
                counts.added,
                counts.unchanged,
                rejected,
                file_name,
                by,
                counts.added,
                counts.updated,
                counts.unchanged,
                counts.removed,
            ],
        )
        if counts.added or counts.updated or counts.removed:
            db.bump_data_version(con)
        if also is not None:
            also(con, counts.batch)
        audit.record(
            con,
            by,
            "import",
            "file" if file_name else "batch",
            file_name or counts.batch,
            {"sha256": file_sha256, "source": source, "rejected": rejected, **counts.summary()},
        )
    return counts


def table(con, limit: int | None = None) -> pd.DataFrame:
    """The batches (all, or the newest ``limit``), newest first: id, when, source, file, user, counts,
    and when and by whom it was undone."""
    ensure(con)
    tail, params = ("", []) if limit is None else (" LIMIT ?", [int(limit)])
    return con.execute(
        "SELECT import_id AS batch, imported_at, source, file_name, username, "
        "coalesce(added, loaded) AS added, updated, coalesce(unchanged, duplicates) AS unchanged, removed, "
        f"rejected, undone_at, undone_by FROM imports ORDER BY import_id DESC{tail}",
        params,
    ).df()


def last_batch(con) -> int | None:
    """The newest batch not undone (the only one :func:`undo` accepts), or None."""
    ensure(con)
    return con.execute("SELECT max(import_id) FROM imports WHERE undone_at IS NULL").fetchall()[0][0]


def undo(con, by: str, batch: int | None = None) -> dict:
    """Undo ``batch`` (default: the last one), audited as ``import.undo``: the incidents it added
    are deleted, the versions it replaced or removed are put back, so the incidents are exactly
    as before it. Only the newest batch not yet undone may be undone (batches are undone newest
    first); UndoRefused otherwise, naming the batch to undo first. Callers check the user is an admin.
    """
    ensure(con)
    with db.transaction(con):
        last = con.execute("SELECT max(import_id) FROM imports WHERE undone_at IS NULL").fetchall()[0][0]
        target = last if batch is None else int(batch)
        if target is None:
            raise UndoRefused("there is no import to undo")
        row = con.execute(
            "SELECT source, added, undone_at, undone_by FROM imports WHERE import_id = ?", [target]
        ).fetchall()
        if not row:
            raise UndoRefused(f"there is no import batch {target}")
        source, added, undone_at, undone_by = row[0]
        if undone_at is not None:
            raise UndoRefused(f"batch {target} was already undone ({undone_at:%Y-%m-%d %H:%M} by {undone_by})")
        if target != last:
            raise UndoRefused(
                f"batch {target} is not the last import: undo batch {last} first (imports are undone newest first)"
            )
        if added is None:
            raise UndoRefused(f"batch {target} was imported before imports recorded their changes; it cannot be undone")
        tally = dict(
            con.execute(
                "SELECT change, count(*) FROM import_changes WHERE import_id = ? GROUP BY change", [target]
            ).fetchall()
        )
        content = ", ".join(f"{c} = h.{c}" for c in CONTENT)
        columns = ", ".join(db.INCIDENT_COLUMNS)
        con.execute(
            "DELETE FROM incident_areas WHERE incident_id IN "
            "(SELECT incident_id FROM import_changes WHERE import_id = ? AND change IN ('added', 'updated'))",
            [target],
        )
        con.execute(
            "DELETE FROM incidents WHERE id IN "
            "(SELECT incident_id FROM import_changes WHERE import_id = ? AND change = 'added')",
            [target],
        )
        con.execute(
            f"UPDATE incidents SET {content} FROM incident_history h "
            "WHERE h.import_id = ? AND h.change = 'updated' AND incidents.id = h.id",
            [target],
        )
        con.execute(
            f"INSERT INTO incidents ({columns}) SELECT {columns} FROM incident_history "
            "WHERE import_id = ? AND change = 'removed'",
            [target],
        )
        con.execute("UPDATE imports SET undone_at = ?, undone_by = ? WHERE import_id = ?", [datetime.now(), by, target])
        if tally:
            db.bump_data_version(con)
        result = {
            "undone": target,
            "source": source,
            "deleted": int(tally.get("added", 0)),
            "restored": int(tally.get("updated", 0)),
            "put_back": int(tally.get("removed", 0)),
        }
        audit.record(con, by, "import.undo", "batch", target, result)
    areas.join_new_incidents(con)
    return result


def history(con, source: str, case_id: str) -> pd.DataFrame:
    """Earlier versions of one case, oldest change first, with the batch that replaced or removed each."""
    ensure(con)
    return con.execute(
        "SELECT h.import_id AS batch, b.imported_at AS changed_at, h.change, h.occurred_at, h.offence, h.premises, "
        "h.neighbourhood, h.lat, h.lon FROM incident_history h JOIN imports b ON b.import_id = h.import_id "
        "WHERE h.source = ? AND h.case_id = ? ORDER BY h.import_id",
        [source, case_id],
    ).df()
