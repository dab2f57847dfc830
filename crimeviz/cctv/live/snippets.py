"""Overlapping snippet windows of a live stream and their features.

MGFN scores 16-frame snippets (Sec. 3.5 of the paper); live, a window of the last
``snippet_len`` frames is cut every ``stride`` frames (8: half a snippet of overlap,
a score every 1.6 s at 5 fps) so an event is seen whole by at least one window.

Features are the product's own (:mod:`crimeviz.cctv.features`): pooled
EfficientNet-Lite0 appearance on a few frames plus motion statistics over the window
and the frame before it. When the motion gate saw nothing move in a window, the
backbone is skipped and the camera's last appearance vector stands in (nothing in
the picture changed); the motion statistics, which are cheap, are always computed.

The monitor keeps each scored window's features with its span (:class:`FeatureHistory`),
so an alert's snippets are stored as they were scored (:mod:`crimeviz.cctv.snippet_store`)
and retraining decodes no clip again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

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


KEEP_S = 120.0  # window features kept per camera when no alert holds them: more than any pre-capture (60 s at most)


@dataclass
class FeatureHistory:
    """A camera's recent window features with their spans (epoch seconds): the last ``keep_s`` seconds, and every
    window since ``since`` of each hold (an alert's clip start) until the hold's ``until`` has passed."""

    keep_s: float = KEEP_S
    windows: deque[tuple[float, float, np.ndarray]] = field(default_factory=deque)
    holds: dict[int, tuple[float, float | None]] = field(default_factory=dict)

    def add(self, start: float, end: float, features: np.ndarray) -> None:
        self.windows.append((start, end, features))
        self.holds = {k: (s, u) for k, (s, u) in self.holds.items() if u is None or u >= end}
        floor = min([end - self.keep_s, *(s for s, _ in self.holds.values())])
        while self.windows and self.windows[0][0] < floor:
            self.windows.popleft()

    def hold(self, key: int, since: float, until: float | None = None) -> None:
        """Keeps the windows from ``since`` on, until a window ends after ``until`` (None: until held again)."""
        self.holds[key] = (since, until)

    def snippets(self, since: float, until: float) -> tuple[np.ndarray, float] | None:
        """(S, F) features of back-to-back windows (each starting after the one before ended) starting from
        ``since`` through ``until``, and the first one's start; None when none starts there."""
        chosen, first, last_end = [], None, float("-inf")
        for start, end, features in self.windows:
            if since <= start <= until and start > last_end:
                chosen.append(features)
                first = start if first is None else first
                last_end = end
        return (np.stack(chosen), first) if chosen else None


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
