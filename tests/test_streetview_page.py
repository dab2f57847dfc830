"""The Street view page (AppTest): no-weights notice, adding a model, scoring an upload; its map picker."""

import tomllib
from pathlib import Path
from types import SimpleNamespace

import h3
import pytest
from h3.api import basic_int as h3int
from streamlit.testing.v1 import AppTest

from crimeviz.access import auth
from crimeviz.store import db
from crimeviz.streetview import checkpoints, figures, training
from tests.conftest import incident_rows
from tests.test_streetview_scoring import RECORD, small_lite
from tests.test_streetview_sequences import sequence_files, zip_bytes  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app_pages" / "streetview.py")


@pytest.fixture
def page_env(tmp_path, monkeypatch) -> Path:
    """A store with a few Toronto incidents and an empty weights folder, both in ``tmp_path``."""
    path = tmp_path / "app.duckdb"
    con = db.connect(path)
    db.insert_incidents(
        con,
        db.with_cells(
            incident_rows(
                [("2021-05-01 12:00", "Assault", 43.65, -79.38), ("2021-05-02 12:00", "Robbery", 43.70, -79.40)]
            ),
            "hand",
        ),
    )
    con.close()
    monkeypatch.setenv("CRIMEVIZ_DB", str(path))
    monkeypatch.setenv("CRIMEVIZ_STREETVIEW_WEIGHTS", str(tmp_path / "weights"))
    return tmp_path


def open_page(role: str = "analyst") -> AppTest:
    """The page as signed in with ``role``."""
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["user"] = auth.User(f"test-{role}", f"Test {role}", role)
    at.run()
    assert not at.exception
    return at


def audit_actions(page_env: Path) -> list[tuple]:
    con = db.connect(page_env / "app.duckdb")
    try:
        return con.execute(
            "SELECT username, action FROM audit_log WHERE starts_with(action, 'streetview') ORDER BY entry_id"
        ).fetchall()
    finally:
        con.close()


def saved_rows(at: AppTest) -> int:
    return len(at.dataframe[0].value)


def test_without_weights_the_page_says_so_and_how_to_add_them_without_server_paths(page_env):
    at = open_page("admin")
    notice = at.warning[0].value
    assert "No trained DevianceNet model is installed" in notice
    assert "streetview install W.pth --user NAME" in notice and "--weights W.pth" in notice and "train" in notice
    assert [u.label for u in at.file_uploader] == ["Checkpoint (.pth)", "Labelled sequences (zip)"]
    assert not at.metric
    for role in ("admin", "analyst"):
        shown = " ".join(e.value for e in open_page(role).main if isinstance(getattr(e, "value", None), str))
        assert str(page_env) not in shown and "data/models" not in shown


def test_analysts_and_commanders_cannot_install_or_train_models_for_everyone(page_env, tmp_path):
    for role in ("analyst", "commander"):
        at = open_page(role)
        assert "ask one to install" in at.warning[0].value
        assert not at.file_uploader and not at.get("expander") and not at.get("tab")
    checkpoints.save_lite(small_lite(), tmp_path / "lite.pth", RECORD)
    con = db.connect(page_env / "app.duckdb")
    analyst = auth.User("ana", "Ana", "analyst")
    with pytest.raises(auth.AccessDenied, match="analyst role may not use models"):
        checkpoints.install(con, analyst, "lite.pth", (tmp_path / "lite.pth").read_bytes())
    with pytest.raises(auth.AccessDenied, match="analyst role may not use models"):
        training.train_archive(con, b"", "walks.zip", analyst, "names")
    con.close()
    assert checkpoints.installed() == [] and audit_actions(page_env) == []


def test_upload_limits_agree_with_the_server_setting_and_the_readme(page_env):
    limit = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    assert f"Uploads are limited to {limit} MB" in (ROOT / "README.md").read_text()
    checkpoints.save_lite(small_lite(), page_env / "weights" / "lite.pth", RECORD)
    at = open_page("admin")
    assert [u.key for u in at.file_uploader] == ["sv_pth", "sv_train_zip", "sv_upload"]
    for uploader in at.file_uploader:
        assert uploader.proto.max_upload_size_mb == limit
        assert uploader.help.startswith(f"Up to {limit} MB")


def test_roles_without_street_view_are_turned_away(page_env):
    at = open_page("reviewer")
    assert at.error[0].value == "Access denied: the reviewer role may not use streetview."
    assert not at.file_uploader


