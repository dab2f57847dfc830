"""Faults: a process killed in the middle of an import or a save leaves the store consistent;
a missing model file is explained on its page while the rest of the app works."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from crimeviz.access import auth
from crimeviz.cctv import store as cctv_store
from crimeviz.patrol import store as patrol_store
from crimeviz.store import audit, db
from tests.conftest import ROOT
from tests.saver import FRAMES, KEYFRAMES, PLAN_CELLS, PLAN_UNITS, SAVES
from tests.test_pages import metric, page

PASSWORD = "a long test password"
ROWS = 200_000


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("faults") / "big.csv"
    pd.DataFrame(
        {
            "when": pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24 * 60, ROWS), unit="min"),
            "what": rng.choice(["Assault", "Robbery", "Theft"], ROWS),
            "y": 43.6 + rng.random(ROWS) * 0.2,
            "x": -79.5 + rng.random(ROWS) * 0.3,
        }
    ).to_csv(path, index=False)
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
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crimeviz",
            "import",
            str(big_csv),
            "--db",
            str(store),
            "--mapping",
            "lat=y,lon=x,occurred_at=when,offence=what",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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


# Saves killed mid-write: tests/saver.py, in a child process, saves large CCTV reports or patrol
# plans one after another into a copy of a small store, telling which statement it has just run.
WHOLE = {"cctv": (FRAMES // 2, FRAMES // 2, FRAMES, KEYFRAMES), "patrol": (PLAN_UNITS * PLAN_CELLS,)}


@pytest.fixture(scope="module")
def save_template(tmp_path_factory):
    """A small store with one camera and the CCTV and patrol tables, copied for each kill."""
    path = tmp_path_factory.mktemp("saves") / "template.duckdb"
    con = db.connect(path)
    cctv_store.ensure_tables(con)
    patrol_store.ensure_tables(con)
    cctv_store.add_camera(con, "Gate", 43.6532, -79.3832, "admin")
    con.close()
    return path


def start_saver(template, tmp_path, kind: str, saves: int, pause: str | None = None):
    store = tmp_path / "store.duckdb"
    shutil.copy(template, store)
    args = [sys.executable, "-m", "tests.saver", kind, str(store), str(saves)] + ([pause] if pause else [])
    return store, subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def read_until(proc, marker: str) -> list[str]:
    """The child's lines up to ``marker`` (all of them if it exits first)."""
    lines = []
    while not lines or lines[-1] != marker:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
    return lines


def kill(proc) -> list[str]:
    """SIGKILL the child; returns the lines it printed that were not read yet."""
    proc.send_signal(signal.SIGKILL)
    rest = proc.stdout.read().splitlines()
    proc.wait()
    return rest


def transaction_state(lines: list[str]) -> tuple[int, bool]:
    """How many saves the child saw committed, and whether it was killed inside a save's transaction."""
    committed, open_ = 0, False
    for line in lines:
        if line == "BEGIN TRANSACTION":
            open_ = True
        elif line == "COMMIT":
            committed, open_ = committed + 1, False
    return committed, open_


def saved_items(store, kind: str) -> int:
    """Reopen the store after a kill: every report or plan in it is whole (its row, its child rows
    and its audit entry), and the store answers queries. Returns how many there are."""
    con = db.connect(store)
    try:
        assert cctv_store.cameras(con)["name"].tolist() == ["Gate"]
        if kind == "cctv":
            rows = con.execute(
                "SELECT report_id, n_segments, json_array_length(segments), len(frame_scores), "
                "len(keyframes) FROM cctv_reports ORDER BY report_id"
            ).fetchall()
        else:
            rows = con.execute(
                "SELECT plan_id, count(c.plan_id) FROM patrol_plans p "
                "LEFT JOIN patrol_plan_cells c USING (plan_id) GROUP BY plan_id ORDER BY plan_id"
            ).fetchall()
            assert (
                con.execute(
                    "SELECT count(*) FROM patrol_plan_cells WHERE plan_id NOT IN (SELECT plan_id FROM patrol_plans)"
                ).fetchall()[0][0]
                == 0
            )
        audited = audit.entries(con, action="cctv.report" if kind == "cctv" else "patrol.save")["object_id"]
    finally:
        con.close()
    ids = [r[0] for r in rows]
    assert rows == [(i, *WHOLE[kind]) for i in ids]
    assert sorted(int(i) for i in audited) == ids
    return len(ids)


@pytest.mark.parametrize(
    "kind, pause",
    [
        ("cctv", "INSERT INTO cctv_reports"),
        ("cctv", "INSERT INTO audit_log"),
        ("cctv", "COMMIT"),
        ("patrol", "INSERT INTO patrol_plans"),
        ("patrol", "INSERT INTO audit_log"),
        ("patrol", "COMMIT"),
    ],
)
def test_save_killed_between_its_statements_is_all_or_nothing(save_template, tmp_path, kind, pause):
    """A save killed just after one of its statements (its main row written, or every row and the
    audit entry, in the open transaction; or committed) is all there or not at all."""
    store, proc = start_saver(save_template, tmp_path, kind, 1, pause)
    assert read_until(proc, "paused")[-1] == "paused"
    kill(proc)
    assert saved_items(store, kind) == (pause == "COMMIT")


@pytest.mark.parametrize("kind", ["cctv", "patrol"])
@pytest.mark.parametrize("delay", [0.0, 0.2, 0.45, None])
def test_killed_save_is_all_or_nothing(save_template, tmp_path, kind, delay):
    """Kill -9 at moments while large reports or plans are saved one after another, during
    statements and commits too (None: let it finish): each save is all there or not at all."""
    store, proc = start_saver(save_template, tmp_path, kind, SAVES)
    lines = read_until(proc, "ready")
    if delay is None:
        proc.wait(timeout=120)
    else:
        time.sleep(delay)
    finished = proc.poll() is not None
    committed, in_transaction = transaction_state(lines + kill(proc))
    saved = saved_items(store, kind)
    assert saved in ((committed, committed + 1) if in_transaction else (committed,))
    if finished:
        assert saved == SAVES


def incidents_on_the_map() -> int:
    at = page("map").run()
    assert not at.exception
    return int(metric(at, "Incidents").replace(",", ""))


def test_a_missing_cdna_checkpoint_is_explained_and_baselines_still_forecast(app_db, tmp_path, monkeypatch):
    missing = tmp_path / "models" / "cdna.pt"
    monkeypatch.setenv("CRIMEVIZ_CDNA_CHECKPOINT", str(missing))
    at = page("forecast", "analyst").run()
    assert not at.exception and len(at.error) == 1
    message = at.error[0].value
    assert f"no CDNA checkpoint at {missing}" in message and "python -m crimeviz forecast train" in message
    at.selectbox(key="fc_method").set_value("mc365").run()
    assert not at.exception and not at.error and metric(at, "Cells flagged")
    assert incidents_on_the_map() > 0


def test_missing_cctv_weights_are_explained_and_the_rest_of_the_app_works(app_db, tmp_path, monkeypatch):
    missing = tmp_path / "models" / "mgfn.pt"
    monkeypatch.setenv("CRIMEVIZ_CCTV_WEIGHTS", str(missing))
    at = page("cctv").run()
    assert not at.exception and len(at.error) == 1
    message = at.error[0].value
    assert "mgfn.pt: no such checkpoint file" in message and "python -m crimeviz cctv train" in message
    assert str(missing.parent) not in message  # the page names no server path
    assert not at.metric and not at.get("plotly_chart")  # nothing is scored
    assert incidents_on_the_map() > 0
