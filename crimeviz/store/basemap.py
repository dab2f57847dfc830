"""A basemap the unit controls: raster tiles imported from MBTiles or PMTiles and served by the app.

Tiles from the internet are off by default (``config.basemap()``): a viewport sent to a tile server
reveals what analysts look at. For isolated networks an administrator imports a raster tile archive:

* MBTiles 1.3 (https://github.com/mapbox/mbtiles-spec/blob/master/1.3/spec.md): an SQLite file with a
  ``metadata`` table (``format``, ``minzoom``, ``maxzoom``, ``bounds``, ``attribution``) and a ``tiles``
  table whose ``tile_row`` counts from the south (TMS), flipped here to the XYZ rows web maps ask for;
* PMTiles v3 (https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md), read with the
  ``pmtiles`` package.

The tiles are written as files ``{z}/{x}/{y}.{ext}`` under ``config.basemap_dir()`` (by default
``static/basemap/``, which Streamlit serves at ``app/static/`` with ``server.enableStaticServing``),
with a MapLibre style (https://maplibre.org/maplibre-style-spec/, a ``raster`` source) that the maps
draw under their deck.gl layers; the Leaflet export embeds them. The store records each tile set and,
in ``basemap_settings``, which basemap is on: ``off``, ``local`` (a tile set) or ``url`` (an internet
tile URL an administrator enabled, shown with a notice). Callers check the role; writes are audited.
"""

import gzip
import hashlib
import json
import math
import os
import re
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

from crimeviz import config
from crimeviz.store import audit, db

SCHEMA = """
CREATE TABLE IF NOT EXISTS basemap_tilesets (
    tileset     VARCHAR PRIMARY KEY,
    source      VARCHAR NOT NULL,
    sha256      VARCHAR NOT NULL,
    format      VARCHAR NOT NULL,
    minzoom     INTEGER NOT NULL,
    maxzoom     INTEGER NOT NULL,
    west        DOUBLE NOT NULL,
    south       DOUBLE NOT NULL,
    east        DOUBLE NOT NULL,
    north       DOUBLE NOT NULL,
    tiles       BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    attribution VARCHAR,
    imported_by VARCHAR NOT NULL,
    imported_at TIMESTAMP NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS basemap_setting_seq;
CREATE TABLE IF NOT EXISTS basemap_settings (
    setting_id  BIGINT PRIMARY KEY DEFAULT nextval('basemap_setting_seq'),
    mode        VARCHAR NOT NULL,
    tileset     VARCHAR,
    url         VARCHAR,
    attribution VARCHAR,
    set_by      VARCHAR NOT NULL,
    set_at      TIMESTAMP NOT NULL
);
"""
TABLES = ("basemap_tilesets", "basemap_settings")
MODES = ("off", "local", "url")
MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff", "webp": b"RIFF"}
FORMAT_NAMES = {"png": "png", "jpg": "jpg", "jpeg": "jpg", "webp": "webp"}
MAX_ZOOM = 24
MAX_TEXT = 200
MAX_BYTES = 900 * 1024**2  # Streamlit turns static serving off when static/ holds over 1 GB
BACKGROUND = "#f2f1ec"


class BasemapRejected(ValueError):
    """A tile archive or URL that cannot be used; the message is one line for the user."""


def ensure(con) -> None:
    db.ensure_schema(con, SCHEMA, TABLES)


@dataclass(frozen=True)
class TileSource:
    """The basemap the maps draw: ``local`` tiles served by the app or an internet ``url``.

    ``style_url`` is the MapLibre style the deck.gl maps use (relative to the app, e.g.
    ``app/static/basemap/<set>/style.json``); ``folder`` holds a local set's tiles; ``notice`` is
    shown under every map that uses an internet tile URL."""

    kind: str
    tiles_url: str
    style_url: str | None
    minzoom: int
    maxzoom: int
    attribution: str
    folder: Path | None = None
    extension: str = "png"
    bounds: tuple[float, float, float, float] | None = None  # west, south, east, north

    @property
    def notice(self) -> str | None:
        if self.kind != "url":
            return None
        host = urlparse(self.tiles_url).hostname or "an outside server"
        return (
            f"Basemap tiles come from {host}: the map's position and zoom are sent to that server. "
            "An administrator turned this on; `python -m crimeviz basemap off` turns it off."
        )

    def caption(self) -> str:
        if self.kind == "local":
            return f"Basemap: tiles served by this app (zoom {self.minzoom}–{self.maxzoom}). {self.attribution}".strip()
        return self.notice or ""


