"""MGFN weights for CCTV scoring: CrimeViz checkpoints and official ones.

A CrimeViz checkpoint (written by :func:`save_checkpoint`) holds the MGFN state
dict under the official key names plus everything needed to score raw video the
way the weights were trained: the ``MGFN.small`` overrides, the :class:`FeatureSpec`,
the mean and spread of the
motion statistics on the normal training snippets, and a label that says what the
weights were trained on. A bare state dict (e.g. the official UCF-Crime
``mgfn_ucf.pkl``) loads as the paper's UCF configuration for precomputed 2048-d
I3D features only.

Nothing here makes up weights: :func:`load_scorer` refuses a CrimeViz checkpoint
without a training description, so no score from untrained weights reaches a user.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from crimeviz.cctv import DEMO_WEIGHTS
from crimeviz.cctv.features import FEATURE_DIM, FeatureSpec, backbone_embedder, load_backbone
from models.checkpoint import CheckpointError, load_weights, read_checkpoint
from models.mgfn import MGFN, append_magnitude

FORMAT = "crimeviz-cctv-mgfn/1"
OFFICIAL_LABEL = "Official MGFN UCF-Crime checkpoint, for precomputed I3D features (T, 10, 2048)."


class WeightsError(ValueError):
    """Weights that cannot be used for scoring."""


@dataclass
class Scorer:
    """MGFN in eval mode with what its input needs.

    spec: the raw-video feature recipe, None for official checkpoints (features only).
    embed: the frozen backbone for raw video (:func:`features.backbone_embedder`).
    motion_mean, motion_std: standardisation of the motion statistics (CrimeViz only).
    label: one honest sentence on what the weights were trained on, shown with scores.
    """

    model: MGFN
    version: str
    label: str
    spec: FeatureSpec | None = None
    motion_mean: np.ndarray | None = None
    motion_std: np.ndarray | None = None
    metrics: dict = field(default_factory=dict)
    embed: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)

    def normalise(self, features: np.ndarray) -> np.ndarray:
        """Raw features -> model input features (see :func:`standardise_motion`)."""
        if self.motion_mean is None:
            return features
        return standardise_motion(features, self.motion_mean, self.motion_std)

    def snippet_scores(self, features: np.ndarray) -> np.ndarray:
        """Raw features (T, F) or (T, ncrops, F) of one video -> (T,) anomaly scores in [0, 1].

        Videos shorter than MGFN's top-k (3 snippets) are padded by repeating the
        last snippet; the padding's scores are dropped.
        """
        x = torch.from_numpy(self.normalise(np.asarray(features, dtype=np.float32)))
        if x.ndim == 2:
            x = x[:, None]
        if x.ndim != 3 or x.shape[-1] != self.model.feature_dim:
            raise WeightsError(
                f"features of shape {tuple(features.shape)} do not fit this model, which "
                f"expects (T, {self.model.feature_dim}) or (T, ncrops, {self.model.feature_dim})"
            )
        t = x.shape[0]
        if t < self.model.k:
            x = torch.cat([x, x[-1:].expand(self.model.k - t, *x.shape[1:])])
        with torch.inference_mode():
            out = self.model(append_magnitude(x.transpose(0, 1)[None]))
        return out.snippet_scores[0, :t].numpy()


def standardise_motion(features: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(..., 1280 + K) raw features with the K motion statistics standardised."""
    out = features.astype(np.float32, copy=True)
    out[..., FEATURE_DIM:] = (out[..., FEATURE_DIM:] - mean) / std
    return out


def weights_digest(path: str | os.PathLike) -> str:
    """First 12 hex digits of the file's SHA-256: the version suffix of its scores."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def load_scorer(path: str | os.PathLike = DEMO_WEIGHTS) -> Scorer:
    """A :class:`Scorer` from a CrimeViz checkpoint or an official MGFN state dict."""
    path = Path(path)
    try:
        checkpoint = read_checkpoint(path)
    except CheckpointError as exc:
        raise WeightsError(str(exc)) from exc
    if not isinstance(checkpoint, dict):
        raise WeightsError(f"{path.name}: not a state dict or CrimeViz checkpoint")
    digest = weights_digest(path)
    if checkpoint.get("format") != FORMAT:
        try:
            model = load_weights(MGFN(), checkpoint, source=path.name)
        except CheckpointError as exc:
            raise WeightsError(f"{path.name}: not an MGFN UCF-Crime state dict ({exc})") from exc
        return Scorer(model.eval(), f"mgfn-ucf+{digest}", OFFICIAL_LABEL)
    if not checkpoint.get("trained_on"):
        raise WeightsError(
            f"{path.name}: the checkpoint does not say what it was trained on; refusing to present its scores"
        )
    spec = FeatureSpec.from_dict(checkpoint["feature_spec"])
    model = MGFN.small(spec.dim, **checkpoint["mgfn_overrides"])
    try:
        load_weights(model, checkpoint["state_dict"], source=path.name)
    except CheckpointError as exc:
        raise WeightsError(str(exc)) from exc
    return Scorer(
        model.eval(),
        f"{checkpoint['name']}+{digest}",
        checkpoint["trained_on"],
        spec,
        checkpoint["motion_mean"].numpy(),
        checkpoint["motion_std"].numpy(),
        checkpoint.get("metrics", {}),
        backbone_embedder(load_backbone()),
    )


def save_checkpoint(
    path: str | os.PathLike,
    model: MGFN,
    overrides: dict,
    spec: FeatureSpec,
    motion_mean: np.ndarray,
    motion_std: np.ndarray,
    name: str,
    trained_on: str,
    metrics: dict,
) -> None:
    """Writes a CrimeViz checkpoint of ``MGFN.small(spec.dim, **overrides)``.

    ``trained_on`` must say honestly what the weights saw.
    """
    torch.save(
        {
            "format": FORMAT,
            "name": name,
            "trained_on": trained_on,
            "metrics": metrics,
            "feature_spec": spec.to_dict(),
            "mgfn_overrides": overrides,
            "motion_mean": torch.as_tensor(motion_mean, dtype=torch.float32),
            "motion_std": torch.as_tensor(motion_std, dtype=torch.float32),
            "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
        },
        path,
    )
