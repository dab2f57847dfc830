"""Image sequences as DevianceNet reads them: the official layout, frames and model clips.

The DevianceNet dataset (Park et al., AAAI 2022; README of the official code) keeps
each sequence in ``{City}_{train|test}_{SEA|DIA}/v_class{N}_g{lat},{lon}_c{dir}/``
as ``frame000000.jpg`` … ``frame000015.jpg``: ``N`` is the SEA class 1–5 and a
trailing ``+`` marks a further sequence at the same place. The reference transform
centre-crops 480×640, resizes to 224×224 and normalises with the ImageNet mean/std.

Where the reference loader is fragile, this one is explicit:

- class and place are parsed from the folder name (the reference reads the class
  at a fixed character offset, which a trailing slash on the root shifts);
- every file of a sequence folder is a frame (hidden files and ``__MACOSX`` are
  skipped), ordered by the numbers in its name; any format Pillow decodes is
  accepted (the reference silently substitutes ``frame000000.jpg`` for a missing
  or non-JPEG frame); a file that is not an image, fewer than 16 frames, or frames
  of different sizes raise :class:`SequenceError`;
- more than 16 frames: 16 evenly spaced ones, as for videos;
- EXIF orientation is applied; RGBA, palette and greyscale frames become RGB
  (alpha dropped); 16-bit greyscale is scaled to 8 bits (Pillow would saturate it to white);
- frames other than 640×480 are first scaled, aspect kept, to just cover 640×480,
  so the 480×640 centre crop keeps the field of view; the dataset's 640×480 frames
  go through exactly the reference transform;
- memory is bounded per frame, not per file size: a frame's header is checked first
  (at most ``MAX_PIXELS``, at least ``MIN_SIDE`` on the shorter side, so a 1×1 image is
  refused rather than upscaled), JPEGs are decoded at a reduced scale (``draft``) and
  every frame is kept only as the 640×480 view of it the model crops.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from models.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD

SEQUENCE_LENGTH = 16
CROP_HW = (480, 640)
IMAGE_SIZE = 224
MIN_SIDE = 48  # pixels on a frame's shorter side: at most 10× upscaling into the 480-pixel crop
MAX_PIXELS = 50_000_000  # per frame, from its header, before anything is decoded
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
_OFFICIAL_NAME = re.compile(r"v_class([1-5])_g(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)(?:_[^/]*?)?\+*")

FrameSource = Path | bytes | Image.Image


class SequenceError(ValueError):
    """Input that cannot be read as one sequence; the message says why in one line."""


@dataclass(frozen=True)
class Sequence:
    """A sequence folder: ``name`` relative to the scanned root, its frame files in order,
    and the SEA class and place given by an official folder name (else ``None``)."""

    name: str
    frames: tuple[Path, ...]
    sea_class: int | None = None
    lat: float | None = None
    lon: float | None = None

    def items(self) -> list[tuple[str, Path]]:
        """``(file name, path)`` per frame, for :func:`load_frames` and :func:`frames_gps`."""
        return [(path.name, path) for path in self.frames]

    def load(self) -> Frames:
        """The sequence's frames (:func:`load_frames`); an error names the sequence."""
        try:
            return load_frames(self.items())
        except SequenceError as exc:
            raise SequenceError(f"{self.name}: {exc}") from exc


@dataclass(frozen=True)
class Frames:
    """Decoded RGB frames of one size, in order, with their names."""

    images: tuple[Image.Image, ...]
    names: tuple[str, ...]


def parse_official_name(name: str) -> tuple[int, float, float] | None:
    """``v_class3_g37.49,127.12_c0+`` -> (3, 37.49, 127.12); ``None`` for other names."""
    match = _OFFICIAL_NAME.fullmatch(name)
    if match is None:
        return None
    return int(match[1]), float(match[2]), float(match[3])


