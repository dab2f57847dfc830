"""Frame-level ROC-AUC, and the official MGFN evaluation on precomputed features.

The official protocol (``test.py`` of github.com/carolchenyx/MGFN, Sec. 4.1 of the
paper): each test video's features ``(T, 10, 2048)`` are scored, every snippet
score is repeated for its 16 frames (no smoothing), the videos are concatenated in
the order of the test list, and the ROC-AUC is taken against one per-frame 0/1
ground-truth array (``gt-ucf.npy``) covering all of them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

from crimeviz.cctv.model import Scorer
from crimeviz.cctv.scoring import frame_scores


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney U with tied scores counted half)."""
    labels = np.asarray(labels).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"{labels.size} labels but {scores.size} scores")
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        raise ValueError("ROC-AUC needs both normal and anomalous frames")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def read_feature_list(path: str | os.PathLike) -> list[Path]:
    """Feature files named one per line (the official ``*-test.list``); relative to the list."""
    path = Path(path)
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return [(p if p.is_absolute() else path.parent / p) for p in map(Path, lines)]


def load_features(path: str | os.PathLike) -> np.ndarray:
    """A ``.npy`` feature file: (T, ncrops, F) or (T, F)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such feature file")
    try:
        features = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"{path.name}: not a NumPy .npy array ({exc})") from exc
    if features.ndim not in (2, 3) or features.shape[0] == 0:
        raise ValueError(f"{path.name}: features must be (T, ncrops, F) or (T, F), got {features.shape}")
    return features


def official_evaluation(
    scorer: Scorer, feature_files: list[Path], ground_truth: np.ndarray, snippet_len: int = 16
) -> dict:
    """Frame-level ROC-AUC over ``feature_files`` (in list order) against ``ground_truth``."""
    per_video = []
    for path in feature_files:
        snippet_scores = scorer.snippet_scores(load_features(path))
        per_video.append(frame_scores(snippet_scores, snippet_len * len(snippet_scores), snippet_len, smooth=False))
    scores = np.concatenate(per_video)
    ground_truth = np.asarray(ground_truth).ravel()
    if len(scores) != len(ground_truth):
        raise ValueError(
            f"the ground truth has {len(ground_truth):,} frames but the {len(feature_files)} "
            f"feature files cover {len(scores):,} ({snippet_len} per snippet); check the list "
            "order and that it matches the ground-truth file"
        )
    return {
        "auc": roc_auc(ground_truth, scores),
        "videos": len(feature_files),
        "frames": len(scores),
        "anomalous_frames": int(ground_truth.astype(bool).sum()),
        "model": scorer.version,
    }
