"""Importing any city's incidents: validation, rejects, idempotence, all-or-nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from crimeviz.access import auth
from crimeviz.store import audit, db, importer
from tests.conftest import ROOT

MAPPING = {
    "lat": "Latitude",
    "lon": "Longitude",
    "occurred_at": "Date",
    "offence": "Primary Type",
    "premises": "Location Description",
}
CSV = """ID,Date,Primary Type,Location Description,Latitude,Longitude
1,03/01/2021 08:15:00 PM,THEFT,STREET,41.88,-87.63
2,03/02/2021 01:00:00 AM,BATTERY,APARTMENT,41.89,-87.62
3,03/02/2021 02:00:00 AM,BATTERY,,,
4,03/03/2021 03:00:00 AM,ROBBERY,STREET,141.0,-87.6
5,not a date,THEFT,STREET,41.88,-87.63
6,03/04/2021 10:00:00 AM,,STREET,41.88,-87.63
7,03/05/2021 10:00:00 AM,THEFT,STREET,north,-87.63
8,03/05/2021 11:00:00 AM,THEFT,STREET,0,0
"""


@pytest.fixture
def chicago_csv(tmp_path):
    path = tmp_path / "chicago.csv"
    path.write_text(CSV)
    return path


def test_import_loads_valid_rows_and_reports_each_reject(empty_store, chicago_csv):
    result = importer.import_file(empty_store, chicago_csv, MAPPING, "tester")
    assert (result.loaded, result.rejected, result.duplicates) == (2, 6, 0)
    assert result.date_format == "%m/%d/%Y %I:%M:%S %p"
    rejects = pd.read_csv(result.reject_file)
    assert dict(zip(rejects["ID"], rejects["reject_reason"])) == {
        3: "missing coordinates",
        4: "coordinates out of range",
        5: "date not understood (format %m/%d/%Y %I:%M:%S %p)",
        6: "missing offence",
        7: "coordinates are not numbers",
        8: "coordinates are 0,0 (no location)",
    }
    assert list(rejects["source_row"]) == [4, 5, 6, 7, 8, 9]
    stored = empty_store.execute("SELECT occurred_at, offence, premises, source FROM incidents ORDER BY 1").df()
    assert list(stored["occurred_at"]) == [pd.Timestamp("2021-03-01 20:15"), pd.Timestamp("2021-03-02 01:00")]
    assert list(stored["source"]) == ["chicago", "chicago"]


def test_reimporting_the_same_file_adds_nothing(empty_store, chicago_csv):
    importer.import_file(empty_store, chicago_csv, MAPPING, "tester")
    again = importer.import_file(empty_store, chicago_csv, MAPPING, "tester")
    assert (again.loaded, again.duplicates) == (0, 2)
    assert db.incident_count(empty_store) == 2


def test_failed_import_leaves_table_unchanged(small_store, chicago_csv, monkeypatch):
    before = small_store.execute("SELECT * FROM incidents ORDER BY id").df()
    imports_before = small_store.execute("SELECT count(*) FROM imports").fetchall()

    def fail_after_insert(con):  # the batch calls it once its rows are in the table
        assert con.execute("SELECT count(*) FROM incidents").fetchall()[0][0] > len(before)
        raise OSError("disk full")

    monkeypatch.setattr(db, "bump_data_version", fail_after_insert)
    with pytest.raises(OSError):
        importer.import_file(small_store, chicago_csv, MAPPING, "tester")
    pd.testing.assert_frame_equal(small_store.execute("SELECT * FROM incidents ORDER BY id").df(), before)
    assert small_store.execute("SELECT count(*) FROM imports").fetchall() == imports_before


def test_explicit_date_format_and_parquet(empty_store, tmp_path):
    frame = pd.DataFrame(
        {"when": ["01.03.2021 10:00", "02.03.2021 11:30"], "type": ["A", "B"], "y": [52.52, 52.53], "x": [13.40, 13.41]}
    )
    path = tmp_path / "berlin.parquet"
    frame.to_parquet(path)
    result = importer.import_file(
        empty_store,
        path,
        {"lat": "y", "lon": "x", "occurred_at": "when", "offence": "type"},
        "tester",
        date_format="%d.%m.%Y %H:%M",
    )
    assert result.loaded == 2
    assert empty_store.execute("SELECT min(occurred_at) FROM incidents").fetchall()[0][0] == pd.Timestamp(
        "2021-03-01 10:00"
    )


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary", "not UTF-8"),
        (b"", "cannot be read"),
        (b"a,b\n", "no data rows"),
    ],
)
def test_unreadable_files_are_refused(empty_store, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(importer.ImportFailed, match=message):
        importer.import_file(empty_store, path, MAPPING, "tester")
    assert db.incident_count(empty_store) == 0


def test_wrong_mapping_names_the_missing_column(empty_store, chicago_csv):
    with pytest.raises(importer.ImportFailed, match="'Lat' not in the file"):
        importer.import_file(empty_store, chicago_csv, {**MAPPING, "lat": "Lat"}, "tester")


def test_all_rows_rejected_loads_nothing(empty_store, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("Date,Primary Type,Latitude,Longitude\nnope,THEFT,1,2\n")
    with pytest.raises(importer.ImportFailed, match="no valid rows") as caught:
        importer.import_file(empty_store, path, MAPPING | {"premises": "Primary Type"}, "tester")
    assert db.incident_count(empty_store) == 0
    rejects = Path(caught.value.reject_file)
    assert rejects.is_file() and rejects.parent == tmp_path
    assert str(caught.value).endswith(f"; see {rejects.name}") and str(tmp_path) not in str(caught.value)


def test_parse_mapping_errors():
    assert importer.parse_mapping("lat=Y, lon=X,occurred_at=D,offence=O") == {
        "lat": "Y",
        "lon": "X",
        "occurred_at": "D",
        "offence": "O",
    }
    for text, message in (
        ("lat=Y,lon=X", "lacks required"),
        ("lat", "not FIELD=COLUMN"),
        ("lat=Y,lon=X,occurred_at=D,offence=O,colour=C", "unknown mapping field"),
    ):
        with pytest.raises(importer.ImportFailed, match=message):
            importer.parse_mapping(text)


def test_guess_mapping_knows_common_names():
    guess = importer.guess_mapping(["ID", "Date", "Primary Type", "Latitude", "Longitude", "Community Area"])
    assert guess["lat"] == "Latitude" and guess["lon"] == "Longitude"
    assert guess["occurred_at"] == "Date" and guess["offence"] == "Primary Type"


PASSWORD = "a long test password"


def run_cli(*args, user=None, password=PASSWORD):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRIMEVIZ_") or k == "CRIMEVIZ_SECRETS"}
    if user:
        env |= {"CRIMEVIZ_USER": user, "CRIMEVIZ_PASSWORD": password}
    return subprocess.run(
        [sys.executable, "-m", "crimeviz", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def cli_db(tmp_path):
    path = tmp_path / "c.duckdb"
    con = db.connect(path)
    auth.add_user(con, "root", PASSWORD, "admin")
    auth.add_user(con, "ana", PASSWORD, "analyst")
    con.close()
    return path


def test_cli_import_prints_json_summary_and_is_audited(cli_db, chicago_csv):
    mapping = "lat=Latitude,lon=Longitude,occurred_at=Date,offence=Primary Type"
    out = run_cli("import", str(chicago_csv), "--db", str(cli_db), "--mapping", mapping, user="root")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert (summary["loaded"], summary["rejected"]) == (2, 6)
    assert summary["reject_file"].endswith(".csv")
    con = db.connect(cli_db)
    assert audit.entries(con, action="import")[["username", "object_id"]].values.tolist() == [["root", "chicago.csv"]]
    con.close()


def test_cli_import_needs_an_admin(cli_db, chicago_csv):
    mapping = "lat=Latitude,lon=Longitude,occurred_at=Date,offence=Primary Type"
    anonymous = run_cli("import", str(chicago_csv), "--db", str(cli_db), "--mapping", mapping)
    assert anonymous.returncode == 2 and "give --user" in anonymous.stderr
    analyst = run_cli("import", str(chicago_csv), "--db", str(cli_db), "--mapping", mapping, user="ana")
    assert analyst.returncode == 2 and "analyst role may not use data" in analyst.stderr
    wrong = run_cli(
        "import", str(chicago_csv), "--db", str(cli_db), "--mapping", mapping, user="root", password="not the password"
    )
    assert wrong.returncode == 2 and "wrong user name or password" in wrong.stderr
    con = db.connect(cli_db)
    assert db.incident_count(con) == 0
    con.close()


def test_cli_import_failure_is_one_line_and_nonzero(cli_db, chicago_csv, tmp_path):
    out = run_cli("import", str(chicago_csv), "--db", str(cli_db), "--mapping", "lat=nope,lon=x", user="root")
    assert out.returncode != 0
    assert out.stderr.strip().count("\n") == 0 and out.stderr.startswith("error: mapping lacks")
    out = run_cli(
        "import",
        str(tmp_path / "missing.csv"),
        "--db",
        str(cli_db),
        "--mapping",
        "lat=a,lon=b,occurred_at=c,offence=d",
        user="root",
    )
    assert out.returncode != 0 and "no such file" in out.stderr


def test_cli_users_bootstrap_then_admin_only(tmp_path):
    path = tmp_path / "u.duckdb"
    env_new = {"CRIMEVIZ_NEW_PASSWORD": PASSWORD}
    first = subprocess.run(
        [sys.executable, "-m", "crimeviz", "users", "add", "boss", "--role", "admin", "--db", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env_new},
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert first.returncode == 0, first.stderr
    second = subprocess.run(
        [sys.executable, "-m", "crimeviz", "users", "add", "eve", "--role", "admin", "--db", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env_new, "CRIMEVIZ_USER": ""},
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert second.returncode == 2 and "give --user" in second.stderr
