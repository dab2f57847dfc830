"""MGFN: Magnitude-Contrastive Glance-and-Focus Network.

Chen et al., "MGFN: Magnitude-Contrastive Glance-and-Focus Network for
Weakly-Supervised Video Anomaly Detection", AAAI 2023 (arXiv:2211.15098).
Official code: github.com/carolchenyx/MGFN. The state dict uses the official key
names, so official checkpoints load with :func:`load_official_weights`.

Paper section -> code:

- Sec. 3.2 Feature Amplification Mechanism: ``MGFN.to_tokens(features) +
  mag_ratio * MGFN.to_mag(magnitude)``. As in the official code the L2 magnitude
  is not computed inside the model: it is the last input channel, appended by
  :func:`append_magnitude`, and goes through its own 1-channel conv.
- Sec. 3.3 Glance-and-Focus: :class:`Glance` (self-attention across all
  snippets of a video), :class:`Focus` (self-attentional convolution: a
  per-head temporal conv over the values), stacked by :class:`Backbone`; the
  stages of :class:`MGFN` go glance -> focus -> focus.
- Sec. 3.4 Magnitude Contrastive loss: :func:`magnitude_contrastive_loss`.
- Sec. 3.5 Training and inference: top-k (k=3) magnitude selection and the
  classifier in :meth:`MGFN.forward`; the full objective (BCE + MC + temporal
  smoothness + sparsity, weights of the official ``train.py``) in
  :func:`mgfn_loss`.

Configurations:

- ``MGFN()``: UCF-Crime, 2048-d I3D features (10 crops, 32 snippets in
  training), dims 64/128/1024, depths 3/3/2, blocks glance/focus/focus.
- ``MGFN.small(feature_dim)``: for features CrimeViz extracts itself, e.g.
  EfficientNet-Lite0 pooled frame features (1280-d) plus K motion statistics,
  ``MGFN.small(1280 + K)``; dims 32/64/256, depths 1/1/1, ~1M parameters,
  trains on CPU in minutes with one crop per video (ncrops=1).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.checkpoint import load_weights, read_checkpoint


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of a (N, C, T) tensor, official ``LayerNorm``."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1, dim, 1))
        self.b = nn.Parameter(torch.zeros(1, dim, 1))

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, T) -> (N, C, T). Divides by (std + eps), as the official code."""
        std = x.var(dim=1, correction=0, keepdim=True).sqrt()
        return (x - x.mean(dim=1, keepdim=True)) / (std + self.eps) * self.g + self.b


def feed_forward(dim: int, mult: int = 4, dropout: float = 0.0) -> nn.Sequential:
    """Pointwise MLP on (N, C, T); indices 0/1/4 hold the official keys."""
    return nn.Sequential(
        ChannelLayerNorm(dim),
        nn.Conv1d(dim, dim * mult, 1),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Conv1d(dim * mult, dim, 1),
    )


class Glance(nn.Module):
    """Glance block mixer: multi-head self-attention over all T snippets."""

    def __init__(self, dim: int, heads: int, dim_head: int = 64):
        super().__init__()
        self.heads = heads
        self.dim_head = dim_head
        inner = heads * dim_head
        self.norm = ChannelLayerNorm(dim)
        self.to_qkv = nn.Conv1d(dim, inner * 3, 1, bias=False)
        self.to_out = nn.Conv1d(inner, dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, T) -> (N, C, T)."""
        n, _, t = x.shape
        qkv = self.to_qkv(self.norm(x)).reshape(n, 3, self.heads, self.dim_head, t)
        q, k, v = qkv.transpose(-1, -2).unbind(1)  # each (N, heads, T, dim_head)
        out = F.scaled_dot_product_attention(q, k, v, scale=self.dim_head**-0.5)
        return self.to_out(out.transpose(-1, -2).reshape(n, -1, t))


class Focus(nn.Module):
    """Focus block mixer: values convolved in time by one learned kernel per head."""

    def __init__(self, dim: int, heads: int, dim_head: int = 64, kernel: int = 5):
        super().__init__()
        self.heads = heads
        inner = heads * dim_head
        self.norm = nn.BatchNorm1d(dim)
        self.to_v = nn.Conv1d(dim, inner, 1, bias=False)
        self.rel_pos = nn.Conv1d(heads, heads, kernel, padding=kernel // 2, groups=heads)
        self.to_out = nn.Conv1d(inner, dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, T) -> (N, C, T). Value channel j belongs to head j % heads."""
        n, _, t = x.shape
        v = self.to_v(self.norm(x)).reshape(-1, self.heads, t)
        return self.to_out(self.rel_pos(v).reshape(n, -1, t))


