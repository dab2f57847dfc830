"""A DuckDB copy of a server store's incident tables, where the analytics queries run.

The Map reruns its aggregations on every widget change; DuckDB's columnar engine runs them in
milliseconds where PostgreSQL takes tens of milliseconds at 240k rows and seconds at 10M (``bench
map`` measures both). So each app or job process keeps the tables its analytics read in an
in-memory DuckDB, refreshed when the store's data version moves on.

The first refresh copies the tables whole over Arrow (ADBC) in one REPEATABLE READ snapshot. After
that only what changed is fetched: triggers log the id of every inserted, updated or deleted row
of ``incidents`` and ``incident_areas`` with its transaction id, and a refresh takes the entries
of transactions its previous snapshot did not see (``pg_visible_in_snapshot``), so a transaction
that commits late is never missed (the method of PgQ/Londiste). A TRUNCATE, or a change to most of
the rows, falls back to a whole copy. Each refresh is applied in one DuckDB transaction: a query
never sees half of one.
"""

import re
import threading

import duckdb

from crimeviz.store import engine

TABLES = ("incidents", "incident_areas", "areas", "area_layers")
LOGGED = {"incidents": "id", "incident_areas": "incident_id"}  # fetched by change; the rest whole
UNSIGNED = {"incidents": ("h3_7", "h3_8", "h3_9")}  # stored signed in PostgreSQL, unsigned in DuckDB
WHOLE_COPY_SHARE = 0.3  # more changed ids than this share of the rows (and than WHOLE_COPY_MIN): copy it whole
WHOLE_COPY_MIN = 10_000

CHANGE_LOG = """
CREATE TABLE IF NOT EXISTS replica_changes (
    xid  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    tbl  TEXT NOT NULL,
    id   BIGINT
);
CREATE INDEX IF NOT EXISTS replica_changes_xid ON replica_changes (xid);
"""
TRIGGERS = """
CREATE OR REPLACE FUNCTION replica_log_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO replica_changes (tbl, id) VALUES ('{table}', NULL);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO replica_changes (tbl, id) SELECT '{table}', {key} FROM new_rows;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO replica_changes (tbl, id) SELECT '{table}', {key} FROM old_rows;
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER replica_{table}_ins AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION replica_log_{table}();
CREATE OR REPLACE TRIGGER replica_{table}_upd AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION replica_log_{table}();
CREATE OR REPLACE TRIGGER replica_{table}_del AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION replica_log_{table}();
CREATE OR REPLACE TRIGGER replica_{table}_trunc AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION replica_log_{table}();
"""
SNAPSHOT = re.compile(r"^\d+:\d+:[\d,]*$")
UNSEEN = "xid >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(xid, $1::pg_snapshot)"


class Replica:
    """The analytics copy of ``store`` (a ``server.ServerStore``)."""

    def __init__(self, store):
        self.store = store
        self.version = None
        self.snapshot = None  # the PostgreSQL snapshot the copy reflects
        self.logged = set()  # tables whose changes are logged (triggers installed)
        self.whole_copies = 0
        self.change_copies = 0
        self._con = duckdb.connect()
        engine._OPEN_AT_EXIT.append(self._con)
        self._lock = threading.Lock()

    def execute(self, sql: str, params=None) -> engine.Result:
        self.refresh()
        cursor = self._con.cursor()
        try:
            relation = cursor.sql(sql, params=params or None)
            return engine.Result(relation.to_arrow_table() if relation is not None else None)
        finally:
            cursor.close()

    def refresh(self) -> None:
        """Bring the copy up to date if the store's data version moved on since the last refresh.

        The query that finds the change waits for the refresh (so it sees the change); queries of
        other threads meanwhile go on against the previous copy instead of queueing behind it.
        """
        current = self.store.execute("SELECT max(data_version) FROM store_state").fetchall()[0][0]
        if current == self.version:
            return
        if not self._lock.acquire(blocking=self.version is None):
            return  # another thread is refreshing; the previous copy answers this query
        try:
            if current != self.version:
                self._refresh()
        finally:
            self._lock.release()

    def _install_logging(self, present: set[str]) -> None:
        """Change log and triggers for the logged tables that exist (idempotent; before a whole copy,
        so every change after the copy's snapshot is logged)."""
        wanted = {t for t in LOGGED if t in present} - self.logged
        if not wanted:
            return
        with self.store.transaction():
            self.store.execute(CHANGE_LOG)
            for table in sorted(wanted):
                self.store.execute(TRIGGERS.format(table=table, key=LOGGED[table]))
        self.logged |= wanted

    def _refresh(self) -> None:
        import adbc_driver_postgresql.dbapi as adbc

        present = self.store_tables()
        self._install_logging(present)
        with adbc.connect(self.store.url) as pg, pg.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SELECT max(data_version), pg_current_snapshot()::text FROM store_state")
            version, snapshot = cursor.fetchone()
            tables = [t for t in TABLES if t in present]
            changed = self._changed(cursor, tables)
            copies = {}
            for table in tables:
                if table in changed and changed[table] is not None:
                    cursor.execute(
                        f"SELECT * FROM {table} WHERE {LOGGED[table]} IN "
                        f"(SELECT id FROM replica_changes WHERE tbl = $2 AND {UNSEEN})",
                        parameters=[self.snapshot, table],
                    )
                else:
                    cursor.execute(f"SELECT * FROM {table}")
                copies[table] = cursor.fetch_arrow_table()
            pg.rollback()
        self._apply(copies, changed)
        self.version, self.snapshot = version, snapshot

    def store_tables(self) -> set[str]:
        rows = self.store.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
        return {r[0] for r in rows}

    def _changed(self, cursor, tables: list[str]) -> dict:
        """``{logged table: changed ids (a list), or None for a whole copy}``; {} for a first copy."""
        if self.snapshot is None or not SNAPSHOT.match(self.snapshot):
            return {}
        have = {r[0] for r in self._con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        cursor.execute(f"SELECT tbl, id FROM replica_changes WHERE {UNSEEN}", parameters=[self.snapshot])
        log = cursor.fetch_arrow_table().to_pandas()
        changed = {}
        for table in LOGGED:
            if table not in tables:
                continue
            ids = log.loc[log["tbl"] == table, "id"]
            rows = self._con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] if table in have else 0
            whole = (
                table not in have or ids.isna().any() or ids.nunique() > max(WHOLE_COPY_MIN, WHOLE_COPY_SHARE * rows)
            )
            changed[table] = None if whole else ids.dropna().astype("int64").unique().tolist()
        return changed

    def _apply(self, copies: dict, changed: dict) -> None:
        writer = self._con.cursor()
        try:
            writer.execute("BEGIN TRANSACTION")
            for table, rows in copies.items():
                casts = ", ".join(f"{c}::UBIGINT AS {c}" for c in UNSIGNED.get(table, ()))
                select = f"SELECT * REPLACE ({casts}) FROM rows" if casts else "SELECT * FROM rows"
                writer.register("rows", rows)
                ids = changed.get(table)
                if ids is None:
                    writer.execute(f"CREATE OR REPLACE TABLE {table} AS {select}")
                else:
                    writer.execute(f"DELETE FROM {table} WHERE {LOGGED[table]} IN (SELECT unnest(?))", [ids])
                    writer.execute(f"INSERT INTO {table} {select}")
                writer.unregister("rows")
            writer.execute("COMMIT")
        finally:
            writer.close()
        if any(changed.get(t) is not None for t in LOGGED):
            self.change_copies += 1
        else:
            self.whole_copies += 1
