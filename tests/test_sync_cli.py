"""The living record from scripts: folder sync, import batches (list, undo), db info, incident export."""

import json
import os
import subprocess
import sys
from datetime import date

import pandas as pd
import pytest

from crimeviz.access import auth
from crimeviz.cli import main as cli
from crimeviz.store import audit, batches, db, queries
from crimeviz.store.filters import IncidentFilter
from tests.conftest import ROOT

PASSWORD = "a long test password"
MAPPING = "lat=Lat,lon=Lon,occurred_at=Date,offence=Type,case_id=Case,status=Status"
HEADER = "Case,Date,Type,Lat,Lon,Status\n"


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "sync.duckdb"
    con = db.connect(path)
    auth.add_user(con, "root", PASSWORD, "admin")
    auth.add_user(con, "ana", PASSWORD, "analyst", by="root")
    con.close()
    monkeypatch.setenv("CRIMEVIZ_USER", "root")
    monkeypatch.setenv("CRIMEVIZ_PASSWORD", PASSWORD)
    return path


@pytest.fixture
def drop(tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


def run(capsys, *args):
    code = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def sync(store, folder, capsys, *extra):
    return run(capsys, "sync", folder, "--db", store, "--mapping", MAPPING, *extra)


def offences(store) -> dict:
    con = db.connect(store)
    table = queries.incidents(con, IncidentFilter(date(2000, 1, 1), date.today()))
    ids = {int(db.case_ids("drop", [c])[0]): c for c in ("C1", "C2", "C3", "C4")}
    return {ids[i]: o for i, o in zip(table["id"], table["offence"]) if i in ids}


def test_sync_imports_each_new_file_once_in_name_order(store, drop, capsys):
    # 02 edits the case that 01 adds: applied in name order, 02's version wins
    (drop / "02.csv").write_text(HEADER + "C1,2021-01-01 10:00,Robbery,43.7,-79.4,open\n")
    (drop / "01.csv").write_text(HEADER + "C1,2021-01-01 10:00,Theft,43.7,-79.4,open\n")
    code, out, _ = sync(store, drop, capsys)
    report = json.loads(out)
    assert code == 0
    assert [(f["file"], f["added"], f["updated"]) for f in report["imported"]] == [("01.csv", 1, 0), ("02.csv", 0, 1)]
    assert offences(store) == {"C1": "Robbery"}
    code, out, _ = sync(store, drop, capsys)
    assert (code, json.loads(out)["imported"], json.loads(out)["skipped"]) == (0, [], ["01.csv", "02.csv"])
    con = db.connect(store)
    assert len(batches.table(con)) == 2
    done = con.execute("SELECT file_name, status, import_id FROM synced_files ORDER BY file_name").fetchall()
    assert done == [("01.csv", "done", 1), ("02.csv", "done", 2)]


def test_a_file_with_new_content_under_a_done_name_is_imported_again(store, drop, capsys):
    (drop / "day.csv").write_text(HEADER + "C1,2021-01-01 10:00,Theft,43.7,-79.4,open\n")
    sync(store, drop, capsys)
    (drop / "day.csv").write_text(HEADER + "C1,2021-01-01 10:00,Theft,43.7,-79.4,Unfounded\n")
    code, out, _ = sync(store, drop, capsys)
    assert code == 0 and json.loads(out)["imported"][0]["removed"] == 1
    assert offences(store) == {}


def test_a_bad_file_stops_the_sync_and_is_tried_again_once_fixed(store, drop, capsys):
    (drop / "01.csv").write_text(HEADER + "C1,2021-01-01 10:00,Theft,43.7,-79.4,open\n")
    (drop / "02.csv").write_text("Case,When\nC2,yesterday\n")  # no Date/Type/Lat/Lon columns
    (drop / "03.csv").write_text(HEADER + "C3,2021-01-03 10:00,Theft,43.7,-79.4,open\n")
    code, out, err = sync(store, drop, capsys)
    report = json.loads(out)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: 02.csv: column(s)")
    assert "1 later file(s) wait for it" in err
    assert ([f["file"] for f in report["imported"]], report["not_tried"]) == (["01.csv"], ["03.csv"])
    con = db.connect(store)
    failed = con.execute("SELECT status, message FROM synced_files WHERE file_name = '02.csv'").fetchall()
    assert failed[0][0] == "failed" and "not in the file" in failed[0][1]
    assert offences(store) == {"C1": "Theft"}

    (drop / "02.csv").write_text(HEADER + "C2,2021-01-02 10:00,Assault,43.7,-79.4,open\n")
    code, out, _ = sync(store, drop, capsys)
    assert code == 0 and [f["file"] for f in json.loads(out)["imported"]] == ["02.csv", "03.csv"]
    assert offences(store) == {"C1": "Theft", "C2": "Assault", "C3": "Theft"}


def test_a_deletions_file_in_the_folder_withdraws_its_cases(store, drop, capsys):
    (drop / "01.csv").write_text(
        HEADER + "C1,2021-01-01 10:00,Theft,43.7,-79.4,\nC2,2021-01-02 10:00,Theft,43.7,-79.4,\n"
    )
    (drop / "02.deletions.csv").write_text("Case\nC1\n")
    code, out, _ = sync(store, drop, capsys)
    assert code == 0 and json.loads(out)["imported"][1]["removed"] == 1
    assert offences(store) == {"C2": "Theft"}


def test_rejected_rows_go_to_a_subfolder_the_sync_never_reads(store, drop, capsys):
    (drop / "01.csv").write_text(HEADER + "C1,2021-01-01 10:00,Theft,43.7,-79.4,\nC2,not a date,Theft,43.7,-79.4,\n")
    sync(store, drop, capsys)
    assert len(list((drop / "rejects").glob("01.rejects-*.csv"))) == 1
    code, out, _ = sync(store, drop, capsys)
    assert json.loads(out)["imported"] == [] and json.loads(out)["skipped"] == ["01.csv"]
    code, out, _ = sync(store, drop, capsys, "--reject-dir", drop)  # rejects written beside the files
    (drop / "02.csv").write_text(HEADER + "C3,not a date,Theft,43.7,-79.4,\nC4,2021-01-02 10:00,Theft,43.7,-79.4,\n")
    code, out, _ = sync(store, drop, capsys, "--reject-dir", drop)
    assert [f["file"] for f in json.loads(out)["imported"]] == ["02.csv"]
    assert len(list(drop.glob("02.rejects-*.csv"))) == 1
    code, out, _ = sync(store, drop, capsys, "--reject-dir", drop)
    assert json.loads(out)["imported"] == [] and json.loads(out)["skipped"] == ["01.csv", "02.csv"]


def test_two_syncs_at_once_import_each_file_once(store, drop):
    for day in range(1, 5):
        (drop / f"{day:02}.csv").write_text(HEADER + f"C{day},2021-01-0{day} 10:00,Theft,43.7,-79.4,\n")
    env = {**os.environ, "CRIMEVIZ_USER": "root", "CRIMEVIZ_PASSWORD": PASSWORD}
    command = [sys.executable, "-m", "crimeviz", "sync", str(drop), "--db", str(store), "--mapping", MAPPING]
    runs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    reports = [json.loads(p.communicate(timeout=120)[0]) for p in runs]
    assert all(p.returncode == 0 for p in runs)
    imported = sorted(f["file"] for r in reports for f in r["imported"])
    assert imported == ["01.csv", "02.csv", "03.csv", "04.csv"]
    con = db.connect(store)
    assert len(batches.table(con)) == 4 and db.incident_count(con) == 4


def test_imports_list_and_undo_from_the_command_line(store, drop, capsys):
    (drop / "01.csv").write_text(HEADER + "C1,2021-01-01 10:00,Theft,43.7,-79.4,\n")
    (drop / "02.csv").write_text(
        HEADER + "C1,2021-01-01 10:00,Robbery,43.7,-79.4,\nC2,2021-01-02 10:00,Theft,43.7,-79.4,\n"
    )
    sync(store, drop, capsys)
    code, out, _ = run(capsys, "imports", "list", "--json", "--db", store)
    listed = json.loads(out)
    assert code == 0
    assert [(b["batch"], b["added"], b["updated"], b["undone_by"]) for b in listed] == [
        (2, 1, 1, None),
        (1, 1, 0, None),
    ]

    code, _, err = run(capsys, "imports", "undo", "--batch", 1, "--db", store)
    assert (
        code == 2
        and err == "error: batch 1 is not the last import: undo batch 2 first (imports are undone newest first)\n"
    )
    code, out, _ = run(capsys, "imports", "undo", "--db", store)
    assert code == 0 and json.loads(out) == {"undone": 2, "source": "drop", "deleted": 1, "restored": 1, "put_back": 0}
    assert offences(store) == {"C1": "Theft"}
    code, out, _ = run(capsys, "imports", "list", "--json", "--db", store)
    assert json.loads(out)[0]["undone_by"] == "root"


def test_only_an_admin_may_undo_an_import(store, drop, capsys, monkeypatch):
    (drop / "01.csv").write_text(HEADER + "C1,2021-01-01 10:00,Theft,43.7,-79.4,\n")
    sync(store, drop, capsys)
    monkeypatch.setenv("CRIMEVIZ_USER", "ana")
    code, _, err = run(capsys, "imports", "undo", "--db", store)
    assert code == 2 and "may not use data" in err
    assert offences(store) == {"C1": "Theft"}


def test_db_info_gives_rows_per_table_batches_and_the_data_version(store, drop, capsys):
    (drop / "01.csv").write_text(
        HEADER + "C1,2021-01-01 10:00,Theft,43.7,-79.4,\nC2,2021-01-02 10:00,Theft,43.7,-79.4,\n"
    )
    sync(store, drop, capsys)
    code, out, _ = run(capsys, "db", "info", "--json", "--db", store)
    facts = json.loads(out)
    assert code == 0
    assert facts["tables"]["incidents"] == 2 and facts["tables"]["synced_files"] == 1
    assert facts["tables"]["import_changes"] == 2
    assert (facts["data_version"], facts["last_batch"]) == (1, 1)
    assert [(b["batch"], b["added"], b["file_name"]) for b in facts["imports"]] == [(1, 2, "01.csv")]


def test_export_incidents_filters_neutralises_and_is_audited(store, drop, tmp_path, capsys, monkeypatch):
    (drop / "01.csv").write_text(
        HEADER + "C1,2021-01-01 10:00,Theft,43.7,-79.4,\n"
        "C2,2021-02-01 10:00,=HYPERLINK(1),43.7,-79.4,\n"
        "C3,2021-03-01 10:00,Theft,43.7,-79.4,\n"
    )
    sync(store, drop, capsys)
    monkeypatch.setenv("CRIMEVIZ_USER", "ana")
    out_file = tmp_path / "out.csv"
    args = ["export", "incidents", "--out", out_file, "--db", store, "--start", "2021-01-15", "--end", "2021-03-31"]
    code, out, _ = run(capsys, *args)
    assert code == 0 and json.loads(out)["rows"] == 2
    frame = pd.read_csv(out_file)
    assert list(frame.columns) == [
        "id",
        "occurred_at",
        "offence",
        "premises",
        "neighbourhood",
        "lat",
        "lon",
        "source",
        "h3_9",
    ]
    assert sorted(frame["offence"]) == ["'=HYPERLINK(1)", "Theft"]
    code, out, _ = run(capsys, *args, "--offence", "Theft", "--source", "drop")
    assert json.loads(out)["rows"] == 1
    code, out, _ = run(capsys, *args, "--source", "elsewhere")
    assert json.loads(out)["rows"] == 0
    entry = audit.entries(db.connect(store), 1).iloc[0]
    assert (entry["username"], entry["action"]) == ("ana", "export.incidents_csv")
    assert json.loads(entry["detail"])["rows"] == 0


def test_export_needs_a_user(store, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CRIMEVIZ_USER")
    code, _, err = run(capsys, "export", "incidents", "--out", tmp_path / "x.csv", "--db", store)
    assert code == 2 and "--user" in err


def test_a_deletions_file_from_the_command_line_withdraws_its_cases(store, drop, tmp_path, capsys):
    (drop / "01.csv").write_text(
        HEADER + "C1,2021-01-01 10:00,Theft,43.7,-79.4,\nC2,2021-01-02 10:00,Theft,43.7,-79.4,\n"
    )
    sync(store, drop, capsys)
    gone = tmp_path / "gone.csv"
    gone.write_text("Case\nC2\nC9\n")
    code, out, _ = run(capsys, "imports", "deletions", gone, "--case-id", "Case", "--source", "drop", "--db", store)
    assert code == 0 and (json.loads(out)["removed"], json.loads(out)["not_found"]) == (1, 1)
    assert offences(store) == {"C1": "Theft"}
    code, _, err = run(capsys, "imports", "deletions", gone, "--case-id", "Nope", "--source", "drop", "--db", store)
    assert code == 2 and err.startswith("error: column 'Nope' not in the file")


def test_imports_history_lists_a_cases_earlier_versions(store, drop, capsys):
    (drop / "01.csv").write_text(HEADER + "C1,2021-01-01 10:00,Theft,43.7,-79.4,\n")
    (drop / "02.csv").write_text(HEADER + "C1,2021-01-01 10:00,Robbery,43.7,-79.4,\n")
    (drop / "03.csv").write_text(HEADER + "C1,,,,,void\n")
    sync(store, drop, capsys)
    code, out, _ = run(capsys, "imports", "history", "--source", "drop", "--case", "C1", "--json", "--db", store)
    versions = json.loads(out)
    assert code == 0
    assert [(v["batch"], v["change"], v["offence"]) for v in versions] == [
        (2, "updated", "Theft"),
        (3, "removed", "Robbery"),
    ]