def basemap_dir() -> Path:
    return config.basemap_dir()


def static_url(path: Path) -> str | None:
    """The app-relative URL Streamlit serves ``path`` at, or None when it lies outside ``static/``."""
    try:
        rel = Path(path).resolve().relative_to((config.ROOT / "static").resolve())
    except ValueError:
        return None
    return "app/static/" + rel.as_posix()


def _text(value, name: str) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > MAX_TEXT or not text.isprintable():
        raise BasemapRejected(f"the {name} must be at most {MAX_TEXT} printable characters")
    return text


def _bounds(text) -> tuple[float, float, float, float] | None:
    try:
        west, south, east, north = (float(v) for v in str(text).split(","))
    except ValueError:
        return None
    if -180 <= west < east <= 180 and -90 <= south < north <= 90:
        return west, south, east, north
    return None


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """West, south, east, north (degrees) of XYZ tile ``z/x/y`` (web mercator)."""
    n = 2**z

    def lat(row):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    """The XYZ column and row of the tile holding ``lat``, ``lon`` at zoom ``z``."""
    n = 2**z
    lat = max(min(lat, 85.0511), -85.0511)
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def _check_tile(z: int, x: int, y: int, data: bytes, fmt: str, name: str) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise BasemapRejected(f"{name}: zoom level {z} is outside 0–{MAX_ZOOM}")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise BasemapRejected(f"{name}: tile {z}/{x}/{y} does not exist at zoom {z}")
    if not bytes(data[:12]).startswith(MAGIC[fmt]):
        raise BasemapRejected(f"{name}: tile {z}/{x}/{y} is not a {fmt.upper()} image as the archive says")


