"""A cheap, masked motion gate: is anything changing in the parts of the picture we watch?

After Frigate's motion detector (``frigate/motion/improved_motion.py``): frames are
shrunk to a small grey image, blurred, and compared with a running-average
background (``cv2.accumulateWeighted``); a pixel moved when it differs by more than
``pixel_delta`` grey levels. Masked areas (a clock, trees in the wind) never count;
when a camera has zones, only pixels inside them count. The gate is open when the
moving share of the watched pixels reaches ``min_area``. About 0.1 ms a frame at the
default 80×60, so a still scene costs almost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

Polygon = Sequence[tuple[float, float]]


def watched_area(size: tuple[int, int], masks: Sequence[Polygon] = (), zones: Sequence[Polygon] = ()) -> np.ndarray:
    """(height, width) bool image of the pixels that count: inside a zone (all, without zones), outside every mask."""
    width, height = size
    scale = np.array([width - 1, height - 1], dtype=np.float64)

    def fill(polygons, value):
        image = np.zeros((height, width), np.uint8)
        for polygon in polygons:
            points = np.round(np.asarray(polygon, dtype=np.float64) * scale).astype(np.int32)
            cv2.fillPoly(image, [points], value)
        return image.astype(bool)

    area = fill(zones, 1) if zones else np.ones((height, width), bool)
    return area & ~fill(masks, 1) if masks else area


class MotionGate:
    """``gate(frame)`` -> the moving share (0..1) of the watched pixels; ``gate.moving`` says if it passed."""

    def __init__(
        self,
        masks: Sequence[Polygon] = (),
        zones: Sequence[Polygon] = (),
        size: tuple[int, int] = (80, 60),
        pixel_delta: float = 12.0,
        min_area: float = 0.003,
        alpha: float = 0.2,
    ):
        self.size, self.pixel_delta, self.min_area, self.alpha = size, pixel_delta, min_area, alpha
        self.area = watched_area(size, masks, zones)
        self.n_watched = max(1, int(self.area.sum()))
        self.background: np.ndarray | None = None
        self.moving = True

    def __call__(self, frame: np.ndarray) -> float:
        small = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (3, 3), 0).astype(np.float32)
        if self.background is None:
            self.background = grey.copy()
            self.moving = True  # nothing to compare with: treat the first frame as news
            return 1.0
        changed = (np.abs(grey - self.background) > self.pixel_delta) & self.area
        cv2.accumulateWeighted(grey, self.background, self.alpha)
        share = float(changed.sum()) / self.n_watched
        self.moving = share >= self.min_area
        return share


def draw_areas(image: np.ndarray, masks: Sequence[Polygon] = (), zones: Sequence[Polygon] = ()) -> np.ndarray:
    """A copy of a BGR frame with masks shaded red and zones outlined green (what the gate ignores / watches)."""
    out = image.copy()
    height, width = out.shape[:2]
    scale = np.array([width - 1, height - 1], dtype=np.float64)
    shade = out.copy()
    for polygon in masks:
        points = np.round(np.asarray(polygon, dtype=np.float64) * scale).astype(np.int32)
        cv2.fillPoly(shade, [points], (40, 40, 220))
    out = cv2.addWeighted(shade, 0.45, out, 0.55, 0)
    for polygon in zones:
        points = np.round(np.asarray(polygon, dtype=np.float64) * scale).astype(np.int32)
        cv2.polylines(out, [points], True, (60, 200, 60), max(1, width // 160))
    return out


def areas_preview(jpeg: bytes, masks: Sequence[Polygon] = (), zones: Sequence[Polygon] = ()) -> bytes | None:
    """The camera's latest frame (JPEG) with its masks and zones drawn on it, as JPEG; None if it does not decode."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None
    return cv2.imencode(".jpg", draw_areas(image, masks, zones), [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
