"""Scoring a clip: frames -> snippet features -> MGFN snippet scores -> per-frame scores -> alerts.

MGFN scores one value per 16-frame snippet (Sec. 3.5 of the paper); each frame
takes its snippet's score, then the curve is smoothed with a moving average one
snippet long, so scores ramp between snippets instead of stepping. Alert segments
are runs of frames at or above a threshold, with gaps under a second merged.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np
from scipy.ndimage import uniform_filter1d

from crimeviz.cctv import video
from crimeviz.cctv.features import Featurizer, prepare, snippets_of
from crimeviz.cctv.model import Scorer, WeightsError


def frame_scores(snippet_scores: np.ndarray, n_frames: int, snippet_len: int = 16, smooth: bool = True) -> np.ndarray:
    """(S,) snippet scores -> (n_frames,) frame scores; ``smooth=False`` is the official repeat."""
    scores = np.repeat(np.asarray(snippet_scores, dtype=np.float64), snippet_len)[:n_frames]
    if smooth and len(scores) > 1:
        scores = uniform_filter1d(scores, size=min(snippet_len, len(scores)), mode="nearest")
    return scores


PEAK_TOLERANCE = 0.01


@dataclass(frozen=True)
class Segment:
    """Frames [start_frame, end_frame) at or above the threshold; times follow from fps."""

    start_frame: int
    end_frame: int
    peak_frame: int
    peak: float
    fps: float

    @property
    def start_s(self) -> float:
        return self.start_frame / self.fps

    @property
    def end_s(self) -> float:
        return self.end_frame / self.fps

    @property
    def peak_s(self) -> float:
        return self.peak_frame / self.fps

    def to_dict(self, recording_start: datetime | None = None) -> dict:
        """Times in the clip; with ``recording_start``, also wall-clock ``start_at``, ``end_at``, ``peak_at``."""
        out = {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "peak_s": round(self.peak_s, 3),
            "peak": round(self.peak, 4),
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "peak_frame": self.peak_frame,
        }
        if recording_start is not None:
            for name in ("start", "end", "peak"):
                out[f"{name}_at"] = recorded_at(recording_start, out[f"{name}_s"]).isoformat(timespec="milliseconds")
        return out


def recorded_at(recording_start: datetime, seconds: float) -> datetime:
    """The wall-clock time ``seconds`` into a recording that began at ``recording_start``."""
    return recording_start + timedelta(seconds=seconds)


def time_of_day(moment: datetime) -> str:
    """``14:02:07.3``: a wall-clock time to the tenth of a second."""
    return moment.strftime("%H:%M:%S.%f")[:-5]


def alert_segments(scores: np.ndarray, fps: float, threshold: float, min_gap_s: float = 1.0) -> list[Segment]:
    """Runs of frames with score >= threshold; runs less than ``min_gap_s`` apart are merged.

    A segment's peak frame is the middle one of its frames within ``PEAK_TOLERANCE``
    of its top score: the key frame shown for it.
    """
    above = np.flatnonzero(np.asarray(scores) >= threshold)
    if len(above) == 0:
        return []
    breaks = np.flatnonzero(np.diff(above) > max(1, round(min_gap_s * fps)))
    starts = np.concatenate([[above[0]], above[breaks + 1]])
    ends = np.concatenate([above[breaks], [above[-1]]]) + 1
    segments = []
    for start, end in zip(starts, ends):
        run = np.asarray(scores[start:end])
        top = np.flatnonzero(run >= run.max() - PEAK_TOLERANCE)
        peak = int(start + top[len(top) // 2])  # the middle of a plateau shows more than its first frame
        segments.append(Segment(int(start), int(end), peak, float(scores[peak]), fps))
    return segments


@dataclass
class ScoreResult:
    """Scores of one clip and how long each stage took."""

    info: video.VideoInfo
    n_frames: int
    snippet_scores: np.ndarray
    frame_scores: np.ndarray
    model_version: str
    model_label: str
    timings: dict = field(default_factory=dict)
    features: np.ndarray | None = field(default=None, repr=False)  # (S, F) raw snippet features, kept for retraining

    @property
    def fps(self) -> float:
        return self.info.fps

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    def segments(self, threshold: float) -> list[Segment]:
        return alert_segments(self.frame_scores, self.fps, threshold)

    def to_dict(self, threshold: float, recording_start: datetime | None = None) -> dict:
        """What ``python -m crimeviz cctv score --json`` writes; wall-clock times when the start is known."""
        return {
            "clip": self.info.path.name,
            "recording_start": recording_start and recording_start.isoformat(),
            "fps": self.fps,
            "n_frames": self.n_frames,
            "duration_s": round(self.duration_s, 3),
            "width": self.info.width,
            "height": self.info.height,
            "model": {"version": self.model_version, "label": self.model_label},
            "threshold": threshold,
            "segments": [s.to_dict(recording_start) for s in self.segments(threshold)],
            "snippet_scores": [round(float(s), 5) for s in self.snippet_scores],
            "frame_scores": [round(float(s), 5) for s in self.frame_scores],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


def _featurizer(scorer: Scorer) -> Featurizer:
    if scorer.spec is None or scorer.embed is None:
        raise WeightsError("these weights score precomputed I3D features (.npy) only, not raw video")
    return Featurizer(scorer.spec, scorer.embed)


class FrameScores(NamedTuple):
    """What :func:`score_frames` returns."""

    n_frames: int
    snippet_scores: np.ndarray
    frame_scores: np.ndarray
    timings: dict
    features: np.ndarray | None = None  # (S, F) raw snippet features


def score_frames(
    frames: Iterable[np.ndarray],
    scorer: Scorer,
    expected_frames: int = 0,
    progress: Callable[[float], None] | None = None,
    batch: int = 8,
) -> FrameScores:
    """Scores decoded BGR frames of one clip (any size).

    Snippets go through the backbone ``batch`` at a time (faster on CPU);
    ``progress`` gets the fraction of ``expected_frames`` done.
    """
    start = time.perf_counter()
    featurizer = _featurizer(scorer)
    features, n_frames = [], 0
    for group in snippets_of(frames, scorer.spec, batch):
        features.append(featurizer(group))
        n_frames += sum(len(s) for s in group)
        if progress:
            progress(min(0.99, n_frames / max(1, expected_frames)))
    decoded = time.perf_counter()
    features = np.concatenate(features)
    snippet_scores = scorer.snippet_scores(features)
    scored = time.perf_counter()
    scores = frame_scores(snippet_scores, n_frames, scorer.spec.snippet_len)
    stages = featurizer.timings
    timings = {
        "decode_s": decoded - start - stages["motion_s"] - stages["backbone_s"],
        **stages,
        "mgfn_s": scored - decoded,
        "total_s": time.perf_counter() - start,
    }
    return FrameScores(n_frames, snippet_scores, scores, timings, features)


def score_clip(
    path, scorer: Scorer, limits: video.Limits | None = None, progress: Callable[[float], None] | None = None
) -> ScoreResult:
    """Scores every frame of a video file; raises :class:`video.VideoError` for a bad clip."""
    start = time.perf_counter()
    info = video.probe(path, limits)
    scored = score_frames(video.iter_frames(info, limits), scorer, info.declared_frames, progress)
    if progress:
        progress(1.0)
    timings = {**scored.timings, "total_s": time.perf_counter() - start}
    timings["realtime_factor"] = scored.n_frames / info.fps / timings["total_s"]
    return ScoreResult(
        info,
        scored.n_frames,
        scored.snippet_scores,
        scored.frame_scores,
        scorer.version,
        scorer.label,
        timings,
        scored.features,
    )


class LiveScorer:
    """Scores each snippet as soon as its frames exist, for live feeds.

    MGFN's glance block attends over the whole video; live, the context is the
    last ``context`` snippets (16, the length of the demo model's training videos).
    """

    def __init__(self, scorer: Scorer, context: int = 16):
        self.scorer = scorer
        self.featurizer = _featurizer(scorer)
        self.window: deque[np.ndarray] = deque(maxlen=context)

    def push(self, frames: list[np.ndarray]) -> float:
        """One snippet of decoded BGR frames -> its anomaly score."""
        snippet = np.stack([prepare(f, self.scorer.spec) for f in frames])
        self.window.append(self.featurizer([snippet])[0])
        return float(self.scorer.snippet_scores(np.stack(self.window))[-1])
