"""The Areas page through streamlit.testing: counts per area for the filter, the derived default layer,
and an administrator's import (report), refusal and removal."""

import pytest
from shapely.geometry import Point, Polygon
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from crimeviz.store import areas, audit, db
from tests.conftest import ROOT
from tests.test_areas import layer_frame, point_store, write


def areas_page(role: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / "areas.py"), default_timeout=120)
    at.session_state["user"] = auth.User(f"test-{role}", f"Test {role}", role)
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.fixture
def store(tmp_path, monkeypatch):
    """The fixture points in a store of their own, opened by the page."""
    path = tmp_path / "areas.duckdb"
    point_store(db.connect(path)).close()
    monkeypatch.setenv("CRIMEVIZ_DB", str(path))
    monkeypatch.setenv("CRIMEVIZ_UPLOADS", str(tmp_path / "uploads"))
    return path


def upload(at: AppTest, path) -> AppTest:
    return at.file_uploader(key="areas_upload").set_value((path.name, path.read_bytes(), "application/octet-stream"))


def test_the_derived_toronto_layer_is_counted_and_said_to_be_derived(app_db):
    at = areas_page("analyst").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="areas_layer").value == areas.DEFAULT_LAYER
    assert any("Derived from the incidents, not official boundaries" in c.value for c in at.caption)
    counts = at.dataframe[0].value
    assert len(counts) > 100 and list(counts.columns) == ["name", "incidents", "area_km2", "per_km2"]
    assert int(metric(at, "Incidents in areas").replace(",", "")) == counts["incidents"].sum() > 0
    assert not at.file_uploader  # the import is for administrators only


def test_an_admin_imports_a_layer_sees_the_report_and_the_counts(store, tmp_path):
    at = areas_page("admin").run()
    assert "No area layers yet. Import one below." in at.info[0].value
    bowtie = Polygon([(-79.40, 43.70), (-79.38, 43.72), (-79.38, 43.70), (-79.40, 43.72)])
    frame = layer_frame(
        names=("Alpha", "Beta", "Bow"), geometries=(*layer_frame().geometry, bowtie), code=["a", "b", "c"]
    )
    upload(at, write(frame, tmp_path, "gpkg")).run()
    assert at.selectbox(key="areas_name_field").options == ["ward", "code"]
    at.text_input(key="areas_layer_name").set_value("wards")
    at.button(key="FormSubmitter:areas_import-Import").click().run()
    assert not at.exception and not at.error
    assert "Imported 3 areas as 'wards': 9 incidents joined, 2 outside every area." in at.success[0].value
    assert "1 invalid polygon(s) were repaired" in at.warning[0].value
    counts = at.dataframe[0].value
    assert dict(zip(counts["name"], counts["incidents"])) == {"Alpha": 4, "Beta": 3, "Bow": 0}
    assert metric(at, "Outside every area") == "2"
    assert audit.entries(db.connect(store), action="areas.import")["object_id"].tolist() == ["wards"]


def test_a_points_file_is_refused_and_nothing_is_stored(store, tmp_path):
    at = areas_page("admin").run()
    path = write(layer_frame(geometries=(Point(-79.39, 43.65), Point(-79.37, 43.65))), tmp_path)
    upload(at, path).run()
    at.button(key="FormSubmitter:areas_import-Import").click().run()
    assert not at.exception
    assert at.error[0].value.startswith("Nothing was imported: 2 feature(s) are not polygons")
    con = db.connect(store)
    assert areas.layer_names(con) == []
    con.close()


def test_an_admin_removes_a_layer(store, tmp_path):
    con = db.connect(store)
    areas.import_layer(con, write(layer_frame(), tmp_path), "wards", "ward", "root")
    con.close()
    at = areas_page("admin").run()
    at.button(key="areas_remove").click().run()
    assert not at.exception and "Removed the layer 'wards'." in at.success[0].value
    assert "No area layers yet" in at.info[0].value


def test_an_analyst_sees_counts_but_no_management(store, tmp_path):
    con = db.connect(store)
    areas.import_layer(con, write(layer_frame(), tmp_path), "wards", "ward", "root")
    con.close()
    at = areas_page("analyst").run()
    assert not at.exception and not at.button and not at.file_uploader
    assert dict(zip(at.dataframe[0].value["name"], at.dataframe[0].value["incidents"])) == {"Alpha": 4, "Beta": 3}


def test_a_reviewer_may_not_open_the_page(app_db):
    at = areas_page("reviewer").run()
    assert not at.dataframe and "may not use incidents" in at.error[0].value


def test_a_layer_that_holds_no_incident_is_questioned(store, tmp_path):
    at = areas_page("admin").run()
    far = layer_frame(names=("Far",), geometries=(Polygon([(0, 0), (1, 0), (1, 1)]),))
    upload(at, write(far, tmp_path)).run()
    at.button(key="FormSubmitter:areas_import-Import").click().run()
    assert "9 incidents joined, 9 outside every area" in at.success[0].value
    assert at.warning[0].value.startswith("No incident lies in any area of this layer")


def test_a_second_layer_is_shown_once_imported(store, tmp_path):
    con = db.connect(store)
    areas.import_layer(con, write(layer_frame(), tmp_path), "wards", "ward", "root")
    con.close()
    at = areas_page("admin").run()
    whole = layer_frame(names=("Whole",), geometries=(Polygon([(-79.5, 43.6), (-79.2, 43.6), (-79.2, 43.8)]),))
    upload(at, write(whole, tmp_path, name="beats")).run()
    at.text_input(key="areas_layer_name").set_value("beats")
    at.button(key="FormSubmitter:areas_import-Import").click().run()
    assert not at.exception and at.selectbox(key="areas_layer").value == "beats"
    assert at.selectbox(key="areas_layer").options == ["beats", "wards"]


def test_names_from_a_file_are_shown_not_rendered(store, tmp_path):
    at = areas_page("admin").run()
    trick = "**Ward** ![x](http://example.invalid/x.png) :red[alarm]"
    upload(at, write(layer_frame(names=(trick, trick)), tmp_path)).run()
    at.button(key="FormSubmitter:areas_import-Import").click().run()
    shown = at.error[0].value
    assert "\\*\\*Ward\\*\\* \\!\\[x\\](http://example.invalid/x.png) :red\\[alarm\\]" in shown
