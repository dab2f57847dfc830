"""``python -m crimeviz basemap …``: the basemap under every map, kept by the unit.

``import`` writes the raster tiles of an MBTiles or PMTiles file where the app serves them and switches
them on; ``url`` switches to an internet tile URL (the maps then say that their view goes to that
server); ``use`` goes back to an imported tile set; ``off`` draws no tiles (the default); ``status`` and
``list`` show what is on and what is stored; ``remove`` deletes a tile set that is not on. Changes need
an administrator (the ``data`` permission) and are audited.
"""

import json
from pathlib import Path

from crimeviz.cli.common import authorised, db_arg, user_args


def _writer(args):
    from crimeviz.store import db

    con = db.connect(args.db)
    return con, authorised(con, args, "data").username


def cmd_import(args) -> int:
    from crimeviz.store import basemap

    con, by = _writer(args)
    print(json.dumps(basemap.import_tiles(con, args.file, by)))
    return 0


def cmd_url(args) -> int:
    from crimeviz.store import basemap

    con, by = _writer(args)
    result = basemap.enable_url(con, args.url, by, args.attribution)
    print(json.dumps({**result, "notice": basemap.active(con).notice}))
    return 0


def cmd_use(args) -> int:
    from crimeviz.store import basemap

    con, by = _writer(args)
    print(json.dumps(basemap.use_tileset(con, args.tileset, by)))
    return 0


def cmd_remove(args) -> int:
    from crimeviz.store import basemap

    con, by = _writer(args)
    print(json.dumps(basemap.remove_tileset(con, args.tileset, by)))
    return 0


def cmd_off(args) -> int:
    from crimeviz.store import basemap

    con, by = _writer(args)
    print(json.dumps(basemap.turn_off(con, by)))
    return 0


def cmd_status(args) -> int:
    from crimeviz import config
    from crimeviz.store import basemap, db

    con = db.connect(args.db)
    current = basemap.setting(con)
    source = basemap.active(con)
    out = {**current, "environment": config.basemap(), "served": bool(source and source.style_url)}
    print(json.dumps(out, default=str))
    return 0


def cmd_list(args) -> int:
    from crimeviz.store import basemap, db

    print(json.dumps(basemap.tilesets(db.connect(args.db))))
    return 0


def add_subcommands(subparsers) -> None:
    p = subparsers.add_parser("import", help="store and switch on the raster tiles of an .mbtiles or .pmtiles file")
    p.add_argument("file", type=Path)
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_import)

    p = subparsers.add_parser("url", help="use an internet tile URL (https://…/{z}/{x}/{y}.png); maps show a notice")
    p.add_argument("url")
    p.add_argument("--attribution", default="", help="the tile provider's attribution text")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_url)

    p = subparsers.add_parser("use", help="switch back to an imported tile set (see list)")
    p.add_argument("tileset")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_use)

    p = subparsers.add_parser("remove", help="delete an imported tile set that is not on, with its tiles")
    p.add_argument("tileset")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_remove)

    p = subparsers.add_parser("off", help="no basemap tiles (the default)")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_off)

    p = subparsers.add_parser("status", help="the basemap that is on (JSON)")
    db_arg(p)
    p.set_defaults(func=cmd_status)

    p = subparsers.add_parser("list", help="the imported tile sets (JSON)")
    db_arg(p)
    p.set_defaults(func=cmd_list)
