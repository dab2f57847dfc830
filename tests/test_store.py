"""The incident store: embedded Toronto data, schema, ids and cells."""

import subprocess
import sys

import duckdb
import h3
import pandas as pd
import pytest

from crimeviz import config
from crimeviz.store import db, grid, toronto
from tests.conftest import ROOT


def test_embedded_toronto_parquet_is_clean():
    frame = pd.read_parquet(config.TORONTO_PARQUET)
    assert len(frame) == 239_935
    assert frame["occurred_at"].min() >= pd.Timestamp("2014-01-01")
    assert frame["occurred_at"].max() < pd.Timestamp("2022-01-01")
    assert set(frame["offence"]) == {"Assault", "Auto Theft", "Break and Enter", "Robbery", "Theft Over"}
    assert frame[["lat", "lon"]].notna().all().all()


def test_convert_reads_local_date_and_hour_and_drops_pre_2014(tmp_path):
    header = "occurrencedate,occurrencehour,premises_type,MCI,Neighbourhood,Lat,Long\n"
    (tmp_path / "train.csv").write_text(
        header + "2014/03/02 05:00:00+00,8,House,Assault,Annex,43.7,-79.4\n"
        "2014/07/01 04:00:00+00,23,Outside,Robbery,Annex,43.7,-79.4\n"
        "2013/12/24 05:00:00+00,22,Commercial,Robbery,Annex,43.7,-79.4\n"
    )
    (tmp_path / "test.csv").write_text(header + "2014/03/02 05:00:00+00,8,House,Assault,Annex,43.7,-79.4\n")
    frame, counts = toronto.convert(tmp_path)
    assert list(frame["occurred_at"]) == [
        pd.Timestamp("2014-03-02 08:00"),
        pd.Timestamp("2014-03-02 08:00"),
        pd.Timestamp("2014-07-01 23:00"),
    ]
    assert counts == {"source_rows": 4, "dropped_before_2014": 1, "exact_duplicates_kept": 1, "rows": 3}


def test_open_store_loads_toronto_once(toronto_db):
    con = db.open_store(toronto_db)
    try:
        assert db.incident_count(con) == 239_935
        assert con.execute("SELECT count(DISTINCT id) FROM incidents").fetchall()[0][0] == 239_935
    finally:
        con.close()


def test_cells_are_consistent_h3_parents(toronto_db):
    con = duckdb.connect(str(toronto_db), read_only=True)
    rows = con.execute(
        "SELECT lat, lon, h3_7, h3_8, h3_9 FROM incidents USING SAMPLE 50 ROWS (reservoir, 1)"
    ).fetchall()
    con.close()
    for lat, lon, c7, c8, c9 in rows:
        assert h3.str_to_int(h3.latlng_to_cell(lat, lon, 9)) == c9
        assert h3.cell_to_parent(h3.int_to_str(c9), 8) == h3.int_to_str(c8)
        assert h3.cell_to_parent(h3.int_to_str(c9), 7) == h3.int_to_str(c7)


def test_row_ids_are_stable_and_keep_identical_rows_distinct(small_store):
    frame = small_store.execute("SELECT occurred_at, offence, premises, neighbourhood, lat, lon FROM incidents").df()
    doubled = pd.concat([frame, frame.head(1)], ignore_index=True)
    ids = db.row_ids(doubled)
    assert len(set(ids)) == len(doubled)
    assert list(db.row_ids(frame)) == list(ids[: len(frame)])


def test_transaction_rolls_back_on_error(small_store):
    before = db.incident_count(small_store)
    with pytest.raises(RuntimeError), db.transaction(small_store):
        small_store.execute("DELETE FROM incidents")
        raise RuntimeError("boom")
    assert db.incident_count(small_store) == before


def test_cell_column_rejects_unknown_resolution():
    assert grid.cell_column(8) == "h3_8"
    with pytest.raises(ValueError):
        grid.cell_column("8; DROP TABLE incidents")


def test_hex_round_trip():
    cell = h3.latlng_to_cell(43.65, -79.38, 8)
    assert grid.to_hex([grid.to_int(cell)]) == [cell]
    with pytest.raises(ValueError):
        grid.to_int("not-a-cell")


def test_unusable_database_files_give_clear_messages(tmp_path):
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database")
    with pytest.raises(db.StoreUnavailable, match="is not a CrimeViz"):
        db.connect(junk)
    held = tmp_path / "held.duckdb"
    con = duckdb.connect(str(held))  # a program that does not share the file (e.g. a DuckDB shell)
    out = subprocess.run(
        [sys.executable, "-m", "crimeviz", "db", "build", "--db", str(held)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    con.close()
    assert out.returncode == 2
    assert out.stderr.startswith("error: the database") and "held by a program that does not share it" in out.stderr


def test_concurrent_writers_on_cursors_lose_nothing(tmp_path):
    """Eight sessions each read-modify-write one row 50 times: without the write lock DuckDB
    aborts most of them with transaction conflicts; with it all 400 land."""
    import threading

    con = db.connect(tmp_path / "busy.duckdb")
    con.execute("CREATE TABLE counter (k INTEGER PRIMARY KEY, v INTEGER)")
    con.execute("INSERT INTO counter VALUES (1, 0)")
    errors = []

    def writer():
        cursor = con.cursor()  # each browser session works through its own cursor
        for _ in range(50):
            try:
                with db.transaction(cursor):
                    v = cursor.execute("SELECT v FROM counter WHERE k = 1").fetchall()[0][0]
                    cursor.execute("UPDATE counter SET v = ? WHERE k = 1", [v + 1])
            except duckdb.Error as exc:
                errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert con.execute("SELECT v FROM counter").fetchall()[0][0] == 400
    con.close()


def test_feature_tables_are_created_once_and_reads_do_not_wait_for_writers(tmp_path):
    import threading

    from crimeviz.cctv import store as cctv_store
    from crimeviz.patrol import store as patrol_store
    from crimeviz.streetview import store as streetview_store

    con = db.connect(tmp_path / "store.duckdb")
    ensures = (cctv_store.ensure_tables, patrol_store.ensure_tables, streetview_store.ensure_tables)
    for ensure in ensures:
        ensure(con)
    tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {"cameras", "cctv_reports", "patrol_plans", "patrol_plan_cells", "deviance_scores"} <= tables

    held, release = threading.Event(), threading.Event()

    def writer():  # a long import holding the write lock
        with db.WRITE_LOCK:
            held.set()
            release.wait(30)

    threading.Thread(target=writer, daemon=True).start()
    held.wait(5)
    reader = threading.Thread(target=lambda: [ensure(con.cursor()) for ensure in ensures], daemon=True)
    reader.start()
    reader.join(5)
    try:
        assert not reader.is_alive()  # the tables exist: nothing to create, so no wait for the lock
    finally:
        release.set()
