"""Many processes, one store: the app reading while CLI imports write, two imports at once, an
import killed mid-way, a writer that waits too long, and (server profile) a database server that
is down at start or goes away during a session. Each runs on both profiles (see conftest)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from crimeviz.access import auth
from crimeviz.bench.store import incident_file
from crimeviz.store import db, engine
from tests.pg_cluster import Cluster

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long test password"
MAPPING = "lat=Latitude,lon=Longitude,occurred_at=Date,offence=Type"


def environment(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRIMEVIZ_") or k == "CRIMEVIZ_SECRETS"}
    return env | {"CRIMEVIZ_USER": "root", "CRIMEVIZ_PASSWORD": PASSWORD} | extra


def cli(*args, **extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "crimeviz", *args],
        cwd=ROOT,
        env=environment(**extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 180) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)


@pytest.fixture
def store(store_location):
    """A store with one admin and no incidents; yields where it is (a file or a URL)."""
    con = db.connect(store_location)
    auth.add_user(con, "root", PASSWORD, "admin")
    con.close()
    return store_location


def incidents(location) -> tuple[int, int]:
    con = db.connect(location)
    try:
        return tuple(con.execute("SELECT count(*), count(DISTINCT id) FROM incidents").fetchall()[0])
    finally:
        con.close()


def test_the_app_reads_while_two_imports_write(store, tmp_path):
    """An app process keeps querying while two CLI imports run at once: no "in use" error, no read
    fails, both imports land whole, and the app sees the final state."""
    reader = subprocess.Popen(
        [sys.executable, "-m", "tests.store_reader", str(store)],
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "ready"
        files = [incident_file(tmp_path / f"rms{i}.csv", 20_000, seed=i) for i in (1, 2)]
        imports = [cli("import", str(f), "--db", str(store), "--mapping", MAPPING) for f in files]
        results = [finish(p) for p in imports]
        for code, _, err in results:
            assert code == 0, err
        assert incidents(store) == (40_000, 40_000)
        deadline, lines = time.time() + 30, []
        while time.time() < deadline and not (lines and lines[-1].endswith(" 40000")):
            lines.append(reader.stdout.readline().strip())
    finally:
        kill(reader)
    assert lines[-1].endswith(" 40000")
    assert not [line for line in lines if line.startswith("error")]


@pytest.mark.parametrize("delay", [0.5, 2.0])
def test_an_import_killed_mid_way_leaves_all_or_nothing(store, tmp_path, delay):
    """kill -9 an import at a moment in its run; the store holds none or all of its rows, its batch
    row only with them, and the next import works (no lock left behind)."""
    path = incident_file(tmp_path / "big.csv", 60_000, seed=3)
    proc = cli("import", str(path), "--db", str(store), "--mapping", MAPPING)
    time.sleep(delay)
    kill(proc)
    count, distinct = incidents(store)
    assert count == distinct and count in (0, 60_000)
    con = db.connect(store)
    batches = con.execute("SELECT count(*) FROM imports").fetchall()[0][0]
    con.close()
    assert batches == (1 if count else 0)
    code, _, err = finish(
        cli("import", str(incident_file(tmp_path / "next.csv", 1000, seed=4)), "--db", str(store), "--mapping", MAPPING)
    )
    assert code == 0, err
    assert incidents(store)[0] == count + 1000


def test_a_restarted_app_during_an_import(store, tmp_path):
    """The app's process dies while an import runs (as a server restart would); the import
    finishes, and the restarted app reads the new state."""
    first = subprocess.Popen(
        [sys.executable, "-m", "tests.store_reader", str(store)],
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert first.stdout.readline().strip() == "ready"
    importing = cli(
        "import", str(incident_file(tmp_path / "rms.csv", 30_000, seed=5)), "--db", str(store), "--mapping", MAPPING
    )
    time.sleep(0.5)
    kill(first)
    code, _, err = finish(importing)
    assert code == 0, err
    second = subprocess.Popen(
        [sys.executable, "-m", "tests.store_reader", str(store)],
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert second.stdout.readline().strip() == "ready"
        assert second.stdout.readline().strip().endswith(" 30000")
    finally:
        kill(second)


def test_a_writer_waits_a_bounded_time_and_says_so(store_location, tmp_path):
    """Another writer holds the store: a CLI write waits, says it is waiting, and gives up with one
    line after $CRIMEVIZ_DB_WAIT seconds; with the holder gone it goes through."""
    if not isinstance(store_location, Path):
        pytest.skip("the server profile's writers queue inside PostgreSQL")
    con = db.connect(store_location)
    auth.add_user(con, "root", PASSWORD, "admin")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom crimeviz.store import db\ncon = db.connect(sys.argv[1])\n"
            "with db.transaction(con):\n    print('holding', flush=True)\n    time.sleep(600)",
            str(store_location),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        path = incident_file(tmp_path / "rms.csv", 100, seed=6)
        started = time.monotonic()
        code, _, err = finish(
            cli("import", str(path), "--db", str(store_location), "--mapping", MAPPING, CRIMEVIZ_DB_WAIT="3")
        )
        waited = time.monotonic() - started
        assert code == 2 and waited >= 3
        assert "waiting for the store" in err
        assert err.strip().splitlines()[-1].startswith("error: the store") and "stayed busy" in err
    finally:
        kill(holder)
    code, _, err = finish(cli("import", str(path), "--db", str(store_location), "--mapping", MAPPING))
    assert code == 0, err
    assert incidents(store_location) == (100, 100)


def test_the_server_down_at_start_then_back(tmp_path):
    """No server at the URL: a clear one-line error (no password) after the retry window; started,
    the same command works."""
    cluster = Cluster()
    try:
        url = f"postgresql://crimeviz:s3cret-pass@127.0.0.1:{cluster.port}/postgres"
        code, _, err = finish(cli("db", "build", "--db", url, CRIMEVIZ_DB_CONNECT_WAIT="1"))
        assert code == 2
        said, error = err.strip().splitlines()
        assert said == f"waiting for the database server 127.0.0.1:{cluster.port}/postgres…"
        assert error.startswith(f"error: the database server 127.0.0.1:{cluster.port}/postgres is not reachable (")
        assert "s3cret" not in err
        cluster.start()
        code, out, err = finish(cli("db", "build", "--db", url), timeout=300)
        assert code == 0, err
        assert '"incidents": 239935' in out
    finally:
        cluster.stop()


def test_the_server_going_away_during_a_session(tmp_path):
    """The server dies while a process uses the store: reads and writes fail with one clear message
    (no partial write), and the same handle recovers once the server is back."""
    cluster = Cluster().start()
    try:
        url = cluster.create_database("away")
        con = db.connect(url)
        auth.add_user(con, "root", PASSWORD, "admin")
        assert con.execute("SELECT count(*) FROM audit_log").fetchall()[0][0] >= 1
        cluster.kill()
        os.environ["CRIMEVIZ_DB_CONNECT_WAIT"] = "1"
        try:
            with pytest.raises(engine.StoreUnavailable, match="database server 127.0.0.1"):
                con.execute("SELECT count(*) FROM audit_log").fetchall()
            with pytest.raises(engine.StoreUnavailable), db.transaction(con):
                con.execute("INSERT INTO store_state VALUES (41)")
        finally:
            del os.environ["CRIMEVIZ_DB_CONNECT_WAIT"]
        cluster.resume()
        assert con.execute("SELECT count(*) FROM store_state").fetchall()[0][0] == 1
        con.close()
    finally:
        cluster.stop()


def test_the_app_says_when_the_server_is_down_and_recovers(monkeypatch):
    """The app on a server that is down at start, then up, then gone mid-session, then back: a
    message each time it is away (never a traceback), the pages each time it is there."""
    from streamlit.testing.v1 import AppTest

    cluster = Cluster()
    try:
        monkeypatch.setenv("CRIMEVIZ_DB_URL", cluster.url())
        monkeypatch.setenv("CRIMEVIZ_DB_CONNECT_WAIT", "1")
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.session_state["user"] = auth.User("test-analyst", "Test analyst", "analyst")
        at.run()
        assert not at.exception
        assert [e.value for e in at.error] == [
            f"The incident database cannot be opened: the database server 127.0.0.1:{cluster.port}/postgres is not "
            + at.error[0].value.split(" is not ", 1)[1]
        ]
        assert "is not reachable" in at.error[0].value
        cluster.start()
        at.run()
        assert not at.exception and not at.error
        cluster.kill()
        at.run()
        assert not at.exception and len(at.error) == 1 and "database server" in at.error[0].value
        cluster.resume()
        at.run()
        assert not at.exception and not at.error
    finally:
        cluster.stop()


def test_the_replica_follows_changes_by_change_even_when_commits_come_late(pg_cluster):
    """Server profile: after the first whole copy the replica fetches only changed rows, and a
    transaction that started first but commits after a refresh is still picked up."""
    import psycopg

    from crimeviz.store import queries
    from crimeviz.store.filters import IncidentFilter
    from tests.conftest import incident_rows

    url = pg_cluster.create_database("late_commits")
    con = db.connect(url)
    rows = incident_rows([("2021-03-01 08:00", "Assault", 43.6532, -79.3832)])
    db.insert_incidents(con, db.with_cells(rows, "hand"))
    every = IncidentFilter(pd.Timestamp("2000-01-01").date(), pd.Timestamp("2100-01-01").date())
    assert queries.total(con, every) == 1 and con.replica.whole_copies == 1

    def new_incident(pg, lat):
        pg.execute(
            "INSERT INTO incidents SELECT id + %s, occurred_at, offence, premises, neighbourhood, %s, lon, h3_7, h3_8, "
            "h3_9, source FROM incidents LIMIT 1",
            [int(lat * 1e6), lat],
        )

    def bump(pg):
        pg.execute("UPDATE store_state SET data_version = data_version + 1")

    early, late = psycopg.connect(url), psycopg.connect(url, autocommit=True)
    try:
        new_incident(early, 43.70)  # its transaction id is taken first …
        with late.transaction():
            new_incident(late, 43.71)  # … this one commits first
            bump(late)
        assert queries.total(con, every) == 2
        bump(early)
        early.commit()  # the early transaction commits after that refresh
        assert queries.total(con, every) == 3
        late.execute("DELETE FROM incidents WHERE lat = 43.71")
        bump(late)
        assert queries.total(con, every) == 2
    finally:
        early.close()
        late.close()
    assert con.replica.whole_copies == 1 and con.replica.change_copies == 3
    con.close()
    pg_cluster.drop_database("late_commits")
