"""Opening, checking and decoding video files with OpenCV, and writing clips.

Every clip is checked before any work is done (:func:`probe`) and again while it
is decoded (:func:`iter_frames`), so a bad file fails with one sentence a user
understands (:class:`VideoError`) and nothing downstream is stored. When OpenCV
cannot open a file, :func:`diagnose` reads the container header to say why
(empty, audio only, not a video, truncated, unsupported codec).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# FFmpeg's own log lines ("moov atom not found", "huffman table decode error") would print before
# the one-sentence VideoError; OpenCV reads this when its FFmpeg backend starts (first capture).
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET

MAX_MINUTES_ENV = "CRIMEVIZ_CCTV_MAX_MINUTES"
UPLOAD_TYPES = ("mp4", "avi", "mov", "mkv", "webm")
# (extension, FourCC) pairs that Chromium, Firefox and Safari play natively.
BROWSER_PLAYABLE = {
    ("webm", "VP80"),
    ("webm", "VP90"),
    ("mp4", "avc1"),
    ("mp4", "h264"),
    ("mp4", "vp09"),
    ("mp4", "av01"),
    ("mov", "avc1"),
    ("mov", "h264"),
}


class VideoError(ValueError):
    """A clip that cannot be scored; the message is one sentence for the user."""


@dataclass(frozen=True)
class Limits:
    """What a clip may be: longest duration and largest frame (default 4K UHD)."""

    max_seconds: float = 30 * 60
    max_pixels: int = 3840 * 2160

    @classmethod
    def from_env(cls) -> Limits:
        """Duration limit from ``$CRIMEVIZ_CCTV_MAX_MINUTES`` (default 30)."""
        try:
            minutes = float(os.environ.get(MAX_MINUTES_ENV, 30))
        except ValueError:
            raise ValueError(f"${MAX_MINUTES_ENV} must be a number of minutes") from None
        return cls(max_seconds=minutes * 60)


@dataclass(frozen=True)
class VideoInfo:
    """What the container declares; ``declared_frames`` may be an estimate."""

    path: Path
    width: int
    height: int
    fps: float
    declared_frames: int
    fourcc: str

    @property
    def duration_s(self) -> float:
        return self.declared_frames / self.fps

    @property
    def browser_playable(self) -> bool:
        return (self.path.suffix.lower().lstrip("."), self.fourcc) in BROWSER_PLAYABLE


def _fourcc(capture: cv2.VideoCapture) -> str:
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    return "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)).strip("\0 ")


def _open(path: Path) -> cv2.VideoCapture:
    """OpenCV's capture, its own warnings silenced: :func:`diagnose` says what is wrong instead."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if not capture.isOpened():
        raise VideoError(f"{path.name}: {diagnose(path)}")
    return capture


def probe(path: str | os.PathLike, limits: Limits | None = None) -> VideoInfo:
    """Opens ``path`` and checks what its header declares against ``limits``."""
    path, limits = Path(path), limits or Limits.from_env()
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    with open(path, "rb") as handle:
        head = handle.read(4096)
    reason = _content_reason(head) or _zero_rate_reason(head)
    if reason:  # FFmpeg would open an image as a one-frame video, and give a 0 fps clip 25 fps
        raise VideoError(f"{path.name}: {reason}")
    capture = _open(path)
    try:
        width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = capture.get(cv2.CAP_PROP_FPS)
        info = VideoInfo(path, width, height, fps, max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))), _fourcc(capture))
    finally:
        capture.release()
    if width <= 0 or height <= 0:
        raise VideoError(f"{path.name}: the file has no video stream")
    if width * height > limits.max_pixels:
        raise VideoError(
            f"{path.name}: resolution {width}×{height} is above the limit of "
            f"{limits.max_pixels / 1e6:.1f} megapixels (4K UHD); downscale it first"
        )
    if not 0 < fps <= 1000:
        raise VideoError(f"{path.name}: the container declares no usable frame rate")
    if info.duration_s > limits.max_seconds:
        raise VideoError(
            f"{path.name}: {info.duration_s / 60:.1f} min is longer than the "
            f"{limits.max_seconds / 60:g} min limit; cut the clip first"
        )
    return info


