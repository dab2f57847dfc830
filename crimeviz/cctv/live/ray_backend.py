"""Snippet features and scoring on Ray: feature actors run the backbone, one shared scorer actor batches.

Camera threads (decoding is FFmpeg's own process per camera; the motion gate and motion
statistics cost milliseconds) send the few frames a snippet's appearance needs to a
feature actor (:class:`FeatureActor`, the EfficientNet-Lite0 backbone; cameras are spread
over ``feature_actors`` of them) and the snippet's features to the scorer.

The scorer (:class:`ScorerActor`, an asyncio actor) waits at most ``max_wait_s`` for
snippets of other cameras, then scores up to ``max_batch`` of them in one MGFN pass
(:class:`backend.ContextScorer`; which requests go together is
:class:`backend.PendingRequests`, tested without Ray). Every actor asks for an explicit
share of a CPU (``num_cpus``, ``feature_cpus``): on a two-core machine an actor that asks
for a whole core can wait for one forever.

``ray.init()`` starts a local one-node cluster unless ``address`` (or ``$RAY_ADDRESS``)
names a cluster to join. Ray docs: "Actors", "AsyncIO / Concurrency for Actors",
"Specifying Task or Actor Resource Requirements".
"""

from __future__ import annotations

import asyncio
import os
import zlib
from pathlib import Path

import numpy as np


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

    def reset(self, camera: str) -> None:
        self.scorer.reset(camera)

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


class RayBackend:
    """The monitor's scoring backend on Ray (same interface as :class:`backend.InProcessBackend`)."""

    name = "ray"

    def __init__(
        self,
        scorer_path: str | os.PathLike,
        address: str | None = None,
        num_cpus: float = 0.5,
        max_batch: int = 16,
        max_wait_s: float = 0.01,
        context: int = 16,
        feature_actors: int = 1,
        feature_cpus: float = 0.5,
    ):
        import ray

        self.ray = ray
        if not ray.is_initialized():
            init(address)
        actor = ray.remote(ScorerActor).options(num_cpus=num_cpus, max_concurrency=1000)
        self.actor = actor.remote(str(Path(scorer_path)), context, max_batch, max_wait_s)
        features = ray.remote(FeatureActor).options(num_cpus=feature_cpus)
        self.embedders = [features.remote() for _ in range(max(1, feature_actors))]
        # ready (models loaded) before the first snippet is timed
        ray.get([self.actor.stats.remote()] + [e.ready.remote() for e in self.embedders])

    def embed(self, camera: str, frames: np.ndarray) -> np.ndarray:
        """Backbone features computed by the camera's feature actor (cameras spread over the actors)."""
        actor = self.embedders[zlib.crc32(camera.encode()) % len(self.embedders)]
        return self.ray.get(actor.embed.remote(np.ascontiguousarray(frames)))

    def score(self, camera: str, features: np.ndarray) -> float:
        return self.ray.get(self.actor.score.remote(camera, np.asarray(features, np.float32)))

    def reset(self, camera: str) -> None:
        self.ray.get(self.actor.reset.remote(camera))

    def stats(self) -> dict:
        return self.ray.get(self.actor.stats.remote())

    def close(self) -> None:
        for actor in [self.actor, *self.embedders]:
            self.ray.kill(actor)
