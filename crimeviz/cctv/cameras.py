"""The live camera registry: where each camera streams from and how it is watched.

A camera (``cameras`` table, :mod:`crimeviz.cctv.store`) gains a stream row
(``camera_streams``): its URL, how often and at what size frames are analysed,
when it is watched, motion masks and zones, and its alert rules. The layout
follows Frigate's per-camera configuration (``detect``, ``motion``, ``zones``,
``review``, ``record``): typed, validated on load, every message naming its key,
defaults in one place (:class:`CameraConfig`).

Credentials never sit in the stored URL: ``rtsp://user:pw@host/x`` is stored as
``rtsp://host/x`` with ``user:pw`` in a separate column that nothing prints, or as
``env:VAR``, a reference to an environment variable of the monitor's process that
holds ``user:pw``. Credentials some cameras take in the query string
(``http://cam/video.cgi?ch=1&user=admin&pwd=x``, :data:`SECRET_PARAMS`) are kept
the same way, as ``?user=admin&pwd=x`` (after ``user:pw`` when there are both). :func:`redact` takes them out of any text (ffmpeg messages).
Only the schemes of :data:`SCHEMES` are accepted, so a stream URL cannot name
another FFmpeg protocol (``concat:``, ``subfile:``, ``pipe:``).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, time
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from crimeviz.cctv import store
from crimeviz.store import audit
from crimeviz.store.db import ensure_schema, table_names, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS camera_streams (
    camera_id      BIGINT PRIMARY KEY,
    url            VARCHAR NOT NULL,
    credentials    VARCHAR,
    detect_fps     DOUBLE NOT NULL,
    detect_width   INTEGER NOT NULL,
    detect_height  INTEGER NOT NULL,
    enabled        BOOLEAN NOT NULL,
    schedule       VARCHAR,
    masks          VARCHAR NOT NULL,
    zones          VARCHAR NOT NULL,
    threshold      DOUBLE NOT NULL,
    hysteresis_n   INTEGER NOT NULL,
    min_duration_s DOUBLE NOT NULL,
    cooldown_s     DOUBLE NOT NULL,
    pre_capture_s  DOUBLE NOT NULL,
    post_capture_s DOUBLE NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
"""
SCHEMES = ("rtsp", "rtsps", "http", "https", "file")
ENV_PREFIX = "env:"
# query parameters that carry a camera's credentials (Foscam's user=&pwd=, others' password=, token=, …)
SECRET_PARAMS = frozenset(
    {"user", "username", "usr", "password", "pass", "passwd", "pwd", "token", "auth", "key", "apikey", "api_key"}
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_SCHEDULE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
MAX_POLYGONS = 16
MAX_POINTS = 64

# Settings a stream row holds, in column order (``name``, ``lat``, ``lon`` live in ``cameras``).
_STREAM_COLUMNS = (
    "url",
    "credentials",
    "detect_fps",
    "detect_width",
    "detect_height",
    "enabled",
    "schedule",
    "masks",
    "zones",
    "threshold",
    "hysteresis_n",
    "min_duration_s",
    "cooldown_s",
    "pre_capture_s",
    "post_capture_s",
)


class CameraConfigError(ValueError):
    """A camera setting that cannot be used; the message names the setting."""


Polygon = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class CameraConfig:
    """One live camera. Polygons are points (x, y) as fractions of the frame's width and height.

    detect: ``detect_fps`` frames a second analysed at ``detect_width``×``detect_height``.
    motion: ``masks``: areas ignored by the motion gate (a clock, trees); ``zones``: named
    areas of interest; when there are zones, only motion inside them opens the gate.
    review: an alert opens when the median of the last ``hysteresis_n`` snippet scores
    reaches ``threshold`` and closes when it falls below; it is an ``alert`` (pinged) once it
    lasted ``min_duration_s``, a ``detection`` otherwise; activity within ``cooldown_s`` of its
    end reopens it instead of pinging again.
    record: clips keep ``pre_capture_s`` before the alert and ``post_capture_s`` after it.
    ``schedule`` ``"22:00-06:00"``: watched only then (local time; may cross midnight).
    """

    name: str
    url: str
    lat: float
    lon: float
    detect_fps: float = 5.0
    detect_width: int = 320
    detect_height: int = 240
    enabled: bool = True
    schedule: str | None = None
    masks: tuple[Polygon, ...] = ()
    zones: tuple[tuple[str, Polygon], ...] = ()
    threshold: float = 0.5
    hysteresis_n: int = 3
    min_duration_s: float = 0.0
    cooldown_s: float = 30.0
    pre_capture_s: float = 5.0
    post_capture_s: float = 5.0
    credentials: str | None = field(default=None, repr=False)
    camera_id: int | None = None

    def __post_init__(self):
        _validate(self)

    @property
    def is_file(self) -> bool:
        return self.url.startswith("file:")

    @property
    def credentials_kind(self) -> str | None:
        """What the listing shows instead of the credentials: ``env:VAR``, ``stored`` or None."""
        if not self.credentials:
            return None
        return self.credentials if self.credentials.startswith(ENV_PREFIX) else "stored"

    def watched_at(self, moment: datetime) -> bool:
        """Whether the camera is enabled and ``moment`` (local time) falls in its schedule."""
        return self.enabled and in_schedule(self.schedule, moment.time())

    def public(self) -> dict:
        """Every setting except the credentials (what lists, screens and exports show)."""
        out = asdict(self)
        out.pop("credentials")
        out["credentials"] = self.credentials_kind
        out["masks"] = [list(map(list, p)) for p in self.masks]
        out["zones"] = [{"name": n, "polygon": list(map(list, p))} for n, p in self.zones]
        return out


def _number(cfg, key: str, low: float, high: float) -> None:
    value = getattr(cfg, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CameraConfigError(f"{key} must be a number")
    if not low <= value <= high:
        raise CameraConfigError(f"{key} must be between {low:g} and {high:g} (got {value:g})")


def _validate(cfg: CameraConfig) -> None:
    if not cfg.name or not cfg.name.strip() or len(cfg.name) > store.MAX_NAME:
        raise CameraConfigError(f"name: a camera needs a name of 1 to {store.MAX_NAME} characters")
    scheme = cfg.url.split(":", 1)[0].lower() if ":" in cfg.url else ""
    if scheme not in SCHEMES:
        raise CameraConfigError(f"url: give an rtsp://, http(s):// or file: URL (got {scheme or 'no'} scheme)")
    parts = urlsplit(cfg.url)
    if parts.username or parts.password or _secret_params(parts.query)[0]:
        raise CameraConfigError("url: credentials belong in the credentials setting, not in the stored URL")
    for key, low, high in (
        ("lat", -90, 90),
        ("lon", -180, 180),
        ("detect_fps", 0.5, 30),
        ("detect_width", 32, 1920),
        ("detect_height", 32, 1080),
        ("threshold", 0.01, 0.99),
        ("hysteresis_n", 1, 15),
        ("min_duration_s", 0, 600),
        ("cooldown_s", 0, 3600),
        ("pre_capture_s", 0, 60),
        ("post_capture_s", 0, 60),
    ):
        _number(cfg, key, low, high)
    for key in ("detect_width", "detect_height", "hysteresis_n"):
        if int(getattr(cfg, key)) != getattr(cfg, key):
            raise CameraConfigError(f"{key} must be a whole number")
    if cfg.detect_width % 2 or cfg.detect_height % 2:
        raise CameraConfigError("detect_width and detect_height must be even")
    parse_schedule(cfg.schedule)
    _check_polygons("masks", cfg.masks)
    _check_polygons("zones", [p for _, p in cfg.zones])
    for zone, _ in cfg.zones:
        if not zone or len(zone) > store.MAX_NAME:
            raise CameraConfigError(f"zones: a zone needs a name of 1 to {store.MAX_NAME} characters")
    creds = cfg.credentials
    if creds is not None:
        if creds.startswith(ENV_PREFIX):
            if not _ENV_NAME.match(creds[len(ENV_PREFIX) :]):
                raise CameraConfigError("credentials: env: must name an environment variable (letters, digits, _)")
        elif "\n" in creds or not _valid_secret(creds):
            raise CameraConfigError(
                "credentials: give user:password (and/or the URL's ?user=…&pwd=…), or env:VAR naming a variable "
                "that holds them"
            )


def _check_polygons(key: str, polygons) -> None:
    if len(polygons) > MAX_POLYGONS:
        raise CameraConfigError(f"{key}: at most {MAX_POLYGONS} polygons")
    for polygon in polygons:
        if not 3 <= len(polygon) <= MAX_POINTS:
            raise CameraConfigError(f"{key}: a polygon needs 3 to {MAX_POINTS} points")
        for point in polygon:
            if len(point) != 2 or not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in point):
                raise CameraConfigError(f"{key}: points are x,y fractions of the frame between 0 and 1")


def parse_polygon(text: str, key: str = "masks") -> Polygon:
    """``"0,0 0.5,0 0.5,0.3"`` -> ((0, 0), (0.5, 0), (0.5, 0.3))."""
    try:
        points = tuple(tuple(float(v) for v in pair.split(",")) for pair in text.split())
    except ValueError:
        raise CameraConfigError(
            f"{key}: write a polygon as x,y pairs separated by spaces, e.g. '0,0 1,0 1,0.2'"
        ) from None
    _check_polygons(key, [points])
    return points


def parse_polygons(text: str, key: str = "masks") -> tuple[Polygon, ...]:
    """One polygon per line (``x,y x,y x,y``); blank lines are skipped."""
    return tuple(parse_polygon(line, key) for line in text.splitlines() if line.strip())


def parse_zones(text: str) -> tuple[tuple[str, Polygon], ...]:
    """One zone per line: ``name: x,y x,y x,y``."""
    zones = []
    for line in text.splitlines():
        if line.strip():
            name, sep, points = line.partition(":")
            if not sep or not name.strip():
                raise CameraConfigError("zones: write each zone as 'name: x,y x,y x,y' on its own line")
            zones.append((name.strip(), parse_polygon(points, "zones")))
    return tuple(zones)


def polygons_text(polygons) -> str:
    return "\n".join(" ".join(f"{x:g},{y:g}" for x, y in p) for p in polygons)


def zones_text(zones) -> str:
    return "\n".join(f"{name}: " + " ".join(f"{x:g},{y:g}" for x, y in p) for name, p in zones)


def parse_schedule(schedule: str | None) -> tuple[time, time] | None:
    """``"22:00-06:00"`` -> (22:00, 06:00); None (always) for an empty schedule."""
    if not schedule:
        return None
    match = _SCHEDULE.match(schedule.strip())
    if not match:
        raise CameraConfigError("schedule: write it as HH:MM-HH:MM, e.g. 22:00-06:00")
    h1, m1, h2, m2 = map(int, match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
        raise CameraConfigError("schedule: two different times of day, e.g. 22:00-06:00")
    return time(h1, m1), time(h2, m2)


def in_schedule(schedule: str | None, moment: time) -> bool:
    """Whether ``moment`` falls in [start, end) of ``schedule`` (which may cross midnight)."""
    window = parse_schedule(schedule)
    if window is None:
        return True
    start, end = window
    return start <= moment < end if start < end else moment >= start or moment < end


def _secret_params(query: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """A query string's (credential parameters, other parameters)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return [p for p in pairs if p[0].lower() in SECRET_PARAMS], [p for p in pairs if p[0].lower() not in SECRET_PARAMS]


def _valid_secret(secret: str) -> bool:
    """``user:pw``, ``?user=…&pwd=…`` (credential parameters only) or both."""
    userinfo, mark, query = secret.partition("?")
    params, others = _secret_params(query)
    return (not userinfo or ":" in userinfo) and (not mark or (params and not others)) and bool(userinfo or mark)


def split_credentials(url: str) -> tuple[str, str | None]:
    """``rtsp://user:pw@host/x`` -> (``rtsp://host/x``, ``user:pw``); ``http://cam/v.cgi?ch=1&pwd=x`` ->
    (``http://cam/v.cgi?ch=1``, ``?pwd=x``); a path becomes a ``file:`` URL."""
    url = url.strip()
    if "://" not in url and not url.startswith("file:"):
        return Path(url).expanduser().resolve().as_uri(), None
    parts = urlsplit(url)
    params, others = _secret_params(parts.query)
    if parts.username is None and parts.password is None and not params:
        return url, None
    netloc, userinfo = parts.netloc, ""
    if parts.username is not None or parts.password is not None:
        host = parts.hostname or ""
        netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
        userinfo = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    query = urlencode(others) if params else parts.query
    secret = userinfo + (f"?{urlencode(params)}" if params else "")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)), secret


def resolve_credentials(credentials: str | None, environ=os.environ) -> str | None:
    """``user:pw`` from the stored value or the environment variable it names (None if unset)."""
    if not credentials:
        return None
    if credentials.startswith(ENV_PREFIX):
        return environ.get(credentials[len(ENV_PREFIX) :]) or None
    return credentials


def connect_url(cfg: CameraConfig, environ=os.environ) -> str:
    """The URL the reader opens: the stored one with the credentials put back, or a file path."""
    if cfg.is_file:
        return unquote(urlsplit(cfg.url).path)
    secret = resolve_credentials(cfg.credentials, environ)
    if not secret:
        return cfg.url
    userinfo, _, params = secret.partition("?")
    parts = urlsplit(cfg.url)
    netloc = parts.netloc
    if userinfo:
        user, _, password = userinfo.partition(":")
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{netloc}"
    query = "&".join(q for q in (parts.query, params) if q)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]*@")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:" + "|".join(sorted(SECRET_PARAMS)) + r")=)[^&#\s'\"]*")