def test_an_uploaded_checkpoint_is_checked_then_installed(page_env, tmp_path):
    at = open_page("admin")
    at.file_uploader(key="sv_pth").set_value(("junk.pth", b"junk", "application/octet-stream")).run()
    at.button(key="sv_install").click().run()
    assert "Not installed: junk.pth: not a PyTorch checkpoint" in at.error[0].value
    checkpoints.save_lite(small_lite(), tmp_path / "lite.pth", RECORD)
    at.file_uploader(key="sv_pth").set_value(
        ("lite.pth", (tmp_path / "lite.pth").read_bytes(), "application/octet-stream")
    ).run()
    at.button(key="sv_install").click().run()
    assert not at.error and "Installed DevianceNet-Lite" in at.success[0].value
    assert at.selectbox(key="sv_weights").value == page_env / "weights" / "lite.pth"
    assert not at.warning
    assert audit_actions(page_env) == [("test-admin", "streetview.install")]


@pytest.fixture
def installed(page_env) -> Path:
    path = page_env / "weights" / "lite.pth"
    checkpoints.save_lite(small_lite(), path, RECORD)
    return path


def test_an_uploaded_zip_is_scored_shown_and_saved(installed):
    at = open_page()
    assert "DevianceNet-Lite · lite.pth" in at.caption[0].value
    frames = {f"walk/frame{i:06d}.jpg": data for i, (_, data) in enumerate(sequence_files())}
    at.file_uploader(key="sv_upload").set_value(("walk.zip", zip_bytes(frames), "application/zip"))
    at.number_input(key="sv_lat").set_value(43.66)
    at.number_input(key="sv_lon").set_value(-79.39)
    at.run()
    at.button(key="sv_score").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == "Scored walk.zip at 43.66000, -79.39000 and saved the score."
    assert [m.label for m in at.metric] == ["Most likely class (SEA)", "Expected class", "P(deviance) (DIA)"]
    assert len(at.image[0].proto.imgs) == 16
    table = at.dataframe[0].value
    assert table[["sequence", "model"]].values.tolist() == [["walk.zip", "DevianceNet-Lite"]]
    assert table["checkpoint_sha256"][0] == checkpoints.file_sha256(installed)
    assert audit_actions(installed.parents[1]) == [("test-analyst", "streetview.score")]


def test_bad_uploads_are_explained_and_store_nothing(installed):
    at = open_page()
    at.file_uploader(key="sv_upload").set_value([(n, d, "image/jpeg") for n, d in sequence_files(15)])
    at.number_input(key="sv_lat").set_value(43.66)
    at.number_input(key="sv_lon").set_value(-79.39)
    at.run()
    at.button(key="sv_score").click().run()
    assert at.error[0].value == "Nothing was stored: 15 frame(s) given; DevianceNet needs a sequence of 16"
    at.file_uploader(key="sv_upload").set_value([(n, d, "image/jpeg") for n, d in sequence_files(16)])
    at.radio(key="sv_where").set_value("From the frames' EXIF GPS").run()
    at.button(key="sv_score").click().run()
    assert "no EXIF GPS position" in at.error[0].value
    at.radio(key="sv_where").set_value("Clicked on the map").run()
    assert any(c.value.startswith("Click the map to set the location") for c in at.caption)
    at.button(key="sv_score").click().run()
    assert "Nothing was stored: no location given" in at.error[0].value
    assert saved_rows(at) == 0 and not at.metric


def test_the_light_model_is_trained_on_an_uploaded_zip_and_offered(page_env):
    files = {
        f"Toronto_train_SEA/v_class{c}_g43.65,-79.38_c{i}/frame{f:06d}.jpg": data
        for i, c in enumerate((1, 5, 1, 5))
        for f, (_, data) in enumerate(sequence_files(colour=(c * 40,) * 3))
    }
    at = open_page("admin")
    at.file_uploader(key="sv_train_zip").set_value(("walks.zip", zip_bytes(files), "application/zip")).run()
    at.slider(key="sv_train_epochs").set_value(5)
    at.button(key="sv_train").click().run()
    assert not at.error
    assert "trained on 4 sequences from walks.zip (classes in the folder names)" in at.success[0].value
    assert at.selectbox(key="sv_weights").value.name.startswith("lite-walks-")
    assert audit_actions(page_env) == [("test-admin", "streetview.train")]


def test_the_map_picker_covers_the_area_with_clickable_cells_and_returns_a_centre():
    home = h3int.latlng_to_cell(43.65, -79.38, 7)
    deck = figures.location_picker([home], (43.6, 43.7, -79.45, -79.3))
    picker = next(layer for layer in deck.layers if layer.id == figures.PICKER_LAYER)
    assert len(picker.data) == 49
    clicked = picker.data[10]["cell"]
    event = SimpleNamespace(selection=SimpleNamespace(objects={figures.PICKER_LAYER: [{"cell": clicked}]}))
    assert figures.picked_location(event) == h3.cell_to_latlng(clicked)
    assert figures.picked_location(SimpleNamespace(selection=SimpleNamespace(objects={}))) is None
