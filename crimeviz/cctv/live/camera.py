"""One camera's pipeline: stream -> motion gate -> snippet windows -> features -> score.

:class:`CameraPipeline` runs it in the calling thread (the in-process backend: the monitor's
camera thread); ``ray_backend`` runs the same class in a Ray actor per camera, so decoding,
the gate and the features leave the monitor's process. The monitor consumes either through
the same two calls, so its alert, recording and report logic is written once:

- ``read(timeout)``: what arrived, in order: each analysed frame (for pre/post-capture clips
  and snapshots) and, every ``stride`` frames, the scored window (:class:`Scored`);
- ``status()``: the reader's state (connecting, online, reconnecting, offline, stopped), fps,
  frames, dropped, reconnects and last error, the gate's counts (``backbone_runs``, ``gated``)
  and the process that decodes the camera (``pid``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from crimeviz.cctv.cameras import CameraConfig, connect_url, redact
from crimeviz.cctv.live.motion import MotionGate
from crimeviz.cctv.live.snippets import SnippetWindows, Window
from crimeviz.cctv.live.source import Frame, StreamReader

GAP_RESET_S = 2.0  # frames further apart than this start new windows (after a reconnection)


@dataclass(frozen=True)
class Scored:
    """A window, its raw snippet features and MGFN's score of it."""

    window: Window
    features: np.ndarray
    score: float


class CameraPipeline:
    """``start()``, then ``read(timeout)`` -> the frames and scored windows since the last call; ``stop()``.

    ``features(window)`` is the feature stage (:class:`snippets.LiveFeatures`, or the official path's
    :class:`crimeviz.cctv.i3d_features.LiveI3DFeatures`), ``score(camera, features)`` MGFN with the camera's context.
    """

    def __init__(
        self,
        cfg: CameraConfig,
        features: Callable[[Window], np.ndarray],
        snippet_len: int,
        stride: int,
        score: Callable[[str, np.ndarray], float],
        reader_options: dict | None = None,
    ):
        self.cfg, self.score = cfg, score
        size = (cfg.detect_width, cfg.detect_height)
        self.reader = StreamReader(
            connect_url(cfg), cfg.detect_fps, size, cfg.is_file, partial(redact, cfg=cfg), **(reader_options or {})
        )
        self.gate = MotionGate([list(p) for p in cfg.masks], [list(p) for _, p in cfg.zones])
        self.windows = SnippetWindows(snippet_len, stride)
        self.features = features
        self.last_frame_at: float | None = None

    def start(self) -> CameraPipeline:
        self.reader.start()
        return self

    def stop(self) -> dict:
        self.reader.stop()
        return self.status()

    @property
    def frames(self) -> int:
        return self.reader.frames

    def status(self) -> dict:
        gated = {"backbone_runs": self.features.backbone_runs, "gated": self.features.reused}
        return {**self.reader.status(), **gated, "pid": os.getpid()}

    def read(self, timeout: float) -> list[Frame | Scored]:
        """The next frame (none after ``timeout`` seconds without one), followed by its window's score if it ends one."""
        frame = self.reader.read(timeout)
        if frame is None:
            return []
        if self.last_frame_at is not None and frame.at - self.last_frame_at > GAP_RESET_S:
            self.windows.reset()
        self.last_frame_at = frame.at
        self.gate(frame.image)
        window = self.windows.push(frame, self.gate.moving)
        if window is None:
            return [frame]
        features = self.features(window)
        return [frame, Scored(window, features, self.score(self.cfg.name, features))]
