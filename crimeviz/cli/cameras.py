"""``python -m crimeviz cameras add|edit|list|remove|purge-media|release-alert``: the live camera registry
and the retention of its alerts' media.

Changes sign in with ``--user`` and need the ``cameras`` permission (administrators);
every change is audited. Credentials given in the URL (``rtsp://user:pw@host/…``) are
stored apart from it and never printed; ``--credentials-env VAR`` keeps them out of the
store altogether (the monitor reads ``user:pw`` from ``$VAR``).
"""

from __future__ import annotations

import argparse
import json

SIZE_HELP = "analysis frame size WxH (default 320x240)"


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("write the size as WIDTHxHEIGHT, e.g. 320x240") from None
    return width, height


def _zone(text: str) -> tuple[str, str]:
    name, sep, polygon = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError("write a zone as NAME='x,y x,y x,y'")
    return name.strip(), polygon


def _settings(args, adding: bool) -> dict:
    """The settings given on the command line, as :class:`CameraConfig` keys."""
    from crimeviz.cctv import cameras

    out = {}
    if args.url is not None:
        out["url"], out["credentials"] = cameras.split_credentials(args.url)
        if out["credentials"] is None and not adding:
            out.pop("credentials")
    if args.credentials_env:
        out["credentials"] = cameras.ENV_PREFIX + args.credentials_env
    if args.no_credentials:
        out["credentials"] = None
    simple = {
        "lat": args.lat,
        "lon": args.lon,
        "detect_fps": args.fps,
        "threshold": args.threshold,
        "hysteresis_n": args.hysteresis,
        "min_duration_s": args.min_duration,
        "cooldown_s": args.cooldown,
        "pre_capture_s": args.pre_capture,
        "post_capture_s": args.post_capture,
    }
    out.update({k: v for k, v in simple.items() if v is not None})
    if getattr(args, "rename", None):
        out["name"] = args.rename
    if args.size:
        out["detect_width"], out["detect_height"] = args.size
    if args.schedule is not None:
        out["schedule"] = args.schedule or None
    if args.enabled is not None:
        out["enabled"] = args.enabled
    if args.mask is not None:
        out["masks"] = tuple(cameras.parse_polygon(m, "masks") for m in args.mask if m)
    if args.zone is not None:
        out["zones"] = tuple((n, cameras.parse_polygon(p, "zones")) for n, p in args.zone if n)
    return out


def cmd_add(args) -> int:
    from crimeviz.cctv import cameras
    from crimeviz.cli.common import CommandError, authorised
    from crimeviz.store import db

    if args.url is None or args.lat is None or args.lon is None:
        raise CommandError("cameras add needs --url, --lat and --lon")
    config = cameras.CameraConfig(name=args.name, **_settings(args, adding=True))
    con = db.connect(args.db)
    user = authorised(con, args, "cameras")
    camera_id = cameras.add(con, config, user.username)
    print(json.dumps({"added": config.name, "camera_id": camera_id, "credentials": config.credentials_kind}))
    return 0


def cmd_edit(args) -> int:
    from crimeviz.cctv import cameras
    from crimeviz.cli.common import CommandError, authorised
    from crimeviz.store import db

    changes = _settings(args, adding=False)
    if not changes:
        raise CommandError("nothing to change: give at least one setting")
    con = db.connect(args.db)
    user = authorised(con, args, "cameras")
    config = cameras.edit(con, args.name, user.username, **changes)
    print(json.dumps({"edited": config.name, "camera": config.public()}))
    return 0


def cmd_list(args) -> int:
    from crimeviz.cctv import cameras
    from crimeviz.store import db

    con = db.connect(args.db)
    print(json.dumps([c.public() for c in cameras.all_cameras(con)]))
    return 0


def cmd_remove(args) -> int:
    from crimeviz.cctv import cameras
    from crimeviz.cli.common import authorised
    from crimeviz.store import db

    con = db.connect(args.db)
    user = authorised(con, args, "cameras")
    camera_id = cameras.remove(con, args.name, user.username)
    print(json.dumps({"removed": args.name, "camera_id": camera_id}))
    return 0