def redact(text: str, cfg: CameraConfig | None = None, environ=os.environ) -> str:
    """``text`` with every URL's user:password and credential parameters, and the camera's own secret, replaced
    by ``***``."""
    out = _QUERY_SECRET.sub(r"\1***", _USERINFO.sub(r"\1***@", text))
    secret = resolve_credentials(cfg.credentials, environ) if cfg else None
    if secret:
        userinfo, _, params = secret.partition("?")
        password = userinfo.partition(":")[2]
        values = [v for _, v in parse_qsl(params, keep_blank_values=True)]
        for part in {secret, userinfo, password, quote(password, safe=""), *values, *(quote(v) for v in values)}:
            if len(part) >= 3:
                out = out.replace(part, "***")
    return out


def ensure_tables(con) -> None:
    """The CCTV tables and ``camera_streams``."""
    store.ensure_tables(con)
    ensure_schema(con, SCHEMA, ("camera_streams",))


def _row(cfg: CameraConfig) -> list:
    values = asdict(cfg)
    values["masks"] = json.dumps([list(map(list, p)) for p in cfg.masks])
    values["zones"] = json.dumps([[n, list(map(list, p))] for n, p in cfg.zones])
    return [values[c] for c in _STREAM_COLUMNS]


def _from_row(row) -> CameraConfig:
    camera_id, name, lat, lon, *rest = row
    values = dict(zip(_STREAM_COLUMNS, rest))
    values["masks"] = tuple(tuple(tuple(pt) for pt in p) for p in json.loads(values["masks"]))
    values["zones"] = tuple((n, tuple(tuple(pt) for pt in p)) for n, p in json.loads(values["zones"]))
    values["enabled"] = bool(values["enabled"])
    return CameraConfig(name=name, lat=lat, lon=lon, camera_id=camera_id, **values)


