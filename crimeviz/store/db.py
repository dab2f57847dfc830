"""The DuckDB incident store: schema, opening, seeding and all-or-nothing writes.

Every query in CrimeViz binds its values as parameters; only column names chosen
from fixed whitelists (see ``grid.cell_column``) are ever placed into SQL text.
"""

import threading
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from crimeviz import config
from crimeviz.store import engine
from crimeviz.store.engine import StoreUnavailable  # noqa: F401  (callers catch db.StoreUnavailable)
from crimeviz.store.grid import cells_for_points

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id            BIGINT PRIMARY KEY,
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
CREATE SEQUENCE IF NOT EXISTS import_seq;
CREATE TABLE IF NOT EXISTS imports (
    import_id   BIGINT PRIMARY KEY DEFAULT nextval('import_seq'),
    imported_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    source      VARCHAR NOT NULL,
    file_sha256 VARCHAR,
    loaded      BIGINT NOT NULL,
    duplicates  BIGINT NOT NULL,
    rejected    BIGINT NOT NULL,
    file_name   VARCHAR,
    username    VARCHAR,
    added       BIGINT,
    updated     BIGINT,
    unchanged   BIGINT,
    removed     BIGINT,
    undone_at   TIMESTAMP,
    undone_by   VARCHAR
);
CREATE TABLE IF NOT EXISTS store_state (data_version BIGINT NOT NULL);
INSERT INTO store_state SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM store_state);
CREATE SEQUENCE IF NOT EXISTS audit_seq;
CREATE TABLE IF NOT EXISTS audit_log (
    entry_id    BIGINT PRIMARY KEY DEFAULT nextval('audit_seq'),
    logged_at   TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    username    VARCHAR NOT NULL,
    action      VARCHAR NOT NULL,
    object_type VARCHAR,
    object_id   VARCHAR,
    detail      VARCHAR
);
"""

CORE_TABLES = ("incidents", "imports", "store_state", "audit_log")

INCIDENT_COLUMNS = (
    "id",
    "occurred_at",
    "offence",
    "premises",
    "neighbourhood",
    "lat",
    "lon",
    "h3_7",
    "h3_8",
    "h3_9",
    "source",
)


DUCKDB_MAGIC = (8, b"DUCK")  # where DuckDB's file header carries its magic bytes


def check_store_file(path: Path) -> None:
    """StoreUnavailable unless ``path`` is absent, empty or a DuckDB file: DuckDB opens a CSV or
    Parquet file as a throw-away in-memory database, so writes "succeed" and are lost."""
    offset, magic = DUCKDB_MAGIC
    try:
        if path.is_dir():
            raise StoreUnavailable(f"{path} is a folder, not a CrimeViz (DuckDB) database")
        if not path.exists() or path.stat().st_size == 0:
            return
        with open(path, "rb") as handle:
            header = handle.read(offset + len(magic))
    except OSError as exc:
        raise StoreUnavailable(f"cannot open the database {path}: {exc.strerror or exc}") from None
    if header[offset:] != magic:
        raise StoreUnavailable(f"{path} is not a CrimeViz (DuckDB) database; give another --db")


def connect(path: Path | str | None = None, read_only: bool = False):
    """The store at ``path`` (default ``config.store_location()``), created if needed: a handle that
    many processes may use at once, on a DuckDB file (``engine.FileStore``) or, for a
    ``postgresql://`` URL, a PostgreSQL server (``server.ServerStore``); ``":memory:"`` gives a
    private DuckDB."""
    if str(path) == ":memory:":
        con = duckdb.connect(":memory:")
        con.execute(SCHEMA)
        return con
    location = path if path is not None else config.store_location()
    if config.is_server_url(location):
        from crimeviz.store import server  # psycopg only where a server is used

        store = server.shared(str(location), read_only)
        if not read_only:
            ensure_schema(store, SCHEMA, CORE_TABLES)
        return store
    path = Path(location)
    check_store_file(path)
    store = engine.shared(path, read_only)
    if read_only:
        return store
    if not path.exists() or path.stat().st_size == 0:
        with store.transaction():
            store.execute(SCHEMA)
    else:
        ensure_schema(store, SCHEMA, CORE_TABLES)
    return store


def describe(location=None) -> str:
    """Where the store is, for output and logs: the file, or the server's ``host:port/dbname``
    (never a user name or password)."""
    location = location if location is not None else config.store_location()
    if config.is_server_url(location):
        from crimeviz.store import server

        return server.where(str(location))
    return str(location)


def open_store(path: Path | str | None = None):
    """Open the store and, if it holds no incidents, load the embedded Toronto data."""
    con = connect(path)
    if incident_count(con) == 0:
        load_toronto(con)
    return con


def incident_count(con) -> int:
    return con.execute("SELECT count(*) FROM incidents").fetchall()[0][0]


# Writes to a private in-memory DuckDB (``connect(":memory:")``) queue here; a store file's
# writers queue on its lock files instead (``engine.FileStore.transaction``).
WRITE_LOCK = threading.RLock()
_OPEN_TRANSACTIONS: set[int] = set()  # ids of in-memory connections inside ``transaction``


def ensure_schema(con, schema: str, tables: tuple[str, ...]) -> None:
    """Run ``schema`` (``CREATE … IF NOT EXISTS``) in a write transaction unless all ``tables`` exist,
    so a page that only reads costs one catalog lookup, not a write queued behind every writer."""
    if not set(tables) <= table_names(con):
        with transaction(con):
            con.execute(schema)


def table_names(con) -> set[str]:
    """The tables the store holds (``information_schema``: the same on DuckDB and PostgreSQL)."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_type = 'BASE TABLE'"
    )
    return {r[0] for r in rows.fetchall()}


