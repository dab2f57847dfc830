"""I3D ResNet-50: the RGB feature extractor behind MGFN's and RTFM's published UCF-Crime results.

Papers:

- Carreira and Zisserman, "Quo Vadis, Action Recognition? A New Model and the Kinetics
  Dataset", CVPR 2017, Sec. 2.4: a 2D ConvNet "inflated" into 3D, so every filter
  also spans time; Kinetics-400 pre-training.
- Wang et al., "Non-local Neural Networks", CVPR 2018, Sec. 4.1 and Table 1: the
  ResNet-50 I3D baseline this module reproduces (5x7x7 stem, 3x1x1 temporal kernels
  in the first conv of alternate bottlenecks, no non-local blocks); its Kinetics
  weights (``i3d_baseline_32x2_IN_pretrain_400k.pkl``) are what the feature extractor
  uses.
- Tian et al., "Weakly-supervised Video Anomaly Detection with Robust Temporal Feature
  Magnitude Learning" (RTFM), ICCV 2021, Sec. 4.1, and Chen et al., MGFN, AAAI 2023,
  Sec. 4.1: one 2048-d feature per 16-frame snippet, 10 crops per video.

Official code matched here: GowthamGottimukkala/I3D_Feature_Extraction_resnet
(``resnet.py``, class ``I3Res50``, built on Tushar-N/pytorch-resnet3d). The state dict
uses its key names and order (``conv1``, ``bn1``, ``layer1.0.conv1`` ... ``fc``), so the
``i3d_r50_kinetics.pth`` that its ``utils/convert_weights.py`` writes from the Caffe2
file loads with :func:`load_official_weights`. That file holds no BatchNorm
``num_batches_tracked`` buffers (Caffe2 has none); the loader adds them, as PyTorch's
own loader does for such files. The Caffe2 file itself loads too: :func:`read_caffe2_weights`
renames its blobs as ``convert_weights.py`` does (:func:`caffe2_name`) and reads the
pickle with an unpickler that builds numpy arrays only. The official extractor calls ``forward_single`` and
never the classifier: :meth:`I3DResNet50.forward` returns the pooled 2048-d features
and :meth:`I3DResNet50.classify` applies ``fc`` for whoever wants Kinetics logits.

Shapes for the extractor's 16-frame, 224x224 snippets: stem (conv1, temporal stride
2) -> (N, 64, 8, 112, 112); maxpool1 -> (N, 64, 4, 55, 55); layer1 -> (N, 256, 4, 55, 55);
maxpool2 -> (N, 256, 2, 55, 55); layer2/3/4 -> (N, 512/1024/2048, 2, 28/14/7, 28/14/7);
global average -> (N, 2048).
"""

from __future__ import annotations

import codecs
import os
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from numpy._core import multiarray
from torch import Tensor, nn

from models.checkpoint import CheckpointError, load_weights, read_checkpoint

FEATURE_DIM = 2048
KINETICS_CLASSES = 400

# Per stage: (planes, blocks, spatial stride, temporal kernel flag per block); 1 -> 3x1x1, 0 -> 1x1x1.
_STAGES = (
    (64, 3, 1, (1, 1, 1)),
    (128, 4, 2, (1, 0, 1, 0)),
    (256, 6, 2, (1, 0, 1, 0, 1, 0)),
    (512, 3, 2, (0, 1, 0)),
)


class Bottleneck(nn.Module):
    """ResNet bottleneck inflated to 3D; ``temporal`` gives conv1 a 3x1x1 kernel (else 1x1x1).

    (N, C_in, T, H, W) -> (N, 4 * planes, T, H / stride, W / stride).
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int, temporal: bool):
        super().__init__()
        t = 1 if temporal else 0
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv3d(in_channels, planes, (1 + 2 * t, 1, 1), padding=(t, 0, 0), bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or in_channels != out_channels:  # projection shortcut, keys downsample.0 / downsample.1
            self.downsample = nn.Sequential(
                nn.Conv3d(in_channels, out_channels, 1, stride=(1, stride, stride), bias=False),
                nn.BatchNorm3d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class I3DResNet50(nn.Module):
    """I3D ResNet-50 (Kinetics-400 layout) with the official extractor's state-dict names.

    Input: RGB clips (N, 3, T, H, W) scaled to [-1, 1] (the official extractor's
    ``pixel * 2 / 255 - 1``), T = 16 and H = W = 224 in the official path; any T >= 8
    and H, W >= 32 run.
    """

    def __init__(self, num_classes: int = KINETICS_CLASSES):
        super().__init__()
        self.conv1 = nn.Conv3d(3, 64, (5, 7, 7), stride=(2, 2, 2), padding=(2, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU()
        self.maxpool1 = nn.MaxPool3d((2, 3, 3), stride=(2, 2, 2))
        self.maxpool2 = nn.MaxPool3d((2, 1, 1), stride=(2, 1, 1))
        in_channels = 64
        for index, (planes, blocks, stride, temporal) in enumerate(_STAGES, start=1):
            layer = []
            for block in range(blocks):
                layer.append(Bottleneck(in_channels, planes, stride if block == 0 else 1, bool(temporal[block])))
                in_channels = planes * Bottleneck.expansion
            self.add_module(f"layer{index}", nn.Sequential(*layer))
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, clips: Tensor) -> Tensor:
        """(N, 3, T, H, W) in [-1, 1] -> (N, 2048) globally averaged layer4 features."""
        x = self.maxpool1(self.relu(self.bn1(self.conv1(clips))))
        x = self.maxpool2(self.layer1(x))
        x = self.layer4(self.layer3(self.layer2(x)))
        return self.avgpool(x).flatten(1)

    def classify(self, features: Tensor) -> Tensor:
        """(N, 2048) features -> (N, num_classes) Kinetics logits (eval: the official dropout is a no-op)."""
        return self.fc(features)


def _with_batch_counters(model: nn.Module, state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``state`` plus a zero ``num_batches_tracked`` for every BatchNorm the file gives running stats for."""
    out = dict(state)
    for key, value in model.state_dict().items():
        if key.endswith(".num_batches_tracked") and key not in out:
            stem = key.removesuffix("num_batches_tracked")
            if stem + "running_mean" in out:
                out[key] = torch.zeros_like(value)
    return out


