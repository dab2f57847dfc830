"""End to end: the maps draw the unit's own basemap tiles, served by the app, and no request leaves
localhost."""

import shutil
import sqlite3
import uuid
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from crimeviz import config
from crimeviz.access import auth
from crimeviz.store import basemap, db
from crimeviz.web import serve
from tests.e2e_helpers import E2E_PASSWORD, sign_in, wait_for_pixels
from tests.test_basemap import TORONTO, png, xyz_tiles

pytestmark = pytest.mark.e2e
LOCAL = {"127.0.0.1", "localhost"}
MAGENTA = (255, 0, 255)


def magenta_pixels(path) -> int:
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return int(((rgb[..., 0] > 235) & (rgb[..., 1] < 25) & (rgb[..., 2] > 235)).sum())


@pytest.fixture(scope="module")
def tiled_app(toronto_db, tmp_path_factory):
    """The app on a store whose basemap is a set of plain magenta tiles."""
    work = tmp_path_factory.mktemp("basemap-e2e")
    folder = config.ROOT / "static" / "basemap" / f"e2e-{uuid.uuid4().hex[:8]}"
    store, secrets = work / "store.duckdb", work / "secrets.toml"
    shutil.copy(toronto_db, store)
    tiles = work / "magenta.mbtiles"
    lite = sqlite3.connect(tiles)
    lite.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    lite.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
    lite.executemany("INSERT INTO metadata VALUES (?, ?)", [("format", "png"), ("attribution", "Test tiles")])
    blob = png(MAGENTA)
    for z, x, y in xyz_tiles((9, 10, 11, 12), TORONTO):
        lite.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", [z, x, 2**z - 1 - y, blob])
    lite.commit()
    lite.close()
    con = db.connect(store)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRIMEVIZ_SECRETS", str(secrets))
        mp.setenv("CRIMEVIZ_BASEMAP_DIR", str(folder))
        auth.add_user(con, "e2e-admin", E2E_PASSWORD, "admin")
        basemap.import_tiles(con, tiles, "e2e-admin")
    con.close()
    env = {"CRIMEVIZ_SECRETS": str(secrets), "CRIMEVIZ_BASEMAP_DIR": str(folder)}
    proc, url = serve.start(store, work / "streamlit.log", env=env)
    try:
        yield url
    finally:
        serve.stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


def test_the_map_draws_the_units_tiles_and_nothing_leaves_localhost(tiled_app, browser_page):
    requests = []
    browser_page.on("request", lambda r: requests.append(r.url))
    sign_in(browser_page, tiled_app, "admin")  # the Map: an administrator's first page
    chart = browser_page.locator('[data-testid="stDeckGlJsonChart"]').first
    chart.wait_for(timeout=60_000)
    shot = wait_for_pixels(chart, "basemap-map", magenta_pixels, at_least=20_000)
    assert magenta_pixels(shot) >= 20_000  # tiles drawn around and between the city's hexagons
    tiles = [u for u in requests if "/app/static/basemap/" in u and u.endswith(".png")]
    assert tiles, "no tile was requested"
    outside = [
        u
        for u in requests
        if urlparse(u).scheme in ("http", "https", "ws", "wss") and urlparse(u).hostname not in LOCAL
    ]
    assert not outside, outside
