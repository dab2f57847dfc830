"""Live cameras on Ray: a camera actor per camera (reader, gate, features), one shared batching scorer.

Each camera runs in its own actor (:class:`CameraActor`, a small explicit CPU share,
``camera_cpus``): its FFmpeg reader is a child of the actor's process, and the motion gate,
the snippet windows and the features (:class:`camera.CameraPipeline`, the same class the
in-process backend runs in the monitor's thread) run there too: the EfficientNet-Lite0
backbone in the actor itself, or, with ``feature_actors``, in shared feature actors
(:class:`FeatureActor`) that the cameras are spread over. (Measured with ``bench monitor``
on two cores, 3 cameras: the backbone in the camera actor gave p95 snippet latency
0.13-0.20 s, a shared feature actor 0.22-0.23 s: one hop less, and the cameras' backbones
run side by side.) The snippet's features go to the scorer. The monitor's camera thread
polls its actor (:class:`RayCameraPipeline`): each frame at the analysis size, which the monitor keeps for
pre/post-capture clips and snapshots, and each window's score with its features; a window's
frames are sent once, as frames, and named by index in the scored window. The monitor then
only turns scores into alerts, clips, pings and reports (:mod:`monitor`).

The scorer (:class:`ScorerActor`, an asyncio actor) waits at most ``max_wait_s`` for
snippets of other cameras, then scores up to ``max_batch`` of them in one MGFN pass
(:class:`backend.ContextScorer`; which requests go together is
:class:`backend.PendingRequests`, tested without Ray). Every actor asks for an explicit
share of a CPU (``num_cpus``, ``feature_cpus``, ``camera_cpus``; a share Ray schedules by,
not a limit): on a two-core machine an actor that asks for a whole core can wait for one
forever.

``ray.init()`` starts a local one-node cluster unless ``address`` (or ``$RAY_ADDRESS``)
names a cluster to join. Ray docs: "Actors", "AsyncIO / Concurrency for Actors",
"Specifying Task or Actor Resource Requirements".
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from crimeviz.cctv.cameras import CameraConfig, resolve_credentials
from crimeviz.cctv.features import FeatureSpec
from crimeviz.cctv.live.camera import CameraPipeline, Scored
from crimeviz.cctv.live.snippets import LiveFeatures, Window
from crimeviz.cctv.live.source import CONNECTING, STOPPED, Frame

OUTBOX = 32  # frames and scores a camera actor holds for the monitor; when full, its reader's queue fills and drops
POLL_GRACE_S = 5.0  # a poll not answered this long after its own timeout is given up (the actor may still be starting)


class ScorerActor:
    """MGFN with per-camera contexts; ``await score(camera, features)`` -> the snippet's score."""

    def __init__(self, weights: str, context: int, max_batch: int, max_wait_s: float):
        import torch

        from crimeviz.cctv.live.backend import ContextScorer, PendingRequests
        from crimeviz.cctv.model import load_scorer

        torch.set_num_threads(1)
        self.scorer = ContextScorer(load_scorer(weights), context)
        self.pending = PendingRequests()
        self.max_batch, self.max_wait_s = max_batch, max_wait_s
        self.timer: asyncio.TimerHandle | None = None

    async def score(self, camera: str, features: np.ndarray) -> float:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.add(camera, features, future)
        if len(self.pending) >= self.max_batch:
            self._flush()
        elif self.timer is None:
            self.timer = loop.call_later(self.max_wait_s, self._flush)
        return await future

    def _flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch = self.pending.take(self.max_batch)
        if batch:
            try:
                scores = self.scorer.score_batch([(camera, features) for camera, features, _ in batch])
            except Exception as exc:  # every waiting camera learns why
                for _, _, future in batch:
                    future.set_exception(exc)
            else:
                for (_, _, future), score in zip(batch, scores):
                    future.set_result(score)
        if len(self.pending):
            self.timer = asyncio.get_running_loop().call_later(0, self._flush)

    def stats(self) -> dict:
        return {"batches": self.scorer.batches, "scored": self.scorer.scored}


def init(address: str | None = None, num_cpus: int | None = None) -> None:
    """Joins ``address`` (or ``$RAY_ADDRESS``), else starts a local one-node cluster whose workers import CrimeViz
    from this checkout."""
    import ray

    from crimeviz import config

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: no usage report leaves the machine
    address = address or os.environ.get("RAY_ADDRESS")
    options = {}
    if not address:
        path = os.pathsep.join(p for p in (str(config.ROOT), os.environ.get("PYTHONPATH", "")) if p)
        options = {
            "include_dashboard": False,
            "num_cpus": num_cpus or max(1, os.cpu_count() or 1),
            "runtime_env": {"env_vars": {"PYTHONPATH": path}},
        }
    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, **options)


