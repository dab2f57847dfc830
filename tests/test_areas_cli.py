"""``python -m crimeviz areas …``: import, fields, list, counts, remove; roles, audit and one-line errors."""

import json

import pytest

from crimeviz.access import auth
from crimeviz.cli.main import main
from crimeviz.store import areas, audit, db
from tests.conftest import incident_rows
from tests.test_areas import EVERYTHING, POINTS, layer_frame, point_store, sjoin_counts, write
from tests.test_bad_input import stored

PASSWORD = "areas cli test password"


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A store of the fixture points with an admin (root) and an analyst (anna)."""
    path = tmp_path / "store.duckdb"
    con = point_store(db.connect(path))
    auth.add_user(con, "root", PASSWORD, "admin")
    auth.add_user(con, "anna", PASSWORD, "analyst")
    con.close()
    monkeypatch.setenv("CRIMEVIZ_PASSWORD", PASSWORD)
    monkeypatch.delenv("CRIMEVIZ_USER", raising=False)
    return str(path)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["areas", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_import_counts_list_and_remove(capsys, store, tmp_path):
    frame = layer_frame()
    path = write(frame, tmp_path, "zip")
    code, out, err = run(
        capsys, "import", path, "--layer", "wards", "--name-field", "ward", "--user", "root", "--db", store
    )
    assert code == 0 and not err
    result = json.loads(out)
    assert (result["areas"], result["incidents"], result["outside"]) == (2, len(POINTS), 2)

    code, out, _ = run(capsys, "list", "--db", store)
    [layer] = json.loads(out)
    assert (layer["layer"], layer["areas"], layer["derived"], layer["source"]) == ("wards", 2, False, "wards.zip")

    target = tmp_path / "out" / "counts.json"
    code, out, _ = run(
        capsys,
        "counts",
        "wards",
        "--start",
        "2021-03-01",
        "--end",
        "2021-03-01",
        "--json",
        target,
        "--user",
        "anna",
        "--db",
        store,
    )
    written = json.loads(target.read_text())
    assert code == 0 and set(written) >= {"areas", "outside"}
    assert {a["name"]: a["incidents"] for a in written["areas"]} == sjoin_counts(POINTS, frame)[0]
    assert written["outside"] == sjoin_counts(POINTS, frame)[1] == 2
    assert {a["name"]: a["area_km2"] for a in written["areas"]} == {"Alpha": 2.6891, "Beta": 3.5854}

    code, out, _ = run(capsys, "remove", "wards", "--user", "root", "--db", store)
    assert code == 0 and json.loads(out) == {"removed": "wards", "areas": 2}
    actions = stored(store, "SELECT username, action, object_id FROM audit_log WHERE starts_with(action, 'areas')")
    assert actions == [
        ("root", "areas.import", "wards"),
        ("anna", "areas.export", "wards"),
        ("root", "areas.remove", "wards"),
    ]


def test_fields_lists_what_can_name_the_areas(capsys, tmp_path):
    path = write(layer_frame(code=["A1", "B2"]), tmp_path, "gpkg")
    code, out, _ = run(capsys, "fields", path)
    assert code == 0 and json.loads(out) == {
        "layers": ["wards"],
        "fields": ["ward", "code"],
        "features": 2,
        "crs": "EPSG:4326",
    }


def test_an_analyst_may_not_import_or_remove(capsys, store, tmp_path):
    path = write(layer_frame(), tmp_path)
    code, _, err = run(
        capsys, "import", path, "--layer", "wards", "--name-field", "ward", "--user", "anna", "--db", store
    )
    assert code == 2 and err == "error: the analyst role may not use data\n"
    code, _, err = run(capsys, "remove", "wards", "--user", "anna", "--db", store)
    assert code == 2 and err == "error: the analyst role may not use data\n"
    assert stored(store, "SELECT count(*) FROM audit_log WHERE starts_with(action, 'areas')") == [(0,)]


def test_a_points_file_is_refused_in_one_line_and_nothing_is_stored(capsys, store, tmp_path):
    from shapely.geometry import Point

    path = write(layer_frame(geometries=(Point(-79.39, 43.65), Point(-79.37, 43.65))), tmp_path)
    code, out, err = run(
        capsys, "import", path, "--layer", "wards", "--name-field", "ward", "--user", "root", "--db", store
    )
    assert code == 2 and not out and err.count("\n") == 1
    assert err.startswith("error: 2 feature(s) are not polygons")
    con = db.connect(store)
    assert areas.layer_names(con) == [] and audit.entries(con, action="areas").empty
    con.close()


def test_counts_of_an_unknown_layer_is_one_line(capsys, store, tmp_path):
    code, _, err = run(capsys, "counts", "beats", "--json", tmp_path / "c.json", "--user", "anna", "--db", store)
    assert (code, err) == (2, "error: no area layer 'beats'; layers: (none)\n")
    assert not (tmp_path / "c.json").exists()


def test_db_build_adds_the_derived_layer_to_a_store_without_layers(capsys, tmp_path):
    path = tmp_path / "older.duckdb"
    con = db.connect(path)
    rows = incident_rows([("2021-03-01 08:00", "Assault", 43.6532, -79.3832, None, "Annex")] * 2)
    db.insert_incidents(con, db.with_cells(rows, "hand"))
    con.close()
    assert main(["db", "build", "--db", str(path)]) == 0
    con = db.connect(path)
    assert areas.layer_names(con) == [areas.DEFAULT_LAYER]
    assert areas.counts(con, areas.DEFAULT_LAYER, EVERYTHING)[0]["incidents"].tolist() == [2]
    con.close()
