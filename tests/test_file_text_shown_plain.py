"""Text from an uploaded file (column names, a CRS's name) is shown on the pages as text: Markdown in it
is escaped, never rendered (an image in it would make the browser fetch an outside address)."""

import pytest
from pyproj import CRS
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from crimeviz.store import db
from tests.conftest import ROOT
from tests.test_areas import layer_frame, write

TRICK = "![x](http://example.invalid/x.png)"
ESCAPED = "\\!\\[x\\](http://example.invalid/x.png)"
CUSTOM_CRS = CRS.from_proj4("+proj=tmerc +lat_0=0 +lon_0=-79.1234 +k=0.9999 +x_0=304800 +y_0=0 +datum=WGS84")


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "plain.duckdb"
    db.connect(path).close()
    monkeypatch.setenv("CRIMEVIZ_DB", str(path))
    monkeypatch.setenv("CRIMEVIZ_UPLOADS", str(tmp_path / "uploads"))
    return path


def admin_page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / name), default_timeout=120)
    at.session_state["user"] = auth.User("root", "root", "admin")
    return at.run()


def test_a_column_name_in_an_import_error_is_shown_not_rendered(store):
    at = admin_page("data.py")
    header = f"Date,Type,{TRICK},{TRICK}\n2021-01-01 10:00,Theft,43.7,-79.4\n"
    at.file_uploader(key="upload").set_value(("trick.csv", header.encode(), "text/csv")).run()
    assert not at.exception
    assert ESCAPED in at.error[0].value and TRICK not in at.error[0].value


def test_the_preview_names_the_crs_escaped(store, tmp_path):
    crs = CRS.from_wkt(CUSTOM_CRS.to_wkt().replace('"unknown"', f'"{TRICK}"', 1))
    assert crs.to_epsg() is None and crs.name == TRICK
    frame = layer_frame().to_crs(crs)
    at = admin_page("areas.py")
    at.file_uploader(key="areas_upload").set_value(
        ("custom.gpkg", write(frame, tmp_path, "gpkg").read_bytes(), "application/octet-stream")
    )
    at.run()
    assert not at.exception
    (preview,) = [m.value for m in at.markdown if m.value.startswith("**Preview**")]
    assert preview.endswith(f"features, CRS {ESCAPED}")


def test_the_preview_names_an_epsg_crs_by_its_code(store, tmp_path):
    at = admin_page("areas.py")
    path = write(layer_frame().to_crs("EPSG:2952"), tmp_path, "gpkg")
    at.file_uploader(key="areas_upload").set_value((path.name, path.read_bytes(), "application/octet-stream"))
    at.run()
    assert any(m.value.endswith("features, CRS EPSG:2952") for m in at.markdown)
