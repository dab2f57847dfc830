"""CPU inference time for one 16-frame sequence: full DevianceNet and DevianceNetLite.

Weights are untrained (timing does not depend on them). ``preprocess_s`` is the time
to decode 16 640×480 JPEG frames and build the 224×224 clip (:mod:`.sequences`).
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from crimeviz.bench.timing import timed
from crimeviz.streetview.sequences import CROP_HW, SEQUENCE_LENGTH, load_frames, to_clip
from models.deviancenet import DevianceNet, DevianceNetLite


def _jpeg_frames(seed: int = 0) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(SEQUENCE_LENGTH):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (*CROP_HW, 3), dtype=np.uint8)).save(buffer, "JPEG")
        frames.append((f"frame{index:06d}.jpg", buffer.getvalue()))
    return frames


def bench_inference(repeats: int = 3) -> dict:
    """Median seconds (after one warm-up) per sequence on CPU, with the settings used."""
    frames = _jpeg_frames()
    clip = to_clip(load_frames(frames)).unsqueeze(0)
    result = {
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "clip": list(clip.shape),
        "repeats": repeats,
        "weights": "untrained (timing only)",
        "preprocess_s": round(timed(lambda: to_clip(load_frames(frames)), repeats), 3),
    }
    for key, build in (("full", lambda: DevianceNet("con")), ("lite", DevianceNetLite)):
        model = build().eval()
        with torch.inference_mode():
            seconds = timed(lambda: model(clip), repeats)
        result[key] = {
            "model": type(model).__name__,
            "seconds": round(seconds, 3),
            "parameters": sum(p.numel() for p in model.parameters()),
        }
    return result
