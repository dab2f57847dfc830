"""Alert clips with pre- and post-capture, and JPEG snapshots.

The camera's analysed frames are kept for ``pre_capture_s`` plus one snippet window
(an alert starts at the first frame of the window that raised it, which arrived a
window ago); when an alert opens, FFmpeg starts encoding them (H.264, fragmented MP4,
so the clip plays while it is still being written), then every new frame until
``post_capture_s`` after the alert ends.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections import deque
from pathlib import Path

import cv2
import numpy as np

from crimeviz.cctv.live.source import Frame, ffmpeg_binary

SNAPSHOT_WIDTH = 320


def jpeg(image: np.ndarray, width: int | None = SNAPSHOT_WIDTH, quality: int = 85) -> bytes:
    """A BGR image as JPEG bytes, scaled to ``width`` (None: as it is)."""
    if width and image.shape[1] != width:
        height = max(2, round(image.shape[0] * width / image.shape[1]))
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


class FrameBuffer:
    """The last ``seconds`` of frames at ``fps``."""

    def __init__(self, seconds: float, fps: float):
        self.frames: deque[Frame] = deque(maxlen=max(1, int(round(seconds * fps)) + 1))

    def append(self, frame: Frame) -> None:
        self.frames.append(frame)

    def since(self, moment: float) -> list[Frame]:
        return [f for f in self.frames if f.at >= moment]


def clip_parts(folder: Path) -> list[Path]:
    """An alert's clip files in order: ``clip.mp4``, then ``clip-2.mp4``, … (a reopened or resumed alert's parts)."""
    parts = Path(folder).glob("clip*.mp4") if Path(folder).is_dir() else []
    return sorted(parts, key=lambda p: (len(p.name), p.name))


class ClipWriter:
    """An MP4 clip being written by FFmpeg from raw frames; ``close()`` finishes it.

    Fragmented MP4 in half-second fragments, flushed as written: the clip of a monitor killed
    mid-alert plays up to its last fragment."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        width, height = size
        cmd = [
            ffmpeg_binary(),
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgr24",
            "-s",
            f"{width}x{height}",
            "-r",
            f"{fps:g}",
            "-i",
            "pipe:0",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "zerolatency",  # frames leave the encoder at once: a killed monitor loses at most one fragment
            "-pix_fmt",
            "yuv420p",
            "-g",
            str(max(1, int(round(fps * 2)))),
            "-movflags",
            "+frag_keyframe+empty_moov+default_base_moof",
            "-frag_duration",
            "500000",
            "-flush_packets",
            "1",
            str(self.path),
        ]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.frames = 0
        self.last_at: float | None = None

    def write(self, frame: Frame) -> None:
        if self.last_at is not None and frame.at <= self.last_at:
            return
        try:
            self.proc.stdin.write(np.ascontiguousarray(frame.image).tobytes())
        except (BrokenPipeError, ValueError):
            return
        self.frames += 1
        self.last_at = frame.at

    def close(self) -> int:
        """Finishes the file; returns FFmpeg's exit status."""
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
