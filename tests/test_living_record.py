"""Incidents as a living record: upsert by case id, withdrawn cases, batches and exact undo."""

from datetime import date

import duckdb
import pandas as pd
import pytest

from crimeviz.store import areas, audit, batches, db, importer, queries
from crimeviz.store.filters import IncidentFilter

MAPPING = importer.parse_mapping("lat=Lat,lon=Lon,occurred_at=Date,offence=Type,case_id=Case,status=Status")
HEADER = "Case,Date,Type,Lat,Lon,Status,Area\n"
FIRST = HEADER + (
    "C1,2021-01-01 10:00,Theft,43.7000,-79.4000,open,North\n"
    "C2,2021-01-02 10:00,Theft,43.7100,-79.4100,open,North\n"
    "C3,2021-01-03 10:00,Assault,43.6500,-79.3800,,South\n"
)
# C1 reclassified and moved, C2 as before, C3 unfounded (only its case id is needed), C4 new.
SECOND = HEADER + (
    "C1,2021-01-01 10:00,Robbery,43.6510,-79.3810,open,South\n"
    "C2,2021-01-02 10:00,Theft,43.7100,-79.4100,open,North\n"
    "C3,,,,,Unfounded,\n"
    "C4,2021-01-04 10:00,Theft,43.7200,-79.4200,open,North\n"
)
EVERYTHING = IncidentFilter(date(2000, 1, 1), date(2030, 1, 1))


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def load(con, path, mapping=MAPPING, source="rms"):
    return importer.import_file(con, path, mapping, "root", source=source)


def snapshot(con) -> pd.DataFrame:
    return con.execute("SELECT * FROM incidents ORDER BY id").df()


def case(con, case_id: str, source: str = "rms"):
    rows = con.execute(
        "SELECT offence, lat FROM incidents WHERE id = ?", [int(db.case_ids(source, [case_id])[0])]
    ).fetchall()
    return rows[0] if rows else None


@pytest.fixture
def store(empty_store, tmp_path):
    load(empty_store, write(tmp_path, "first.csv", FIRST))
    return empty_store


def test_a_changed_case_replaces_the_stored_one_and_its_old_version_is_kept(store, tmp_path):
    ids_before = set(snapshot(store)["id"])
    result = load(store, write(tmp_path, "second.csv", SECOND))
    counts = result.counts
    assert (counts.added, counts.updated, counts.unchanged, counts.removed) == (1, 1, 1, 1)
    assert case(store, "C1") == ("Robbery", 43.651)
    assert case(store, "C3") is None
    assert db.incident_count(store) == 3
    # the case keeps its id across the edit
    assert int(db.case_ids("rms", ["C1"])[0]) in ids_before
    old = batches.history(store, "rms", "C1")
    assert old[["batch", "change", "offence", "lat"]].values.tolist() == [[counts.batch, "updated", "Theft", 43.7]]
    gone = batches.history(store, "rms", "C3")
    assert gone[["batch", "change", "offence"]].values.tolist() == [[counts.batch, "removed", "Assault"]]


def test_reimporting_the_same_export_counts_every_case_unchanged(store, tmp_path):
    version = db.data_version(store)
    again = load(store, write(tmp_path, "first-again.csv", FIRST)).counts
    assert (again.added, again.updated, again.unchanged, again.removed) == (0, 0, 3, 0)
    assert db.data_version(store) == version  # nothing changed: caches stay valid


def test_every_change_raises_the_data_version(store, tmp_path):
    version = db.data_version(store)
    load(store, write(tmp_path, "second.csv", SECOND))
    assert db.data_version(store) == version + 1
    batches.undo(store, "root")
    assert db.data_version(store) == version + 2


@pytest.mark.parametrize("status", ["unfounded", "DELETED", " Void ", "cancelled", "Canceled"])
def test_a_withdrawn_case_leaves_maps_charts_and_exports(store, tmp_path, status):
    text = HEADER + f"C2,2021-01-02 10:00,Theft,43.7100,-79.4100,{status},North\n"
    assert load(store, write(tmp_path, "withdraw.csv", text)).counts.removed == 1
    assert queries.total(store, EVERYTHING) == 2
    assert queries.hex_counts(store, EVERYTHING, 8)["n"].sum() == 2
    exported = queries.incidents(store, EVERYTHING)
    assert int(db.case_ids("rms", ["C2"])[0]) not in set(exported["id"])


def test_a_status_that_is_not_a_withdrawal_keeps_the_case(store, tmp_path):
    text = HEADER + "C2,2021-01-02 10:00,Theft,43.7100,-79.4100,closed - unfounded?,North\n"
    counts = load(store, write(tmp_path, "closed.csv", text)).counts
    assert (counts.removed, counts.unchanged) == (0, 1)


