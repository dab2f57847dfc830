"""A DuckDB copy of a server store's incident tables, where the analytics queries run.

The Map reruns its aggregations on every widget change; DuckDB's columnar engine runs them in
milliseconds where PostgreSQL takes tens of milliseconds at 240k rows and seconds at 10M (``bench
map`` measures both). So each app or job process keeps the tables its analytics read in an
in-memory DuckDB, copied over Arrow (ADBC) in one REPEATABLE READ snapshot and swapped in whole
when the store's data version moves on; a query never sees half a refresh.
"""

import threading

import duckdb

from crimeviz.store import engine

TABLES = ("incidents", "incident_areas", "areas", "area_layers")
UNSIGNED = {"incidents": ("h3_7", "h3_8", "h3_9")}  # stored signed in PostgreSQL, unsigned in DuckDB


class Replica:
    """The analytics copy of ``store`` (a ``server.ServerStore``)."""

    def __init__(self, store):
        self.store = store
        self.version = None
        self.refreshes = 0
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
        """Copy the tables again if the store's data version moved on since the last copy.

        The query that finds the change waits for the copy (so it sees the change); queries of
        other threads meanwhile go on against the previous copy instead of queueing behind it.
        """
        current = self.store.execute("SELECT max(data_version) FROM store_state").fetchall()[0][0]
        if current == self.version:
            return
        if not self._lock.acquire(blocking=self.version is None):
            return  # another thread is copying; the previous copy answers this query
        try:
            if current != self.version:
                self._copy()
        finally:
            self._lock.release()

    def _copy(self) -> None:
        import adbc_driver_postgresql.dbapi as adbc

        with adbc.connect(self.store.url) as pg, pg.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SELECT max(data_version) FROM store_state")
            version = cursor.fetchone()[0]
            cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
            present = {r[0] for r in cursor.fetchall()}
            copies = {}
            for table in TABLES:
                if table in present:
                    cursor.execute(f"SELECT * FROM {table}")
                    copies[table] = cursor.fetch_arrow_table()
            pg.rollback()
        writer = self._con.cursor()
        try:
            writer.execute("BEGIN TRANSACTION")
            for table, rows in copies.items():
                casts = ", ".join(f"{c}::UBIGINT AS {c}" for c in UNSIGNED.get(table, ()))
                select = f"SELECT * REPLACE ({casts}) FROM rows" if casts else "SELECT * FROM rows"
                writer.register("rows", rows)
                writer.execute(f"CREATE OR REPLACE TABLE {table} AS {select}")
                writer.unregister("rows")
            writer.execute("COMMIT")
        finally:
            writer.close()
        self.version = version
        self.refreshes += 1
