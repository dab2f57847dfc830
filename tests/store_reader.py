"""A process that reads the store the way the app does, for tests/test_shared_store.py:
``python -m tests.store_reader LOCATION``. It prints "ready", then "<data version> <incidents>"
each time either changes, and "error: …" for any read that fails; it runs until killed."""

import sys
import time
from datetime import date

from crimeviz.store import db, queries
from crimeviz.store.filters import IncidentFilter


def main(location: str) -> None:
    con = db.connect(location, read_only=not location.startswith("postgresql://"))
    print("ready", flush=True)
    every = IncidentFilter(date(1900, 1, 1), date(2100, 1, 1))
    seen = None
    while True:
        try:
            state = (db.data_version(con), queries.total(con, every))
            queries.hex_counts(con, every, 8)
        except Exception as exc:  # reported for the test to see, never silently dropped
            print(f"error: {type(exc).__name__}: {exc}", flush=True)
            time.sleep(0.05)
            continue
        if state != seen:
            print(*state, flush=True)
            seen = state
        time.sleep(0.01)


if __name__ == "__main__":
    main(sys.argv[1])