class Backbone(nn.Module):
    """``depth`` layers of residual [conv3, Glance or Focus, feed-forward]."""

    def __init__(
        self,
        dim: int,
        depth: int,
        block: str,
        heads: int,
        dim_head: int = 64,
        ff_mult: int = 4,
        focus_kernel: int = 5,
        dropout: float = 0.0,
    ):
        super().__init__()
        if block not in ("glance", "focus"):
            raise ValueError(f"block must be 'glance' or 'focus', got {block!r}")
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    nn.Conv1d(dim, dim, 3, padding=1),
                    Glance(dim, heads, dim_head) if block == "glance" else Focus(dim, heads, dim_head, focus_kernel),
                    feed_forward(dim, ff_mult, dropout),
                ]
            )
            for _ in range(depth)
        )

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, T) -> (N, C, T)."""
        for layer in self.layers:
            for residual in layer:
                x = x + residual(x)
        return x


class MGFNOutput(NamedTuple):
    """What :class:`MGFN` returns; the first two fields are all inference needs."""

    snippet_scores: Tensor  # (B, T) anomaly score per snippet, mean over crops
    video_score: Tensor  # (B,) mean snippet score at the top-k magnitudes
    crop_scores: Tensor  # (B, ncrops, T) score per crop and snippet
    topk_index: Tensor  # (B, k) snippets with the largest mean feature magnitude
    topk_features: Tensor  # (B, ncrops, k, D) final features at topk_index


class MGFN(nn.Module):
    """MGFN on snippet features. Defaults: the official UCF-Crime configuration.

    Args:
        feature_dim: snippet feature size F; the input has F + 1 channels.
        dims, depths, blocks: per stage width, number of layers, "glance"/"focus".
        dim_head: channels per attention head; heads = dim // dim_head.
        ff_mult, focus_kernel, dropout: feed-forward width factor, Focus kernel
            size, feed-forward dropout.
        mag_ratio: weight of the magnitude branch (Sec. 3.2).
        k: snippets selected by magnitude for the video score.
        magnitude_dropout: dropout on the magnitudes before top-k, training only.
    """

    def __init__(
        self,
        feature_dim: int = 2048,
        dims: tuple[int, ...] = (64, 128, 1024),
        depths: tuple[int, ...] = (3, 3, 2),
        blocks: tuple[str, ...] = ("glance", "focus", "focus"),
        dim_head: int = 64,
        ff_mult: int = 4,
        focus_kernel: int = 5,
        dropout: float = 0.0,
        mag_ratio: float = 0.1,
        k: int = 3,
        magnitude_dropout: float = 0.7,
    ):
        super().__init__()
        if not len(dims) == len(depths) == len(blocks):
            raise ValueError("dims, depths and blocks need one entry per stage")
        self.feature_dim = feature_dim
        self.mag_ratio = mag_ratio
        self.k = k
        self.to_tokens = nn.Conv1d(feature_dim, dims[0], 3, padding=1)
        stages = []
        for i, (dim, depth, block) in enumerate(zip(dims, depths, blocks)):
            stage = [Backbone(dim, depth, block, dim // dim_head, dim_head, ff_mult, focus_kernel, dropout)]
            if i + 1 < len(dims):
                stage.append(nn.Sequential(ChannelLayerNorm(dim), nn.Conv1d(dim, dims[i + 1], 1)))
            stages.append(nn.Sequential(*stage))
        self.stages = nn.Sequential(*stages)
        self.to_logits = nn.Sequential(nn.LayerNorm(dims[-1]))  # Sequential: official key
        self.fc = nn.Linear(dims[-1], 1)
        self.magnitude_dropout = nn.Dropout(magnitude_dropout)
        self.to_mag = nn.Conv1d(1, dims[0], 3, padding=1)

    @classmethod
    def small(cls, feature_dim: int, **overrides) -> MGFN:
        """CPU-sized MGFN for CrimeViz features, e.g. ``MGFN.small(1280 + K)``.

        dims 32/64/256, depths 1/1/1, dim_head 32 (1/2/8 heads). Per-snippet
        features (B, T, F) become its input as ``append_magnitude(feats)[:, None]``.
        """
        config = dict(dims=(32, 64, 256), depths=(1, 1, 1), dim_head=32)
        return cls(feature_dim, **{**config, **overrides})

    def forward(self, video: Tensor) -> MGFNOutput:
        """video: (B, ncrops, T, F + 1), features then their L2 magnitude; T >= k."""
        b, ncrops, t, c = video.shape
        if c != self.feature_dim + 1:
            raise ValueError(f"expected {self.feature_dim} feature channels + 1 magnitude channel, got {c} channels")
        x = video.reshape(b * ncrops, t, c).transpose(1, 2)  # (B*ncrops, F+1, T)
        x = self.to_tokens(x[:, :-1]) + self.mag_ratio * self.to_mag(x[:, -1:])
        feats = self.to_logits(self.stages(x).transpose(1, 2))  # (B*ncrops, T, D)
        crop_scores = torch.sigmoid(self.fc(feats)).reshape(b, ncrops, t)
        feats = feats.reshape(b, ncrops, t, -1)
        snippet_scores = crop_scores.mean(dim=1)

        magnitudes = feats.detach().norm(dim=-1).mean(dim=1)  # (B, T)
        keep = self.magnitude_dropout(torch.ones_like(magnitudes))
        topk_index = (magnitudes * keep).topk(self.k, dim=1).indices  # (B, k)
        video_score = snippet_scores.gather(1, topk_index).mean(dim=1)
        index = topk_index[:, None, :, None].expand(b, ncrops, self.k, feats.shape[-1])
        return MGFNOutput(snippet_scores, video_score, crop_scores, topk_index, feats.gather(2, index))


def append_magnitude(features: Tensor) -> Tensor:
    """(..., T, F) -> (..., T, F + 1): appends the L2 norm of each snippet feature."""
    return torch.cat([features, features.norm(dim=-1, keepdim=True)], dim=-1)


def load_official_weights(model: MGFN, source: Mapping[str, Tensor] | str | os.PathLike) -> MGFN:
    """Loads an official (or own) checkpoint, a state dict or its path, strictly (``module.`` stripped).

    Raises :class:`~models.checkpoint.CheckpointError` for a file or state dict that does not fit.
    """
    if isinstance(source, Mapping):
        return load_weights(model, source)
    return load_weights(model, read_checkpoint(source), source=Path(source).name)


def temporal_smoothness_loss(snippet_scores: Tensor, weight: float = 8e-4) -> Tensor:
    """weight * sum of squared differences of consecutive scores; (B, T) -> ()."""
    return weight * snippet_scores.diff(dim=1).pow(2).sum()


def sparsity_loss(normal_scores: Tensor, weight: float = 8e-3) -> Tensor:
    """weight * L2 norm of all snippet scores of the normal videos; (N, T) -> ().

    As in the official ``train.py``, which applies it to the normal half of the batch.
    """
    return weight * normal_scores.flatten().norm()


def _crop_major_l1(features: Tensor) -> Tensor:
    """(N, ncrops, k, D) -> (ncrops * N, k) L1 magnitudes, rows ordered crop-major."""
    return features.norm(p=1, dim=-1).transpose(0, 1).flatten(0, 1)


def _pull_halves(magnitudes: Tensor) -> Tensor:
    """Mean squared distance between the first and second half of the rows."""
    half = magnitudes.shape[0] // 2
    if half == 0:
        return magnitudes.new_zeros(())
    return F.pairwise_distance(magnitudes[half : 2 * half], magnitudes[:half]).pow(2).mean()


def magnitude_contrastive_loss(
    normal_features: Tensor, abnormal_features: Tensor, margin: float = 200.0, separation_weight: float = 1e-3
) -> Tensor:
    """MC loss (Sec. 3.4) on top-k features, both (N, ncrops, k, D).

    The L1 magnitudes of the i-th normal and i-th abnormal video are pushed at
    least ``margin`` apart (weighted by ``separation_weight``); within each class
    the first half of the crop-major rows is pulled towards the second half, as
    the official ``mgfn_loss`` does (an odd last row is left out).
    """
    normal = _crop_major_l1(normal_features)
    abnormal = _crop_major_l1(abnormal_features)
    distance = F.pairwise_distance(abnormal, normal)
    separation = (margin - distance).clamp(min=0).pow(2).mean()
    return separation_weight * separation + _pull_halves(normal) + _pull_halves(abnormal)


class MGFNLosses(NamedTuple):
    """Weighted loss terms; ``total`` is their sum."""

    total: Tensor
    classification: Tensor
    magnitude_contrastive: Tensor
    smoothness: Tensor
    sparsity: Tensor


def mgfn_loss(
    output: MGFNOutput,
    labels: Tensor,
    *,
    margin: float = 200.0,
    contrastive_weight: float = 1e-3,
    smoothness_weight: float = 8e-4,
    sparsity_weight: float = 8e-3,
) -> MGFNLosses:
    """Training objective of the official code for a batch of B videos.

    labels: (B,) 1 for abnormal, 0 for normal; the batch must hold as many normal
    as abnormal videos (paired in batch order by the MC loss).
    """
    abnormal = labels > 0.5
    if 2 * int(abnormal.sum()) != labels.numel():
        raise ValueError("mgfn_loss needs as many normal as abnormal videos in a batch")
    classification = F.binary_cross_entropy(output.video_score, labels.to(output.video_score.dtype))
    contrastive = contrastive_weight * magnitude_contrastive_loss(
        output.topk_features[~abnormal], output.topk_features[abnormal], margin
    )
    smoothness = temporal_smoothness_loss(output.snippet_scores, smoothness_weight)
    sparsity = sparsity_loss(output.snippet_scores[~abnormal], sparsity_weight)
    total = classification + contrastive + smoothness + sparsity
    return MGFNLosses(total, classification, contrastive, smoothness, sparsity)