def frame_order(name: str) -> tuple:
    """Sort key comparing the numbers in a file name as numbers (frame2 before frame10)."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part.lower()) for part in re.split(r"(\d+)", name) if part
    )


def is_skipped(name: str) -> bool:
    """Hidden files and macOS resource forks, which are never frames."""
    parts = Path(name).parts
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def evenly_spaced(total: int, count: int) -> list[int]:
    """``count`` indices spread evenly over ``range(total)``, first and last included."""
    return np.linspace(0, total - 1, count).round().astype(int).tolist()


def find_sequences(root: Path | str) -> list[Sequence]:
    """Every folder under ``root`` (``root`` included) that directly holds image files."""
    root = Path(root)
    if not root.is_dir():
        raise SequenceError(f"{root}: no such folder")
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not is_skipped(d))
        frames = sorted((f for f in files if not is_skipped(f)), key=frame_order)
        if not any(Path(f).suffix.lower() in IMAGE_SUFFIXES for f in frames):
            continue
        folder = Path(folder)
        name = folder.relative_to(root).as_posix() if folder != root else root.resolve().name
        sea_class, lat, lon = parse_official_name(folder.name) or (None, None, None)
        found.append(Sequence(name, tuple(folder / f for f in frames), sea_class, lat, lon))
    if not found:
        raise SequenceError(f"{root}: no folder of images found")
    return found


@contextmanager
def _opened(name: str, source: FrameSource):
    """A frame opened lazily (header only) and its size checked; :class:`SequenceError` if it is
    not an image or its size is outside [MIN_SIDE, MAX_PIXELS]."""
    if isinstance(source, Image.Image):
        check_size(name, *source.size)
        yield source
        return
    try:
        image = Image.open(source if isinstance(source, Path) else io.BytesIO(source))
    except Image.DecompressionBombError as exc:
        raise SequenceError(
            f"{name}: the header claims over {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels; "
            "refused as a possible decompression bomb"
        ) from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise SequenceError(f"{name}: not an image file") from exc
    with image:
        check_size(name, *image.size)
        yield image


def check_size(name: str, width: int, height: int) -> None:
    """:class:`SequenceError` for a frame over MAX_PIXELS or under MIN_SIDE on a side."""
    if width * height > MAX_PIXELS:
        raise SequenceError(f"{name}: {width}×{height} is over {MAX_PIXELS / 1e6:g} megapixels; use smaller frames")
    if min(width, height) < MIN_SIDE:
        raise SequenceError(f"{name}: {width}×{height} is too small; frames need at least {MIN_SIDE} pixels a side")


def eight_bit(image: Image.Image) -> Image.Image:
    """16-bit (and 32-bit integer) greyscale scaled to 8 bits; other modes unchanged."""
    if not (image.mode == "I" or image.mode.startswith("I;16")):
        return image
    pixels = np.asarray(image, dtype=np.float64) / 257.0
    return Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8), "L")


def decoded(image: Image.Image) -> Image.Image:
    """The RGB 640×480 view of an opened frame: upright (EXIF), 8-bit, scaled to cover 640×480 and
    centre-cropped, as :func:`model_view` does, reduced while decoding to the smallest size that still covers it."""
    crop_h, crop_w = CROP_HW
    width, height = image.size
    scale = crop_w / min(width, height)  # both sides stay ≥ 640, so either orientation covers 640×480
    if scale < 1:  # in place: JPEG decodes at a reduced scale (draft), others are reduced before copying
        image.thumbnail((math.ceil(width * scale), math.ceil(height * scale)), Image.Resampling.BILINEAR)
    upright = eight_bit(ImageOps.exif_transpose(image)).convert("RGB")
    return ImageOps.fit(upright, (crop_w, crop_h), Image.Resampling.BILINEAR)


def load_frames(items: list[tuple[str, FrameSource]], count: int = SEQUENCE_LENGTH) -> Frames:
    """``count`` decoded RGB frames from ``(name, source)`` items in order.

    Every item must be an image; with more than ``count``, evenly spaced ones are kept.
    """
    for name, source in items:
        with _opened(name, source):
            pass
    if len(items) < count:
        raise SequenceError(f"{len(items)} frame(s) given; DevianceNet needs a sequence of {count}")
    images, names, sizes = [], [], set()
    for index in evenly_spaced(len(items), count):
        name, source = items[index]
        with _opened(name, source) as image:
            sizes.add(f"{image.size[0]}×{image.size[1]}")
            try:
                images.append(decoded(image))
            except OSError as exc:
                raise SequenceError(f"{name}: the image is damaged ({exc})") from exc
        names.append(name)
    sizes = sorted(sizes)
    if len(sizes) > 1:
        raise SequenceError(
            f"frames differ in size ({', '.join(sizes)}); all frames of a sequence must be the same size"
        )
    return Frames(tuple(images), tuple(names))


def exif_gps(image: Image.Image) -> tuple[float, float] | None:
    """(lat, lon) in degrees from an image's EXIF GPS tags, or ``None``."""
    tags = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    try:
        lat = _degrees(tags[ExifTags.GPS.GPSLatitude], tags[ExifTags.GPS.GPSLatitudeRef], "S")
        lon = _degrees(tags[ExifTags.GPS.GPSLongitude], tags[ExifTags.GPS.GPSLongitudeRef], "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return None
    return lat, lon


def _degrees(dms, ref, negative: str) -> float:
    degrees, minutes, seconds = (float(v) for v in dms)
    ref = ref.decode() if isinstance(ref, bytes) else str(ref)
    value = degrees + minutes / 60 + seconds / 3600
    return -value if ref.strip().upper() == negative else value


def frames_gps(items: Iterable[tuple[str, FrameSource]]) -> tuple[float, float] | None:
    """Mean EXIF GPS position over the frames carrying one (headers only), or ``None``."""
    positions = []
    for name, source in items:
        with _opened(name, source) as image:
            position = exif_gps(image)
        if position is not None:
            positions.append(position)
    if not positions:
        return None
    lat, lon = np.mean(positions, axis=0)
    return float(lat), float(lon)


def locate(sequence: Sequence) -> tuple[float, float] | None:
    """A sequence's place: from its official folder name, else from its frames' EXIF GPS."""
    if sequence.lat is not None:
        return sequence.lat, sequence.lon
    return frames_gps(sequence.items())


def locate_all(sequences: list[Sequence]) -> dict[str, tuple[float, float]]:
    """:func:`locate` for every sequence, by name; an error if any has no location."""
    places = {s.name: locate(s) for s in sequences}
    missing = [name for name, place in places.items() if place is None]
    if missing:
        raise SequenceError(
            f"{len(missing)} sequence(s) have no location (neither a v_class…_g<lat>,<lon> "
            f"folder name nor EXIF GPS), e.g. {missing[0]}"
        )
    return places


def model_view(image: Image.Image) -> Image.Image:
    """The 224×224 frame the model sees: cover 640×480 if needed, centre-crop 480×640, resize."""
    crop_h, crop_w = CROP_HW
    width, height = image.size
    if (width, height) != (crop_w, crop_h):
        scale = max(crop_w / width, crop_h / height)
        image = image.resize(
            (max(crop_w, round(width * scale)), max(crop_h, round(height * scale))), Image.Resampling.BILINEAR
        )
        width, height = image.size
    top, left = int(round((height - crop_h) / 2)), int(round((width - crop_w) / 2))
    image = image.crop((left, top, left + crop_w, top + crop_h))
    return image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)


def to_clip(frames: Frames) -> torch.Tensor:
    """Frames -> (3, T, 224, 224) ImageNet-normalised clip, the reference transform per frame."""
    pixels = np.stack([np.asarray(model_view(image), dtype=np.float32) for image in frames.images])
    clip = torch.from_numpy(pixels / 255.0).permute(3, 0, 1, 2)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1, 1)
    return ((clip - mean) / std).float()
