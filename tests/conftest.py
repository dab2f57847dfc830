"""Shared fixtures: a Toronto store built once per session, small hand-made stores per test."""

import itertools
import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from crimeviz.store import db

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.e2e_helpers"]


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """One PyTorch thread for every test: the models under test are small, and on CI's two
    busy cores OpenMP's extra threads mostly spin-wait (10-30x slower)."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def no_real_accounts(tmp_path_factory):
    """Accounts made by tests never reach the repository's .streamlit/secrets.toml."""
    os.environ["CRIMEVIZ_SECRETS"] = str(tmp_path_factory.mktemp("secrets") / "secrets.toml")


@pytest.fixture(autouse=True)
def secrets_file(tmp_path, monkeypatch) -> Path:
    """Each test starts with no accounts: its own (not yet existing) secrets file."""
    path = tmp_path / "secrets.toml"
    monkeypatch.setenv("CRIMEVIZ_SECRETS", str(path))
    return path


@pytest.fixture(scope="session")
def toronto_db(tmp_path_factory) -> Path:
    """A store holding the embedded Toronto data; tests must not write to it."""
    path = tmp_path_factory.mktemp("toronto") / "toronto.duckdb"
    db.open_store(path).close()
    return path


@pytest.fixture(scope="session")
def app_db(toronto_db, tmp_path_factory) -> Path:
    """The store the Streamlit pages open in AppTest (a copy, so pages may write)."""
    path = tmp_path_factory.mktemp("app") / "app.duckdb"
    shutil.copy(toronto_db, path)
    os.environ["CRIMEVIZ_DB"] = str(path)
    os.environ["CRIMEVIZ_UPLOADS"] = str(tmp_path_factory.mktemp("uploads"))
    return path


# The store's own suite runs against both profiles: the embedded DuckDB file and a PostgreSQL
# server (a throw-away cluster, one database per test). Other tests use the embedded store.
STORE_SUITE = {
    "test_store",
    "test_importer",
    "test_queries",
    "test_counts",
    "test_living_record",
    "test_shared_store",
    "test_auth",
    "test_patrol_store",
}


def pytest_generate_tests(metafunc):
    if "store_profile" in metafunc.fixturenames:
        module = metafunc.module.__name__.rsplit(".", 1)[-1]
        metafunc.parametrize("store_profile", ["embedded", "server"] if module in STORE_SUITE else ["embedded"])


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL server for this test session, stopped (by its PID) and deleted at the end."""
    from tests.pg_cluster import Cluster

    cluster = Cluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def store_location(store_profile, tmp_path, request):
    """Where a fresh, empty store lives: a DuckDB file, or a new database on the test server."""
    if store_profile == "embedded":
        yield tmp_path / "store.duckdb"
        return
    cluster = request.getfixturevalue("pg_cluster")
    name = f"t_{os.getpid()}_{next(_DATABASES)}"
    yield cluster.create_database(name)
    from crimeviz.store import server

    for store in server._SHARED.values():
        store.close()
    cluster.drop_database(name)


_DATABASES = itertools.count()


@pytest.fixture
def empty_store(store_location):
    con = db.connect(store_location)
    yield con
    con.close()


def incident_rows(rows) -> pd.DataFrame:
    """Clean incident rows from tuples (occurred_at, offence, lat, lon[, premises, neighbourhood])."""
    out = []
    for r in rows:
        when, offence, lat, lon, *rest = r
        premises, neighbourhood = (rest + [None, None])[:2]
        out.append(
            {
                "occurred_at": pd.Timestamp(when),
                "offence": offence,
                "premises": premises,
                "neighbourhood": neighbourhood,
                "lat": lat,
                "lon": lon,
            }
        )
    frame = pd.DataFrame(out)
    frame["occurred_at"] = frame["occurred_at"].astype("datetime64[us]")
    return frame


@pytest.fixture
def small_store(empty_store):
    """Eight hand-made incidents around downtown Toronto, source "hand"."""
    rows = incident_rows(
        [
            ("2021-03-01 08:00", "Assault", 43.6532, -79.3832, "Outside", "Bay Street Corridor"),
            ("2021-03-01 23:00", "Assault", 43.6533, -79.3833, "Outside", "Bay Street Corridor"),
            ("2021-03-02 02:00", "Robbery", 43.6534, -79.3831, "Commercial", "Bay Street Corridor"),
            ("2021-03-06 14:00", "Break and Enter", 43.6700, -79.3900, "House", "Annex"),
            ("2021-03-07 15:00", "Auto Theft", 43.7000, -79.4000, "Outside", "Yonge-Eglinton"),
            ("2020-03-02 10:00", "Assault", 43.6532, -79.3832, "Outside", "Bay Street Corridor"),
            ("2020-03-03 11:00", "Assault", 43.6700, -79.3900, "Apartment", "Annex"),
            ("2021-02-10 12:00", "Assault", 43.6700, -79.3900, "Apartment", "Annex"),
        ]
    )
    db.insert_incidents(empty_store, db.with_cells(rows, "hand"))
    return empty_store


def pytest_sessionfinish(session, exitstatus):
    session.config._crimeviz_exit = int(exitstatus)


def pytest_unconfigure(config):
    """Leave without interpreter finalisation, after pytest's summary and clean-up.

    DuckDB 2.0's nanobind bindings print dozens of harmless "leaked instance" lines at
    finalisation when connections cached by Streamlit were never closed; they would bury
    pytest's closing summary line, which CI reads.
    """
    status = getattr(config, "_crimeviz_exit", None)
    if status is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