def test_withdrawing_a_case_the_store_never_held_counts_it_as_not_found(store, tmp_path):
    counts = load(store, write(tmp_path, "unknown.csv", HEADER + "C9,,,,,void,\n")).counts
    assert (counts.removed, counts.not_found) == (0, 1)


def test_a_deletions_file_withdraws_the_cases_it_lists(store, tmp_path):
    path = write(tmp_path, "gone.csv", "case number\nC1\n\nC3\nC3\n")
    counts = importer.import_deletions(store, path, "case number", "rms", "root")
    assert (counts.removed, counts.added) == (2, 0)
    assert case(store, "C1") is None and case(store, "C2") is not None


def test_a_deletions_file_needs_the_source(store, tmp_path):
    path = write(tmp_path, "gone.csv", "Case\nC1\n")
    with pytest.raises(importer.ImportFailed, match="--source"):
        importer.import_deletions(store, path, "Case", "", "root")


def test_a_case_repeated_in_one_file_is_taken_from_its_last_row(empty_store, tmp_path):
    text = HEADER + "C1,2021-01-01 10:00,Theft,43.7,-79.4,,\nC1,2021-01-01 10:00,Robbery,43.7,-79.4,,\n"
    result = load(empty_store, write(tmp_path, "repeat.csv", text))
    assert (result.counts.added, result.rejected) == (1, 1)
    assert result.reasons == {"case id repeated further down": 1}
    assert case(empty_store, "C1")[0] == "Robbery"


def test_a_withdrawal_without_a_case_id_is_rejected(empty_store, tmp_path):
    text = HEADER + ",,,,,void,\nC1,2021-01-01 10:00,Theft,43.7,-79.4,,\n"
    result = load(empty_store, write(tmp_path, "nocase.csv", text))
    assert result.reasons == {"status withdraws the case but the row has no case id": 1}


def test_a_status_column_needs_a_case_id_column():
    with pytest.raises(importer.ImportFailed, match="needs a case id"):
        importer.parse_mapping("lat=Lat,lon=Lon,occurred_at=Date,offence=Type,status=Status")


def test_incident_id_is_still_accepted_as_the_case_id_field():
    assert importer.parse_mapping("lat=a,lon=b,occurred_at=c,offence=d,incident_id=e")["case_id"] == "e"


def test_undo_restores_exactly_the_incidents_before_the_batch(store, tmp_path):
    before = snapshot(store)
    load(store, write(tmp_path, "second.csv", SECOND))
    assert not snapshot(store).equals(before)
    result = batches.undo(store, "root")
    assert (result["deleted"], result["restored"], result["put_back"]) == (1, 1, 1)
    pd.testing.assert_frame_equal(snapshot(store), before)
    entry = audit.entries(store, 1).iloc[0]
    assert (entry["username"], entry["action"], entry["object_id"]) == ("root", "import.undo", str(result["undone"]))


def test_batches_are_undone_newest_first_back_to_an_empty_store(empty_store, tmp_path):
    states = [snapshot(empty_store)]
    for name, text in (("a.csv", FIRST), ("b.csv", SECOND), ("c.csv", FIRST)):
        load(empty_store, write(tmp_path, name, text))
        states.append(snapshot(empty_store))
    for expected in reversed(states[:-1]):
        batches.undo(empty_store, "root")
        pd.testing.assert_frame_equal(snapshot(empty_store), expected)
    with pytest.raises(batches.UndoRefused, match="no import to undo"):
        batches.undo(empty_store, "root")


def test_undo_of_an_older_batch_is_refused_naming_the_one_to_undo_first(store, tmp_path):
    first = batches.last_batch(store)
    second = load(store, write(tmp_path, "second.csv", SECOND)).counts.batch
    before = snapshot(store)
    with pytest.raises(batches.UndoRefused, match=f"batch {first} is not the last import: undo batch {second} first"):
        batches.undo(store, "root", first)
    pd.testing.assert_frame_equal(snapshot(store), before)
    batches.undo(store, "root", second)
    with pytest.raises(batches.UndoRefused, match=f"batch {second} was already undone"):
        batches.undo(store, "root", second)
    with pytest.raises(batches.UndoRefused, match="no import batch 999"):
        batches.undo(store, "root", 999)


def test_a_batch_from_before_batches_were_recorded_cannot_be_undone(empty_store):
    empty_store.execute(
        "INSERT INTO imports (source, loaded, duplicates, rejected) VALUES ('old', 5, 0, 0)"
    )  # as stores made before batches recorded it
    with pytest.raises(batches.UndoRefused, match="before imports recorded their changes"):
        batches.undo(empty_store, "root")


