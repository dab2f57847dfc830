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
        ("duplicate_columns.csv", "column 'Lat' appears 2 times (columns 3, 5); rename"),
        ("ambiguous_dates.csv", "read as both %m/%d/%Y %H:%M and %d/%m/%Y %H:%M; give the date format"),
    ],
)
def test_unusable_files_are_refused_with_one_line_and_change_nothing(store, tmp_path, capsys, name, message):
    before = snapshot(store)
    code, out, err = run_import(store, name, tmp_path, capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert snapshot(store) == before


def test_the_cli_says_where_the_rejected_rows_are_when_none_is_valid(store, tmp_path, capsys):
    (tmp_path / "none_valid.csv").write_text("Date,Type,Lat,Lon\nnope,THEFT,43.6,-79.4\n")
    before = snapshot(store)
    code = cli.main(["import", str(tmp_path / "none_valid.csv"), "--db", str(store), "--mapping", MAPPING])
    err = capsys.readouterr().err
    (rejects,) = tmp_path.glob("none_valid.rejects-*.csv")
    assert code == 2 and err.count("\n") == 1
    assert err.rstrip().endswith(f"see {rejects.name} in {tmp_path}")
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
    at = AppTest.from_file(str(ROOT / "app_pages" / "map.py"), default_timeout=120)
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


def stored(path, sql):
    con = db.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_implausible_dates_are_rejected_and_far_rows_listed_with_examples(store, tmp_path, capsys):
    code, out, _ = run_import(store, "implausible.csv", tmp_path, capsys)
    summary = json.loads(out)
    assert code == 0 and (summary["loaded"], summary["rejected"]) == (6, 2)
    assert summary["reject_reasons"] == {"date in the future": 1, "date before 1900-01-01": 1}
    far = summary["outside_area"]
    assert far["count"] == 2 and far["rejected"] is False and "the file's extent" in far["area"]
    assert [row["source_row"] for row in far["examples"]] == [8, 9]
    assert stored(store, "SELECT max(occurred_at) < now(), min(occurred_at) > '2000-01-01' FROM incidents") == [
        (True, True)
    ]


def test_far_rows_can_be_rejected_and_the_store_extent_is_the_default_area(store, tmp_path, capsys):
    target = tmp_path / "implausible.csv"
    shutil.copy(CORPUS / "csv" / "implausible.csv", target)
    args = ["import", str(target), "--db", str(store), "--mapping", MAPPING, "--reject-outside"]
    assert cli.main([*args, "--earliest", "1800-01-01"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["loaded"], summary["rejected"]) == (5, 3)
    assert summary["reject_reasons"] == {
        "date in the future": 1,
        "far from the data (latitude and longitude swapped?)": 1,
        "far from the data": 1,
    }
    london = tmp_path / "london.csv"
    london.write_text("Date,Type,Lat,Lon\n2021-07-01 10:00,Theft,51.5074,-0.1278\n2021-07-01 11:00,Theft,51.5,-0.12\n")
    assert cli.main(["import", str(london), "--db", str(store), "--mapping", MAPPING]) == 0
    far = json.loads(capsys.readouterr().out)["outside_area"]
    assert far["count"] == 2 and "the store's extent" in far["area"]
    assert cli.main(["import", str(london), "--db", str(store), "--mapping", MAPPING, "--area", "51,-1,52,1"]) == 0
    assert json.loads(capsys.readouterr().out)["outside_area"] == {}
    assert cli.main(["import", str(london), "--db", str(store), "--mapping", MAPPING, "--area", "north"]) == 2
    assert "not SOUTH,WEST,NORTH,EAST" in capsys.readouterr().err


def test_offsets_across_daylight_saving_are_converted_to_local_time(store, tmp_path, capsys):
    code, out, err = run_import(store, "dst_offsets.csv", tmp_path, capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["loaded"] == 4 and summary["timezone"] == "UTC offsets converted to America/Toronto local time"
    times = [str(r[0]) for r in stored(store, "SELECT occurred_at FROM incidents ORDER BY occurred_at, offence")]
    assert times == ["2021-03-13 23:30:00", "2021-03-14 03:30:00", "2021-11-07 01:30:00", "2021-11-07 01:30:00"]


def test_a_day_first_file_sorted_by_date_is_read_day_first(store, tmp_path, capsys):
    import pandas as pd

    when = pd.date_range("2021-01-01", periods=180, freq="D").repeat(50) + pd.Timedelta(hours=10)
    frame = pd.DataFrame({"Date": when.strftime("%d/%m/%Y %H:%M"), "Type": "Theft", "Lat": 43.7, "Lon": -79.4})
    path = tmp_path / "dmy.csv"
    frame.to_csv(path, index=False)
    assert cli.main(["import", str(path), "--db", str(store), "--mapping", MAPPING]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["loaded"], summary["rejected"], summary["date_format"]) == (9000, 0, "%d/%m/%Y %H:%M")
    assert stored(store, "SELECT min(occurred_at)::DATE::VARCHAR, max(occurred_at)::DATE::VARCHAR FROM incidents") == [
        ("2021-01-01", "2021-06-29")
    ]


def test_over_long_text_is_rejected_not_stored(store, tmp_path, capsys):
    path = tmp_path / "long.csv"
    path.write_text(
        f"Date,Type,Lat,Lon\n2021-01-01 10:00,{'A' * 1_000_000},43.7,-79.4\n2021-01-01 11:00,Theft,43.7,-79.4\n"
    )
    assert cli.main(["import", str(path), "--db", str(store), "--mapping", MAPPING]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["reject_reasons"] == {"offence longer than 200 characters": 1}
    assert stored(store, "SELECT max(length(offence)) FROM incidents") == [(5,)]


def test_a_binary_parquet_column_is_named_as_binary_not_as_a_date_problem(store, tmp_path, capsys):
    import pandas as pd

    path = tmp_path / "binary.parquet"
    pd.DataFrame(
        {"Date": [b"\x00\x01", b"\xff"], "Type": ["A", "B"], "Lat": [43.7, 43.7], "Lon": [-79.4, -79.4]}
    ).to_parquet(path)
    before = snapshot(store)
    assert cli.main(["import", str(path), "--db", str(store), "--mapping", MAPPING]) == 2
    assert (
        capsys.readouterr().err
        == "error: column 'Date' (mapped to occurred_at) holds binary data, not text or numbers\n"
    )
    assert snapshot(store) == before


def test_a_reject_dir_under_a_file_is_one_line_and_changes_nothing(store, tmp_path, capsys):
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    target = tmp_path / "bad_numbers.csv"
    shutil.copy(CORPUS / "csv" / "bad_numbers.csv", target)
    before = snapshot(store)
    args = ["import", str(target), "--db", str(store), "--mapping", MAPPING, "--reject-dir", str(blocker / "rejects")]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the rejected rows to") and err.count("\n") == 1
    assert snapshot(store) == before


def test_rejected_rows_csv_neutralises_formulas(store, tmp_path, capsys):
    import pandas as pd

    path = tmp_path / "formula.csv"
    path.write_text(
        'Date,Type,Lat,Lon\nnot a date,"=HYPERLINK(""http://x"",""y"")",43.7,-79.4\n2021-01-01 10:00,Theft,43.7,-79.4\n'
    )
    assert cli.main(["import", str(path), "--db", str(store), "--mapping", MAPPING]) == 0
    rejects = pd.read_csv(json.loads(capsys.readouterr().out)["reject_file"])
    assert rejects["Type"].tolist() == ["'=HYPERLINK(\"http://x\",\"y\")"]


def test_an_incident_id_makes_a_corrected_row_replace_the_stored_one(store, tmp_path, capsys):
    path = tmp_path / "ids.csv"
    path.write_text(
        "Id,Date,Type,Lat,Lon\n17,2021-01-01 10:00,Theft,43.7,-79.4\n18,2021-01-01 11:00,Theft,43.7,-79.4\n"
    )
    args = ["import", str(path), "--db", str(store), "--mapping", MAPPING + ",incident_id=Id"]
    assert cli.main(args) == 0 and json.loads(capsys.readouterr().out)["loaded"] == 2
    path.write_text(
        "Id,Date,Type,Lat,Lon\n17,2021-01-01 10:00,Robbery,43.7,-79.4\n19,2021-01-02 11:00,Theft,43.7,-79.4\n"
    )
    assert cli.main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["added"], summary["updated"], summary["unchanged"]) == (1, 1, 0)
    assert stored(store, "SELECT count(*), count(*) FILTER (offence = 'Robbery') FROM incidents") == [(3, 1)]


def data_page_import(app_db, name: str, **options):
    at = AppTest.from_file(str(ROOT / "app_pages" / "data.py"), default_timeout=120)
    at.session_state["user"] = auth.User("root", "root", "admin")
    at.run()
    at.file_uploader(key="upload").set_value((name, (CORPUS / "csv" / name).read_bytes(), "text/csv")).run()
    for key, value in options.items():
        (at.checkbox(key=key) if isinstance(value, bool) else at.text_input(key=key)).set_value(value)
    at.button(key="import_submit").click().run()  # the form's Import button
    assert not at.exception
    return at


def test_data_page_lists_far_rows_against_the_store_and_can_reject_them(app_db):
    listed = data_page_import(app_db, "implausible.csv")
    assert "Imported 6 new incidents" in listed.success[0].value
    assert "2 rows were imported but lie outside the expected area" in listed.warning[0].value
    assert "the store's extent" in listed.warning[0].value
    assert "date in the future: 1" in listed.warning[1].value
    rejected = data_page_import(app_db, "implausible.csv", far=True, area="43.5,-79.7,43.9,-79.1")
    assert "2 rows were rejected: they lie outside the expected area 43.500,-79.700" in rejected.warning[0].value
    bad_area = data_page_import(app_db, "implausible.csv", area="Toronto")
    assert "Nothing was imported: area 'Toronto' is not SOUTH,WEST,NORTH,EAST" in bad_area.error[0].value


def test_data_page_says_dates_with_offsets_were_converted(app_db):
    at = data_page_import(app_db, "dst_offsets.csv")
    assert "UTC offsets converted to America/Toronto local time" in at.info[0].value


def test_any_os_or_library_error_ends_in_one_error_line(tmp_path, capsys, monkeypatch):
    code = cli.main(["toronto", "convert", "--source", str(tmp_path / "missing"), "--out", str(tmp_path / "t.pq")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "No such file or directory" in err and err.count("\n") == 1

    def library_failure(args):
        raise RuntimeError("decoder gave up\nsecond line of detail")

    monkeypatch.setattr(cli, "cmd_db_build", library_failure)
    assert cli.main(["db", "build", "--db", str(tmp_path / "x.duckdb")]) == 2
    assert capsys.readouterr().err == "error: RuntimeError: decoder gave up\n"


def test_an_unknown_time_zone_is_one_line(store, tmp_path, capsys):
    target = tmp_path / "dst_offsets.csv"
    shutil.copy(CORPUS / "csv" / "dst_offsets.csv", target)
    before = snapshot(store)
    assert (
        cli.main(["import", str(target), "--db", str(store), "--mapping", MAPPING, "--timezone", "Mars/Olympus"]) == 2
    )
    assert (
        capsys.readouterr().err
        == "error: unknown time zone 'Mars/Olympus' (give an IANA name such as America/Toronto)\n"
    )
    assert snapshot(store) == before
