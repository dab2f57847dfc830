"""One DuckDB file shared by many processes: the app's servers, CLI jobs and camera monitors.

DuckDB lets one process at a time open a file for writing, and no process may open it for reading
meanwhile. So no process keeps the file open: readers share a read-only connection that closes
when idle (or as soon as a writer queues), and a writer opens the file only for its transaction.
Two lock files beside the store order them (``fcntl.flock``, which also works between threads):

- ``<store>.queue``: a writer holds it exclusively from the moment it wants to write; readers
  pass through it shared, so a queued writer is never starved by a stream of reads;
- ``<store>.access``: shared while a read-only connection is open, exclusive while a writer's is.

A writer therefore waits for the reads in flight (milliseconds) and for other writers, which keep
their transactions short (an import parses and validates before it starts one). Waits are bounded
(``$CRIMEVIZ_DB_WAIT`` seconds, default 120) and say what they wait for.
"""

import atexit
import fcntl
import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

READ_VERBS = {"select", "with", "from", "describe", "show", "summarize", "explain", "values", "table"}
IDLE_CLOSE_S = 0.25  # a reader's connection closes after this long without a statement
POLL_S = 0.02
SAY_WAITING_AFTER_S = 1.0


_OPEN_AT_EXIT: list = []  # connections this module keeps open between calls, closed at exit


@atexit.register
def _close_at_exit() -> None:
    """Close what is still open before the interpreter tears DuckDB down (it warns of leaks otherwise)."""
    for store in list(_SHARED.values()):
        store.close()
    for con in _OPEN_AT_EXIT:
        con.close()
    _OPEN_AT_EXIT.clear()
    Result._memory = threading.local()


class StoreUnavailable(Exception):
    """The store cannot be opened or reached; the message says why in words for the user."""


class StoreBusy(StoreUnavailable):
    """Another process kept the store past the wait limit; the message says which and how long."""


def wait_limit() -> float:
    return float(os.environ.get("CRIMEVIZ_DB_WAIT", "120"))


def is_read(sql: str) -> bool:
    """Whether ``sql`` only reads (its first word is SELECT, WITH, …)."""
    match = re.match(r"\s*(?:--[^\n]*\n\s*)*\(*\s*(\w+)", sql)
    return bool(match) and match.group(1).lower() in READ_VERBS


class Result:
    """A statement's rows, fetched before its connection closed. They are read back through an
    in-memory DuckDB relation, so ``fetchall``/``df``/``fetchnumpy`` give exactly DuckDB's types."""

    _memory = threading.local()

    def __init__(self, table):
        self._table = table
        self._rows = None
        self._next = 0

    def _relation(self):
        con = getattr(self._memory, "con", None)
        if con is None:
            con = self._memory.con = duckdb.connect()
            _OPEN_AT_EXIT.append(con)
        return con.sql("SELECT 1 AS ok WHERE false") if self._table is None else con.from_arrow(self._table)

    @property
    def description(self):
        return self._relation().description

    def fetchall(self) -> list[tuple]:
        if self._rows is None:
            self._rows = self._relation().fetchall()
        rows, self._next = self._rows[self._next :], len(self._rows)
        return rows

    def fetchone(self):
        if self._rows is None:
            self._rows = self._relation().fetchall()
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def df(self):
        return self._relation().df()

    fetchdf = df

    def fetchnumpy(self):
        return self._relation().fetchnumpy()

    def to_arrow_table(self):
        return self._table


class _Lock:
    """An ``fcntl.flock`` on its own open file, so threads of one process exclude each other too."""

    def __init__(self, path: Path):
        self.path = path
        self.handle = None

    def acquire(self, exclusive: bool, what: str, deadline: float) -> None:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        handle = open(self.path, "a+")  # noqa: SIM115  (held until release)
        said, start = False, time.monotonic()
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if now > deadline:
                    handle.close()
                    raise StoreBusy(
                        f"the store {self.path.with_suffix('')} stayed busy for {now - start:.0f} s ({what}); "
                        "try again, or raise $CRIMEVIZ_DB_WAIT"
                    ) from None
                if not said and now - start > SAY_WAITING_AFTER_S:
                    print(f"waiting for the store: {what}…", file=sys.stderr, flush=True)
                    said = True
                time.sleep(POLL_S)
        self.handle = handle

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None

    def held_by_other_exclusively(self) -> bool:
        """Whether someone holds the lock exclusively (tried without waiting, and let go at once)."""
        with open(self.path, "a+") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(probe, fcntl.LOCK_UN)
        return False