def column_names(con, table: str) -> set[str]:
    """The columns of ``table`` (empty when there is no such table)."""
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?",
        [table],
    )
    return {r[0] for r in rows.fetchall()}


@contextmanager
def transaction(con):
    """BEGIN … COMMIT (ROLLBACK on any exception, leaving the store as it was) as the one writer."""
    if hasattr(con, "transaction"):  # a shared store (``engine.FileStore``) queues its own writers
        with con.transaction():
            yield con
        return
    with WRITE_LOCK:
        if id(con) in _OPEN_TRANSACTIONS:  # nested: part of the enclosing transaction
            yield con
            return
        _OPEN_TRANSACTIONS.add(id(con))
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            _OPEN_TRANSACTIONS.discard(id(con))


ID_BITS = np.uint64((1 << 63) - 1)  # ids fit a signed 64-bit BIGINT (PostgreSQL has no unsigned type)


def insert_frame(con, table: str, frame: pd.DataFrame) -> None:
    """Append ``frame``'s rows to ``table`` (matching columns by name) inside the caller's transaction.
    ``table`` and the column names come from code, never from a file or a form."""
    columns = ", ".join(frame.columns)
    with transaction(con):
        if hasattr(con, "copy_frame"):  # the server profile streams rows with COPY
            con.copy_frame(table, frame)
            return
        con.register("incoming_frame", frame)
        try:
            con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM incoming_frame")
        finally:
            con.unregister("incoming_frame")


def row_ids(frame: pd.DataFrame) -> np.ndarray:
    """Stable int64 ids (63-bit): a hash of each row's content plus its ordinal among identical rows.

    Re-loading the same rows gives the same ids (so nothing is duplicated), while
    identical rows inside one file (e.g. two victims of one event) stay distinct.
    """
    content = frame[["occurred_at", "offence", "premises", "neighbourhood", "lat", "lon"]]
    row_hash = pd.util.hash_pandas_object(content, index=False)
    ordinal = row_hash.groupby(row_hash.to_numpy()).cumcount()
    keyed = pd.DataFrame({"h": row_hash.to_numpy(), "k": ordinal.to_numpy()})
    return (pd.util.hash_pandas_object(keyed, index=False).to_numpy(dtype=np.uint64) & ID_BITS).astype(np.int64)


def case_ids(source: str, cases) -> np.ndarray:
    """Stable int64 ids (63-bit) of the source's case ids: a case keeps its id whatever is edited in it."""
    keys = pd.DataFrame({"source": source, "incident_id": pd.Series(cases, dtype=object).to_numpy()})
    return (pd.util.hash_pandas_object(keys, index=False).to_numpy(dtype=np.uint64) & ID_BITS).astype(np.int64)


def with_cells(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Add ids, H3 cells at resolutions 7/8/9 and the source to clean incident rows."""
    out = frame.reset_index(drop=True).copy()
    out["id"] = row_ids(out)
    for res, cells in cells_for_points(out["lat"].to_numpy(), out["lon"].to_numpy()).items():
        out[f"h3_{res}"] = cells
    out["source"] = source
    return out[list(INCIDENT_COLUMNS)]


def data_version(con) -> int:
    """A counter that every change to the incidents raises, whichever process made it: caches of
    anything derived from the incidents are keyed on it (with the store's path)."""
    return con.execute("SELECT max(data_version) FROM store_state").fetchall()[0][0]


def bump_data_version(con) -> None:
    """Raise :func:`data_version`; call it in the transaction that changes the incidents."""
    con.execute("UPDATE store_state SET data_version = data_version + 1")


def insert_incidents(con, rows: pd.DataFrame) -> int:
    """Insert rows (``INCIDENT_COLUMNS``) skipping ids already stored; returns how many were new."""
    with transaction(con):
        before = incident_count(con)
        con.register("incoming_rows", rows)
        try:
            con.execute("INSERT INTO incidents SELECT * FROM incoming_rows ON CONFLICT (id) DO NOTHING")
        finally:
            con.unregister("incoming_rows")
        added = incident_count(con) - before
        if added:
            bump_data_version(con)
    return added


def load_toronto(con, parquet: Path = config.TORONTO_PARQUET) -> int:
    """Load the embedded Toronto incidents (see data/README.md) as one import batch, then the
    neighbourhoods derived from them as the default area layer (``areas.DEFAULT_LAYER``)."""
    from crimeviz.store import areas, batches  # built on this module

    frame = pd.read_parquet(parquet)
    rows = with_cells(frame, config.TORONTO_SOURCE)
    loaded = batches.apply(con, rows, None, source=config.TORONTO_SOURCE, by="db build").added
    areas.add_default_layer(con, "db build")
    return loaded
