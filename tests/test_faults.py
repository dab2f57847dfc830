"""Faults: a process killed in the middle of an import leaves the store consistent."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from crimeviz import audit, auth, db
from tests.conftest import ROOT

PASSWORD = "a long test password"
ROWS = 200_000


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("faults") / "big.csv"
    pd.DataFrame({
        "when": pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24 * 60, ROWS), unit="min"),
        "what": rng.choice(["Assault", "Robbery", "Theft"], ROWS),
        "y": 43.6 + rng.random(ROWS) * 0.2, "x": -79.5 + rng.random(ROWS) * 0.3,
    }).to_csv(path, index=False)
    return path


def wait_for_insert(store, proc, timeout=120.0) -> None:
    """Return as soon as the importer starts writing rows (the database file grows) or exits."""
    start = store.stat().st_size
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        if store.stat().st_size > start:
            return
        time.sleep(0.002)


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3, None])
def test_killed_import_is_all_or_nothing(tmp_path, big_csv, delay):
    """Kill -9 at moments during the insert and commit (None: let it finish): all rows or none."""
    store = tmp_path / "store.duckdb"
    con = db.connect(store)
    auth.add_user(con, "root", PASSWORD, "admin")
    con.close()
    env = {**os.environ, "CRIMEVIZ_USER": "root", "CRIMEVIZ_PASSWORD": PASSWORD}
    proc = subprocess.Popen([sys.executable, "-m", "crimeviz", "import", str(big_csv), "--db", str(store),
                             "--mapping", "lat=y,lon=x,occurred_at=when,offence=what"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if delay is None:
        proc.wait(timeout=300)
    else:
        wait_for_insert(store, proc)
        time.sleep(delay)
    finished = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    con = db.connect(store)
    loaded = db.incident_count(con)
    imports = con.execute("SELECT count(*), coalesce(sum(loaded), 0) FROM imports").fetchall()[0]
    audited = len(audit.entries(con, action="import"))
    con.close()
    assert loaded in (0, ROWS)
    assert imports == ((1, ROWS) if loaded else (0, 0))
    assert audited == (1 if loaded else 0)
    if finished:
        assert loaded == ROWS
