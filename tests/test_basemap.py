"""The unit's own basemap: MBTiles and PMTiles imports (TMS rows flipped), bad archives refused with
nothing stored, the internet tile URL with its notice, and the maps and the Leaflet export using them."""

import io
import json
import shutil
import sqlite3
import uuid

import h3
import pytest
from PIL import Image

from crimeviz import config
from crimeviz.access import auth
from crimeviz.cli.main import main
from crimeviz.explore import leaflet, maps
from crimeviz.store import audit, basemap

TORONTO = (43.58, 43.85, -79.64, -79.12)  # lat_min, lat_max, lon_min, lon_max
ZOOMS = (9, 10, 11)
PASSWORD = "basemap test password"


def colour(z: int, x: int, y: int) -> tuple[int, int, int]:
    """A colour that names its XYZ tile, so a flipped row shows."""
    return (z * 20 % 256, x % 256, y % 256)


def png(rgb, size: int = 256) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), rgb).save(out, "PNG")
    return out.getvalue()


def xyz_tiles(zooms=ZOOMS, bounds=TORONTO):
    lat_min, lat_max, lon_min, lon_max = bounds
    for z in zooms:
        (x0, y0), (x1, y1) = basemap.tile_of(lat_max, lon_min, z), basemap.tile_of(lat_min, lon_max, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                yield z, x, y


def make_mbtiles(path, fmt="png", tiles=None, data=None):
    """A raster MBTiles file of one colour per tile (``tile_row`` counted from the south, as the spec says)."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    con.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
    lat_min, lat_max, lon_min, lon_max = TORONTO
    meta = {
        "name": "test",
        "format": fmt,
        "minzoom": "9",
        "maxzoom": "11",
        "attribution": "Test tiles <b>",
        "bounds": f"{lon_min},{lat_min},{lon_max},{lat_max}",
    }
    con.executemany("INSERT INTO metadata VALUES (?, ?)", meta.items())
    for z, x, y in tiles if tiles is not None else xyz_tiles():
        blob = data if data is not None else png(colour(z, x, y))
        con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", [z, x, 2**z - 1 - y, blob])
    con.commit()
    con.close()
    return path


@pytest.fixture
def served(monkeypatch):
    """Tiles written under the app's static/ folder (so they have a URL), removed afterwards."""
    folder = config.ROOT / "static" / "basemap" / f"test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("CRIMEVIZ_BASEMAP_DIR", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def pixel(path) -> tuple[int, int, int]:
    return Image.open(path).convert("RGB").getpixel((5, 5))


def test_an_mbtiles_import_writes_xyz_tiles_and_switches_them_on(empty_store, served, tmp_path):
    result = basemap.import_tiles(empty_store, make_mbtiles(tmp_path / "city.mbtiles"), "root")
    expected = list(xyz_tiles())
    assert result["tiles"] == len(expected) and (result["minzoom"], result["maxzoom"]) == (9, 11)
    assert result["served"]
    folder = served / result["tileset"]
    for z, x, y in expected[:: max(1, len(expected) // 7)]:
        assert pixel(folder / str(z) / str(x) / f"{y}.png") == colour(z, x, y)  # rows flipped from TMS
    source = basemap.active(empty_store)
    assert source.kind == "local" and source.notice is None
    assert source.style_url == f"app/static/basemap/{served.name}/{result['tileset']}/style.json"
    style = json.loads((folder / "style.json").read_text())
    assert style["sources"]["basemap"]["tiles"] == [
        f"app/static/basemap/{served.name}/{result['tileset']}/{{z}}/{{x}}/{{y}}.png"
    ]
    assert audit.entries(empty_store, action="basemap.")["action"].tolist() == ["basemap.import"]
    # the same file again replaces the set instead of adding one
    basemap.import_tiles(empty_store, tmp_path / "city.mbtiles", "root")
    assert len(basemap.tilesets(empty_store)) == 1


def test_a_pmtiles_archive_gives_the_same_tiles(empty_store, served, tmp_path):
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    path = tmp_path / "city.pmtiles"
    tiles = sorted(xyz_tiles(), key=lambda t: zxy_to_tileid(*t))
    with open(path, "wb") as handle:
        writer = Writer(handle)
        for z, x, y in tiles:
            writer.write_tile(zxy_to_tileid(z, x, y), png(colour(z, x, y)))
        lat_min, lat_max, lon_min, lon_max = TORONTO
        header = {
            "tile_type": TileType.PNG,
            "tile_compression": Compression.NONE,
            "min_zoom": 9,
            "max_zoom": 11,
            "min_lon_e7": int(lon_min * 1e7),
            "min_lat_e7": int(lat_min * 1e7),
            "max_lon_e7": int(lon_max * 1e7),
            "max_lat_e7": int(lat_max * 1e7),
            "center_zoom": 10,
            "center_lon_e7": int(-79.38 * 1e7),
            "center_lat_e7": int(43.7 * 1e7),
        }
        writer.finalize(header, {"attribution": "PM test"})
    result = basemap.import_tiles(empty_store, path, "root")
    assert result["tiles"] == len(tiles)
    z, x, y = tiles[len(tiles) // 2]
    assert pixel(served / result["tileset"] / str(z) / str(x) / f"{y}.png") == colour(z, x, y)
    assert basemap.active(empty_store).attribution == "PM test"


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda p: p.write_bytes(b"not a database at all"), "not an MBTiles file"),
        (lambda p: make_mbtiles(p, fmt="pbf"), "not a raster format"),
        (lambda p: make_mbtiles(p, data=b"\xff\xd8\xff not png"), "is not a PNG image"),
        (lambda p: make_mbtiles(p, tiles=[]), "holds no tiles"),
        (lambda p: make_mbtiles(p, tiles=[(3, 9, 0)]), "does not exist at zoom 3"),
    ],
)
def test_a_bad_archive_is_refused_with_one_line_and_nothing_stored(empty_store, served, tmp_path, build, message):
    path = tmp_path / "bad.mbtiles"
    build(path)
    with pytest.raises(basemap.BasemapRejected, match=message):
        basemap.import_tiles(empty_store, path, "root")
    assert basemap.tilesets(empty_store) == [] and basemap.active(empty_store) is None
    assert not served.exists() or not any(served.iterdir())
    assert audit.entries(empty_store, action="basemap.").empty


def test_tiles_beyond_the_room_the_app_serves_are_refused(empty_store, served, tmp_path, monkeypatch):
    first = basemap.import_tiles(empty_store, make_mbtiles(tmp_path / "city.mbtiles"), "root")
    monkeypatch.setattr(basemap, "MAX_BYTES", first["bytes"] + 100)  # room for one such set
    again = basemap.import_tiles(empty_store, tmp_path / "city.mbtiles", "root")  # replaces itself: fits
    assert again["tileset"] == first["tileset"]
    other = make_mbtiles(tmp_path / "other.mbtiles", tiles=list(xyz_tiles((9, 10))))
    with pytest.raises(basemap.BasemapRejected, match="room left"):
        basemap.import_tiles(empty_store, other, "root")
    assert len(basemap.tilesets(empty_store)) == 1


def test_an_internet_tile_url_needs_https_and_placeholders_and_comes_with_a_notice(empty_store, served):
    for bad in ("http://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org/tile.png", "javascript:1"):
        with pytest.raises(basemap.BasemapRejected, match="not an https tile URL"):
            basemap.enable_url(empty_store, bad, "root")
    assert basemap.active(empty_store) is None  # off by default
    basemap.enable_url(empty_store, "https://tiles.example.org/{z}/{x}/{y}.png", "root", "Example")
    source = basemap.active(empty_store)
    assert source.kind == "url" and "tiles.example.org" in source.notice
    assert json.loads((served.parent / served.name).joinpath(source.style_url.split("/")[-2], "style.json").read_text())
    basemap.turn_off(empty_store, "root")
    assert basemap.active(empty_store) is None
    assert audit.entries(empty_store, action="basemap.")["action"].tolist() == ["basemap.off", "basemap.url"]


def test_maps_draw_the_stored_style_and_the_leaflet_file_embeds_its_tiles(empty_store, served, tmp_path):
    basemap.import_tiles(empty_store, make_mbtiles(tmp_path / "city.mbtiles"), "root")
    source = basemap.active(empty_store)
    spec = json.loads(maps.deck([], maps.view_for(TORONTO), source).to_json())
    assert spec["mapStyle"] == source.style_url and "http" not in spec["mapStyle"]
    offline = json.loads(maps.deck([], maps.view_for(TORONTO), "none").to_json())
    assert "static" not in json.dumps(offline) and "http" not in json.dumps(offline)

    import pandas as pd

    counts = pd.DataFrame({"cell": [h3.latlng_to_cell(43.7, -79.4, 8)], "n": [3]})
    page = leaflet.folium_map(counts, TORONTO, source).get_root().render()
    assert page.count("data:image/png;base64,") >= len([t for t in xyz_tiles() if t[0] == 9])
    assert "tile.openstreetmap" not in page and "Test tiles &lt;b&gt;" in page
    small, top = basemap.embedded_tiles(source, TORONTO, max_bytes=1)
    assert top == 9 and all(k.startswith("9/") for k in small)  # the lowest zoom at least


def test_cli_import_status_and_roles(tmp_path, served, monkeypatch, capsys):
    from crimeviz.store import db

    path = tmp_path / "store.duckdb"
    con = db.connect(path)
    auth.add_user(con, "root", PASSWORD, "admin")
    auth.add_user(con, "anna", PASSWORD, "analyst")
    con.close()
    monkeypatch.setenv("CRIMEVIZ_PASSWORD", PASSWORD)
    tiles = make_mbtiles(tmp_path / "city.mbtiles")
    assert main(["basemap", "import", str(tiles), "--user", "anna", "--db", str(path)]) == 2
    assert capsys.readouterr().err.startswith("error:")
    assert main(["basemap", "import", str(tiles), "--user", "root", "--db", str(path)]) == 0
    imported = json.loads(capsys.readouterr().out)
    assert main(["basemap", "status", "--db", str(path)]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["mode"], status["tileset"], status["served"]) == ("local", imported["tileset"], True)
    assert main(["basemap", "url", "http://x.org/{z}/{x}/{y}.png", "--user", "root", "--db", str(path)]) == 2
    assert "not an https tile URL" in capsys.readouterr().err
    tileset = imported["tileset"]
    assert main(["basemap", "remove", tileset, "--user", "root", "--db", str(path)]) == 2
    assert "is on" in capsys.readouterr().err and (served / tileset).exists()
    assert main(["basemap", "off", "--user", "root", "--db", str(path)]) == 0
    assert main(["basemap", "remove", tileset, "--user", "root", "--db", str(path)]) == 0
    capsys.readouterr()
    assert not (served / tileset).exists()
    assert main(["basemap", "list", "--db", str(path)]) == 0 and json.loads(capsys.readouterr().out) == []
