"""The official I3D path: raw video -> I3D ResNet-50 snippet features -> the official MGFN detector.

MGFN's published UCF-Crime results (Chen et al., AAAI 2023, Sec. 4.1) and RTFM's
(Tian et al., ICCV 2021, Sec. 4.1) score RGB I3D ResNet-50 features: one 2048-d
vector per 16-frame snippet and crop, 10 crops per video. This module reproduces the
preprocessing of the extractor those features come from,
GowthamGottimukkala/I3D_Feature_Extraction_resnet (``extract_features.py``):

- every frame resized to 340x256 with PIL's Lanczos filter (``Image.ANTIALIAS``),
  scaled to [-1, 1] as ``pixel * 2 / 255 - 1`` (no mean/std normalisation);
- snippets of 16 consecutive frames, one every 16 frames; frames after the last full
  snippet are not scored by the network (they take the last snippet's score here);
- ``crops=10`` (the official ``oversample``): the four corner crops and the centre
  crop (rows 16:240, columns 58:282) of 224x224, then the same five of the
  horizontally flipped frames, in that order; ``crops=1`` (the official
  ``center_crop``): the centre crop alone, about ten times cheaper, for live use.

One difference is left on purpose: the official script first writes every frame to a
JPEG file with ffmpeg and reads it back; frames here go from the decoder to the
resize directly, so the JPEG re-encoding loss is absent. The network is
:class:`models.i3d.I3DResNet50`, pinned to the official code by
``tests/fixtures/parity/i3d_r50.json``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable

import numpy as np
import torch
from PIL import Image

from crimeviz.cctv import video
from crimeviz.cctv.features import I3D_DIM
from crimeviz.cctv.model import Scorer, WeightsError, weights_digest
from crimeviz.cctv.scoring import ScoreResult, frame_scores
from models.checkpoint import CheckpointError
from models.i3d import I3DResNet50, load_official_weights

SNIPPET_LEN = 16
RESIZE = (340, 256)  # (width, height) of every frame before cropping
CROP = 224
CENTRE = (16, 58)  # (top, left) of the official centre crop
CROP_COUNTS = (10, 1)


def scale_frame(rgb: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 RGB -> (256, 340, 3) float32 in [-1, 1], as the official ``load_frame``."""
    resized = Image.fromarray(np.ascontiguousarray(rgb), "RGB").resize(RESIZE, Image.Resampling.LANCZOS)
    return (np.asarray(resized, dtype=np.float64) * 2 / 255 - 1).astype(np.float32)


def _crop_origins(height: int, width: int) -> list[tuple[int, int]]:
    """(top, left) of the official five crops: top-left, top-right, centre, bottom-left, bottom-right."""
    bottom, right = height - CROP, width - CROP
    return [(0, 0), (0, right), CENTRE, (bottom, 0), (bottom, right)]


def crop_views(snippet: np.ndarray, crops: int = 10) -> np.ndarray:
    """(16, 256, 340, 3) scaled frames -> (crops, 16, 224, 224, 3) views in the official order."""
    if crops not in CROP_COUNTS:
        raise ValueError(f"crops must be 10 (the official oversampling) or 1 (the centre crop), not {crops}")
    if crops == 1:
        top, left = CENTRE
        return np.ascontiguousarray(snippet[None, :, top : top + CROP, left : left + CROP])
    height, width = snippet.shape[1:3]
    flipped = snippet[:, :, ::-1]
    views = [
        frames[:, top : top + CROP, left : left + CROP]
        for frames in (snippet, flipped)
        for top, left in _crop_origins(height, width)
    ]
    return np.stack(views)


def to_clips(views: np.ndarray) -> torch.Tensor:
    """(n, T, H, W, 3) views -> (n, 3, T, H, W) float32 tensor, the network's layout."""
    return torch.from_numpy(np.ascontiguousarray(views.transpose(0, 4, 1, 2, 3)))


def load_i3d(path: str | os.PathLike) -> I3DResNet50:
    """The official extractor's Kinetics weights in eval mode: ``i3d_r50_kinetics.pth``, or the Caffe2
    ``i3d_baseline_32x2_IN_pretrain_400k.pkl`` it is converted from.

    Raises :class:`WeightsError` with one line naming the file when they do not fit.
    """
    try:
        return load_official_weights(I3DResNet50(), path).eval()
    except CheckpointError as exc:
        raise WeightsError(f"I3D weights {exc}") from exc