_SELECT = (
    "SELECT c.camera_id, c.name, c.lat, c.lon, "
    + ", ".join(f"s.{c}" for c in _STREAM_COLUMNS)
    + " FROM cameras c JOIN camera_streams s USING (camera_id)"
)


def _audit_detail(cfg: CameraConfig) -> dict:
    detail = cfg.public()
    detail.pop("camera_id", None)
    return detail


def add(con, cfg: CameraConfig, by: str, now: datetime | None = None) -> int:
    """Registers a live camera (a ``cameras`` row and its stream row) in one audited transaction."""
    ensure_tables(con)
    now = now or datetime.now()
    with transaction(con):
        if store._name_taken(con, cfg.name):
            raise CameraConfigError(f"name: a camera named {cfg.name!r} already exists")
        camera_id = con.execute(
            "INSERT INTO cameras (name, lat, lon, created_at) VALUES (?, ?, ?, ?) RETURNING camera_id",
            [cfg.name.strip(), float(cfg.lat), float(cfg.lon), now],
        ).fetchall()[0][0]
        con.execute(
            f"INSERT INTO camera_streams (camera_id, {', '.join(_STREAM_COLUMNS)}, updated_at) "
            f"VALUES (?, {', '.join('?' for _ in _STREAM_COLUMNS)}, ?)",
            [camera_id, *_row(cfg), now],
        )
        audit.record(con, by, "cameras.add", "camera", camera_id, _audit_detail(cfg))
    return camera_id


