"""Anomalies injected programmatically into normal footage, for the demo model.

There is no labelled CCTV footage offline, so the demo model learns from normal
sample footage (OpenCV's ``vtest.avi``) with events painted in. Each injector
changes frames [start, start + length) of a (n, h, w, 3) BGR clip in place; sizes
are fractions of the frame, so the same event works at any resolution.

- ``fast_motion``: "sudden running": inside a soft-edged region around the busiest
  motion, the clip plays 3–5× faster (frame skipping), then jumps back.
- ``occlusion``: an out-of-focus blob (hand, cloth) slides over 30–60% of the lens.
- ``blackout``: the picture fades to black within two frames (cut cable, lens cap).
- ``scene_change``: the view jumps to a zoomed, rotated, shifted one (camera knocked).
- ``blur``: defocus or a smeared lens, ramping in and out.
- ``fast_entry``: dark figures, textured from the scene, cross the frame in about a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

TRAIN_TYPES = ("fast_motion", "occlusion", "blackout", "scene_change")
HELDOUT_TYPES = ("blur", "fast_entry")
ANOMALY_TYPES = TRAIN_TYPES + HELDOUT_TYPES


@dataclass(frozen=True)
class Event:
    """An injected anomaly: frames [start, start + length) of a clip."""

    kind: str
    start: int
    length: int

    def labels(self, n_frames: int) -> np.ndarray:
        out = np.zeros(n_frames, np.uint8)
        out[self.start : self.start + self.length] = 1
        return out


def random_event(
    kind: str, n_frames: int, fps: float, rng: np.random.Generator, seconds: tuple[float, float] = (3.0, 8.0)
) -> Event:
    """An event of ``kind`` lasting ``seconds`` (capped at half the clip), placed uniformly."""
    length = int(min(n_frames // 2, round(rng.uniform(*seconds) * fps)))
    return Event(kind, int(rng.integers(0, n_frames - length + 1)), max(1, length))


def inject(frames: np.ndarray, event: Event, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``frames`` with ``event`` painted in."""
    if event.kind not in ANOMALY_TYPES:
        raise ValueError(f"unknown anomaly type {event.kind!r}; choose from {', '.join(ANOMALY_TYPES)}")
    out = frames.copy()
    _INJECTORS[event.kind](out, event.start, event.length, rng)
    return out


def _soft(mask: np.ndarray, sigma: float) -> np.ndarray:
    """A 0/1 mask with blurred edges, as float32 (h, w, 1)."""
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), max(sigma, 0.5))[..., None]


