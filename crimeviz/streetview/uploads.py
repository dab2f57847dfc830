"""Uploaded sequences: loose frames, a zip of them, or a short video sampled to 16 frames.

Zips are checked before anything is read from them: no member may point outside the
archive (absolute names, ``..``, drive letters), and against decompression bombs the
member count, the total uncompressed size and each member's compression ratio are
capped (:class:`ZipLimits`). ``zipfile`` itself stops reading a member at its
declared size and checks its CRC, so the declared sizes hold.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import cv2
from PIL import Image

from crimeviz.streetview.sequences import (
    SEQUENCE_LENGTH,
    FrameSource,
    SequenceError,
    check_size,
    decoded,
    evenly_spaced,
    find_sequences,
    frame_order,
    is_skipped,
)

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg"})
MAX_VIDEO_FRAMES = 18_000  # 10 minutes at 30 fps


@dataclass(frozen=True)
class ZipLimits:
    """Caps on a zip: files, total uncompressed bytes, and uncompressed/compressed per file."""

    members: int = 20_000
    total_bytes: int = 2 << 30
    ratio: float = 100.0


ONE_SEQUENCE = ZipLimits(members=1_000, total_bytes=512 << 20)


def _checked_members(archive: zipfile.ZipFile, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """The archive's files minus hidden ones, after the traversal and size checks."""
    files = [info for info in archive.infolist() if not info.is_dir()]
    if len(files) > limits.members:
        raise SequenceError(f"the zip holds {len(files):,} files; at most {limits.members:,} are accepted")
    total = 0
    for info in files:
        name = info.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
            raise SequenceError(f"zip member {info.filename!r} points outside the archive")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > (1 << 20) and ratio > limits.ratio:
            raise SequenceError(
                f"zip member {info.filename!r} expands {ratio:,.0f}×: refused as a possible decompression bomb"
            )
        total += info.file_size
    if total > limits.total_bytes:
        raise SequenceError(
            f"the zip expands to {total / 2**20:,.0f} MiB; at most {limits.total_bytes / 2**20:,.0f} MiB are accepted"
        )
    return [info for info in files if not is_skipped(info.filename)]


def _open_zip(source: Path | bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source if isinstance(source, Path) else io.BytesIO(source))
    except (zipfile.BadZipFile, OSError) as exc:
        raise SequenceError(f"not a readable zip file ({exc})") from exc


def zip_frames(data: bytes, limits: ZipLimits = ONE_SEQUENCE) -> list[tuple[str, bytes]]:
    """The files of a zip holding one sequence (all in one folder), in frame order."""
    with _open_zip(data) as archive:
        members = _checked_members(archive, limits)
        folders = sorted({str(PurePosixPath(info.filename).parent) for info in members})
        if len(folders) > 1:
            raise SequenceError(
                f"the zip holds files in {len(folders)} folders ({', '.join(folders[:3])}…); "
                "upload one sequence at a time, or score a folder with the CLI"
            )
        members.sort(key=lambda info: frame_order(PurePosixPath(info.filename).name))
        return [(info.filename, archive.read(info)) for info in members]


def extract_zip(source: Path | bytes, dest: Path, limits: ZipLimits = ZipLimits()) -> Path:
    """Extracts a checked zip of sequence folders into ``dest``; returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with _open_zip(source) as archive:
        for info in _checked_members(archive, limits):
            target = dest / PurePosixPath(info.filename.replace("\\", "/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
    return dest


@contextmanager
def sequences_in(source: Path | bytes, name: str):
    """The sequences of a folder, or of a zip (path or bytes) extracted, checked, to a temporary folder."""
    if isinstance(source, Path) and not (source.is_file() and source.suffix.lower() == ".zip"):
        yield find_sequences(source)
        return
    with tempfile.TemporaryDirectory(prefix="crimeviz-streetview-") as folder:
        yield find_sequences(extract_zip(source, Path(folder) / name))


def video_frames(data: bytes, suffix: str, count: int = SEQUENCE_LENGTH) -> list[tuple[str, Image.Image]]:
    """``count`` evenly spaced frames of a video (OpenCV), each kept only as its 640×480 model view
    (:func:`decoded`), named by frame number."""
    with tempfile.NamedTemporaryFile(suffix=suffix) as file:
        file.write(data)
        file.flush()
        total = _count_frames(file.name)
        if total < count:
            raise SequenceError(f"the video has {total} frame(s); DevianceNet needs {count}")
        wanted = evenly_spaced(total, count)
        capture = cv2.VideoCapture(file.name)
        frames = []
        for index in range(wanted[-1] + 1):
            if not capture.grab():
                break
            if index in wanted:
                ok, bgr = capture.retrieve()
                if ok:
                    check_size(f"frame {index}", bgr.shape[1], bgr.shape[0])
                    frames.append((f"frame {index}", decoded(Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))))
        capture.release()
    if len(frames) < count:
        raise SequenceError(f"only {len(frames)} of the video's frames could be decoded; DevianceNet needs {count}")
    return frames


def _count_frames(path: str) -> int:
    """Frames actually decodable (container frame counts are often wrong)."""
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise SequenceError("not a video OpenCV can read")
    total = 0
    while total <= MAX_VIDEO_FRAMES and capture.grab():
        total += 1
    capture.release()
    if total > MAX_VIDEO_FRAMES:
        raise SequenceError(f"the video is longer than {MAX_VIDEO_FRAMES:,} frames; upload a short clip")
    return total


def upload_items(files: list[tuple[str, bytes]]) -> list[tuple[str, FrameSource]]:
    """The frames of one uploaded sequence, in order: loose images, one zip, or one video."""
    if not files:
        raise SequenceError("nothing was uploaded")
    suffixes = [PurePosixPath(name).suffix.lower() for name, _ in files]
    if len(files) > 1 and any(s == ".zip" or s in VIDEO_SUFFIXES for s in suffixes):
        raise SequenceError("upload either loose frames, or one zip, or one video")
    if suffixes[0] == ".zip":
        return zip_frames(files[0][1])
    if suffixes[0] in VIDEO_SUFFIXES:
        return video_frames(files[0][1], suffixes[0])
    return sorted(files, key=lambda item: frame_order(item[0]))
