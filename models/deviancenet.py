"""DevianceNet: deviance prediction from geo-tagged street-view image sequences.

Park, Park, Lee and Jeon, "DevianceNet: Learning to Predict Deviance from A
Large-scale Geo-tagged Dataset", AAAI 2022. Official code:
github.com/JinhwiPark/DevianceNet. The state dict uses the official key names, so
the released ``[AAAI2022-DevianceNet]SEA.pth`` / ``DIA.pth`` load with
:func:`load_official_weights`.

Paper part -> code (the paper's method section; parts named by content):

- Keypoint-aware feature extraction: :class:`SuperPointResNet50`, a SuperPoint
  detector (65-ch scores) and descriptor (128-ch) head on a ResNet-50, run per
  frame; :meth:`DevianceNet.keypoint_features` joins its outputs into the 3-D/2-D
  streams' input (``con``: concatenation to 705 channels at 1/8 resolution).
- Spatio-temporal network: an R(2+1)D-18 3-D stream (:class:`SpatioTemporalConv`,
  :class:`SpatioTemporalResLayer`) and a per-frame ResNet-18 2-D stream
  (:class:`BasicBlock`), the 2-D features averaged over time and merged into the
  3-D stream by a 1x1x1 convolution after each of the 4 stages
  (:meth:`DevianceNet.forward`).
- Classifiers: average pooling, ``fc1`` 512->64, then SEA (deviance severity,
  5 classes) and DIA (deviance identification, 2 classes) heads.
- Loss: :func:`deviance_loss`, DIA cross-entropy plus the SEA term weighted by
  Heinrich's 300:29:1 ratio; optimiser: :func:`recommended_optimizer` (Adam 1e-4).

Not from the paper: :class:`DevianceNetLite`, CrimeViz's CPU configuration.

Faithful to the official code, on purpose: the front end normalises its input
with the ImageNet mean/std although the data loader already did (the released
weights were trained that way); there is no ReLU after ``layer0_3d``, after the
merge convolutions or after ``fc1``. The keypoint NMS/top-k of the reference is
never used by the classifier and is left out.
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
from models.efficientnet_lite import FEATURE_DIM, IMAGENET_MEAN, IMAGENET_STD, load_efficientnet_lite0, pooled_features

SEA_CLASSES = 5
DIA_CLASSES = 2
HEINRICH_WEIGHTS = (300 / 330, 29 / 330, 1 / 330)
VARIANT_CHANNELS = {"con": 512 + 128 + 65, "mul": 256}


def _triple(value: int | tuple[int, int, int]) -> tuple[int, int, int]:
    return (value,) * 3 if isinstance(value, int) else tuple(value)


# --- 2-D blocks (torchvision key names) -------------------------------------------


class Bottleneck(nn.Module):
    """ResNet-50 bottleneck (1x1, 3x3 with stride, 1x1 x4), torchvision layout."""

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__()
        out_channels = 4 * width
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, 4 * width, H / stride, W / stride)."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class BasicBlock(nn.Module):
    """ResNet-18 basic block (two 3x3 convs), official ``BasicBlock_2d`` key names."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, out_channels, H / stride, W / stride)."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


def _resnet50_stage(in_channels: int, width: int, blocks: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        Bottleneck(in_channels, width, stride), *(Bottleneck(4 * width, width) for _ in range(blocks - 1))
    )


