"""MGFN scoring of live snippets: per-camera context, batched across cameras.

Each camera keeps the features of its last ``context`` snippets (MGFN's glance block
attends over the whole video, Sec. 3.3; live, the video is the last 16 snippets, the
length of the demo model's training videos) and a new snippet's score is the last
one MGFN gives that context. :class:`ContextScorer` scores requests from many cameras
in one forward pass per context length (cameras warm up to the full length within a
context's worth of snippets, after which every request shares one batch); it is plain
Python, so the batching is tested without Ray. :class:`InProcessBackend` serves one
process's cameras, each camera's pipeline (:mod:`camera`) running in the monitor's camera
thread; ``ray_backend`` puts each camera's pipeline in a Ray actor and the same scorer in a
shared one. A backend's ``pipeline(…)`` gives the monitor a camera's frames and scored windows.
"""

from __future__ import annotations

import threading
from collections import deque
from functools import partial

import numpy as np
import torch

from crimeviz.cctv.cameras import CameraConfig
from crimeviz.cctv.features import FeatureSpec
from crimeviz.cctv.i3d_features import I3DFeatureExtractor, LiveI3DFeatures, check_official_mgfn
from crimeviz.cctv.live.camera import CameraPipeline
from crimeviz.cctv.live.snippets import LiveFeatures
from crimeviz.cctv.model import Scorer
from models.mgfn import append_magnitude


def batched_last_scores(scorer: Scorer, contexts: list[np.ndarray]) -> np.ndarray:
    """(T, F) raw features of B cameras, all of one length T -> (B,) scores of each last snippet.

    Contexts shorter than MGFN's top-k are padded by repeating their last snippet,
    as :meth:`Scorer.snippet_scores` does.
    """
    lengths = {len(c) for c in contexts}
    if len(lengths) != 1:
        raise ValueError("a batch holds contexts of one length")
    t = lengths.pop()
    x = torch.from_numpy(np.stack([scorer.normalise(np.asarray(c, dtype=np.float32)) for c in contexts]))
    if t < scorer.model.k:
        x = torch.cat([x, x[:, -1:].expand(-1, scorer.model.k - t, -1)], dim=1)
    with torch.inference_mode():
        out = scorer.model(append_magnitude(x[:, None]))
    return out.snippet_scores[:, t - 1].numpy().astype(np.float64)


class ContextScorer:
    """Per-camera snippet contexts and batched scoring: ``score_batch([(camera, features), …])`` -> scores."""

    def __init__(self, scorer: Scorer, context: int = 16):
        self.scorer, self.context = scorer, context
        self.contexts: dict[str, deque[np.ndarray]] = {}
        self.batches = self.scored = 0

    def score_batch(self, requests: list[tuple[str, np.ndarray]]) -> list[float]:
        """Appends each request's features to its camera's context, then scores; one request per camera per call."""
        cameras = [c for c, _ in requests]
        if len(set(cameras)) != len(cameras):
            raise ValueError("one snippet per camera per batch")
        for camera, features in requests:
            self.contexts.setdefault(camera, deque(maxlen=self.context)).append(np.asarray(features, np.float32))
        by_length: dict[int, list[int]] = {}
        for i, camera in enumerate(cameras):
            by_length.setdefault(len(self.contexts[camera]), []).append(i)
        scores = [0.0] * len(requests)
        for members in by_length.values():
            out = batched_last_scores(self.scorer, [np.stack(self.contexts[cameras[i]]) for i in members])
            for i, score in zip(members, out):
                scores[i] = float(score)
            self.batches += 1
        self.scored += len(requests)
        return scores


class PendingRequests:
    """Requests waiting for the next batch: ``take`` returns the oldest, at most one per camera and ``limit``."""

    def __init__(self):
        self.items: list[tuple[str, np.ndarray, object]] = []

    def add(self, camera: str, features: np.ndarray, ticket) -> None:
        self.items.append((camera, features, ticket))

    def __len__(self) -> int:
        return len(self.items)

    def take(self, limit: int) -> list[tuple[str, np.ndarray, object]]:
        chosen, rest, seen = [], [], set()
        for item in self.items:
            if item[0] in seen or len(chosen) >= limit:
                rest.append(item)
            else:
                seen.add(item[0])
                chosen.append(item)
        self.items = rest
        return chosen


class InProcessBackend:
    """Scores each snippet as it comes, in the calling thread (one or two cameras in one process).

    With ``i3d`` (an extractor in the 1-crop mode and its version, :func:`crimeviz.cctv.i3d_features.i3d_version`),
    cameras run the official path: I3D ResNet-50 features of each 16-frame window on the extractor's device (a
    GPU where there is one; cameras take turns), scored by the official MGFN weights on the CPU (a small network).
    """

    name = "in-process"

    def __init__(self, scorer: Scorer, context: int = 16, i3d: tuple[I3DFeatureExtractor, str] | None = None):
        if i3d is not None:
            check_official_mgfn(scorer)
            LiveI3DFeatures(i3d[0])  # refuses an extractor that is not in the 1-crop mode
        self.scorer, self.i3d = scorer, i3d
        self.contexts = ContextScorer(scorer, context)
        self._lock = threading.Lock()

    def pipeline(
        self, cfg: CameraConfig, spec: FeatureSpec, snippet_len: int, stride: int, reader_options: dict | None = None
    ) -> CameraPipeline:
        """The camera's pipeline, run by the monitor's camera thread."""
        if self.i3d is not None:
            features = LiveI3DFeatures(self.i3d[0])
        else:
            features = LiveFeatures(spec, partial(self.embed, cfg.name))
        return CameraPipeline(cfg, features, snippet_len, stride, self.score, reader_options)

    def embed(self, camera: str, frames: np.ndarray) -> np.ndarray:
        """(N, h, w, 3) prepared frames -> (N, 1280) backbone features, in the calling thread."""
        return self.scorer.embed(frames)

    def score(self, camera: str, features: np.ndarray) -> float:
        with self._lock:
            return self.contexts.score_batch([(camera, features)])[0]

    def close(self) -> None:
        pass
