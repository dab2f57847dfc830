"""The server profile: the store in a PostgreSQL database, chosen by ``$CRIMEVIZ_DB_URL``.

PostgreSQL holds every table and takes every write, from any number of app servers, CLI jobs and
monitors. Analytics (the Map's aggregations, counts for forecasts and plans, area joins) run in
DuckDB on a replica of the incident tables (:mod:`crimeviz.store.replica`), refreshed when the
data version changes: ARCHITECTURE.md gives the measurements behind that split.

The SQL CrimeViz writes for DuckDB runs here after a small translation (``?`` parameters, a few
type names); results come back through the same :class:`engine.Result` as the embedded profile,
so callers see identical types. A lost server is retried for ``$CRIMEVIZ_DB_CONNECT_WAIT`` seconds
(default 10), then reported in one line without the password.
"""

import io
import os
import re
import sys
import threading
import time
from contextlib import contextmanager, suppress

import pandas as pd
import psycopg
import pyarrow as pa

from crimeviz.store import engine, replica
from crimeviz.store.engine import StoreUnavailable

ANALYTIC = re.compile(r"\b(incidents|incident_areas)\b", re.IGNORECASE)

# DuckDB spellings the store's SQL uses, and PostgreSQL's.
_SPELLINGS = [
    (re.compile(r"\bUBIGINT\b", re.I), "BIGINT"),
    (re.compile(r"\bTINYINT\b", re.I), "SMALLINT"),
    (re.compile(r"\bFLOAT\b", re.I), "REAL"),
    (re.compile(r"\bDOUBLE\b(?!\s+PRECISION)", re.I), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
    (re.compile(r"\bcurrent_localtimestamp\(\)", re.I), "LOCALTIMESTAMP"),
    (re.compile(r"\bBEGIN TRANSACTION\b", re.I), "BEGIN"),
    (re.compile(r"\blower\(hex\(([\w.]+)\)\)", re.I), r"to_hex(\1)"),
    (re.compile(r"\blen\(([\w.]+)\)", re.I), r"cardinality(\1)"),
]
_INSERT_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.I)