def test_the_imports_table_lists_batches_with_their_counts(store, tmp_path):
    load(store, write(tmp_path, "second.csv", SECOND))
    batches.undo(store, "root")
    table = batches.table(store)
    assert table[["added", "updated", "unchanged", "removed"]].values.tolist() == [[1, 1, 1, 1], [3, 0, 0, 0]]
    assert table["username"].tolist() == ["root", "root"]
    assert table["file_name"].tolist() == ["second.csv", "first.csv"]
    assert table["undone_by"].tolist()[0] == "root" and pd.isna(table["undone_by"].tolist()[1])


def test_a_failure_inside_the_batch_leaves_the_store_as_it_was(store, tmp_path, monkeypatch):
    before = snapshot(store)
    imports = batches.table(store)
    version = db.data_version(store)

    def broken(con, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(batches.audit, "record", broken)  # the batch's last statement
    with pytest.raises(OSError):
        load(store, write(tmp_path, "second.csv", SECOND))
    pd.testing.assert_frame_equal(snapshot(store), before)
    pd.testing.assert_frame_equal(batches.table(store), imports)
    assert db.data_version(store) == version
    assert store.execute("SELECT count(*) FROM incident_history").fetchall()[0][0] == 0


def test_incident_ids_fit_a_signed_64_bit_bigint(store):
    kind = store.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'incidents' AND column_name = 'id'"
    ).fetchall()
    assert kind == [("BIGINT",)]
    rows = incident_rows_with_high_hashes()
    ids = db.row_ids(rows)
    assert ids.dtype.name == "int64" and (ids >= 0).all()
    assert (db.case_ids("rms", [f"C{i}" for i in range(2000)]) >= 0).all()


def incident_rows_with_high_hashes() -> pd.DataFrame:
    """2,000 rows: about half of their unmasked 64-bit hashes are above 2^63."""
    return pd.DataFrame(
        {
            "occurred_at": pd.date_range("2021-01-01", periods=2000, freq="h").astype("datetime64[us]"),
            "offence": "Theft",
            "premises": None,
            "neighbourhood": None,
            "lat": 43.7,
            "lon": -79.4,
        }
    )


def test_a_store_made_before_batches_is_migrated_and_reimports_find_their_rows(tmp_path):
    """A store with UBIGINT ids (some above 2^63) and the old imports table: the first import
    narrows the ids to 63 bits, adds the batch columns, and the old rows are found again."""
    path = tmp_path / "old.duckdb"
    csv = write(tmp_path, "old.csv", HEADER + "".join(FIRST.splitlines(keepends=True)[1:]).replace(",open,", ",,"))
    old_mapping = importer.parse_mapping("lat=Lat,lon=Lon,occurred_at=Date,offence=Type")
    rows = importer.with_ids(importer.validate(importer.read_table(csv), old_mapping, None).clean, "old")
    wide = rows["id"].astype("uint64") | (1 << 63)  # as the unmasked hashes were
    raw = duckdb.connect(str(path))
    raw.execute(
        db.SCHEMA.replace("id            BIGINT PRIMARY KEY", "id            UBIGINT PRIMARY KEY").split(
            "CREATE SEQUENCE IF NOT EXISTS import_seq;"
        )[0]
    )
    raw.execute(
        "CREATE SEQUENCE import_seq; CREATE TABLE imports (import_id BIGINT PRIMARY KEY DEFAULT nextval('import_seq'), "
        "imported_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(), source VARCHAR NOT NULL, file_sha256 VARCHAR, "
        "loaded BIGINT NOT NULL, duplicates BIGINT NOT NULL, rejected BIGINT NOT NULL)"
    )
    frame = rows.drop(columns="case_id").assign(id=wide)
    raw.register("old_rows", frame)
    raw.execute("INSERT INTO incidents SELECT * FROM old_rows")
    raw.execute("INSERT INTO imports (source, loaded, duplicates, rejected) VALUES ('old', 3, 0, 0)")
    raw.close()

    con = db.connect(path)
    again = importer.import_file(con, csv, old_mapping, "root", source="old")
    assert (again.counts.added, again.counts.unchanged) == (0, 3)
    assert con.execute("SELECT min(id) >= 0, count(*) FROM incidents").fetchall() == [(True, 3)]
    assert batches.table(con)["added"].tolist() == [0, 3]


def test_an_updated_incident_is_joined_to_its_new_area_and_undo_joins_it_back(empty_store, tmp_path):
    store = empty_store
    mapping = {**MAPPING, "neighbourhood": "Area"}
    load(store, write(tmp_path, "first.csv", FIRST), mapping)
    areas.add_default_layer(store, "root")  # North and South, from the incidents' neighbourhoods
    joined = "SELECT incident_id, area FROM incident_areas ORDER BY incident_id"
    before = store.execute(joined).fetchall()
    c1 = int(db.case_ids("rms", ["C1"])[0])
    assert dict(before)[c1] == "North"
    load(store, write(tmp_path, "second.csv", SECOND), mapping)
    after = dict(store.execute(joined).fetchall())
    assert after[c1] == "South" and len(after) == db.incident_count(store)
    batches.undo(store, "root")
    assert store.execute(joined).fetchall() == before