def _read_mbtiles(path: Path):
    """(metadata dict, iterator of (z, x, y XYZ, bytes)); BasemapRejected for anything but raster MBTiles."""
    with open(path, "rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise BasemapRejected(f"{path.name}: not an MBTiles file (not an SQLite database)")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        if not {"metadata", "tiles"} <= names:
            raise BasemapRejected(f"{path.name}: an SQLite file without the MBTiles metadata and tiles tables")
        meta = {str(k): v for k, v in con.execute("SELECT name, value FROM metadata")}
    except sqlite3.DatabaseError as exc:
        raise BasemapRejected(f"{path.name}: cannot be read as MBTiles ({exc})") from None

    def tiles():
        try:
            for z, x, row, data in con.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"):
                yield int(z), int(x), (2 ** int(z)) - 1 - int(row), bytes(data)  # TMS rows count from the south
        finally:
            con.close()

    return meta, tiles()


def _read_pmtiles(path: Path):
    """(metadata dict, iterator of (z, x, y, bytes)) from a PMTiles v3 archive of raster tiles."""
    from pmtiles.reader import MmapSource, all_tiles
    from pmtiles.tile import Compression, MagicNumberNotFound, SpecVersionUnsupported, TileType, deserialize_header

    handle = open(path, "rb")  # noqa: SIM115 (closed when the tiles have been read)
    get = MmapSource(handle)
    try:
        header = deserialize_header(get(0, 127))
    except (MagicNumberNotFound, SpecVersionUnsupported, ValueError, UnicodeDecodeError):
        handle.close()
        raise BasemapRejected(f"{path.name}: not a PMTiles version 3 archive") from None
    kinds = {TileType.PNG: "png", TileType.JPEG: "jpg", TileType.WEBP: "webp"}
    if header["tile_type"] not in kinds:
        handle.close()
        raise BasemapRejected(f"{path.name}: holds {header['tile_type'].name} tiles; only raster (PNG, JPEG, WebP)")
    meta = {
        "format": kinds[header["tile_type"]],
        "minzoom": header["min_zoom"],
        "maxzoom": header["max_zoom"],
        "bounds": ",".join(str(header[k] / 1e7) for k in ("min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7")),
    }
    raw = get(header["metadata_offset"], header["metadata_length"])
    try:
        extra = json.loads(gzip.decompress(raw) if header["internal_compression"] == Compression.GZIP else raw)
        meta["attribution"] = extra.get("attribution") if isinstance(extra, dict) else None
    except (OSError, ValueError):
        meta["attribution"] = None
    gzipped = header["tile_compression"] == Compression.GZIP

    def tiles():
        try:
            for (z, x, y), data in all_tiles(get):
                yield z, x, y, gzip.decompress(data) if gzipped else bytes(data)
        finally:
            handle.close()

    return meta, tiles()


def folder_bytes(folder: Path, but: Path | None = None) -> int:
    """Bytes of the files under ``folder`` (0 if absent), leaving out those under ``but``."""
    if not folder.exists():
        return 0
    skip = but.resolve() if but is not None else None
    return sum(
        f.stat().st_size
        for f in folder.rglob("*")
        if f.is_file() and not (skip is not None and f.resolve().is_relative_to(skip))
    )


def _tileset_id(digest: str) -> str:
    return f"ts-{digest[:16]}"


def import_tiles(con, path: Path, by: str) -> dict:
    """Check, write and switch on the raster tiles of an MBTiles or PMTiles file (audited as ``by``).

    Refused with BasemapRejected (nothing written, nothing stored): a file that is neither, vector
    tiles, a tile whose bytes are not the archive's image format, tiles outside their zoom's grid,
    an archive with no tiles."""
    path = Path(path)
    if not path.is_file():
        raise BasemapRejected(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".mbtiles":
        meta, tiles = _read_mbtiles(path)
    elif suffix == ".pmtiles":
        meta, tiles = _read_pmtiles(path)
    else:
        raise BasemapRejected(f"{path.name}: use a .mbtiles or .pmtiles file of raster tiles")
    fmt = FORMAT_NAMES.get(str(meta.get("format", "")).lower())
    if fmt is None:
        given = meta.get("format") or "(none)"
        raise BasemapRejected(f"{path.name}: tile format {given!r} is not a raster format (png, jpg, webp)")
    attribution = _text(meta.get("attribution"), "attribution")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    tileset = _tileset_id(digest)
    target = basemap_dir() / tileset
    staging = basemap_dir() / f".{tileset}-{uuid.uuid4().hex[:8]}"
    count = size = 0
    zooms, xs, ys = set(), {}, {}
    room = MAX_BYTES - folder_bytes(basemap_dir(), but=target)  # the same file again replaces its set
    try:
        for z, x, y, data in tiles:
            _check_tile(z, x, y, data, fmt, path.name)
            folder = staging / str(z) / str(x)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{y}.{fmt}").write_bytes(data)
            count, size = count + 1, size + len(data)
            if size > room:
                raise BasemapRejected(
                    f"{path.name}: over {room // 1024**2} MB of tiles, the room left of the {MAX_BYTES // 1024**2} MB "
                    "the app serves (export fewer zoom levels or a smaller area, or remove an unused tile set)"
                )
            zooms.add(z)
            xs.setdefault(z, []).append(x)
            ys.setdefault(z, []).append(y)
        if not count:
            raise BasemapRejected(f"{path.name}: the archive holds no tiles")
        top = max(zooms)
        west, north = tile_bounds(top, min(xs[top]), min(ys[top]))[0::3]
        east, south = tile_bounds(top, max(xs[top]), max(ys[top]))[2:0:-1]
        bounds = _bounds(meta.get("bounds")) or (west, south, east, north)
        source = TileSource(
            "local",
            f"{static_url(target) or ''}/{{z}}/{{x}}/{{y}}.{fmt}",
            None,
            min(zooms),
            top,
            attribution,
            target,
            fmt,
            bounds,
        )
        _write_style(staging, source)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    ensure(con)
    now = datetime.now().replace(microsecond=0)
    try:
        with db.transaction(con):
            con.execute(
                "INSERT INTO basemap_tilesets (tileset, source, sha256, format, minzoom, maxzoom, west, south, east, "
                "north, tiles, bytes, attribution, imported_by, imported_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tileset) DO UPDATE SET "
                "source = excluded.source, imported_by = excluded.imported_by, imported_at = excluded.imported_at",
                [tileset, path.name, digest, fmt, min(zooms), top, *bounds, count, size, attribution, by, now],
            )
            _set(con, "local", by, now, tileset=tileset, attribution=attribution)
            summary = {"tileset": tileset, "tiles": count, "bytes": size, "minzoom": min(zooms), "maxzoom": top}
            audit.record(con, by, "basemap.import", "file", path.name, {**summary, "sha256": digest})
    except Exception:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return {**summary, "format": fmt, "bounds": list(bounds), "source": path.name, "served": bool(static_url(target))}


def _write_style(folder: Path, source: TileSource) -> None:
    """A MapLibre style of one raster source (the tiles) over a plain background."""
    raster = {"type": "raster", "tiles": [source.tiles_url], "tileSize": 256}
    raster |= {"minzoom": source.minzoom, "maxzoom": source.maxzoom}
    if source.bounds:
        raster["bounds"] = list(source.bounds)
    if source.attribution:
        raster["attribution"] = source.attribution
    style = {
        "version": 8,
        "name": "CrimeViz basemap",
        "sources": {"basemap": raster},
        "layers": [
            {"id": "background", "type": "background", "paint": {"background-color": BACKGROUND}},
            {"id": "basemap", "type": "raster", "source": "basemap"},
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "style.json").write_text(json.dumps(style), encoding="utf-8")


URL_TEMPLATE = re.compile(r"^https://[^\s/{}]+(/[^\s]*)?$")


def check_url(url: str) -> str:
    """An https tile URL template with ``{z}``, ``{x}`` and ``{y}``; BasemapRejected otherwise."""
    url = (url or "").strip()
    if not URL_TEMPLATE.match(url) or not all(p in url for p in ("{z}", "{x}", "{y}")):
        raise BasemapRejected(f"{url!r} is not an https tile URL with {{z}}, {{x}} and {{y}}")
    return url


def enable_url(con, url: str, by: str, attribution: str = "") -> dict:
    """Switch the basemap to an internet tile URL (audited; the maps show a notice while it is on)."""
    url, attribution = check_url(url), _text(attribution, "attribution")
    ensure(con)
    now = datetime.now().replace(microsecond=0)
    with db.transaction(con):
        _set(con, "url", by, now, url=url, attribution=attribution)
        audit.record(con, by, "basemap.url", "basemap", urlparse(url).hostname, {"url": url})
    return {"mode": "url", "url": url}


def use_tileset(con, tileset: str, by: str) -> dict:
    """Switch the basemap back to an imported tile set; BasemapRejected for an unknown one."""
    ensure(con)
    row = con.execute("SELECT attribution FROM basemap_tilesets WHERE tileset = ?", [tileset]).fetchall()
    if not row:
        raise BasemapRejected(f"no tile set {tileset!r}; see `python -m crimeviz basemap list`")
    now = datetime.now().replace(microsecond=0)
    with db.transaction(con):
        _set(con, "local", by, now, tileset=tileset, attribution=row[0][0])
        audit.record(con, by, "basemap.use", "basemap", tileset)
    return {"mode": "local", "tileset": tileset}


def remove_tileset(con, tileset: str, by: str) -> dict:
    """Delete an imported tile set that is not on (its tiles too); audited. BasemapRejected otherwise."""
    ensure(con)
    if not con.execute("SELECT count(*) FROM basemap_tilesets WHERE tileset = ?", [tileset]).fetchall()[0][0]:
        raise BasemapRejected(f"no tile set {tileset!r}; see `python -m crimeviz basemap list`")
    current = setting(con)
    if current["mode"] == "local" and current.get("tileset") == tileset:
        raise BasemapRejected(f"tile set {tileset} is on: use another one or turn the basemap off first")
    with db.transaction(con):
        con.execute("DELETE FROM basemap_tilesets WHERE tileset = ?", [tileset])
        audit.record(con, by, "basemap.remove", "basemap", tileset)
    shutil.rmtree(basemap_dir() / tileset, ignore_errors=True)
    return {"removed": tileset}


def turn_off(con, by: str) -> dict:
    """No basemap tiles (the default): the maps draw only the data's outlines."""
    ensure(con)
    now = datetime.now().replace(microsecond=0)
    with db.transaction(con):
        _set(con, "off", by, now)
        audit.record(con, by, "basemap.off", "basemap", None)
    return {"mode": "off"}


def _set(con, mode: str, by: str, now: datetime, tileset=None, url=None, attribution=None) -> None:
    con.execute(
        "INSERT INTO basemap_settings (mode, tileset, url, attribution, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?)",
        [mode, tileset, url, attribution, by, now],
    )


def setting(con) -> dict:
    """The basemap switched on last: ``mode`` (``off`` when never set), ``tileset``, ``url``, who and when."""
    ensure(con)
    rows = con.execute(
        "SELECT mode, tileset, url, attribution, set_by, set_at FROM basemap_settings ORDER BY setting_id DESC LIMIT 1"
    ).fetchall()
    keys = ("mode", "tileset", "url", "attribution", "set_by", "set_at")
    return dict(zip(keys, rows[0])) if rows else {"mode": "off"}


def tilesets(con) -> list[dict]:
    ensure(con)
    frame = con.execute("SELECT * FROM basemap_tilesets ORDER BY imported_at DESC").df()
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def active(con) -> TileSource | None:
    """The stored basemap, or None when it is off (then ``config.basemap()`` decides)."""
    current = setting(con)
    if current["mode"] == "url":
        folder = basemap_dir() / f"url-{hashlib.sha256(current['url'].encode()).hexdigest()[:12]}"
        source = TileSource("url", current["url"], None, 0, 19, current["attribution"] or "")
        if not (folder / "style.json").exists():
            _write_style(folder, source)
        return TileSource(**{**source.__dict__, "style_url": _style_url(folder)})
    if current["mode"] != "local":
        return None
    row = con.execute(
        "SELECT format, minzoom, maxzoom, west, south, east, north, attribution FROM basemap_tilesets "
        "WHERE tileset = ?",
        [current["tileset"]],
    ).fetchall()
    folder = basemap_dir() / current["tileset"]
    if not row or not (folder / "style.json").exists():
        return None
    fmt, low, high, west, south, east, north, attribution = row[0]
    return TileSource(
        "local",
        f"{static_url(folder) or ''}/{{z}}/{{x}}/{{y}}.{fmt}",
        _style_url(folder),
        low,
        high,
        attribution or "",
        folder,
        fmt,
        (west, south, east, north),
    )


def _style_url(folder: Path) -> str | None:
    url = static_url(folder)
    return f"{url}/style.json" if url else None


def embedded_tiles(source: TileSource, bounds: tuple[float, float, float, float], max_bytes: int = 3_000_000):
    """Tiles of a local set covering ``bounds`` (lat_min, lat_max, lon_min, lon_max) as
    ``{"z/x/y": bytes}``, zoom by zoom from the lowest while the total stays under ``max_bytes``
    (a self-contained Leaflet file), and the highest zoom included."""
    lat_min, lat_max, lon_min, lon_max = bounds
    out, total, reached = {}, 0, None
    for z in range(source.minzoom, source.maxzoom + 1):
        (x0, y0), (x1, y1) = tile_of(lat_max, lon_min, z), tile_of(lat_min, lon_max, z)
        level = {}
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                tile = source.folder / str(z) / str(x) / f"{y}.{source.extension}"
                if tile.exists():
                    level[f"{z}/{x}/{y}"] = tile.read_bytes()
        size = sum(map(len, level.values()))
        if out and total + size > max_bytes:
            break
        out |= level
        total += size
        reached = z
    return out, reached