def _resnet18_stage(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(BasicBlock(in_channels, out_channels, stride), BasicBlock(out_channels, out_channels))


class KeypointMaps(NamedTuple):
    """SuperPoint front-end outputs for N frames of size H x W."""

    features: Tensor  # (N, 2048, H/32, W/32) ResNet-50 layer4
    skip_eight: Tensor  # (N, 512, H/8, W/8)    ResNet-50 layer2
    descriptors: Tensor  # (N, 128, H/8, W/8)    L2-normalised over channels
    scores: Tensor  # (N, 65, H/8, W/8)     detector logits (64 cells + dustbin)


class SuperPointResNet50(nn.Module):
    """SuperPoint detector and descriptor heads on a ResNet-50 (DELTAS-style), per frame."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = _resnet50_stage(64, 64, 3, stride=1)
        self.layer2 = _resnet50_stage(256, 128, 4, stride=2)
        self.layer3 = _resnet50_stage(512, 256, 6, stride=2)
        self.layer4 = _resnet50_stage(1024, 512, 3, stride=2)
        # detector head
        self.convPa = nn.Conv2d(2048, 256, 3, padding=1)
        self.bnPa = nn.BatchNorm2d(256)
        self.convPb = nn.Conv2d(256, 128, 3, padding=1)
        self.bnPb = nn.BatchNorm2d(128)
        self.convPc = nn.Conv2d(128, 65, 1)
        # descriptor head
        self.convDa = nn.Conv2d(2048, 128, 3, padding=1)
        self.bnDa = nn.BatchNorm2d(128)
        self.convDb = nn.Conv2d(128 + 512, 256, 1)
        self.bnDb = nn.BatchNorm2d(256)
        self.convDc = nn.Conv2d(256, 256, 3, padding=1)
        self.bnDc = nn.BatchNorm2d(256)
        self.convDd = nn.Conv2d(256 + 256 + 64, 128, 1)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, frames: Tensor) -> KeypointMaps:
        """(N, 3, H, W) frames, H and W multiples of 32 -> :class:`KeypointMaps`."""
        x = (frames - self.mean) / self.std
        skip_half = F.relu(self.bn1(self.conv1(x)))
        skip_quarter = self.layer1(self.maxpool(skip_half))
        skip_eight = self.layer2(skip_quarter)
        features = self.layer4(self.layer3(skip_eight))

        scores = F.relu(self.bnPa(self.convPa(features)))
        scores = _resize(scores, 4.0)
        scores = self.convPc(F.relu(self.bnPb(self.convPb(scores))))

        desc = _resize(F.relu(self.bnDa(self.convDa(features))), 4.0)
        desc = F.relu(self.bnDb(self.convDb(torch.cat([desc, skip_eight], dim=1))))
        desc = F.relu(self.bnDc(self.convDc(desc)))
        desc = torch.cat([desc, _resize(skip_quarter, 0.5), _resize(skip_half, 0.25)], dim=1)
        descriptors = F.normalize(self.convDd(desc), p=2, dim=1)
        return KeypointMaps(features, skip_eight, descriptors, scores)


def _resize(x: Tensor, scale: float) -> Tensor:
    return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)


# --- (2+1)-D blocks (official R2Plus1D key names) -----------------------------------


class SpatioTemporalConv(nn.Module):
    """(2+1)-D convolution: spatial (1, k, k) conv, BN, ReLU, temporal (k, 1, 1) conv.

    The middle width matches the parameter count of a full k x k x k conv
    (Tran et al., CVPR 2018).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0):
        super().__init__()
        kt, kh, kw = _triple(kernel_size)
        st, sh, sw = _triple(stride)
        pt, ph, pw = _triple(padding)
        full = kt * kh * kw * in_channels * out_channels
        mid = full // (kh * kw * in_channels + kt * out_channels)
        self.spatial_conv = nn.Conv3d(in_channels, mid, (1, kh, kw), stride=(1, sh, sw), padding=(0, ph, pw))
        self.bn = nn.BatchNorm3d(mid)
        self.temporal_conv = nn.Conv3d(mid, out_channels, (kt, 1, 1), stride=(st, 1, 1), padding=(pt, 0, 0))

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, T, H, W) -> (B, out_channels, T', H', W')."""
        return self.temporal_conv(F.relu(self.bn(self.spatial_conv(x))))


class SpatioTemporalResBlock(nn.Module):
    """R(2+1)D residual block; ``downsample`` halves T, H and W."""

    def __init__(self, in_channels: int, out_channels: int, downsample: bool = False):
        super().__init__()
        stride = 2 if downsample else 1
        self.downsampleconv = None
        self.downsamplebn = None
        if downsample:
            self.downsampleconv = SpatioTemporalConv(in_channels, out_channels, 1, stride=2)
            self.downsamplebn = nn.BatchNorm3d(out_channels)
        self.conv1 = SpatioTemporalConv(in_channels, out_channels, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm3d(out_channels)
        self.conv2 = SpatioTemporalConv(out_channels, out_channels, 3, padding=1)
        self.bn2 = nn.BatchNorm3d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, T, H, W) -> (B, out_channels, T/s, H/s, W/s), s = 2 if downsampling."""
        res = F.relu(self.bn1(self.conv1(x)))
        res = self.bn2(self.conv2(res))
        if self.downsampleconv is not None:
            x = self.downsamplebn(self.downsampleconv(x))
        return F.relu(x + res)


class SpatioTemporalResLayer(nn.Module):
    """One R(2+1)D-18 stage: ``block1`` (optionally downsampling) then ``blocks``."""

    def __init__(self, in_channels: int, out_channels: int, downsample: bool = False, depth: int = 2):
        super().__init__()
        self.block1 = SpatioTemporalResBlock(in_channels, out_channels, downsample)
        self.blocks = nn.ModuleList(SpatioTemporalResBlock(out_channels, out_channels) for _ in range(depth - 1))

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, T, H, W) -> (B, out_channels, T', H', W')."""
        x = self.block1(x)
        for block in self.blocks:
            x = block(x)
        return x


def _per_frame(layer: nn.Module, x: Tensor, frames: int) -> Tensor:
    """Applies 2-D ``layer`` per frame of (B, C, T, H, W), then average-pools T to ``frames``."""
    b, _, t = x.shape[:3]
    y = layer(x.transpose(1, 2).flatten(0, 1))
    y = y.unflatten(0, (b, t)).transpose(1, 2)
    return F.adaptive_avg_pool3d(y, (frames, y.shape[3], y.shape[4]))


# --- DevianceNet ---------------------------------------------------------------------


class DevianceNet(nn.Module):
    """DevianceNet with the SEA and DIA heads (official ``classifier_type="SEA_DIA"``).

    ``variant`` is the official ``superpoint_type``: ``"con"`` (published model and
    checkpoints) concatenates layer4 features, descriptors and scores (705 ch);
    ``"mul"`` multiplies their 256-ch projections. Both carry both sets of merge
    layers, as the official model does, so the 784 state-dict keys are shared.
    """

    def __init__(self, variant: str = "con", dropout: float = 0.0):
        super().__init__()
        if variant not in VARIANT_CHANNELS:
            raise ValueError(f"variant must be one of {sorted(VARIANT_CHANNELS)}, got {variant!r}")
        self.variant = variant
        self.dropout = dropout
        in_channels = VARIANT_CHANNELS[variant]

        self.supernet = SuperPointResNet50()
        self.conv1_2d = nn.Conv2d(in_channels, 64, 3, padding=3, bias=False)
        self.bn1_2d = nn.BatchNorm2d(64)
        self.layer1_2d = _resnet18_stage(64, 64, stride=1)
        self.layer2_2d = _resnet18_stage(64, 128, stride=2)
        self.layer3_2d = _resnet18_stage(128, 256, stride=2)
        self.layer4_2d = _resnet18_stage(256, 512, stride=2)
        self.layer0_3d = SpatioTemporalConv(in_channels, 64, 3, padding=(1, 3, 3))
        self.layer1_3d = SpatioTemporalResLayer(64, 64)
        self.layer2_3d = SpatioTemporalResLayer(64, 128, downsample=True)
        self.layer3_3d = SpatioTemporalResLayer(128, 256, downsample=True)
        self.layer4_3d = SpatioTemporalResLayer(256, 512, downsample=True)
        self.reduction_conv3d_layer1 = nn.Conv3d(2 * 64, 64, 1)
        self.reduction_conv3d_layer2 = nn.Conv3d(2 * 128, 128, 1)
        self.reduction_conv3d_layer3 = nn.Conv3d(2 * 256, 256, 1)
        self.reduction_conv3d_layer4 = nn.Conv3d(2 * 512, 512, 1)
        # "mul" front-end merge
        self.merge_features = nn.Conv2d(512, 256, 1)
        self.merge_descriptors = nn.Sequential(nn.Conv2d(128, 256, 1), nn.BatchNorm2d(256), nn.ReLU())
        self.merge_scores = nn.Sequential(nn.Conv2d(65, 256, 1), nn.BatchNorm2d(256), nn.ReLU())
        # "con" front-end merge
        self.merge_conv1 = nn.Conv2d(2048, 512, 1)
        self.fc1 = nn.Linear(512, 64)
        self.classification = nn.Linear(64, SEA_CLASSES)
        self.detection = nn.Linear(64, DIA_CLASSES)

    def keypoint_features(self, clip: Tensor) -> Tensor:
        """(B, 3, T, H, W) clip -> (B, C, T, H/8, W/8), C = 705 (con) or 256 (mul)."""
        b, _, t = clip.shape[:3]
        maps = self.supernet(clip.transpose(1, 2).flatten(0, 1))
        if self.variant == "con":
            features = _resize(self.merge_conv1(maps.features), 4.0)
            x = torch.cat([features, maps.descriptors, maps.scores], dim=1)
        else:
            x = (
                self.merge_features(maps.skip_eight)
                * self.merge_scores(maps.scores)
                * self.merge_descriptors(maps.descriptors)
            )
        return x.unflatten(0, (b, t)).transpose(1, 2)

    def forward(self, clip: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 3, T, H, W) ImageNet-normalised clip -> (SEA logits (B, 5), DIA logits (B, 2)).

        Published setting: T = 16, H = W = 224 (H and W must be multiples of 32).
        Shapes below for that setting and ``variant="con"``.
        """
        x = self.keypoint_features(clip)  # (B, 705, 16, 28, 28)
        x_3d = self.layer0_3d(x)  # (B, 64, 16, 32, 32)
        x_2d = _per_frame(self._stem_2d, x, x_3d.shape[2])  # (B, 64, 16, 32, 32)
        stages = (
            (self.layer1_2d, self.layer1_3d, self.reduction_conv3d_layer1),
            (self.layer2_2d, self.layer2_3d, self.reduction_conv3d_layer2),
            (self.layer3_2d, self.layer3_3d, self.reduction_conv3d_layer3),
            (self.layer4_2d, self.layer4_3d, self.reduction_conv3d_layer4),
        )
        for layer_2d, layer_3d, merge in stages:  # T 16, 8, 4, 2; H 32, 16, 8, 4
            x_3d = layer_3d(x_3d)
            x_2d = _per_frame(layer_2d, x_2d, x_3d.shape[2])
            x_3d = merge(torch.cat([x_2d, x_3d], dim=1))
        out = x_3d.mean(dim=(2, 3, 4))  # (B, 512)
        out = F.dropout(out, self.dropout, self.training)
        out = F.dropout(self.fc1(out), self.dropout / 2, self.training)
        return self.classification(out), self.detection(out)

    def _stem_2d(self, frames: Tensor) -> Tensor:
        return F.relu(self.bn1_2d(self.conv1_2d(frames)))


def load_official_weights(model: DevianceNet, source: Mapping[str, Tensor] | str | os.PathLike) -> DevianceNet:
    """Loads an official (or own) checkpoint, a state dict or its path, strictly (``module.`` stripped).

    Raises :class:`~models.checkpoint.CheckpointError` for a file or state dict that does not fit.
    """
    if isinstance(source, Mapping):
        return load_weights(model, source)
    return load_weights(model, read_checkpoint(source), source=Path(source).name)


# --- training objective ---------------------------------------------------------------


def dia_target(sea_target: Tensor) -> Tensor:
    """DIA label from the SEA class index: 1 for class 5 (index 4), else 0 (official code)."""
    return (sea_target == SEA_CLASSES - 1).long()


def deviance_loss(
    sea_logits: Tensor,
    dia_logits: Tensor,
    sea_target: Tensor,
    *,
    dia_weight: float = 0.5,
    ordinal_weight: float = 0.15,
    heinrich: tuple[float, ...] = HEINRICH_WEIGHTS,
) -> Tensor:
    """Published objective; (B, 5), (B, 2) logits and (B,) class indices 0..4 -> ().

    ``dia_weight * CE(dia_logits, dia_target(sea_target))`` plus the batch mean of
    ``-log p_k - ordinal_weight * sum_i h_i log p_(k+i)``, i = 1..3, over the SEA
    softmax ``p`` of a sample of class ``k``.

    Top classes: terms with k + i beyond the last class are dropped, not renormalised
    or folded into the last class (official ``H_loss``). So class 5 gets plain
    cross-entropy, class 4 only the h_1 term, class 3 h_1 and h_2; the ordinal term
    pulls every class but the last towards higher indices, and its total weight
    shrinks from 0.15 (classes 1-2) to 0 (class 5).
    """
    log_p = F.log_softmax(sea_logits, dim=1)
    rows = torch.arange(len(sea_target), device=sea_target.device)
    weights = torch.zeros_like(log_p)
    weights[rows, sea_target] = 1.0
    for offset, h in enumerate(heinrich, start=1):
        cls = sea_target + offset
        kept = cls < log_p.shape[1]
        weights[rows[kept], cls[kept]] += ordinal_weight * h
    sea = -(weights * log_p).sum(dim=1).mean()
    dia = F.cross_entropy(dia_logits, dia_target(sea_target))
    return dia_weight * dia + sea


def recommended_optimizer(model: nn.Module, lr: float = 1e-4) -> torch.optim.Adam:
    """Adam at 1e-4 (official default) over the parameters that require gradients."""
    return torch.optim.Adam((p for p in model.parameters() if p.requires_grad), lr=lr)


# --- CPU configuration ----------------------------------------------------------------


class DevianceNetLite(nn.Module):
    """CPU configuration, not the published model: frozen ImageNet EfficientNet-Lite0.

    Each clip is subsampled to ``frames`` evenly spaced frames resized to
    ``image_size`` px; the frozen backbone gives 1280-d pooled features per frame; two
    temporal 1-D convs, time averaging, ``fc1`` and the SEA/DIA heads follow
    (~1.2M trainable parameters). The backbone stays in eval mode when training.
    For fast training cache :meth:`encode` once and train :meth:`classify`.
    """

    def __init__(
        self, frames: int = 8, image_size: int = 160, hidden: int = 256, dropout: float = 0.0, pretrained: bool = True
    ):
        super().__init__()
        self.frames = frames
        self.image_size = image_size
        self.dropout = dropout
        self.backbone = load_efficientnet_lite0(pretrained).requires_grad_(False)
        self.temporal = nn.Sequential(
            nn.Conv1d(FEATURE_DIM, hidden, 3, padding=1), nn.ReLU(), nn.Conv1d(hidden, hidden, 3, padding=1), nn.ReLU()
        )
        self.fc1 = nn.Linear(hidden, 64)
        self.classification = nn.Linear(64, SEA_CLASSES)
        self.detection = nn.Linear(64, DIA_CLASSES)

    def train(self, mode: bool = True) -> DevianceNetLite:
        """Sets the trainable part's mode; the frozen backbone always stays in eval mode."""
        super().train(mode)
        self.backbone.eval()
        return self

    @torch.no_grad()
    def encode(self, clip: Tensor) -> Tensor:
        """(B, 3, T, H, W) ImageNet-normalised clip -> (B, frames, 1280) frame features."""
        b, _, t = clip.shape[:3]
        index = torch.linspace(0, t - 1, self.frames, device=clip.device).round().long()
        frames = clip[:, :, index].transpose(1, 2).flatten(0, 1)
        if frames.shape[-2:] != (self.image_size, self.image_size):
            frames = F.interpolate(
                frames, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False, antialias=True
            )
        return pooled_features(self.backbone, frames).unflatten(0, (b, self.frames))

    def classify(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """(B, T, 1280) frame features -> (SEA logits (B, 5), DIA logits (B, 2))."""
        out = self.temporal(features.transpose(1, 2)).mean(dim=2)  # (B, hidden)
        out = F.dropout(out, self.dropout, self.training)
        out = F.dropout(self.fc1(out), self.dropout / 2, self.training)
        return self.classification(out), self.detection(out)

    def forward(self, clip: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 3, T, H, W) ImageNet-normalised clip -> (SEA logits (B, 5), DIA logits (B, 2))."""
        return self.classify(self.encode(clip))
