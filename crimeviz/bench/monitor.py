"""Live monitoring benchmark: N cameras at 5 fps through the monitor, for each backend.

Each camera is the sample clip with a blackout painted in (``cctv.synthetic``, an anomaly the
demo model was trained on), looped in real time by FFmpeg as a demo camera, so every camera
raises alerts. A local HTTP receiver takes the signed webhooks and a local SMTP server
(``aiosmtpd``) the e-mails. On ``ray`` each camera runs in its own actor (reader, gate,
features; ``ray_backend``), started with the models before the run is timed, so a run's
snippets are the cameras' steady state, as in-process. Measured per run:

- ``snippet_p50``/``snippet_p95``: from a snippet's last frame arriving to its score and alert
  decision made (target p95 ≤ 0.2 s on CPU with the product features);
- ``ping_p95``: alert opened → webhook or e-mail handed over (the monitor's clock, target ≤ 1 s),
  and ``delivery_s``: alert opened → message arrived, per channel, as each receiver saw it;
- ``report_p95``: alert opened → preliminary report (JSON + PDF) written (target ≤ 3 s);
- ``realtime``: every camera scored at least 90% of the snippets its stream held, dropped no
  frame, and kept the p95 snippet latency under the time between two snippets.

``max_realtime_cameras`` is the largest camera count of the run that stayed real time.
"""

from __future__ import annotations

import email
import json
import re
import socket
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

from crimeviz.cctv import cameras, synthetic, train
from crimeviz.cctv.live import monitor, notify
from crimeviz.cctv.model import load_scorer
from crimeviz.store import db

TARGETS = {"snippet_p95_s": 0.2, "ping_p95_s": 1.0, "report_p95_s": 3.0}
FPS = 5.0
STRIDE = 8


def anomaly_clip(path: Path, seconds: float = 30.0, black_at: float = 12.0, black_s: float = 4.0) -> Path:
    """The sample clip (768×576, 10 fps) shrunk to 384×288, ``seconds`` long, blacked out from ``black_at``."""
    capture = cv2.VideoCapture(str(train.SOURCE_DIR / train.TRAIN_CLIP))
    frames = []
    while len(frames) < int(seconds * 10):
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, (384, 288), interpolation=cv2.INTER_AREA))
    capture.release()
    if not frames:
        raise FileNotFoundError("the sample clip vtest.avi is missing (Debian package opencv-doc)")
    clip = synthetic.inject(
        np.stack(frames), synthetic.Event("blackout", int(black_at * 10), int(black_s * 10)), np.random.default_rng(0)
    )
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (384, 288))
    for frame in clip:
        writer.write(frame)
    writer.release()
    return path


class _Receivers:
    """A webhook receiver and an SMTP server on 127.0.0.1, keeping each alert's arrival times per channel."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.arrivals: dict[str, list[tuple[int, float]]] = {"webhook": [], "email": []}
        arrivals = self.arrivals

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                arrivals["webhook"].append((int(json.loads(body)["alert_id"]), time.time()))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        class Mail:
            async def handle_DATA(self, server, session, envelope):
                subject = email.message_from_bytes(envelope.content)["Subject"] or ""
                arrivals["email"].append((int(re.search(r"#(\d+)", subject).group(1)), time.time()))
                return "250 OK"

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        with socket.socket() as probe:  # aiosmtpd checks it is up by connecting to the port it was given
            probe.bind(("127.0.0.1", 0))
            self.smtp_port = probe.getsockname()[1]
        self.smtp = Controller(Mail(), hostname="127.0.0.1", port=self.smtp_port)
        self.smtp.start()

    def delivery(self, opened: dict[int, float]) -> dict:
        """p95 of alert opened → arrival per channel (None without arrivals)."""
        return {
            f"{channel}_p95": monitor.percentile([at - opened[i] for i, at in got if i in opened], 95)
            for channel, got in self.arrivals.items()
        }

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.smtp.stop()


def run_once(n_cameras: int, seconds: float, backend_name: str, weights: Path, folder: Path, clip: Path) -> dict:
    """One run of ``n_cameras`` cameras for ``seconds`` on ``backend_name``."""
    con = db.connect(folder / f"bench-{backend_name}-{n_cameras}.duckdb")
    configs = []
    for i in range(n_cameras):
        cfg = cameras.CameraConfig(f"bench-{i}", clip.resolve().as_uri(), 43.6532, -79.3832, detect_fps=FPS)
        cameras.add(con, cfg, "bench")
        configs.append(cameras.get(con, cfg.name))
    receivers = _Receivers()
    try:
        settings = notify.Settings(
            webhooks=(receivers.url,),
            webhook_secret="bench",
            email_to=("duty@example.org",),
            smtp_host="127.0.0.1",
            smtp_port=receivers.smtp_port,
        )
        scorer = load_scorer(weights)
        backend = None
        if backend_name == "ray":
            from crimeviz.cctv.live.ray_backend import RayBackend

            backend = RayBackend(weights, cameras=n_cameras)  # camera actors started before the run is timed
        mon = monitor.Monitor(
            con, scorer, configs, settings, backend=backend, stride=STRIDE, media_dir=folder / "alerts"
        )
        started = time.time()
        summary = mon.run(seconds)
        elapsed = time.time() - started
    finally:
        receivers.close()
        con.close()
    expected = max(1, int((elapsed * FPS - scorer.spec.snippet_len) / STRIDE))
    latency = summary["latency_s"]
    kept_up = [c["snippets"] >= 0.9 * expected and c["dropped"] == 0 and c["error"] is None for c in summary["cameras"]]
    realtime = all(kept_up) and (latency["snippet_p95"] or 0) < STRIDE / FPS
    return {
        "backend": backend_name,
        "cameras": n_cameras,
        "seconds": round(elapsed, 1),
        "snippets_expected_per_camera": expected,
        "snippets_per_camera": [c["snippets"] for c in summary["cameras"]],
        "gated_per_camera": [c["gated"] for c in summary["cameras"]],
        "alerts": len(summary["alerts"]),
        "webhooks_received": len(receivers.arrivals["webhook"]),
        "emails_received": len(receivers.arrivals["email"]),
        "latency_s": latency,
        "delivery_s": receivers.delivery(mon.opened),
        "realtime": realtime,
    }


def bench_monitor(
    camera_counts: list[int],
    seconds: float,
    backends: list[str],
    weights: Path,
    threads: int = 1,
    black_at: float = 12.0,
) -> dict:
    import torch

    torch.set_num_threads(max(1, threads))
    runs = []
    with tempfile.TemporaryDirectory(prefix="crimeviz-bench-monitor-") as tmp:
        folder = Path(tmp)
        clip = anomaly_clip(folder / "camera.avi", black_at=black_at)
        for backend in backends:
            for n in sorted(camera_counts):
                runs.append(run_once(n, seconds, backend, weights, folder, clip))
    best = {b: max([r["cameras"] for r in runs if r["backend"] == b and r["realtime"]], default=0) for b in backends}
    return {
        "fps": FPS,
        "stride": STRIDE,
        "targets": TARGETS,
        "runs": runs,
        "max_realtime_cameras": best,
        "gpu": torch.cuda.is_available(),
    }