class I3DFeatureExtractor:
    """Decoded frames -> (T, crops, 2048) features, as the official extractor computes them.

    ``timings`` accumulates seconds spent on preprocessing (resize, scale, crops) and
    in the network. One snippet at a time: cameras sharing the extractor take turns.
    """

    def __init__(self, model: I3DResNet50, crops: int = 10, device: str | torch.device = "cpu"):
        if crops not in CROP_COUNTS:
            raise ValueError(f"crops must be 10 (the official oversampling) or 1 (the centre crop), not {crops}")
        self.model = model.eval().to(device)
        self.crops = crops
        self.device = torch.device(device)
        self.timings = {"preprocess_s": 0.0, "i3d_s": 0.0}
        self._lock = threading.Lock()

    def snippet(self, scaled: np.ndarray) -> np.ndarray:
        """(16, 256, 340, 3) scaled frames (:func:`scale_frame`) -> (crops, 2048) features."""
        with self._lock:
            return self._snippet(scaled)

    def _snippet(self, scaled: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        clips = to_clips(crop_views(scaled, self.crops)).to(self.device)
        middle = time.perf_counter()
        with torch.inference_mode():
            features = self.model(clips).float().cpu().numpy()
        self.timings["preprocess_s"] += middle - start
        self.timings["i3d_s"] += time.perf_counter() - middle
        return features

    def snippet_bgr(self, frames: Iterable[np.ndarray]) -> np.ndarray:
        """16 decoded BGR frames (OpenCV's order, any size) -> (crops, 2048) features."""
        start = time.perf_counter()
        scaled = np.stack([scale_frame(frame[..., ::-1]) for frame in frames])
        self.timings["preprocess_s"] += time.perf_counter() - start
        return self.snippet(scaled)

    def features(
        self, frames: Iterable[np.ndarray], progress: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, int]:
        """Decoded BGR frames of one clip -> ((T, crops, 2048) features, number of frames read).

        ``progress`` gets the number of frames read after each snippet. Fewer than 16
        frames is an error (the official extractor needs a full snippet too).
        """
        out, current, n_frames = [], [], 0
        for frame in frames:
            start = time.perf_counter()
            current.append(scale_frame(frame[..., ::-1]))
            self.timings["preprocess_s"] += time.perf_counter() - start
            n_frames += 1
            if len(current) == SNIPPET_LEN:
                out.append(self.snippet(np.stack(current)))
                current = []
                if progress:
                    progress(n_frames)
        if not out:
            raise ValueError(f"the clip has {n_frames} frames; I3D features need at least {SNIPPET_LEN}")
        return np.stack(out), n_frames


def check_official_mgfn(scorer: Scorer) -> None:
    """WeightsError unless ``scorer`` holds MGFN weights for 2048-d I3D features (the official UCF-Crime model)."""
    if scorer.model.feature_dim != I3D_DIM:
        raise WeightsError(
            f"I3D features need MGFN weights for 2048-d I3D input (the official UCF-Crime state dict); "
            f"{scorer.version} takes {scorer.model.feature_dim}-d CrimeViz features"
        )


def i3d_version(path: str | os.PathLike, crops: int) -> str:
    """``i3d-r50-10crop+<sha256 prefix>``: names the extractor's weights and crops in a model version."""
    return f"i3d-r50-{crops}crop+{weights_digest(path)}"


def score_clip_i3d(
    path: str | os.PathLike,
    scorer: Scorer,
    extractor: I3DFeatureExtractor,
    extractor_version: str,
    limits: video.Limits | None = None,
    progress: Callable[[float], None] | None = None,
) -> ScoreResult:
    """Scores every frame of a video file with I3D features and the official MGFN weights.

    Each frame takes its snippet's score (trailing frames the last snippet's), then
    the curve is smoothed as for CrimeViz features (:func:`scoring.frame_scores`).
    Raises :class:`video.VideoError` for a bad clip, :class:`WeightsError` for MGFN
    weights that do not take I3D features.
    """
    check_official_mgfn(scorer)
    start = time.perf_counter()
    info = video.probe(path, limits)
    total = max(1, info.declared_frames)
    report = (lambda n: progress(min(0.99, n / total))) if progress else None
    features, n_frames = extractor.features(video.iter_frames(info, limits), report)
    extracted = time.perf_counter()
    snippet_scores = scorer.snippet_scores(features)
    scored = time.perf_counter()
    tail = n_frames > SNIPPET_LEN * len(snippet_scores)  # frames after the last full snippet
    scores = frame_scores(np.append(snippet_scores, snippet_scores[-1:]) if tail else snippet_scores, n_frames)
    if progress:
        progress(1.0)
    total_s = time.perf_counter() - start
    timings = {
        "decode_s": extracted - start - sum(extractor.timings.values()),
        **extractor.timings,
        "mgfn_s": scored - extracted,
        "total_s": total_s,
        "realtime_factor": n_frames / info.fps / total_s,
    }
    crops = f"{extractor.crops} crop{'s' if extractor.crops > 1 else ''}"
    label = f"Official MGFN UCF-Crime checkpoint on I3D ResNet-50 features ({crops}) computed from the clip."
    return ScoreResult(info, n_frames, snippet_scores, scores, f"{scorer.version}/{extractor_version}", label, timings)


class LiveI3DFeatures:
    """The live monitor's feature stage on the official path: a camera's window of 16 frames -> (2048,) centre-crop
    I3D features (``monitor --features i3d``; MGFN then sees the camera's last snippets as for CrimeViz features).

    A window in which the motion gate saw nothing move keeps the camera's last features (nothing in the
    picture changed), so a still scene costs no I3D pass; ``backbone_runs`` and ``reused`` count both.
    """

    def __init__(self, extractor: I3DFeatureExtractor):
        if extractor.crops != 1:
            raise ValueError("live monitoring uses the 1-crop mode of the I3D extractor")
        self.extractor = extractor
        self.last: np.ndarray | None = None
        self.backbone_runs = self.reused = 0

    def __call__(self, window) -> np.ndarray:
        if len(window.frames) != SNIPPET_LEN:
            raise ValueError(f"I3D snippets are {SNIPPET_LEN} frames, not {len(window.frames)}")
        if window.moving or self.last is None:
            self.last = self.extractor.snippet_bgr([f.image for f in window.frames])[0]
            self.backbone_runs += 1
        else:
            self.reused += 1
        return self.last