class FeatureActor:
    """The frozen EfficientNet-Lite0 backbone: prepared frames -> pooled features (the costly part of a snippet)."""

    def __init__(self):
        import torch

        from crimeviz.cctv.features import backbone_embedder, load_backbone

        torch.set_num_threads(1)
        self.embed_frames = backbone_embedder(load_backbone())

    def embed(self, frames: np.ndarray) -> np.ndarray:
        return self.embed_frames(frames)

    def ready(self) -> bool:
        return True


@dataclass(frozen=True)
class SentScore:
    """A scored window as a camera actor sends it: its frames by index (the monitor has them already)."""

    indices: tuple[int, ...]
    previous: int | None
    moving: bool
    features: np.ndarray
    score: float


class CameraActor:
    """One camera's :class:`camera.CameraPipeline` in a Ray actor, read by a pump thread into a bounded outbox.

    Started idle (its process and imports ready before any camera is timed), then ``open(cfg, …)``;
    ``poll(timeout)`` -> (frames and :class:`SentScore` since the last poll, the camera's status).
    """

    def __init__(self, scorer, embedder=None):
        import ray
        import torch

        from crimeviz.cctv.features import backbone_embedder, load_backbone

        torch.set_num_threads(1)
        self.ray, self.scorer, self.embedder = ray, scorer, embedder
        self.embed_frames = backbone_embedder(load_backbone()) if embedder is None else None
        self.pipeline: CameraPipeline | None = None
        self.outbox: deque = deque()
        self.changed = threading.Condition()
        self.stopped = threading.Event()
        self.failure: Exception | None = None  # what stopped the pump, raised to the monitor by the next poll
        self.pump = threading.Thread(target=self._pump, daemon=True, name="camera-pump")

    def ready(self) -> bool:
        return True

    def open(self, cfg: CameraConfig, spec: FeatureSpec, snippet_len: int, stride: int, reader_options) -> None:
        features = LiveFeatures(spec, self._embed)
        self.pipeline = CameraPipeline(cfg, features, snippet_len, stride, self._score, reader_options)
        self.pipeline.start()
        self.pump.start()

    def _embed(self, frames: np.ndarray) -> np.ndarray:
        if self.embedder is None:
            return self.embed_frames(frames)
        return self.ray.get(self.embedder.embed.remote(np.ascontiguousarray(frames)))

    def _score(self, camera: str, features: np.ndarray) -> float:
        return self.ray.get(self.scorer.score.remote(camera, features))

    def _pump(self) -> None:
        try:
            while not self.stopped.is_set():
                for event in self.pipeline.read(0.25):
                    self._put(event)
        except Exception as exc:  # e.g. the scorer is gone: the monitor reports it, as it would in-process
            with self.changed:
                self.failure = exc
                self.changed.notify_all()

    def _put(self, event) -> None:
        if isinstance(event, Scored):
            w = event.window
            previous = w.previous.index if w.previous else None
            event = SentScore(tuple(f.index for f in w.frames), previous, w.moving, event.features, event.score)
        with self.changed:
            while len(self.outbox) >= OUTBOX and not self.stopped.is_set():
                self.changed.wait(0.25)
            self.outbox.append(event)
            self.changed.notify_all()

    def poll(self, timeout: float) -> tuple[list, dict]:
        with self.changed:
            if not self.outbox and self.failure is None:
                self.changed.wait(timeout)
            if not self.outbox and self.failure is not None:
                raise self.failure
            events = list(self.outbox)
            self.outbox.clear()
            self.changed.notify_all()
        return events, self.pipeline.status()

    def stop(self) -> dict:
        self.stopped.set()
        self.pump.join(timeout=10)
        return self.pipeline.stop()