class Handle:
    """What both profiles' stores share with a DuckDB connection beyond ``execute``: ``sql``, a
    ``cursor`` (the handle itself: it is safe across threads) and use as a context manager."""

    def sql(self, sql: str, params=None):
        return self.execute(sql, params)

    def cursor(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_PINNED = threading.local()  # {resolved path: the writer connection this thread holds}


class FileStore(Handle):
    """The embedded profile: a DuckDB file that this process opens only while it uses it.

    Thread-safe; use :func:`shared` to get the one instance per file in this process. ``execute``
    runs a read on the shared read-only connection (or, inside :meth:`transaction` on this thread,
    on the writer's connection) and a write in a transaction of its own.
    """

    profile = "embedded"

    def __init__(self, path: Path, read_only: bool = False):
        self.path = path
        self.read_only = read_only
        self._queue = path.with_name(path.name + ".queue")
        self._access = path.with_name(path.name + ".access")
        self._mutex = threading.Condition()
        self._reader = None  # (connection, access lock)
        self._active = 0
        self._last_used = 0.0
        self._key = str(path.resolve())
        self._closer = None
        self._opening = False

    # -- reads ----------------------------------------------------------------------------
    def _reader_cursor(self):
        """A cursor on the shared read-only connection, opened if needed; a queued writer goes first."""
        while True:
            with self._mutex:
                if self._reader is not None:
                    if not self._writer_waiting():
                        self._active += 1
                        return self._reader[0].cursor()
                    if self._active == 0:
                        self._close_reader()
                    else:
                        self._mutex.wait(POLL_S)
                    continue
                if self._opening:
                    self._mutex.wait(POLL_S)
                    continue
                self._opening = True
            try:
                opened = self._open_reader()
            finally:
                with self._mutex:
                    self._opening = False
                    self._mutex.notify_all()
            with self._mutex:
                self._reader = opened
                self._last_used = time.monotonic()
                if self._closer is None or not self._closer.is_alive():
                    self._closer = threading.Thread(target=self._close_when_idle, name="store-closer", daemon=True)
                    self._closer.start()

    def _writer_waiting(self) -> bool:
        return _Lock(self._queue).held_by_other_exclusively()

    def _open_reader(self):
        """Pass the writers' queue, then hold the access lock shared while the connection is open."""
        deadline = time.monotonic() + wait_limit()
        queue, access = _Lock(self._queue), _Lock(self._access)
        queue.acquire(False, "another process is writing", deadline)
        try:
            access.acquire(False, "another process is writing", deadline)
        finally:
            queue.release()
        try:
            return _open(self.path, read_only=True), access
        except BaseException:
            access.release()
            raise

    def _close_reader(self) -> None:
        con, access = self._reader
        self._reader = None
        try:
            con.close()
        finally:
            access.release()

    def _close_when_idle(self) -> None:
        with self._mutex:
            while self._reader is not None:
                self._mutex.wait(POLL_S)
                if self._reader is not None and self._active == 0:
                    idle = time.monotonic() - self._last_used > IDLE_CLOSE_S
                    if idle or self._writer_waiting():
                        self._close_reader()

    def _done_reading(self, cursor) -> None:
        cursor.close()
        with self._mutex:
            self._active -= 1
            self._last_used = time.monotonic()
            self._mutex.notify_all()

    # -- writes ---------------------------------------------------------------------------
    @contextmanager
    def transaction(self):
        """BEGIN … COMMIT on the writer's connection (ROLLBACK on any exception); nests on one thread."""
        pinned = self._pinned()
        if pinned is not None:
            yield self
            return
        if self.read_only:
            raise PermissionError(f"the store {self.path} was opened read-only")
        deadline = time.monotonic() + wait_limit()
        queue, access = _Lock(self._queue), _Lock(self._access)
        queue.acquire(True, "another process is writing", deadline)
        try:
            with self._mutex:  # this process's idle reader lets go at once
                if self._reader is not None and self._active == 0:
                    self._close_reader()
            access.acquire(True, "reads in progress", deadline)
            try:
                con = _open(self.path, read_only=False)
                _PINNED.__dict__[self._key] = con
                try:
                    con.execute("BEGIN TRANSACTION")
                    try:
                        yield self
                    except BaseException:
                        con.execute("ROLLBACK")
                        raise
                    con.execute("COMMIT")
                finally:
                    _PINNED.__dict__.pop(self._key, None)
                    con.close()
            finally:
                access.release()
        finally:
            queue.release()

    def _pinned(self):
        """This thread's writer connection to this file, inside :meth:`transaction` (any handle of the file)."""
        return _PINNED.__dict__.get(self._key)

    # -- the connection interface the rest of CrimeViz uses -------------------------------
    def execute(self, sql: str, params=None):
        pinned = self._pinned()
        if pinned is not None:
            return pinned.execute(sql, params)
        if not is_read(sql):
            with self.transaction():
                return self._pinned().execute(sql, params)
        cursor = self._reader_cursor()
        try:
            relation = cursor.sql(sql, params=params or None)
            return Result(relation.to_arrow_table() if relation is not None else None)
        finally:
            self._done_reading(cursor)

    def register(self, name: str, frame) -> None:
        self._writer("register a table").register(name, frame)

    def unregister(self, name: str) -> None:
        self._writer("unregister a table").unregister(name)

    def _writer(self, what: str):
        pinned = self._pinned()
        if pinned is None:
            raise RuntimeError(f"{what} only inside `with db.transaction(con):`")
        return pinned

    def close(self) -> None:
        """Let go of this process's idle reader now (the store stays usable: it reopens on demand)."""
        with self._mutex:
            if self._reader is not None and self._active == 0:
                self._close_reader()


_SHARED: dict[tuple[str, bool], FileStore] = {}
_SHARED_LOCK = threading.Lock()


def shared(path: Path, read_only: bool = False) -> FileStore:
    """The one :class:`FileStore` of ``path`` in this process (so its threads queue together)."""
    key = (str(path.resolve()), read_only)
    with _SHARED_LOCK:
        store = _SHARED.get(key)
        if store is None:
            store = _SHARED[key] = FileStore(path, read_only)
        return store


def _open(path: Path, read_only: bool):
    """A DuckDB connection to ``path``; StoreUnavailable, in words, when DuckDB refuses."""
    try:
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text:
            pid = text.split("PID ")[-1].split(")")[0] if "PID " in text else "?"
            raise StoreUnavailable(
                f"the database {path} is held by a program that does not share it (PID {pid}), "
                "e.g. an open DuckDB shell; close it or use another --db"
            ) from None
        if "not a valid DuckDB database" in text:
            raise StoreUnavailable(f"{path} is not a CrimeViz (DuckDB) database") from None
        raise StoreUnavailable(f"cannot open the database {path}: {text.splitlines()[0]}") from None
    except OSError as exc:
        raise StoreUnavailable(f"cannot open the database {path}: {exc.strerror or exc}") from None
