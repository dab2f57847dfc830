"""I3D feature extraction timing: seconds per 16-frame snippet with 1 and 10 crops.

``python -m crimeviz cctv bench-i3d`` decodes snippets of a clip once, then times
the official I3D path (:mod:`crimeviz.cctv.i3d_features`: resize to 340x256 and
crops, then I3D ResNet-50) per snippet, for the centre crop alone (live use) and for
the official 10 crops. The baseline, measured in the same run on the same snippets,
is CrimeViz's own raw-video features (:mod:`crimeviz.cctv.features`: EfficientNet-Lite0
on two frames plus motion statistics). The first snippet of each mode is a warm-up
and not counted.

Without ``--i3d-weights`` the network keeps PyTorch's initial weights: the time of a
forward pass does not depend on the values, and no feature leaves the benchmark.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from crimeviz.cctv import video
from crimeviz.cctv.features import FeatureSpec, Featurizer, backbone_embedder, load_backbone, prepare
from crimeviz.cctv.i3d_features import SNIPPET_LEN, I3DFeatureExtractor, load_i3d
from models.i3d import I3DResNet50


def _snippets(clip: Path, count: int) -> tuple[video.VideoInfo, list[list[np.ndarray]]]:
    """``count`` consecutive 16-frame snippets of decoded BGR frames (fewer if the clip is short)."""
    info = video.probe(clip)
    frames: list[np.ndarray] = []
    for frame in video.iter_frames(info):
        frames.append(frame)
        if len(frames) == count * SNIPPET_LEN:
            break
    snippets = [frames[i : i + SNIPPET_LEN] for i in range(0, len(frames) - SNIPPET_LEN + 1, SNIPPET_LEN)]
    if len(snippets) < 2:
        raise ValueError(f"{clip.name}: needs at least {2 * SNIPPET_LEN} frames (a warm-up snippet and one timed)")
    return info, snippets


def _summary(total: list[float], cpu: list[float], parts: dict[str, list[float]], fps: float) -> dict:
    """Wall-clock figures of the timed snippets; ``cpu_median_s``: CPU seconds of this process (all its threads),
    which other processes on a shared machine inflate less than wall time."""
    timed = total[1:]
    median = statistics.median(timed)
    return {
        "snippets": len(timed),
        "first_s": round(total[0], 4),
        "median_s": round(median, 4),
        "p95_s": round(float(np.percentile(timed, 95)), 4),
        "cpu_median_s": round(statistics.median(cpu[1:]), 4),
        **{f"{name}_median_s": round(statistics.median(values[1:]), 4) for name, values in parts.items()},
        "snippets_per_s": round(1 / median, 3),
        "realtime_factor": round(SNIPPET_LEN / fps / median, 3),
    }


def _time_i3d(model: I3DResNet50, crops: int, snippets: list[list[np.ndarray]], device: str, fps: float) -> dict:
    extractor = I3DFeatureExtractor(model, crops, device)
    total, cpu, parts = [], [], {"preprocess": [], "network": []}
    for frames in snippets:
        before = dict(extractor.timings)
        start, start_cpu = time.perf_counter(), time.process_time()
        extractor.snippet_bgr(frames)
        total.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        parts["preprocess"].append(extractor.timings["preprocess_s"] - before["preprocess_s"])
        parts["network"].append(extractor.timings["i3d_s"] - before["i3d_s"])
    return _summary(total, cpu, parts, fps)


def _time_baseline(snippets: list[list[np.ndarray]], fps: float) -> dict:
    spec = FeatureSpec()
    featurizer = Featurizer(spec, backbone_embedder(load_backbone()))
    total, cpu = [], []
    for frames in snippets:
        start, start_cpu = time.perf_counter(), time.process_time()
        featurizer([np.stack([prepare(f, spec) for f in frames])])
        total.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return _summary(total, cpu, {}, fps)


def run(clip: Path, snippets: int, threads: int, weights: Path | None = None, device: str = "cpu") -> dict:
    """Per-snippet time of I3D features with 1 and 10 crops, and of CrimeViz's features, on ``device``."""
    info, frames = _snippets(clip, snippets + 1)
    start = time.perf_counter()
    model = load_i3d(weights) if weights else I3DResNet50().eval()
    load_s = time.perf_counter() - start
    one = _time_i3d(model, 1, frames, device, info.fps)
    ten = _time_i3d(model, 10, frames, device, info.fps)
    baseline = _time_baseline(frames, info.fps)
    return {
        "clip": str(clip),
        "resolution": f"{info.width}x{info.height}",
        "fps": info.fps,
        "device": torch.cuda.get_device_name(0) if str(device).startswith("cuda") else "cpu",
        "threads": threads,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "weights": weights.name if weights else "initial PyTorch weights (timing only; no features are kept)",
        "model_load_s": round(load_s, 3),
        "i3d_1_crop": one,
        "i3d_10_crops": ten,
        "baseline_crimeviz_features": baseline,
        "ratio_to_baseline": {
            "i3d_1_crop": round(one["median_s"] / baseline["median_s"], 2),
            "i3d_10_crops": round(ten["median_s"] / baseline["median_s"], 2),
        },
    }