class RayCameraPipeline:
    """The monitor's side of a :class:`CameraActor`: the same ``read``/``status``/``stop`` as
    :class:`camera.CameraPipeline`, windows rebuilt from the frames already received."""

    def __init__(self, ray, actor, opened, snippet_len: int):
        self.ray, self.actor, self.opened = ray, actor, opened
        self.recent: deque[Frame] = deque(maxlen=snippet_len + 1)
        self.pending = None
        self.last = {"state": CONNECTING, "fps": 0.0, "frames": 0, "dropped": 0, "reconnects": 0}

    def start(self) -> RayCameraPipeline:
        return self

    @property
    def frames(self) -> int:
        return self.last["frames"]

    def status(self) -> dict:
        return self.last

    def read(self, timeout: float) -> list[Frame | Scored]:
        if self.opened is not None:  # the actor's calls may run in any order: its camera is open before a poll
            if not self.ray.wait([self.opened], timeout=timeout)[0]:
                return []
            self.ray.get(self.opened)  # the reason, if it could not open
            self.opened = None
        if self.pending is None:
            self.pending = self.actor.poll.remote(timeout)
        ready, _ = self.ray.wait([self.pending], timeout=timeout + POLL_GRACE_S)
        if not ready:
            return []
        events, self.last = self.ray.get(self.pending)
        self.pending = None
        out = []
        for event in events:
            if isinstance(event, Frame):
                self.recent.append(event)
                out.append(event)
            else:
                by_index = {f.index: f for f in self.recent}
                frames = tuple(by_index[i] for i in event.indices)
                window = Window(frames, by_index.get(event.previous), event.moving)
                out.append(Scored(window, event.features, event.score))
        return out

    def stop(self) -> dict:
        try:
            self.last = self.ray.get(self.actor.stop.remote(), timeout=30)
        except (self.ray.exceptions.RayError, TimeoutError) as exc:  # a dead actor has stopped its reader with it
            self.last = {**self.last, "state": STOPPED, "last_error": f"{type(exc).__name__}: {exc}"[:300]}
        self.ray.kill(self.actor)
        return self.last


class RayBackend:
    """The monitor's backend on Ray (same interface as :class:`backend.InProcessBackend`: ``pipeline``, ``close``).

    ``cameras``: camera actors started with the scorer, so the cameras a monitor watches start
    together once everything is loaded (a camera beyond them starts its actor then).
    ``feature_actors``: 0 runs each camera's backbone in its actor, N shares N feature actors.
    """

    name = "ray"

    def __init__(
        self,
        scorer_path: str | os.PathLike,
        address: str | None = None,
        num_cpus: float = 0.5,
        max_batch: int = 16,
        max_wait_s: float = 0.01,
        context: int = 16,
        feature_actors: int = 0,
        feature_cpus: float = 0.5,
        camera_cpus: float = 0.25,
        cameras: int = 0,
    ):
        import ray

        self.ray, self.camera_cpus = ray, camera_cpus
        if not ray.is_initialized():
            init(address)
        actor = ray.remote(ScorerActor).options(num_cpus=num_cpus, max_concurrency=1000)
        self.actor = actor.remote(str(Path(scorer_path)), context, max_batch, max_wait_s)
        features = ray.remote(FeatureActor).options(num_cpus=feature_cpus)
        self.embedders = [features.remote() for _ in range(feature_actors)]
        self.cameras: list = []
        # as many camera actors as the cluster has CPU shares for start now; waiting on more would never end
        free = ray.cluster_resources().get("CPU", 0.0) - num_cpus - feature_cpus * feature_actors
        self.idle = [self._camera_actor() for _ in range(min(cameras, max(0, int(free / camera_cpus + 1e-9))))]
        # ready (models loaded, camera processes started) before the first snippet is timed
        ray.get([self.actor.stats.remote()] + [e.ready.remote() for e in self.embedders])
        ray.get([c.ready.remote() for c in self.idle])

    def _camera_actor(self):
        actor = self.ray.remote(CameraActor).options(num_cpus=self.camera_cpus, max_concurrency=4)
        shared = self.embedders[len(self.cameras) % len(self.embedders)] if self.embedders else None
        handle = actor.remote(self.actor, shared)
        self.cameras.append(handle)
        return handle

    def pipeline(
        self, cfg: CameraConfig, spec: FeatureSpec, snippet_len: int, stride: int, reader_options: dict | None = None
    ) -> RayCameraPipeline:
        """The camera's pipeline in its own actor (``camera_cpus`` of a CPU; one started beforehand if any is
        left), read by the monitor's camera thread."""
        actor = self.idle.pop() if self.idle else self._camera_actor()
        # the credentials as this process resolves them ($VAR of an env: camera is set here, not on every node)
        cfg = replace(cfg, credentials=resolve_credentials(cfg.credentials))
        opened = actor.open.remote(cfg, spec, snippet_len, stride, reader_options)
        return RayCameraPipeline(self.ray, actor, opened, snippet_len)

    def stats(self) -> dict:
        return self.ray.get(self.actor.stats.remote())

    def close(self) -> None:
        for actor in [*self.cameras, self.actor, *self.embedders]:
            self.ray.kill(actor)
