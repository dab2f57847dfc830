"""The live monitor: every watched camera from stream to alert, ping and report.

Per camera a thread (:class:`CameraWorker`) reads the camera's pipeline (:mod:`camera`:
the stream, the motion gate, overlapping windows and their scores; run in that thread by
the in-process backend, in a Ray actor per camera by ``ray_backend``): it keeps each
frame for clips, stores the camera's state and rolling scores, and
turns the scores into alert segments (:mod:`alerts`). When a segment opens, the clip
starts (pre-capture included), the snapshot is saved, the preliminary report is
queued to a report thread and the pings to the notifier thread, so scoring never
waits for a PDF or a receiver. When it ends, the clip is finished ``post_capture_s``
later and the report rewritten complete. With each report, the report thread stores
the snippet features the camera scored over the clip (:mod:`crimeviz.cctv.snippet_store`,
so retraining decodes no clip) and classifies the segment with the promoted model's
heads (:func:`crimeviz.cctv.retrain.classify_alert`).

Restart safety: alert rows are unique per camera and start, each camera continues
from its last segment (an interrupted one is resumed or closed, one ended within the
cooldown is reopened), and undelivered pings wait in the outbox.

Latencies (:class:`Latencies`): a snippet's, from its last frame's arrival to its score and
the alert decision made and handed to the status writer (:class:`StatusWriter` stores every
camera's state at most a second later, in one transaction: a write opens the shared store);
a ping's and a report's, from the alert opening to delivery / files written.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from crimeviz.cctv import retrain, snippet_store
from crimeviz.cctv.cameras import CameraConfig, in_schedule, redact
from crimeviz.cctv.i3d_features import SNIPPET_LEN as I3D_SNIPPET_LEN
from crimeviz.cctv.live import alert_store, alerts_dir, live_report, notify, retention
from crimeviz.cctv.live.alerts import ALERT, AlertTracker, Segment
from crimeviz.cctv.live.camera import Scored
from crimeviz.cctv.live.recorder import ClipWriter, FrameBuffer, clip_parts, jpeg
from crimeviz.cctv.live.snippets import FeatureHistory
from crimeviz.cctv.model import Scorer

CURVE_SECONDS = 120  # rolling scores kept for the Live page's tiles
STATUS_EVERY_S = 1.0  # state written at least this often while no snippet is scored
# Scores of a context this short are not compared with the threshold: MGFN's glance block attends over the
# context, and over one or two snippets (far shorter than any training video) the demo model scores ~1.
WARMUP_SNIPPETS = 3
SNAPSHOT = "snapshot.jpg"
HOUSEKEEPING_S = 3600.0  # the monitor purges alert media this often (and once when it starts)
SCHEDULE_CHECK_S = 5.0  # how often a camera with a schedule checks whether it should be watched
OFF_SCHEDULE = "off schedule"
FAILED = "failed"  # the camera's loop stopped on an error (shown with it); the others go on


def _off_schedule(pipeline) -> dict:
    frames = pipeline.frames if pipeline else 0
    return {"state": OFF_SCHEDULE, "fps": 0.0, "frames": frames, "dropped": 0, "reconnects": 0}


def percentile(values, q: float) -> float | None:
    return None if not values else round(float(np.percentile(np.asarray(values), q)), 4)


@dataclass
class Latencies:
    snippet: list[float] = field(default_factory=list)
    ping: list[float] = field(default_factory=list)
    report: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            getattr(self, kind).append(seconds)

    def summary(self) -> dict:
        with self.lock:
            return {
                "snippet_p50": percentile(self.snippet, 50),
                "snippet_p95": percentile(self.snippet, 95),
                "ping_p95": percentile(self.ping, 95),
                "report_p95": percentile(self.report, 95),
                "snippets": len(self.snippet),
            }


@dataclass
class Recording:
    segment: Segment
    folder: Path
    writer: ClipWriter | None
    opened: float
    keyframes: list[tuple[str, bytes]] = field(default_factory=list)


class StatusWriter:
    """Writes the cameras' latest state (``cctv_camera_status``) at most every ``every_s`` seconds, all cameras in
    one transaction, from its own thread: a write opens the shared store, which takes longer than scoring."""

    def __init__(self, con, every_s: float = STATUS_EVERY_S, housekeeping: Callable[[], None] | None = None):
        self.con, self.every_s, self.housekeeping = con, every_s, housekeeping
        self.last_housekeeping: float | None = None
        self.latest: dict[int, tuple] = {}
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="status-writer")
        self.thread.start()

    def put(self, camera_id: int, status: dict, level, curve: list, jpeg: bytes | None) -> None:
        with self.lock:
            old = self.latest.get(camera_id)
            self.latest[camera_id] = (camera_id, status, level, curve, jpeg or (old[4] if old else None))

    def flush(self) -> None:
        with self.lock:
            rows, self.latest = list(self.latest.values()), {}
        if rows:
            alert_store.write_statuses(self.con, rows)

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=30)
        self.flush()

    def _run(self) -> None:
        while not self.stop_event.wait(self.every_s):
            self.flush()
            due = self.last_housekeeping is None or time.monotonic() - self.last_housekeeping > HOUSEKEEPING_S
            if self.housekeeping and due:
                self.last_housekeeping = time.monotonic()
                self.housekeeping()


class Reporter:
    """Writes reports in a background thread (a PDF takes tens of milliseconds); a job that fails is counted and
    its error kept (``failures``, ``last_error``), and the next job runs."""

    def __init__(self, con, latencies: Latencies):
        self.con, self.latencies = con, latencies
        self.failures, self.last_error = 0, None
        self.queue: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True, name="reporter")
        self.thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self.queue.put(job)

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=60)

    def _run(self) -> None:
        while (job := self.queue.get()) is not None:
            try:
                job()
            except Exception as exc:  # one report lost is better than every later one
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]


class CameraWorker:
    """One camera's loop in its own thread; ``status()`` for the summary."""

    def __init__(self, cfg: CameraConfig, monitor: Monitor):
        self.cfg, self.monitor = cfg, monitor
        self.con = monitor.con.cursor()
        self.pipeline = None  # the camera's frames and scored windows (:mod:`camera`), while it is watched
        self.history = FeatureHistory()  # the scored windows' features, here whichever process computed them
        self.curve: deque[tuple[float, float]] = deque(maxlen=int(CURVE_SECONDS * cfg.detect_fps / monitor.stride) + 1)
        self.snippets = 0
        self.level: float | None = None
        self.recordings: dict[int, Recording] = {}
        self.keyframes: dict[int, list[tuple[str, bytes]]] = {}  # kept past a recording, for a reopened alert
        self.thread = threading.Thread(target=self._guarded_run, daemon=True, name=f"camera-{cfg.name}")
        self.error: str | None = None
        self.off_schedule = False
        self.place: bytes | None = None

    def start(self) -> None:
        self.thread.start()

    def status(self) -> dict:
        """The camera's state as its pipeline reports it (from its actor, on Ray) and the snippets scored."""
        camera = self.pipeline.status() if self.pipeline else {"state": "stopped", "frames": 0, "fps": 0.0}
        reader = _off_schedule(self.pipeline) if self.off_schedule else camera
        return {
            "name": self.cfg.name,
            "state": reader["state"],
            "frames": reader["frames"],
            "fps": reader["fps"],
            "snippets": self.snippets,
            "backbone_runs": camera.get("backbone_runs", 0),
            "gated": camera.get("gated", 0),
            "dropped": reader.get("dropped", 0),
            "reconnects": reader.get("reconnects", 0),
            "pid": camera.get("pid"),
            "error": self.error,
        }

    def _in_schedule(self) -> bool:
        return in_schedule(self.cfg.schedule, datetime.now().time())

    def _guarded_run(self) -> None:
        stop = self.monitor.stop_event
        try:
            while not stop.is_set():
                self.off_schedule = not self._in_schedule()
                if not self.off_schedule:
                    self._run()  # until stopped, or until the schedule ends
                else:
                    self.monitor.status_writer.put(self.cfg.camera_id, _off_schedule(self.pipeline), None, [], None)
                    stop.wait(SCHEDULE_CHECK_S)
        except Exception as exc:  # one camera's failure must not stop the others; it is reported, on the Live page too
            self.error = redact(f"{type(exc).__name__}: {exc}", self.cfg)
            frames = self.pipeline.frames if self.pipeline else 0
            failed = {"state": FAILED, "fps": 0.0, "frames": frames, "last_error": self.error[:300]}
            self.monitor.status_writer.put(self.cfg.camera_id, failed, None, list(self.curve), None)

    def _run(self) -> None:
        cfg, stop, monitor = self.cfg, self.monitor.stop_event, self.monitor
        self.pipeline = monitor.backend.pipeline(
            cfg, monitor.scorer.spec, monitor.snippet_len, monitor.stride, monitor.reader_options
        )
        buffer = FrameBuffer(cfg.pre_capture_s + self.monitor.snippet_len / cfg.detect_fps + 1, cfg.detect_fps)
        tracker = None
        try:  # from here on, the camera's reader (and its actor on Ray) is stopped however the loop ends
            self.pipeline.start()
            tracker = AlertTracker(
                cfg.threshold,
                cfg.hysteresis_n,
                cfg.min_duration_s,
                cfg.cooldown_s,
                alert_store.last_segment(self.con, cfg.camera_id),
            )
            if tracker.current is not None:  # an alert interrupted by a crash: continue it, in a new clip part
                seg = tracker.current
                self.recordings[seg.alert_id] = Recording(seg, self._folder(seg.alert_id), None, time.time())
                self._start_clip(self.recordings[seg.alert_id], buffer)
            self.monitor.reporter.submit(self._place)  # drawn before any alert needs it
            last_status, last_check = 0.0, time.monotonic()
            while not stop.is_set():
                if time.monotonic() - last_check > SCHEDULE_CHECK_S:
                    last_check = time.monotonic()
                    if not self._in_schedule():
                        break
                arrived = self.pipeline.read(0.25)
                if not any(isinstance(a, Scored) for a in arrived) and time.time() - last_status >= STATUS_EVERY_S:
                    self._publish(None)
                    last_status = time.time()
                for item in arrived:
                    if not isinstance(item, Scored):  # a frame: kept for clips
                        buffer.append(item)
                        self._record(item)
                        continue
                    window, score = item.window, item.score
                    self.history.add(window.start, window.end, item.features)
                    self.level = None
                    self.curve.append(((window.start + window.end) / 2, round(score, 4)))
                    warm = self.snippets >= WARMUP_SNIPPETS
                    events = tracker.update(window.start, window.end, score) if warm else []
                    self.level = tracker.level()
                    self._publish(jpeg(window.frames[-1].image))
                    last_status = time.time()
                    self.monitor.latencies.add("snippet", last_status - window.end)
                    self.snippets += 1
                    for event in events:
                        self._on_event(event.kind, event.segment, window, buffer)
        finally:
            for event in tracker.stop(time.time()) if tracker else []:
                self._on_event(event.kind, event.segment, None, buffer)
            for alert_id in list(self.recordings):
                self._finish(alert_id)
            self.pipeline.stop()
            self._publish(None)

    # -- state ------------------------------------------------------------------------
    def _publish(self, latest_jpeg: bytes | None) -> None:
        """Hands the camera's state, score level, rolling scores and latest frame to the status writer."""
        status = self.pipeline.status() if self.pipeline else {"state": "stopped", "fps": 0, "frames": 0}
        self.monitor.status_writer.put(self.cfg.camera_id, status, self.level, list(self.curve), latest_jpeg)

    def _folder(self, alert_id: int) -> Path:
        return self.monitor.media_dir / f"alert-{alert_id}"

    # -- alerts -----------------------------------------------------------------------
    def _on_event(self, kind: str, seg: Segment, window, buffer: FrameBuffer) -> None:
        cfg, monitor = self.cfg, self.monitor
        targets = monitor.settings.targets()
        if kind == "open":
            opened = time.time()
            seg.alert_id = alert_store.open_alert(
                self.con,
                cfg,
                seg,
                monitor.model,
                targets,
                opened,
                monitor.by,
                files=lambda i: {
                    "clip": str(self._folder(i) / "clip.mp4"),
                    "snapshot": str(self._folder(i) / SNAPSHOT),
                },
            )
            monitor.opened[seg.alert_id] = opened
            self._hold(seg)
            if seg.severity == ALERT:
                monitor.notifier.enqueue(seg.alert_id, self._message(seg))
            rec = Recording(seg, self._folder(seg.alert_id), None, opened)
            self.recordings[seg.alert_id] = rec
            self._snapshot(rec, window)
            self._report(rec, complete=False)
            self._start_clip(rec, buffer)
        elif kind == "reopen":
            rec = self.recordings.get(seg.alert_id) or Recording(seg, self._folder(seg.alert_id), None, time.time())
            rec.keyframes = rec.keyframes or self.keyframes.get(seg.alert_id, [])
            self.recordings[seg.alert_id] = rec
            self._hold(seg)
            if rec.writer is None:
                self._start_clip(rec, buffer)
            self._snapshot(rec, window)
            alert_store.update_alert(self.con, seg)
        elif kind == "peak" and seg.alert_id in self.recordings:
            self._snapshot(self.recordings[seg.alert_id], window)
            alert_store.update_alert(self.con, seg)
        elif kind == "promote":
            alert_store.update_alert(self.con, seg, pings=targets, now=time.time(), by=monitor.by)
            monitor.notifier.enqueue(seg.alert_id, self._message(seg))
        elif kind == "close":
            alert_store.update_alert(self.con, seg, by=monitor.by)
            self._hold(seg)
            if seg.alert_id in self.recordings and self.recordings[seg.alert_id].writer is None:
                self._finish(seg.alert_id)

    def _hold(self, seg: Segment) -> None:
        """Keeps the camera's window features from the alert's clip start on while the alert lasts, and after it
        ends for as long as it may reopen or its clip runs on (cooldown and post-capture)."""
        cfg = self.cfg
        until = None if seg.end is None else seg.end + cfg.cooldown_s + cfg.post_capture_s
        self.history.hold(seg.alert_id, seg.start - cfg.pre_capture_s, until)

    def _snippets(self, seg: Segment, end: float) -> tuple[np.ndarray, float, tuple[float, float]] | None:
        """The snippet features scored over the alert's clip (pre-capture through ``end``), their length in seconds
        and the segment's span in seconds from the first one; None when they do not reach back to the clip's start
        (this monitor began watching after the clip began: it started, restarted or reconnected)."""
        since = seg.start - self.cfg.pre_capture_s
        snippet_s = self.monitor.snippet_len / self.cfg.detect_fps
        kept = self.history.snippets(since, end)
        if kept is None or kept[1] > since + snippet_s:
            return None
        features, first = kept
        return features, snippet_s, (seg.start - first, (seg.end or seg.last_above) - first)

    def _keep_snippets(self, alert_id: int, snippets, complete: bool) -> dict:
        """In the report thread: stores the alert's snippet features (with the segment's span in seconds from the
        first snippet, for retraining) and returns its classification. Features that do not cover the whole alert
        are not kept: those stored when it opened are removed at its end, so retraining decodes its clip."""
        monitor = self.monitor
        if snippets is None:
            if complete:
                snippet_store.forget(monitor.reporter_con, "alert", alert_id)
            return {"note": "not classified: this monitor began watching after the alert's clip began"}
        features, snippet_s, span = snippets
        try:
            snippet_store.save(
                monitor.reporter_con,
                "alert",
                alert_id,
                self.cfg.camera_id,
                features,
                snippet_s,
                monitor.model[0],
                {**monitor.feature_spec, "segment_s": [round(span[0], 3), round(span[1], 3)]},
            )
            return retrain.classify_alert(monitor.heads, features, snippet_s, span)
        except Exception as exc:  # the report goes out without a classification rather than not at all
            return {"note": f"not classified: {type(exc).__name__}: {exc}"[:300]}

    def _place(self) -> bytes | None:
        """The report's location map, drawn once per camera (in the report thread) and kept."""
        if self.place is None:
            try:
                counts = live_report.location_counts(self.monitor.reporter_con, self.cfg.lat, self.cfg.lon)
                self.place = live_report.location_map(self.cfg.lat, self.cfg.lon, counts)
            except Exception:  # a report without its map is better than none
                self.place = b""
        return self.place or None

    def _message(self, seg: Segment) -> dict:
        """What the pings of ``seg`` say (built here, so a ping needs no read of the store)."""
        cfg = self.cfg
        content = notify.payload(
            seg.alert_id, cfg.name, cfg.lat, cfg.lon, seg.start, seg.peak, seg.severity, self.monitor.model[0]
        )
        if self.monitor.nearby_units is not None:
            try:
                content["units"] = self.monitor.nearby_units(cfg.lat, cfg.lon, datetime.now())
            except Exception as exc:  # the ping goes out without units rather than not at all
                content["units_error"] = f"{type(exc).__name__}: {exc}"[:200]
        return content

    def _start_clip(self, rec: Recording, buffer: FrameBuffer) -> None:
        """A new clip part (the alert's ``clip`` stays the first; the Live page and the report list every part)."""
        part = 1 + len(clip_parts(rec.folder))
        name = "clip.mp4" if part == 1 else f"clip-{part}.mp4"
        rec.writer = ClipWriter(rec.folder / name, (self.cfg.detect_width, self.cfg.detect_height), self.cfg.detect_fps)
        for frame in buffer.since(rec.segment.start - self.cfg.pre_capture_s):
            rec.writer.write(frame)

    def _snapshot(self, rec: Recording, window) -> None:
        if window is None:
            return
        frame = window.frames[len(window.frames) // 2]
        data = jpeg(frame.image)
        rec.folder.mkdir(parents=True, exist_ok=True)
        path = rec.folder / SNAPSHOT
        path.with_name(SNAPSHOT + ".part").write_bytes(data)
        path.with_name(SNAPSHOT + ".part").replace(path)
        caption = time.strftime("%H:%M:%S", time.localtime(frame.at)) + f" · {rec.segment.peak:.3f}"
        rec.keyframes = (rec.keyframes + [(caption, data)])[-3:]
        self.keyframes[rec.segment.alert_id] = rec.keyframes

    def _record(self, frame) -> None:
        for alert_id in list(self.recordings):
            rec = self.recordings[alert_id]
            if rec.writer is not None:
                rec.writer.write(frame)
            if rec.segment.end is not None and frame.at > rec.segment.end + self.cfg.post_capture_s:
                self._finish(alert_id)

    def _finish(self, alert_id: int) -> None:
        rec = self.recordings.pop(alert_id)
        if rec.writer is not None:
            rec.writer.close()
            rec.writer = None
        if rec.segment.end is not None:
            self._report(rec, complete=True)

    def _report(self, rec: Recording, complete: bool) -> None:
        seg, monitor = rec.segment, self.monitor
        start = seg.start - self.cfg.pre_capture_s
        end = (seg.end if seg.end is not None else time.time()) + self.cfg.post_capture_s
        curve = [(t, s) for t, s in self.curve if start <= t <= end]
        clips = [p.name for p in clip_parts(rec.folder)]
        alert = {
            "alert_id": seg.alert_id,
            "start": seg.start,
            "end": seg.end,
            "peak": seg.peak,
            "peak_at": seg.peak_at,
            "severity": seg.severity,
            "clips": clips,
            "snapshot": SNAPSHOT if (rec.folder / SNAPSHOT).exists() else None,
        }
        keyframes = list(rec.keyframes)
        opened = monitor.opened.get(seg.alert_id)
        cfg, con = self.cfg, monitor.reporter_con
        snippets = self._snippets(seg, end)

        def job():
            alert["classification"] = self._keep_snippets(seg.alert_id, snippets, complete)
            record = live_report.build(alert, cfg, curve, monitor.model, complete)
            json_path, pdf_path = live_report.write(rec.folder, record, keyframes, self._place())
            if not complete and opened is not None:  # ready: the files are in place
                monitor.latencies.add("report", time.time() - opened)
            alert_store.set_files(
                con,
                seg.alert_id,
                report_json=str(json_path),
                report_pdf=str(pdf_path),
                report_complete=complete,
                curve=curve,
                classification=alert["classification"],
            )

        monitor.reporter.submit(job)


class Monitor:
    """Runs cameras until :meth:`stop`; ``summary()`` is what ``python -m crimeviz monitor --json`` writes."""

    def __init__(
        self,
        con,
        scorer: Scorer,
        cameras: list[CameraConfig],
        settings: notify.Settings | None = None,
        backend=None,
        media_dir: Path | None = None,
        snippet_len: int | None = None,
        stride: int = 8,
        reader_options: dict | None = None,
        by: str = alert_store.MONITOR_USER,
        nearby_units: Callable[[float, float, datetime], list[dict]] | None = None,
    ):
        from crimeviz.cctv.cameras import ensure_tables
        from crimeviz.cctv.live.backend import InProcessBackend

        self.backend = backend or InProcessBackend(scorer)
        i3d = getattr(self.backend, "i3d", None)
        if i3d is None and (scorer.spec is None or scorer.embed is None):
            raise ValueError("these MGFN weights take I3D features: watch with --features i3d and --i3d-weights")
        ensure_tables(con)
        alert_store.ensure_tables(con)
        self.con, self.scorer, self.by = con, scorer, by
        self.nearby_units = nearby_units
        if i3d is None:
            self.model = (scorer.version, scorer.label)
            self.snippet_len = snippet_len or scorer.spec.snippet_len
            self.feature_spec = {**scorer.spec.to_dict(), "snippet_len": self.snippet_len}
        else:  # the official path: 16-frame I3D snippets
            label = "Official MGFN UCF-Crime checkpoint on live I3D ResNet-50 features (1 centre crop)."
            self.model = (f"{scorer.version}/{i3d[1]}", label)
            self.snippet_len = I3D_SNIPPET_LEN
            self.feature_spec = {"features": i3d[1], "snippet_len": I3D_SNIPPET_LEN}
        if stride < 1 or self.snippet_len % stride:
            # windows every stride frames must tile the snippets back to back for the alert features stored
            raise ValueError(f"the stride must divide the snippet length ({self.snippet_len}), not be {stride}")
        self.stride = stride
        self.settings = settings or notify.Settings()
        self.media_dir = Path(media_dir) if media_dir else alerts_dir()
        self.reader_options = reader_options or {}
        self.latencies = Latencies()
        self.opened: dict[int, float] = {}
        self.housekeeping_error: str | None = None
        self.stop_event = threading.Event()
        self.reporter_con = con.cursor()
        self.reporter = Reporter(self.reporter_con, self.latencies)
        self.heads = retrain.PromotedHeads()
        self.status_writer = StatusWriter(con.cursor(), housekeeping=self._purge_media)
        self.notifier = notify.Notifier(con.cursor(), self.settings, self._delivered)
        self.workers = [CameraWorker(c, self) for c in cameras]

    def _purge_media(self) -> None:
        """Alert media past their retention or beyond the disk budget go (:mod:`retention`), hourly."""
        try:
            retention.purge(self.status_writer.con, self.by, budget_bytes=retention.disk_budget_bytes())
        except (OSError, ValueError) as exc:
            self.housekeeping_error = str(exc)

    def _delivered(self, alert_id: int, channel: str, target: str, at: float) -> None:
        opened = self.opened.get(alert_id)
        if opened is not None:
            self.latencies.add("ping", at - opened)

    def start(self) -> Monitor:
        self.reporter.submit(self.heads.get)  # the promoted classifier loaded before the first alert's report
        self.notifier.start()
        for worker in self.workers:
            worker.start()
        return self

    def run(self, seconds: float | None = None) -> dict:
        """Runs until ``seconds`` have passed (None: until stopped, e.g. by a signal handler calling :meth:`stop`)."""
        self.start()
        try:
            self.stop_event.wait(seconds)
        finally:
            self.stop()
        return self.summary()

    def stop(self) -> None:
        self.stop_event.set()
        for worker in self.workers:
            worker.thread.join(timeout=30)
        self.reporter.stop()
        self.notifier.stop()
        self.status_writer.stop()
        self.backend.close()

    def alerts_since(self) -> list[dict]:
        out = []
        for alert_id in sorted(self.opened):
            row = alert_store.alert(self.reporter_con, alert_id)
            if row:
                out.append(
                    {
                        "id": alert_id,
                        "camera": row["camera"],
                        "start": row["started_at"].isoformat(timespec="milliseconds"),
                        "end": row["ended_at"] and row["ended_at"].isoformat(timespec="milliseconds"),
                        "peak": round(row["peak"], 4),
                        "severity": row["severity"],
                        "report": row["report_pdf"],
                        "report_json": row["report_json"],
                        "clip": row["clip"],
                    }
                )
        return out

    def summary(self) -> dict:
        statuses = [w.status() for w in self.workers]
        return {
            "backend": self.backend.name,
            "model": {"version": self.model[0], "label": self.model[1]},
            "cameras": statuses,
            "alerts": self.alerts_since(),
            "latency_s": self.latencies.summary(),
            "pings": {"delivered": self.notifier.delivered, "failed": self.notifier.failed},
            "reports": {"failed": self.reporter.failures, "last_error": self.reporter.last_error},
        }


def watched(cameras: list[CameraConfig], names: list[str] | None) -> list[CameraConfig]:
    """The cameras to run: those named (enabled or not), else every enabled one; each is watched
    within its schedule (outside it, its state is ``off schedule``)."""
    if names:
        wanted = {n.lower() for n in names}
        chosen = [c for c in cameras if c.name.lower() in wanted]
        missing = wanted - {c.name.lower() for c in chosen}
        if missing:
            raise ValueError(f"no live camera named {sorted(missing)[0]!r}")
        return chosen
    return [c for c in cameras if c.enabled]
