"""Benchmarks printed as JSON by ``python -m crimeviz bench …`` (not timed tests)."""

import os
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import duckdb

from crimeviz import config
from crimeviz.access import auth
from crimeviz.bench.timing import timed
from crimeviz.store import db, queries
from crimeviz.store.filters import IncidentFilter
from crimeviz.store.grid import cell_column


def direct_group_by(con, f: IncidentFilter, res: int):
    """The same aggregation written by hand in SQL: the yardstick for ``queries.hex_counts``."""
    column = cell_column(res)
    return con.execute(
        f"SELECT {column}, count(*) FROM incidents WHERE occurred_at >= ? AND occurred_at < ? GROUP BY {column}",
        [f.start, f.end + timedelta(days=1)],
    ).df()


def synthetic_copy(source, rows: int) -> duckdb.DuckDBPyConnection:
    """An in-memory store of ``rows`` incidents: the source's rows repeated, dates jittered ±180 days."""
    n_source = db.incident_count(source)
    copies = -(-rows // n_source)
    big = duckdb.connect()
    big.execute(db.SCHEMA.replace("PRIMARY KEY", ""))
    frame = source.execute("SELECT * FROM incidents").df()
    big.register("src", frame)
    big.execute(
        "INSERT INTO incidents SELECT hash(id, r) & 9223372036854775807, occurred_at + to_days(CAST(hash(id, r) % 361 AS INTEGER) - 180), "
        "offence, premises, neighbourhood, lat, lon, h3_7, h3_8, h3_9, source "
        "FROM src, range(?) t(r) LIMIT ?",
        [copies, rows],
    )
    big.unregister("src")
    return big


def measure(con, f: IncidentFilter, res: int, repeats: int) -> dict:
    app = timed(lambda: queries.hex_counts(con, f, res), repeats)
    direct = timed(lambda: direct_group_by(con, f, res), repeats)
    return {
        "rows": db.incident_count(con),
        "app_query_s": round(app, 5),
        "direct_sql_s": round(direct, 5),
        "ratio": round(app / direct, 3),
    }


def page_rerun(db_path, repeats: int) -> float:
    """Median time of a Map page rerun after a filter change (AppTest, no browser)."""
    from streamlit.testing.v1 import AppTest

    os.environ["CRIMEVIZ_DB"] = str(db_path)
    at = AppTest.from_file(str(config.ROOT / "app_pages" / "map.py"), default_timeout=120)
    at.session_state["user"] = auth.User("bench", "Benchmark", "analyst")
    at.run()
    choices = [["Assault"], ["Robbery", "Auto Theft"], []]
    samples = []
    for i in range(repeats):
        at.multiselect(key="f_offences").set_value(choices[i % len(choices)])
        t0 = time.perf_counter()
        at.run()
        samples.append(time.perf_counter() - t0)
        if at.exception:
            raise RuntimeError(at.exception[0].value)
    return statistics.median(samples)


def server_measure(url: str, f: IncidentFilter, res: int, repeats: int) -> dict:
    """The app's query on a server store (answered by its DuckDB replica) vs the same GROUP BY run
    by PostgreSQL itself; and the replica's copy time at this size."""
    import psycopg

    store = db.connect(url)
    store.replica.version = store.replica.snapshot = None  # the next refresh copies the tables whole
    t0 = time.perf_counter()
    store.replica.refresh()
    copy = time.perf_counter() - t0
    app = timed(lambda: queries.hex_counts(store, f, res), repeats)
    column = cell_column(res)
    with psycopg.connect(url) as pg:
        direct = timed(
            lambda: pg.execute(
                f"SELECT {column}, count(*) FROM incidents WHERE occurred_at >= %s AND occurred_at < %s "
                f"GROUP BY {column}",
                [f.start, f.end + timedelta(days=1)],
            ).fetchall(),
            repeats,
        )
    return {
        "rows": db.incident_count(store),
        "app_query_s": round(app, 5),
        "direct_postgresql_sql_s": round(direct, 5),
        "ratio": round(app / direct, 3),
        "replica_copy_s": round(copy, 3),
    }


def load_server(url: str, big) -> None:
    """Replace the server store's incidents with ``big``'s rows (ids folded into BIGINT's range)."""
    import psycopg

    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "incidents.csv"
        big.execute(
            f"COPY (SELECT * REPLACE (CAST(id & 9223372036854775807 AS BIGINT) AS id) FROM incidents) TO '{path}' "
            "(HEADER false)"
        )
        with psycopg.connect(url) as pg:
            pg.execute("TRUNCATE incidents")
            with (
                pg.cursor() as cursor,
                cursor.copy("COPY incidents FROM STDIN (FORMAT csv)") as copy,
                open(path, "rb") as f,
            ):
                while chunk := f.read(1 << 24):
                    copy.write(chunk)
            pg.execute("UPDATE store_state SET data_version = data_version + 1")
            pg.execute("ANALYZE incidents")


def bench_map(db_path=None, rows: int = 10_000_000, repeats: int = 7, server_url: str | None = None) -> dict:
    """Map aggregation at the store's size and at ``rows`` synthetic rows; page rerun time."""
    db_path = db_path or config.db_path()
    con = db.open_store(db_path)
    last = queries.options(con)["last_date"]
    f = IncidentFilter(last - timedelta(days=364), last)
    out = {"filter": "last 365 days, all offences", "resolution": 8, "store": measure(con, f, 8, repeats)}
    con.close()
    out["page_rerun_s"] = round(page_rerun(db_path, repeats), 4)
    source = db.connect(db_path)
    big = synthetic_copy(source, rows)
    source.close()
    out["synthetic"] = measure(big, f, 8, repeats)
    out["targets"] = {"synthetic_ratio_max": 1.3, "page_rerun_s_max": 1.0}
    if server_url:  # the server profile, at the store's size and at ``rows``
        db.open_store(server_url)
        out["server_store"] = server_measure(server_url, f, 8, repeats)
        load_server(server_url, big)
        out["server_synthetic"] = server_measure(server_url, f, 8, repeats)
    out["threads"] = big.execute("SELECT current_setting('threads')").fetchall()[0][0]
    return out