def get(con, name: str | None = None, camera_id: int | None = None) -> CameraConfig | None:
    """A live camera by name (ignoring case) or id; None if there is none (or it has no stream)."""
    ensure_tables(con)
    rows = con.execute(
        _SELECT + " WHERE c.camera_id = ? OR lower(c.name) = lower(?)", [camera_id, (name or "").strip()]
    ).fetchall()
    return _from_row(rows[0]) if rows else None


def all_cameras(con) -> list[CameraConfig]:
    """Every live camera, by name."""
    ensure_tables(con)
    return [_from_row(r) for r in con.execute(_SELECT + " ORDER BY lower(c.name)").fetchall()]


def edit(con, name: str, by: str, now: datetime | None = None, **changes) -> CameraConfig:
    """Changes settings of the camera ``name`` (keys of :class:`CameraConfig`); audited."""
    unknown = set(changes) - (set(CameraConfig.__dataclass_fields__) - {"camera_id"})
    if unknown:
        raise CameraConfigError(f"{sorted(unknown)[0]}: no such camera setting")
    now = now or datetime.now()
    with transaction(con):
        current = get(con, name)
        if current is None:
            raise CameraConfigError(f"name: no live camera named {name!r}")
        new = replace(current, **changes)
        if store._name_taken(con, new.name, other_than=current.camera_id):
            raise CameraConfigError(f"name: a camera named {new.name!r} already exists")
        con.execute(
            "UPDATE cameras SET name = ?, lat = ?, lon = ? WHERE camera_id = ?",
            [new.name.strip(), float(new.lat), float(new.lon), current.camera_id],
        )
        con.execute(
            f"UPDATE camera_streams SET {', '.join(c + ' = ?' for c in _STREAM_COLUMNS)}, updated_at = ? "
            "WHERE camera_id = ?",
            [*_row(new), now, current.camera_id],
        )
        changed = {k: v for k, v in _audit_detail(new).items() if k in changes or k == "credentials"}
        audit.record(con, by, "cameras.edit", "camera", current.camera_id, changed)
    return new


def remove(con, name: str, by: str) -> int:
    """Removes a live camera that has no saved reports or alerts (disable it otherwise); audited."""
    with transaction(con):
        current = get(con, name)
        if current is None:
            raise CameraConfigError(f"name: no live camera named {name!r}")
        held = con.execute("SELECT count(*) FROM cctv_reports WHERE camera_id = ?", [current.camera_id]).fetchall()
        alerts = 0
        if "cctv_alerts" in table_names(con):
            alerts = con.execute("SELECT count(*) FROM cctv_alerts WHERE camera_id = ?", [current.camera_id]).fetchall()
            alerts = alerts[0][0]
        if held[0][0] or alerts:
            raise CameraConfigError(
                f"name: {current.name!r} has {held[0][0]} reports and {alerts} alerts; disable it instead "
                "(cameras edit NAME --disabled)"
            )
        con.execute("DELETE FROM camera_streams WHERE camera_id = ?", [current.camera_id])
        con.execute("DELETE FROM cameras WHERE camera_id = ?", [current.camera_id])
        audit.record(con, by, "cameras.remove", "camera", current.camera_id, {"name": current.name})
    return current.camera_id
