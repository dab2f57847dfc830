"""The Basemap page: off by default, an internet tile URL only after the administrator agrees (then every
map shows the notice), the unit's tile sets listed and used; administrators only."""

import shutil

import pytest

from crimeviz.store import audit, basemap, db
from tests.test_basemap import make_mbtiles, served  # noqa: F401 (fixture)
from tests.test_pages import deck_specs, page


@pytest.fixture
def store(toronto_db, tmp_path, monkeypatch):
    path = tmp_path / "basemap.duckdb"
    shutil.copy(toronto_db, path)
    monkeypatch.setenv("CRIMEVIZ_DB", str(path))
    return path


def test_an_internet_url_needs_the_admins_agreement_and_then_maps_show_the_notice(store, served):  # noqa: F811
    at = page("basemap", "admin").run()
    assert not at.exception and any("No basemap tiles" in i.value for i in at.info)
    at.text_input(key="basemap_url").input("https://tiles.example.org/{z}/{x}/{y}.png")
    at.run()
    assert at.button(key="basemap_enable").disabled  # not before agreeing
    at.checkbox(key="basemap_agree").check().run()
    at.button(key="basemap_enable").click().run()
    assert not at.exception
    con = db.connect(store)
    assert basemap.setting(con)["mode"] == "url"
    assert audit.entries(con, action="basemap.url")["username"].tolist() == ["test-admin"]
    con.close()
    hotspots = page("hotspots", "analyst").run()
    assert any("tiles.example.org" in c.value for c in hotspots.caption)
    assert all(spec["mapStyle"].startswith("app/static/basemap/") for spec in deck_specs(hotspots))


def test_an_imported_tile_set_is_listed_and_drawn_and_others_may_not_open_the_page(store, served, tmp_path):  # noqa: F811
    con = db.connect(store)
    result = basemap.import_tiles(con, make_mbtiles(tmp_path / "city.mbtiles"), "root")
    con.close()
    at = page("basemap", "admin").run()
    assert not at.exception
    assert at.selectbox(key="basemap_pick").value == result["tileset"]
    [spec] = deck_specs(at)
    assert spec["mapStyle"].endswith(f"{result['tileset']}/style.json")
    for role in ("commander", "analyst"):
        denied = page("basemap", role).run()
        assert (denied.exception or denied.error) and not deck_specs(denied)