# PostgreSQL type OIDs → Arrow types, so results keep their types even when every value is NULL.
_ARROW_TYPES = {
    16: pa.bool_(),
    17: pa.binary(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    25: pa.string(),
    1043: pa.string(),
    700: pa.float32(),
    701: pa.float64(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
    1022: pa.list_(pa.float64()),
    1016: pa.list_(pa.int64()),
    1007: pa.list_(pa.int32()),
    1009: pa.list_(pa.string()),
}


def translate(sql: str, with_params: bool = True) -> str:
    """DuckDB SQL as CrimeViz writes it → PostgreSQL (psycopg's ``%s`` parameters)."""
    for pattern, spelling in _SPELLINGS:
        sql = pattern.sub(spelling, sql)
    if _INSERT_OR_IGNORE.match(sql):
        sql = _INSERT_OR_IGNORE.sub("INSERT INTO", sql).rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    return sql.replace("%", "%%").replace("?", "%s") if with_params else sql


def where(url: str) -> str:
    """``host:port/dbname`` of ``url``, for messages (never the user or password)."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    host = info.get("host") or "localhost"
    return f"{host}:{info.get('port') or 5432}/{info.get('dbname') or ''}"


def connect_wait() -> float:
    return float(os.environ.get("CRIMEVIZ_DB_CONNECT_WAIT", "10"))


def _result(cursor) -> engine.Result:
    if cursor.description is None:
        return engine.Result(None)
    names = [d.name for d in cursor.description]
    rows = cursor.fetchall()
    columns = list(zip(*rows)) if rows else [[] for _ in names]
    arrays = []
    for d, values in zip(cursor.description, columns):
        arrays.append(pa.array(list(values), type=_ARROW_TYPES.get(d.type_code)))
    return engine.Result(pa.Table.from_arrays(arrays, names=names))


class ServerStore(engine.Handle):
    """A PostgreSQL store: one connection per thread, transactions pinned to their thread."""

    profile = "server"

    def __init__(self, url: str, read_only: bool = False):
        self.url = url
        self.read_only = read_only
        self.where = where(url)
        self._local = threading.local()
        self.replica = replica.Replica(self)

    def _connection(self):
        con = getattr(self._local, "con", None)
        if con is not None and not con.closed:
            return con
        deadline, said = time.monotonic() + connect_wait(), False
        while True:
            try:
                con = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
                break
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip()
                    raise StoreUnavailable(
                        f"the database server {self.where} is not reachable ({_without_secrets(reason, self.url)}); "
                        "it is tried again on the next request"
                    ) from None
                if not said:
                    print(f"waiting for the database server {self.where}…", file=sys.stderr, flush=True)
                    said = True
                time.sleep(0.5)
        self._local.con = con
        return con

    def _drop_connection(self) -> None:
        con = getattr(self._local, "con", None)
        self._local.con = None
        if con is not None:
            with suppress(psycopg.Error):
                con.close()

    @contextmanager
    def transaction(self):
        """BEGIN … COMMIT on this thread's connection (ROLLBACK on any exception); nests on one thread."""
        if getattr(self._local, "in_transaction", False):
            yield self
            return
        if self.read_only:
            raise PermissionError(f"the store {self.where} was opened read-only")
        con = self._connection()
        self._local.in_transaction = True
        try:
            with con.transaction():
                yield self
        except psycopg.OperationalError:
            self._drop_connection()
            raise StoreUnavailable(
                f"lost the connection to the database server {self.where}; nothing of this change was saved"
            ) from None
        finally:
            self._local.in_transaction = False

    def execute(self, sql: str, params=None):
        in_transaction = getattr(self._local, "in_transaction", False)
        if not in_transaction and engine.is_read(sql) and ANALYTIC.search(sql):
            return self.replica.execute(sql, params)
        text = translate(sql, params is not None)
        for attempt in (1, 2):
            try:
                with self._connection().cursor() as cursor:
                    cursor.execute(text, params)
                    return _result(cursor)
            except psycopg.OperationalError:
                self._drop_connection()
                if in_transaction or attempt == 2:
                    raise StoreUnavailable(
                        f"lost the connection to the database server {self.where}; try again when it is back"
                    ) from None

    def copy_frame(self, table: str, frame: pd.DataFrame) -> None:
        """Stream ``frame`` into ``table`` with COPY (inside the caller's transaction)."""
        buffer = io.StringIO()
        _csv_ready(frame).to_csv(buffer, index=False, header=False, na_rep="\\N")
        columns = ", ".join(frame.columns)
        statement = f"COPY {table} ({columns}) FROM STDIN (FORMAT csv, NULL '\\N')"
        with self._connection().cursor() as cursor, cursor.copy(statement) as copy:
            copy.write(buffer.getvalue())

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """``frame`` as a temporary table ``name`` until :meth:`unregister` (inside a transaction)."""
        if not getattr(self._local, "in_transaction", False):
            raise RuntimeError("register a table only inside `with db.transaction(con):`")
        types = ", ".join(f"{column} {_pg_type(frame[column])}" for column in frame.columns)
        self.execute(f"CREATE TEMPORARY TABLE {name} ({types}) ON COMMIT DROP")
        self.copy_frame(name, frame)

    def unregister(self, name: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS {name}")

    def close(self) -> None:
        self._drop_connection()


def _pg_type(series: pd.Series) -> str:
    kind = series.dtype.kind
    if kind == "b":
        return "BOOLEAN"
    if kind in "iu":
        return "BIGINT"
    if kind == "f":
        return "DOUBLE PRECISION"
    if kind == "M":
        return "TIMESTAMP"
    first = series.dropna().head(1).tolist()
    return "BYTEA" if first and isinstance(first[0], bytes | bytearray) else "VARCHAR"


def _csv_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Bytes as PostgreSQL's ``\\x…`` hex, so COPY's CSV reads them back exactly."""
    out = frame
    for column in frame.columns:
        first = frame[column].dropna().head(1).tolist()
        if first and isinstance(first[0], bytes | bytearray):
            out = out.copy() if out is frame else out
            out[column] = frame[column].map(lambda b: None if b is None else "\\x" + bytes(b).hex())
    return out


def _without_secrets(text: str, url: str) -> str:
    password = psycopg.conninfo.conninfo_to_dict(url).get("password")
    return text.replace(password, "***") if password else text


_SHARED: dict[tuple[str, bool], ServerStore] = {}
_SHARED_LOCK = threading.Lock()


def shared(url: str, read_only: bool = False) -> ServerStore:
    """The one :class:`ServerStore` of ``url`` in this process (its replica is shared by all threads)."""
    with _SHARED_LOCK:
        store = _SHARED.get((url, read_only))
        if store is None:
            store = _SHARED[(url, read_only)] = ServerStore(url, read_only)
        return store