def _blend(frame: np.ndarray, other: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return (frame * (1 - alpha) + other * alpha).clip(0, 255).astype(np.uint8)


def _fast_motion(frames, start, length, rng):
    n, h, w = frames.shape[:3]
    speed = int(rng.integers(3, 6))
    rw, rh = int(w * rng.uniform(0.35, 0.6)), int(h * rng.uniform(0.4, 0.7))
    # put the region where the event's frames move most, so someone is in it
    grey = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames[start : start + length + 1]])
    energy = (
        np.abs(np.diff(grey.astype(np.float32), axis=0)).mean(axis=0) if len(grey) > 1 else np.ones((h, w), np.float32)
    )
    energy = cv2.boxFilter(energy, -1, (rw, rh))
    cy, cx = np.unravel_index(np.argmax(energy), energy.shape)
    y0, x0 = int(np.clip(cy - rh // 2, 0, h - rh)), int(np.clip(cx - rw // 2, 0, w - rw))
    mask = np.zeros((h, w), np.float32)
    mask[y0 : y0 + rh, x0 : x0 + rw] = 1
    alpha = _soft(mask, 0.03 * w)
    period = 2 * (n - 1) if n > 1 else 1
    source = frames.copy()
    for i in range(length):
        j = (start + speed * i) % period
        j = j if j < n else period - j  # play back and forth rather than run off the clip
        frames[start + i] = _blend(source[start + i], source[j], alpha)


def _blob(h: int, w: int, rng: np.random.Generator, area: tuple[float, float]) -> np.ndarray:
    """A random ellipse mask covering roughly ``area`` of the frame."""
    mask = np.zeros((h, w), np.uint8)
    share = rng.uniform(*area)
    ax, ay = w * np.sqrt(share) * rng.uniform(0.55, 0.8), h * np.sqrt(share) * rng.uniform(0.55, 0.8)
    centre = (int(w * rng.uniform(0.25, 0.75)), int(h * rng.uniform(0.25, 0.75)))
    cv2.ellipse(mask, centre, (int(ax), int(ay)), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return mask


def _occlusion(frames, start, length, rng):
    n, h, w = frames.shape[:3]
    colour = rng.uniform(15, 120) * np.array([rng.uniform(0.7, 1.0), rng.uniform(0.8, 1.0), 1.0])  # dark to skin, BGR
    noise = cv2.GaussianBlur(rng.normal(0, 25, (h, w)).astype(np.float32), (0, 0), 0.05 * w)[..., None]
    texture = colour + noise
    alpha = _soft(_blob(h, w, rng, (0.3, 0.6)), 0.04 * w)
    direction = rng.choice([-1, 1]) * np.array([w, 0] if rng.random() < 0.5 else [0, h], np.float32)
    ramp = max(1, min(length // 3, int(rng.integers(3, 7))))
    for i in range(length):
        # slide in from an edge, stay, slide out
        t = min(1.0, (i + 1) / ramp, (length - i) / ramp)
        shift = np.float32([[1, 0, direction[0] * (1 - t)], [0, 1, direction[1] * (1 - t)]])
        a = cv2.warpAffine(alpha[..., 0], shift, (w, h))[..., None]
        frames[start + i] = _blend(frames[start + i], texture, a)


def _blackout(frames, start, length, rng):
    level = rng.uniform(0, 12)
    for i in range(length):
        fade = 0.35 if i == 0 or i == length - 1 else 0.0
        dark = frames[start + i] * fade + level + rng.normal(0, 2, frames.shape[1:])
        frames[start + i] = dark.clip(0, 255).astype(np.uint8)


def _scene_change(frames, start, length, rng):
    h, w = frames.shape[1:3]
    zoom, angle = rng.uniform(1.4, 2.2), rng.uniform(-12, 12)
    centre = (w * rng.uniform(0.2, 0.8), h * rng.uniform(0.2, 0.8))
    matrix = cv2.getRotationMatrix2D(centre, angle, zoom)
    matrix[:, 2] += [w / 2 - centre[0], h / 2 - centre[1]]
    for i in range(start, start + length):
        frames[i] = cv2.warpAffine(frames[i], matrix, (w, h), borderMode=cv2.BORDER_REFLECT)


def _blur(frames, start, length, rng):
    sigma = rng.uniform(0.012, 0.03) * frames.shape[2]
    ramp = max(1, min(length // 3, 3))
    for i in range(length):
        s = sigma * min(1.0, (i + 1) / ramp, (length - i) / ramp)
        frames[start + i] = cv2.GaussianBlur(frames[start + i], (0, 0), s)


def _fast_entry(frames, start, length, rng):
    n, h, w = frames.shape[:3]
    crossings = max(1, min(4, length // 10))
    per = length // crossings
    for c in range(crossings):
        ph = int(h * rng.uniform(0.25, 0.45))
        pw = int(ph * rng.uniform(0.35, 0.6))
        sy, sx = int(rng.integers(0, h - ph)), int(rng.integers(0, w - pw))
        # a figure: texture from elsewhere in the clip, darkened, in a head-and-body shape
        patch = frames[int(rng.integers(0, n))][sy : sy + ph, sx : sx + pw] * rng.uniform(0.3, 0.7)
        mask = np.zeros((ph, pw), np.uint8)
        head = max(2, pw // 4)
        cv2.circle(mask, (pw // 2, head), head, 1, -1)
        cv2.ellipse(mask, (pw // 2, (ph + 2 * head) // 2), (pw // 2 - 1, (ph - 2 * head) // 2), 0, 0, 360, 1, -1)
        alpha = _soft(mask, 0.08 * pw)
        y = int(rng.integers(0, h - ph))
        left_to_right = rng.random() < 0.5
        frames_in = max(1, per if c < crossings - 1 else length - per * c)
        for i in range(frames_in):
            t = (i + 0.5) / frames_in
            x = int(-pw + t * (w + pw)) if left_to_right else int(w - t * (w + pw))
            a, b = max(0, x), min(w, x + pw)
            if a >= b:
                continue
            k = start + c * per + i
            region = frames[k, y : y + ph, a:b]
            frames[k, y : y + ph, a:b] = _blend(region, patch[:, a - x : b - x], alpha[:, a - x : b - x])


_INJECTORS = {
    "fast_motion": _fast_motion,
    "occlusion": _occlusion,
    "blackout": _blackout,
    "scene_change": _scene_change,
    "blur": _blur,
    "fast_entry": _fast_entry,
}