def iter_frames(info: VideoInfo, limits: Limits | None = None) -> Iterator[np.ndarray]:
    """Decodes every frame (BGR uint8), failing on zero, too many or too few frames.

    A file is taken as truncated or corrupt when decoding stops more than 2% (and
    at least 2 frames) short of the frame count its container declares.
    """
    limits = limits or Limits.from_env()
    most = int(limits.max_seconds * info.fps)
    capture = _open(info.path)
    count = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            if count > most:
                raise VideoError(
                    f"{info.path.name}: longer than the {limits.max_seconds / 60:g} min limit; cut the clip first"
                )
            yield frame
    finally:
        capture.release()
    if count == 0:
        raise VideoError(f"{info.path.name}: the video contains no frames that can be decoded")
    if info.declared_frames - count > max(2, 0.02 * info.declared_frames):
        raise VideoError(
            f"{info.path.name}: truncated or corrupt: only {count} of the "
            f"{info.declared_frames} frames its header declares could be decoded"
        )


def read_frames_at(info: VideoInfo, indices: Iterable[int]) -> dict[int, np.ndarray]:
    """The frames at ``indices`` (BGR), by decoding up to the last one in order.

    Sequential grabbing rather than seeking: seeking is frame-exact only for some codecs.
    """
    wanted = sorted(set(indices))
    frames: dict[int, np.ndarray] = {}
    if not wanted:
        return frames
    capture = _open(info.path)
    try:
        for index in range(wanted[-1] + 1):
            if not capture.grab():
                break
            if index in wanted:
                frames[index] = capture.retrieve()[1]
    finally:
        capture.release()
    return frames


def write_clip(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float, fourcc: str = "VP80") -> int:
    """Writes BGR frames (all one size) to ``path``; VP8 WebM plays in every browser."""
    writer = None
    count = 0
    try:
        for frame in frames:
            if writer is None:
                height, width = frame.shape[:2]
                writer = cv2.VideoWriter(
                    str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*fourcc), fps, (width, height)
                )
                if not writer.isOpened():
                    raise VideoError(f"cannot write {fourcc} video to {Path(path).name}")
            writer.write(frame)
            count += 1
    finally:
        if writer is not None:
            writer.release()
    return count


def write_preview(
    info: VideoInfo,
    path: str | os.PathLike,
    max_width: int = 480,
    limits: Limits | None = None,
    progress: Callable[[float], None] | None = None,
) -> int:
    """A browser-playable VP8 WebM copy of the clip, at most ``max_width`` wide.

    ``progress`` gets the fraction of the declared frames written so far.
    """
    scale = min(1.0, max_width / info.width)
    size = (2 * round(info.width * scale / 2), 2 * round(info.height * scale / 2))

    def frames():
        for index, frame in enumerate(iter_frames(info, limits), start=1):
            yield cv2.resize(frame, size, interpolation=cv2.INTER_AREA) if scale < 1 else frame
            if progress:
                progress(min(1.0, index / max(1, info.declared_frames)))

    return write_clip(frames(), path, info.fps)


# --- why OpenCV could not open a file -------------------------------------------------

_NOT_VIDEO = [  # (prefix, offset, description)
    (b"\x89PNG", 0, "a PNG image"),
    (b"\xff\xd8\xff", 0, "a JPEG image"),
    (b"GIF8", 0, "a GIF image"),
    (b"%PDF", 0, "a PDF document"),
    (b"PK\x03\x04", 0, "a ZIP archive"),
]
_AUDIO = [
    (b"WAVE", 8, "WAV"),
    (b"ID3", 0, "MP3"),
    (b"\xff\xfb", 0, "MP3"),
    (b"\xff\xf3", 0, "MP3"),
    (b"fLaC", 0, "FLAC"),
]
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ")


def _content_reason(head: bytes) -> str | None:
    """Why a file with these first bytes is not a video, if its signature says so."""
    if not head:
        return "the file is empty"
    for magic, offset, what in _NOT_VIDEO:
        if head[offset : offset + len(magic)] == magic:
            return f"this is {what}, not a video"
    for magic, offset, what in _AUDIO:
        if head[offset : offset + len(magic)] == magic:
            return f"this is {what} audio only; it has no video stream"
    if all(32 <= b < 127 or b in b"\r\n\t" for b in head[:512]):
        return "this is a text file, not a video"
    return None