def data_page(path, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from crimeviz.access import auth
    from tests.conftest import ROOT

    monkeypatch.setenv("CRIMEVIZ_DB", str(path))
    monkeypatch.setenv("CRIMEVIZ_UPLOADS", str(tmp_path / "uploads"))
    at = AppTest.from_file(str(ROOT / "app_pages" / "data.py"), default_timeout=120)
    at.session_state["user"] = auth.User("root", "root", "admin")
    return at.run()


def test_data_page_lists_batches_and_undoes_the_last_after_confirmation(tmp_path, monkeypatch):
    path = tmp_path / "page.duckdb"
    con = db.connect(path)
    load(con, write(tmp_path, "first.csv", FIRST))
    before = snapshot(con)
    load(con, write(tmp_path, "second.csv", SECOND))
    at = data_page(path, monkeypatch, tmp_path)
    assert not at.exception
    table = next(d.value for d in at.dataframe if "unchanged" in d.value.columns)
    assert table[["batch", "added", "updated", "unchanged", "removed"]].values.tolist() == [
        [2, 1, 1, 1, 1],
        [1, 3, 0, 0, 0],
    ]
    assert not snapshot(con).equals(before)
    at.button(key="undo_ask").click().run()
    assert "Undo batch 2 (second.csv" in at.warning[0].value
    assert not at.button(key="undo_cancel").click().run().warning  # cancelled: nothing asked, nothing done
    assert db.incident_count(con) == 3 and batches.last_batch(con) == 2
    at.button(key="undo_ask").click().run()
    at.button(key="undo_confirm").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Batch 2 undone: 1 incidents deleted, 1 earlier versions and 1 removed")
    pd.testing.assert_frame_equal(snapshot(con), before)
    entry = audit.entries(con, 1).iloc[0]
    assert (entry["username"], entry["action"]) == ("root", "import.undo")


def test_data_page_maps_case_id_and_status_and_reports_what_changed(tmp_path, monkeypatch):
    path = tmp_path / "page.duckdb"
    con = db.connect(path)
    load(con, write(tmp_path, "first.csv", FIRST))
    at = data_page(path, monkeypatch, tmp_path)
    upload = SECOND.replace("Case,", "case_number,").replace(",Status,", ",status,").encode()
    at.file_uploader(key="upload").set_value(("second.csv", upload, "text/csv")).run()
    assert (at.selectbox(key="map_case_id").value, at.selectbox(key="map_status").value) == ("case_number", "status")
    at.text_input(key="source").set_value("rms")
    at.button(key="import_submit").click().run()
    assert not at.exception
    message = at.success[0].value
    assert "Imported 1 new incidents from second.csv as batch 2 (1 updated" in message and "1 removed" in message
    assert case(con, "C1")[0] == "Robbery" and case(con, "C3") is None


def test_folder_sync_records_each_file_in_its_batch_and_skips_it_after(empty_store, tmp_path):
    from crimeviz.store import sync

    folder = tmp_path / "drop"
    folder.mkdir()
    write(folder, "01.csv", FIRST)
    write(folder, "02.csv", SECOND)
    report = sync.sync_folder(empty_store, folder, MAPPING, "root", source="rms")
    assert [(f["file"], f["batch"]) for f in report.imported] == [("01.csv", 1), ("02.csv", 2)]
    again = sync.sync_folder(empty_store, folder, MAPPING, "root", source="rms")
    assert (again.imported, again.skipped) == ([], ["01.csv", "02.csv"])
    assert sync.files(empty_store)[["file_name", "status", "batch"]].values.tolist() == [
        ["02.csv", "done", 2],
        ["01.csv", "done", 1],
    ]


def test_a_file_another_sync_finished_meanwhile_is_rolled_back_and_skipped(empty_store, tmp_path, monkeypatch):
    from crimeviz.store import sync

    folder = tmp_path / "drop"
    folder.mkdir()
    write(folder, "01.csv", FIRST)
    sync.sync_folder(empty_store, folder, MAPPING, "root", source="rms")
    before, version = snapshot(empty_store), db.data_version(empty_store)
    real, looks = sync.done, []

    def first_look_misses(con, name, digest):  # as if another sync were still importing the file
        looks.append(name)
        return False if len(looks) == 1 else real(con, name, digest)

    monkeypatch.setattr(sync, "done", first_look_misses)
    report = sync.sync_folder(empty_store, folder, MAPPING, "root", source="rms")
    assert (report.imported, report.skipped, len(looks)) == ([], ["01.csv"], 2)
    pd.testing.assert_frame_equal(snapshot(empty_store), before)
    assert len(batches.table(empty_store)) == 1 and db.data_version(empty_store) == version  # no second batch