def cmd_purge_media(args) -> int:
    from crimeviz.cctv.live import retention
    from crimeviz.cli.common import authorised
    from crimeviz.store import db

    con = db.connect(args.db)
    user = authorised(con, args, "cameras")
    print(json.dumps(retention.purge(con, user.username, budget_bytes=retention.disk_budget_bytes())))
    return 0


def cmd_release_alert(args) -> int:
    from crimeviz.cctv.live import retention
    from crimeviz.cli.common import authorised
    from crimeviz.store import db

    con = db.connect(args.db)
    user = authorised(con, args, "cameras")
    retention.release(con, args.alert_id, user.username)
    print(json.dumps({"released": args.alert_id}))
    return 0


def _setting_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url", default=None, help="rtsp://, http(s):// (MJPEG/HLS) or a video file looped as a demo camera"
    )
    p.add_argument("--credentials-env", default=None, metavar="VAR", help="read user:password from $VAR when streaming")
    p.add_argument("--no-credentials", action="store_true", help="forget stored credentials")
    p.add_argument("--lat", type=float, default=None)
    p.add_argument("--lon", type=float, default=None)
    p.add_argument("--fps", type=float, default=None, help="frames a second analysed (default 5)")
    p.add_argument("--size", type=_size, default=None, help=SIZE_HELP)
    p.add_argument("--enabled", dest="enabled", action="store_const", const=True, default=None)
    p.add_argument("--disabled", dest="enabled", action="store_const", const=False)
    p.add_argument("--schedule", default=None, metavar="HH:MM-HH:MM", help="watch only then ('' for always)")
    p.add_argument(
        "--mask", action="append", default=None, metavar="'x,y x,y x,y'", help="area the motion gate ignores"
    )
    p.add_argument("--zone", action="append", type=_zone, default=None, metavar="NAME='x,y …'", help="area of interest")
    p.add_argument("--threshold", type=float, default=None, help="alert threshold on the median score (default 0.5)")
    p.add_argument(
        "--hysteresis", type=int, default=None, metavar="N", help="median of the last N snippets (default 3)"
    )
    p.add_argument("--min-duration", type=float, default=None, metavar="S", help="seconds before a ping (default 0)")
    p.add_argument("--cooldown", type=float, default=None, metavar="S", help="no new alert for S seconds (default 30)")
    p.add_argument("--pre-capture", type=float, default=None, metavar="S", help="clip seconds before (default 5)")
    p.add_argument("--post-capture", type=float, default=None, metavar="S", help="clip seconds after (default 5)")


def add_subcommands(subparsers) -> None:
    """Registers add, edit, list and remove on an ``add_subparsers()`` object."""
    from crimeviz.cli.common import db_arg, user_args

    p = subparsers.add_parser("add", help="register a live camera (admin)")
    p.add_argument("name")
    _setting_args(p)
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_add)

    p = subparsers.add_parser("edit", help="change a live camera's settings (admin)")
    p.add_argument("name")
    p.add_argument("--rename", default=None, metavar="NEW")
    _setting_args(p)
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_edit)

    p = subparsers.add_parser("list", help="live cameras and their settings (JSON; credentials never shown)")
    db_arg(p)
    p.set_defaults(func=cmd_list)

    p = subparsers.add_parser(
        "purge-media",
        help="delete alert clips and snapshots past their class's retention ($CRIMEVIZ_ALERT_RETENTION) or "
        "beyond the disk budget ($CRIMEVIZ_ALERT_DISK_MB); confirmed and labelled alerts are kept until released "
        "(admin)",
    )
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_purge_media)

    p = subparsers.add_parser("release-alert", help="let a confirmed or labelled alert's media be purged (admin)")
    p.add_argument("alert_id", type=int)
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_release_alert)

    p = subparsers.add_parser("remove", help="remove a live camera without reports or alerts (admin)")
    p.add_argument("name")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_remove)
