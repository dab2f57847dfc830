"""Snippet features from raw frames: pooled EfficientNet-Lite0 features + motion statistics.

A clip is cut into snippets of 16 consecutive frames, the unit MGFN scores (the
paper's I3D features are also one vector per 16 frames, Sec. 4.1). Per snippet:

- appearance: EfficientNet-Lite0 (ImageNet weights, frozen) on a few frames sampled
  evenly from the snippet, average-pooled over space and over the sampled frames;
- motion and image statistics (:data:`MOTION_STATS`) on all 16 frames and the frame
  before them, at 112×80 grey: frame differences overall and per cell of a 4×4
  grid, share of changed pixels, brightness, contrast, sharpness (variance of the
  Laplacian) and jumps in brightness and grey-level histogram.

Every frame is first resized once to ``FeatureSpec.frame_size`` (:func:`prepare`),
so training on stored small frames and scoring full-size footage see the same input.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch

from models.efficientnet_lite import (
    FEATURE_DIM,
    IMAGENET_MEAN,
    IMAGENET_STD,
    load_efficientnet_lite0,
    pooled_features,
)

I3D_DIM = 2048  # the official MGFN UCF-Crime features: (T, 10 crops, 2048) per video


def check_feature_shape(shape: tuple[int, ...], dim: int, weights: str) -> None:
    """ValueError unless features of ``shape`` are (T, dim) or (T, ncrops, dim), the input of ``weights``;
    the message says which weights fit I3D features."""
    if len(shape) in (2, 3) and shape[0] > 0 and shape[-1] == dim:
        return
    if dim == I3D_DIM:
        fit = "only I3D features (T, 10, 2048) fit these weights"
    elif shape and shape[-1] == I3D_DIM:
        fit = "I3D features (T, 10, 2048) need the official MGFN UCF-Crime weights (--weights, an official state dict)"
    else:
        fit = "these weights take the features CrimeViz computes from video: score the clip itself"
    raise ValueError(
        f"features of shape {tuple(shape)} do not fit {weights}, which expect (T, {dim}) or (T, ncrops, {dim}); {fit}"
    )


MOTION_STATS = (
    "log_diff_mean",
    "log_diff_max",
    "log_cell_diff_mean",
    "log_cell_diff_max",
    "changed_fraction",
    "brightness",
    "contrast",
    "contrast_min",
    "log_sharpness",
    "log_sharpness_min",
    "histogram_jump",
    "brightness_jump",
)
_EPS = 1e-3
_CHANGED = 0.08  # grey-level difference (0..1) that counts a pixel as changed
_GRID = 4


@dataclass(frozen=True)
class FeatureSpec:
    """How snippet features are made; stored with the weights that were trained on them.

    frame_size: (width, height) the backbone sees, multiples of 32 (exact padding).
    motion_size: (width, height) of the grey frames for the statistics, multiples of 4.
    """

    snippet_len: int = 16
    frames_per_snippet: int = 2
    frame_size: tuple[int, int] = (224, 160)
    motion_size: tuple[int, int] = (112, 80)

    @property
    def dim(self) -> int:
        return FEATURE_DIM + len(MOTION_STATS)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> FeatureSpec:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def prepare(frame: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """A decoded BGR frame resized (area interpolation) to ``spec.frame_size``."""
    if frame.shape[1::-1] == spec.frame_size:
        return frame
    return cv2.resize(frame, spec.frame_size, interpolation=cv2.INTER_AREA)


def grey(frames: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """(n, h, w, 3) prepared BGR frames -> (n, H, W) float32 grey in [0, 1] at motion_size."""
    out = [
        cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), spec.motion_size, interpolation=cv2.INTER_AREA) for f in frames
    ]
    return np.stack(out).astype(np.float32) / 255.0


def motion_stats(grey_frames: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """(n, H, W) grey snippet, grey frame before it (None at the start) -> (K,) statistics."""
    seq = grey_frames if previous is None else np.concatenate([previous[None], grey_frames])
    n, h, w = seq.shape
    diffs = np.abs(np.diff(seq, axis=0)) if n > 1 else np.zeros((1, h, w), np.float32)
    pair_mean = diffs.mean(axis=(1, 2))
    cell_max = diffs.reshape(len(diffs), _GRID, h // _GRID, _GRID, w // _GRID).mean(axis=(2, 4)).max(axis=(1, 2))
    brightness = seq.mean(axis=(1, 2))
    contrast = grey_frames.std(axis=(1, 2))
    sharpness = np.log(np.array([cv2.Laplacian(g, cv2.CV_32F).var() for g in grey_frames]) + 1e-6)
    hists = np.stack([np.histogram(g, bins=16, range=(0.0, 1.0))[0] for g in seq]) / (h * w)
    hist_jump = np.abs(np.diff(hists, axis=0)).sum(axis=1).max() if n > 1 else 0.0
    return np.array(
        [
            np.log(pair_mean.mean() + _EPS),
            np.log(pair_mean.max() + _EPS),
            np.log(cell_max.mean() + _EPS),
            np.log(cell_max.max() + _EPS),
            (diffs > _CHANGED).mean(),
            brightness[-len(grey_frames) :].mean(),
            contrast.mean(),
            contrast.min(),
            sharpness.mean(),
            sharpness.min(),
            hist_jump,
            np.abs(np.diff(brightness)).max() if n > 1 else 0.0,
        ],
        dtype=np.float32,
    )


def sample_positions(n: int, per_snippet: int) -> list[int]:
    """Evenly spaced frame positions within a snippet of ``n`` frames (16, 2 -> 4, 12)."""
    return sorted({(2 * i + 1) * n // (2 * per_snippet) for i in range(per_snippet)})


def to_backbone_input(frames: np.ndarray) -> torch.Tensor:
    """(N, h, w, 3) BGR uint8 -> (N, 3, h, w) ImageNet-normalised RGB tensor."""
    x = torch.from_numpy(np.ascontiguousarray(frames[..., ::-1])).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def load_backbone() -> torch.nn.Module:
    """EfficientNet-Lite0 with ImageNet weights; its loading message goes to stderr (stdout carries JSON)."""
    with contextlib.redirect_stdout(sys.stderr):
        return load_efficientnet_lite0(pretrained=True)


def backbone_embedder(backbone: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    """(N, h, w, 3) prepared BGR frames -> (N, 1280) pooled features, no gradients."""

    def embed(frames: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return pooled_features(backbone, to_backbone_input(frames)).numpy()

    return embed


class Featurizer:
    """Turns snippets of prepared frames into (S, 1280 + K) raw snippet features.

    ``embed`` maps prepared frames to backbone features (see :func:`backbone_embedder`;
    training passes a memoising one). The grey frame that ends each batch is kept,
    so consecutive calls see the frame before their first snippet. ``timings``
    accumulates seconds per stage.
    """

    def __init__(self, spec: FeatureSpec, embed: Callable[[np.ndarray], np.ndarray]):
        self.spec = spec
        self.embed = embed
        self.previous: np.ndarray | None = None
        self.timings = {"motion_s": 0.0, "backbone_s": 0.0}

    def __call__(self, snippets: Sequence[np.ndarray]) -> np.ndarray:
        """snippets: (n_i, h, w, 3) prepared frames each, n_i <= snippet_len."""
        start = time.perf_counter()
        motion = []
        for snippet in snippets:
            g = grey(snippet, self.spec)
            motion.append(motion_stats(g, self.previous))
            self.previous = g[-1]
        middle = time.perf_counter()
        positions = [sample_positions(len(s), self.spec.frames_per_snippet) for s in snippets]
        sampled = np.stack([s[p] for s, pos in zip(snippets, positions) for p in pos])
        embedded = self.embed(sampled)
        bounds = np.cumsum([0] + [len(p) for p in positions])
        appearance = np.stack([embedded[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])
        self.timings["motion_s"] += middle - start
        self.timings["backbone_s"] += time.perf_counter() - middle
        return np.concatenate([appearance, np.stack(motion)], axis=1).astype(np.float32)


def snippets_of(frames: Iterable[np.ndarray], spec: FeatureSpec, batch: int = 1) -> Iterator[list[np.ndarray]]:
    """Prepared frames grouped into snippets, ``batch`` snippets at a time; the last may be short."""
    current: list[np.ndarray] = []
    group: list[np.ndarray] = []
    for frame in frames:
        current.append(prepare(frame, spec))
        if len(current) == spec.snippet_len:
            group.append(np.stack(current))
            current = []
            if len(group) == batch:
                yield group
                group = []
    if current:
        group.append(np.stack(current))
    if group:
        yield group