_SUFFIXES = {"weight": "w", "bias": "b", "running_mean": "rm", "running_var": "riv"}
_BLOCK_KEY = re.compile(r"layer(\d)\.(\d)\.(conv|bn)(\d)\.(\w+)")
_SHORTCUT_KEY = re.compile(r"layer(\d)\.(\d)\.downsample\.(0|1)\.(\w+)")
_STEM = {"conv1.weight": "conv1_w", "fc.weight": "pred_w", "fc.bias": "pred_b"}


def caffe2_name(key: str) -> str | None:
    """The video-nonlocal-net Caffe2 blob behind a state-dict key, as the official ``convert_weights.py`` maps them.

    ``layer1.0.conv2.weight`` -> ``res2_0_branch2b_w``, ``layer1.0.bn2.running_var`` ->
    ``res2_0_branch2b_bn_riv``, ``layer2.0.downsample.1.weight`` -> ``res3_0_branch1_bn_s``,
    ``bn1.bias`` -> ``res_conv1_bn_b``; None for ``num_batches_tracked``. BatchNorm
    weights are the Caffe2 scales (``_s``).
    """
    if key in _STEM:
        return _STEM[key]
    leaf = key.rsplit(".", 1)[-1]
    if leaf not in _SUFFIXES:
        return None
    bn_suffix = "s" if leaf == "weight" else _SUFFIXES[leaf]
    if key.startswith("bn1."):
        return f"res_conv1_bn_{bn_suffix}"
    if match := _BLOCK_KEY.fullmatch(key):
        layer, block, kind, index, _ = match.groups()
        branch = f"res{int(layer) + 1}_{block}_branch2{'abc'[int(index) - 1]}"
        return f"{branch}_bn_{bn_suffix}" if kind == "bn" else f"{branch}_{_SUFFIXES[leaf]}"
    if match := _SHORTCUT_KEY.fullmatch(key):
        layer, block, module, _ = match.groups()
        branch = f"res{int(layer) + 1}_{block}_branch1"
        return f"{branch}_bn_{bn_suffix}" if module == "1" else f"{branch}_{_SUFFIXES[leaf]}"
    return None


# What a Caffe2 weights pickle may construct: numpy arrays and their dtypes, nothing else.
_ARRAY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): multiarray.scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ARRAY_GLOBALS:
            return _ARRAY_GLOBALS[(module, name)]
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def read_caffe2_weights(path: str | os.PathLike) -> dict[str, Tensor]:
    """State dict from the Kinetics Caffe2 file (``i3d_baseline_32x2_IN_pretrain_400k.pkl``, video-nonlocal-net).

    The renaming of the official ``utils/convert_weights.py`` (:func:`caffe2_name`),
    without running the file's code: the pickle may construct numpy arrays only.
    Blobs no key maps to (e.g. ``*_momentum``) are left out, as there. The non-local
    model's file is refused: the extractor uses the baseline.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path.name}: no such weights file")
    try:
        with path.open("rb") as handle:
            content = _ArraysOnly(handle, encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        if "refused global" in str(exc):
            raise CheckpointError(f"{path.name}: holds Python objects besides arrays, so it is not loaded") from exc
        raise CheckpointError(f"{path.name}: not a Caffe2 weights file (corrupt or another format)") from exc
    except Exception as exc:  # a truncated or foreign pickle fails in many ways
        raise CheckpointError(f"{path.name}: not a Caffe2 weights file ({type(exc).__name__})") from exc
    blobs = content.get("blobs") if isinstance(content, dict) else None
    if not isinstance(blobs, dict):
        raise CheckpointError(f"{path.name}: not a Caffe2 weights file (no 'blobs')")
    if any(str(name).startswith("nonlocal_") for name in blobs):
        raise CheckpointError(f"{path.name}: the non-local I3D; the feature extractor uses the baseline I3D weights")
    state = {}
    for key in I3DResNet50().state_dict():
        blob = blobs.get(caffe2_name(key))
        if isinstance(blob, np.ndarray):
            state[key] = torch.from_numpy(np.array(blob))
    return state


def load_official_weights(model: I3DResNet50, source: Mapping[str, Tensor] | str | os.PathLike) -> I3DResNet50:
    """Loads the official extractor's weights strictly: a state dict, its ``.pth``, or the Caffe2 ``.pkl``.

    ``module.`` is stripped and missing ``num_batches_tracked`` buffers are added; any
    other missing, extra or mis-shaped tensor raises a one-line
    :class:`~models.checkpoint.CheckpointError`. A ``.pkl`` is renamed as the
    official ``convert_weights.py`` does (:func:`read_caffe2_weights`).
    """
    name = "state dict"
    if not isinstance(source, Mapping):
        path = Path(source)
        name = path.name
        caffe2 = (
            path.suffix.lower() == ".pkl" and path.is_file() and not zipfile.is_zipfile(path)
        )  # torch files are zips
        source = read_caffe2_weights(path) if caffe2 else read_checkpoint(path)
    if isinstance(source, Mapping) and isinstance(source.get("state_dict"), Mapping):
        source = source["state_dict"]
    if isinstance(source, Mapping):
        source = _with_batch_counters(model, {k.removeprefix("module."): v for k, v in source.items()})
    return load_weights(model, source, source=name)
