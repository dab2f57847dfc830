"""``python -m crimeviz monitor``: watch the live cameras until stopped (or ``--for`` seconds).

Runs every enabled camera (or those named with ``--camera``), each within its schedule,
writes alerts, clips, snapshots and reports, pings the configured webhooks and
e-mail addresses (``$CRIMEVIZ_ALERT_WEBHOOKS``, ``$CRIMEVIZ_WEBHOOK_SECRET``,
``$CRIMEVIZ_ALERT_EMAIL``, ``$CRIMEVIZ_SMTP_HOST``/``PORT``/``FROM``; options override
them) and, with ``--json``, writes at the end the cameras' states, the alerts it raised
and its latencies. It signs in with ``--user`` (the ``cctv`` permission); its writes
are audited under that name. SIGTERM and SIGINT stop it cleanly: open alerts are
closed and their clips and reports finished.
"""

from __future__ import annotations

import json
import signal
from functools import partial
from pathlib import Path


def cmd_monitor(args) -> int:
    import torch

    from crimeviz.cctv import cameras
    from crimeviz.cctv.live import monitor, notify
    from crimeviz.cctv.model import load_scorer
    from crimeviz.cli.common import CommandError, authorised
    from crimeviz.patrol import nearest
    from crimeviz.store import db

    torch.set_num_threads(max(1, args.threads))
    con = db.connect(args.db)
    user = authorised(con, args, "cctv")
    cameras.ensure_tables(con)
    chosen = monitor.watched(cameras.all_cameras(con), args.camera)
    if not chosen:
        raise CommandError("no live camera to watch: add one with `python -m crimeviz cameras add`, or enable one")
    settings = notify.Settings.from_env(
        webhooks=tuple(args.webhook or ()),
        email_to=tuple(args.email_to or ()),
        smtp_host=args.smtp.split(":")[0] if args.smtp else None,
        smtp_port=int(args.smtp.split(":")[1]) if args.smtp and ":" in args.smtp else None,
        public_url=args.public_url,
    )
    if args.weights is None:  # the promoted registry version, followed while running (promote/rollback)
        from crimeviz.cctv import app_weights, registry

        scorer = registry.PromotedScorer(registry.CurrentScorer())
    else:
        scorer = load_scorer(args.weights)
    backend = _official_backend(args, scorer)
    if args.backend == "ray":
        from crimeviz.cctv.live import ray_backend

        path = args.weights or app_weights()  # a Ray actor keeps the version it started with
        backend = ray_backend.RayBackend(scorer_path=path, address=args.ray_address, cameras=len(chosen))
    mon = monitor.Monitor(
        con,
        scorer,
        chosen,
        settings,
        backend=backend,
        stride=args.stride or (16 if args.features == "i3d" else 8),
        by=user.username,
        nearby_units=partial(nearest.units_near, con.cursor()),
    )

    def stop(signum, frame):
        mon.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    summary = mon.run(args.seconds)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({"cameras": len(summary["cameras"]), "alerts": len(summary["alerts"]), **summary["latency_s"]}))
    return 0


def _official_backend(args, scorer):
    """With ``--features i3d``, the in-process backend on the official path (I3D ResNet-50, 1 crop, on ``--device``,
    and the official MGFN weights); otherwise None (the monitor's default). One-line errors for unfit options."""
    from crimeviz.cli.cctv import _check_i3d_args, _device
    from crimeviz.cli.common import CommandError

    if not _check_i3d_args(args, features=False):
        return None
    if args.backend == "ray":
        raise CommandError(
            "--features i3d runs in the monitor's process (on --device); --backend ray scores CrimeViz features"
        )
    if args.weights is None:
        raise CommandError("--features i3d needs --weights (the official MGFN UCF-Crime state dict)")
    from crimeviz.cctv.i3d_features import I3DFeatureExtractor, i3d_version, load_i3d
    from crimeviz.cctv.live.backend import InProcessBackend

    extractor = I3DFeatureExtractor(load_i3d(args.i3d_weights), 1, _device(args.device))
    return InProcessBackend(scorer, i3d=(extractor, i3d_version(args.i3d_weights, 1)))


def add_arguments(p) -> None:
    from crimeviz.cli.cctv import _i3d_args
    from crimeviz.cli.common import db_arg, user_args

    p.add_argument("--camera", action="append", default=None, metavar="NAME", help="watch this camera (repeatable)")
    p.add_argument("--for", dest="seconds", type=float, default=None, metavar="SECONDS", help="stop after SECONDS")
    p.add_argument(
        "--json", type=Path, default=None, metavar="OUT", help="write cameras, alerts and latencies at the end"
    )
    p.add_argument("--webhook", action="append", default=None, metavar="URL", help="POST signed alerts here")
    p.add_argument("--email-to", action="append", default=None, metavar="ADDRESS", help="e-mail alerts here")
    p.add_argument("--smtp", default=None, metavar="HOST[:PORT]", help="SMTP server (default $CRIMEVIZ_SMTP_HOST)")
    p.add_argument("--public-url", default=None, help="the app's address, for links in pings ($CRIMEVIZ_PUBLIC_URL)")
    p.add_argument(
        "--stride",
        type=int,
        default=None,
        help="frames between snippet windows (16 long; default 8, with --features i3d 16: the official snippets "
        "do not overlap)",
    )
    p.add_argument("--backend", choices=("in-process", "ray"), default="in-process", help="where snippets are scored")
    p.add_argument("--ray-address", default=None, help="join this Ray cluster (default $RAY_ADDRESS, else a local one)")
    p.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="MGFN checkpoint (default: $CRIMEVIZ_CCTV_WEIGHTS, else the registry's promoted version, followed "
        "after a promotion or rollback without a restart, else the demo model)",
    )
    p.add_argument(
        "--features",
        choices=("crimeviz", "i3d"),
        default="crimeviz",
        help="snippet features: CrimeViz's own (default) or the official path's I3D ResNet-50 (1 centre crop, "
        "with --weights an official MGFN state dict; a GPU with --device cuda keeps up with a camera)",
    )
    _i3d_args(p)
    p.add_argument("--device", default="cpu", help="where I3D runs with --features i3d: cpu (default) or cuda")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for PyTorch (default 1)")
    db_arg(p)
    user_args(p)
    p.set_defaults(func=cmd_monitor)


BENCH_HELP = "live monitoring: snippet, ping and report latency, cameras kept in real time per backend"


def cmd_bench_monitor(args) -> int:
    from crimeviz.bench import monitor as bench

    counts = [int(n) for n in str(args.cameras).split(",") if n.strip()]
    backends = ["in-process", "ray"] if args.backend == "both" else [args.backend]
    result = bench.bench_monitor(counts, args.seconds, backends, args.weights, args.threads)
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    print(text)
    return 0


def add_bench_arguments(p) -> None:
    from crimeviz.cctv import DEMO_WEIGHTS

    p.add_argument("--cameras", default="1,2", help="camera counts to try, e.g. 1,2,4 (default 1,2)")
    p.add_argument("--seconds", type=float, default=40.0, help="how long each run watches (default 40)")
    p.add_argument("--backend", choices=("in-process", "ray", "both"), default="both")
    p.add_argument("--json", type=Path, default=None, metavar="OUT")
    p.add_argument("--weights", type=Path, default=DEMO_WEIGHTS)
    p.add_argument("--threads", type=int, default=1, help="CPU threads for PyTorch (default 1)")
    p.set_defaults(func=cmd_bench_monitor)
