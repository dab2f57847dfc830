"""The bad-input corpus (tests/corpus/) through the CLI and the pages: clear messages, nothing changed."""

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from crimeviz.cli import main as cli
from crimeviz.store import db
from tests.conftest import ROOT

CORPUS = Path(__file__).parent / "corpus"
PASSWORD = "a long test password"
MAPPING = "lat=Lat,lon=Lon,occurred_at=Date,offence=Type"


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "bad.duckdb"
    con = db.connect(path)
    auth.add_user(con, "root", PASSWORD, "admin")
    con.close()
    monkeypatch.setenv("CRIMEVIZ_USER", "root")
    monkeypatch.setenv("CRIMEVIZ_PASSWORD", PASSWORD)
    return path


def snapshot(path):
    con = db.connect(path)
    state = (
        db.incident_count(con),
        con.execute("SELECT count(*) FROM imports").fetchall()[0][0],
        con.execute("SELECT count(*) FROM audit_log WHERE action = 'import'").fetchall()[0][0],
    )
    con.close()
    return state


def run_import(path, name, tmp_path, capsys, mapping=MAPPING):
    target = tmp_path / name
    shutil.copy(CORPUS / "csv" / name, target)
    code = cli.main(["import", str(target), "--db", str(path), "--mapping", mapping])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(
    "name, message",
    [
        ("binary_renamed.csv", "not UTF-8"),
        ("latin1.csv", "not UTF-8"),
        ("empty.csv", "cannot be read"),
        ("header_only.csv", "no data rows"),
        ("ragged.csv", "cannot be read"),
    ],
)
def test_unusable_files_are_refused_with_one_line_and_change_nothing(store, tmp_path, capsys, name, message):
    before = snapshot(store)
    code, out, err = run_import(store, name, tmp_path, capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert snapshot(store) == before


def test_bad_numbers_and_dates_are_rejected_row_by_row(store, tmp_path, capsys):
    code, out, _ = run_import(store, "bad_numbers.csv", tmp_path, capsys)
    summary = json.loads(out)
    assert code == 0 and (summary["loaded"], summary["rejected"]) == (1, 4)
    reasons = [r["reject_reason"] for r in summary["reject_examples"]]
    assert reasons == [
        "coordinates are not numbers",
        "coordinates are not finite",
        "coordinates out of range",
        "date not understood (format %Y-%m-%d %H:%M)",
    ]


def test_wrong_mapping_argument_is_refused(store, tmp_path, capsys):
    before = snapshot(store)
    code, _, err = run_import(store, "hostile_fields.csv", tmp_path, capsys, mapping="lat=Lat;DROP TABLE x")
    assert code == 2 and "lacks required" in err
    assert snapshot(store) == before


def test_hostile_text_is_stored_verbatim_and_shown_as_text(store, tmp_path, capsys, monkeypatch):
    code, out, _ = run_import(
        store, "hostile_fields.csv", tmp_path, capsys, mapping=MAPPING + ",premises=Premises,neighbourhood=Area"
    )
    assert code == 0 and json.loads(out)["loaded"] == 2
    con = db.connect(store)
    offences = sorted(r[0] for r in con.execute("SELECT offence FROM incidents").fetchall())
    con.close()
    assert offences == ["' OR 1=1 --", "<script>alert('x')</script>"]

    monkeypatch.setenv("CRIMEVIZ_DB", str(store))
    at = AppTest.from_file(str(ROOT / "pages" / "map.py"), default_timeout=120)
    at.session_state["user"] = auth.User("root", "root", "admin")
    at.session_state["f_dates"] = (date(2021, 1, 1), date(2021, 1, 2))
    at.run()
    assert not at.exception
    at.multiselect(key="f_offences").set_value(["' OR 1=1 --"]).run()  # a SQL-looking filter value
    assert not at.exception
    assert next(m.value for m in at.metric if m.label == "Incidents") == "1"
    deck = at.get("deck_gl_json_chart")[0]
    assert json.loads(deck.proto.tooltip) == {"text": "{tooltip}"}
    legends = [m.value for m in at.markdown if "Incidents per cell" in m.value]
    assert legends and "<script>" not in legends[0]


@pytest.mark.parametrize(
    "name, message",
    [
        ("traversal.zip", "points outside the archive"),
        ("bomb.zip", "expands"),
        ("many_files.zip", "at most 1,000 are accepted"),
        ("not_a_zip.zip", "not a readable zip file"),
    ],
)
def test_hostile_zips_are_refused_before_anything_is_written(tmp_path, name, message):
    from crimeviz.streetview import uploads
    from crimeviz.streetview.sequences import SequenceError

    data = (CORPUS / "zip" / name).read_bytes()
    with pytest.raises(SequenceError, match=message):
        uploads.zip_frames(data)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(SequenceError, match=message if name != "many_files.zip" else "files"):
        uploads.extract_zip(data, dest, uploads.ONE_SEQUENCE)
    assert not any(dest.rglob("*")) and not (tmp_path / "outside").exists()


@pytest.mark.parametrize("name", ["hostile_fields.csv", "incidents.parquet"])
def test_a_db_that_is_not_a_store_is_refused_and_left_alone(tmp_path, capsys, monkeypatch, name):
    import pandas as pd

    target = tmp_path / name
    if name.endswith(".parquet"):
        pd.DataFrame({"a": [1, 2]}).to_parquet(target)
    else:
        shutil.copy(CORPUS / "csv" / name, target)
    before = target.read_bytes()
    monkeypatch.setenv("CRIMEVIZ_DB", str(target))
    code = cli.main(["import", str(CORPUS / "csv" / "hostile_fields.csv"), "--mapping", MAPPING, "--user", "root"])
    err = capsys.readouterr().err
    assert code == 2 and err == f"error: {target} is not a CrimeViz (DuckDB) database; give another --db\n"
    assert target.read_bytes() == before