def _zero_rate_reason(head: bytes) -> str | None:
    """Why an AVI whose video stream header declares 0 frames per second cannot be timed: FFmpeg
    would assume 25 fps, so alert times would be off by the ratio of the real rate to 25."""
    if not (head[:4] == b"RIFF" and head[8:12] == b"AVI "):
        return None
    match = re.search(rb"strh....vids.{16}(.{4})(.{4})", head, re.DOTALL)  # dwScale, dwRate
    if match is None:
        return None
    scale, rate = (struct.unpack("<I", group)[0] for group in match.groups())
    if scale and rate:
        return None
    return (
        "the header declares 0 frames per second, so its times cannot be known; "
        "re-encode it with the camera's frame rate (e.g. ffmpeg -r 25 -i IN OUT)"
    )


def diagnose(path: str | os.PathLike) -> str:
    """Why a file that OpenCV cannot open is not a usable video, from its header bytes."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(1 << 20)
    reason = _content_reason(head)
    if reason:
        return reason
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return _diagnose_avi(head, size)
    if head[4:8] == b"ftyp":
        return _diagnose_mp4(path, size)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _diagnose_matroska(head, size)
    if head[:4] == b"OggS":
        return "this is an Ogg file without a supported video stream"
    return "not a video file OpenCV can read (unrecognised format)"


def _unsupported(codec: str) -> str:
    return f"the video codec '{codec}' is not supported by this build of OpenCV/FFmpeg; convert it to H.264 or VP8"


def _truncated(size: int, declared: int) -> str:
    return f"truncated: the file ends after {size:,} of the {declared:,} bytes its header declares"


def _diagnose_avi(head: bytes, size: int) -> str:
    declared = struct.unpack("<I", head[4:8])[0] + 8
    if declared > size:
        return _truncated(size, declared)
    match = re.search(rb"strh....vids(....)", head, re.DOTALL)
    if match:
        return _unsupported(match.group(1).decode("latin-1").strip("\0 "))
    return "this AVI file has no video stream"


def _boxes(handle, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """ISO-BMFF boxes between two offsets: (type, payload start, box end)."""
    offset = start
    while offset + 8 <= end:
        handle.seek(offset)
        size, kind = struct.unpack(">I4s", handle.read(8))
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", handle.read(8))[0], 16
        elif size == 0:
            size = end - offset
        if size < header:
            return
        yield kind, offset + header, offset + size
        offset += size


def _diagnose_mp4(path: Path, size: int) -> str:
    with open(path, "rb") as handle:
        top = list(_boxes(handle, 0, size))
        if top and top[-1][2] > size:
            return _truncated(size, top[-1][2])
        moov = [box for box in top if box[0] == b"moov"]
        if not moov:
            return "incomplete MP4/MOV: it has no 'moov' index (truncated, or still being recorded)"
        tracks = {}  # handler type -> sample entry (codec) of each track
        for kind, begin, end in _boxes(handle, moov[0][1], moov[0][2]):
            if kind == b"trak":
                handler, codec = _track(handle, begin, end)
                tracks.setdefault(handler, codec)
    if b"vide" in tracks:
        return _unsupported(tracks[b"vide"])
    if b"soun" in tracks:
        return "this file has audio only; it has no video stream"
    return "this MP4/MOV file has no video track"


def _track(handle, begin: int, end: int) -> tuple[bytes, str]:
    """(handler type, sample entry type) of a 'trak' box."""
    handler, codec = b"", "?"
    stack = [(begin, end)]
    while stack:
        for kind, b, e in _boxes(handle, *stack.pop()):
            if kind in (b"mdia", b"minf", b"stbl"):
                stack.append((b, e))
            elif kind == b"hdlr":
                handle.seek(b + 8)
                handler = handle.read(4)
            elif kind == b"stsd":
                handle.seek(b + 12)
                codec = handle.read(4).decode("latin-1")
    return handler, codec


def _diagnose_matroska(head: bytes, size: int) -> str:
    video = re.findall(rb"V_[A-Z0-9_/.]+", head)
    if video:
        return _unsupported(video[0].decode())
    if re.search(rb"A_[A-Z0-9_/.]+", head):
        return "this file has audio only; it has no video stream"
    return "this Matroska/WebM file has no readable video stream (damaged or truncated)"
