"""Overlapping snippet windows of a live stream and their features.

MGFN scores 16-frame snippets (Sec. 3.5 of the paper); live, a window of the last
``snippet_len`` frames is cut every ``stride`` frames (8: half a snippet of overlap,
a score every 1.6 s at 5 fps) so an event is seen whole by at least one window.

Features are the product's own (:mod:`crimeviz.cctv.features`): pooled
EfficientNet-Lite0 appearance on a few frames plus motion statistics over the window
and the frame before it. When the motion gate saw nothing move in a window, the
backbone is skipped and the camera's last appearance vector stands in (nothing in
the picture changed); the motion statistics, which are cheap, are always computed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from crimeviz.cctv.features import FeatureSpec, grey, motion_stats, prepare, sample_positions
from crimeviz.cctv.live.source import Frame


@dataclass(frozen=True)
class Window:
    """``frames`` (snippet_len of them), the frame before them (None at the start), and whether anything moved."""

    frames: tuple[Frame, ...]
    previous: Frame | None
    moving: bool

    @property
    def start(self) -> float:
        return self.frames[0].at

    @property
    def end(self) -> float:
        return self.frames[-1].at


class SnippetWindows:
    """``push(frame, moving)`` -> a :class:`Window` every ``stride`` frames once ``snippet_len`` have arrived."""

    def __init__(self, snippet_len: int = 16, stride: int = 8):
        if not 1 <= stride <= snippet_len:
            raise ValueError("stride must be between 1 and the snippet length")
        self.snippet_len, self.stride = snippet_len, stride
        self.frames: deque[tuple[Frame, bool]] = deque(maxlen=snippet_len + 1)
        self._count = 0

    def reset(self) -> None:
        """Forget the frames (after a reconnection the next window starts afresh)."""
        self.frames.clear()
        self._count = 0

    def push(self, frame: Frame, moving: bool) -> Window | None:
        self.frames.append((frame, moving))
        self._count += 1
        if self._count < self.snippet_len or (self._count - self.snippet_len) % self.stride:
            return None
        items = list(self.frames)[-self.snippet_len :]
        previous = self.frames[0][0] if len(self.frames) > self.snippet_len else None
        return Window(tuple(f for f, _ in items), previous, any(m for _, m in items))


class LiveFeatures:
    """One camera's window -> (1280 + K,) raw snippet features; ``backbone_runs`` and ``reused`` count the gate's effect."""

    def __init__(self, spec: FeatureSpec, embed: Callable[[np.ndarray], np.ndarray]):
        self.spec, self.embed = spec, embed
        self.appearance: np.ndarray | None = None
        self.backbone_runs = self.reused = 0

    def __call__(self, window: Window) -> np.ndarray:
        prepared = np.stack([prepare(f.image, self.spec) for f in window.frames])
        g = grey(prepared, self.spec)
        previous = grey(prepare(window.previous.image, self.spec)[None], self.spec)[0] if window.previous else None
        motion = motion_stats(g, previous)
        if window.moving or self.appearance is None:
            positions = sample_positions(len(prepared), self.spec.frames_per_snippet)
            self.appearance = self.embed(prepared[positions]).mean(axis=0)
            self.backbone_runs += 1
        else:
            self.reused += 1
        return np.concatenate([self.appearance, motion]).astype(np.float32)
