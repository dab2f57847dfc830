"""Live CCTV monitoring: camera streams -> motion gate -> rolling MGFN scores -> alerts, pings, reports.

One small unit per responsibility, after Frigate NVR (``frigate/video``, ``frigate/motion``,
``frigate/review``): ``source`` (an FFmpeg reader with a watchdog), ``motion`` (a masked
motion gate), ``snippets`` (overlapping windows and their features), ``camera`` (one
camera's pipeline: reader, gate, windows, features, score), ``backend`` (MGFN scoring
in-process, batched across cameras; ``ray_backend``: each camera's pipeline in its own Ray
actor, one shared batching scorer), ``alerts`` (hysteresis, minimum duration,
cooldown), ``recorder`` (pre/post-capture clips, snapshots), ``live_report`` (JSON and
PDF), ``notify`` (signed webhooks and e-mail from an outbox), ``alert_store`` (the rows),
and ``monitor``, which runs them per camera.
"""

import os
from pathlib import Path

from crimeviz import config


def alerts_dir() -> Path:
    """Where alert clips, snapshots and reports go: ``$CRIMEVIZ_ALERTS_DIR`` or ``data/alerts``."""
    path = Path(os.environ.get("CRIMEVIZ_ALERTS_DIR", config.DATA_DIR / "alerts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
