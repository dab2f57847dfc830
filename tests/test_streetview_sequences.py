"""Street view input: the official layout, frame edge cases, EXIF GPS, zips and videos.

Also holds the small generated-image helpers the other ``test_streetview_*`` files use:
there is no street-level imagery here, so every sequence is made in code.
"""

import io
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import ExifTags, Image

from crimeviz.streetview import sequences, uploads
from crimeviz.streetview.sequences import SequenceError

SIZE = (64, 48)


def frame_bytes(colour=(120, 80, 40), size=SIZE, mode="RGB", fmt="JPEG", gps=None) -> bytes:
    """One generated frame; ``gps`` = (lat, lon) is written as EXIF GPS tags."""
    image = Image.new("RGB", size, colour).convert(mode)
    kwargs = {}
    if gps is not None:
        exif = Image.Exif()
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N" if gps[0] >= 0 else "S",
            ExifTags.GPS.GPSLatitude: _dms(gps[0]),
            ExifTags.GPS.GPSLongitudeRef: "E" if gps[1] >= 0 else "W",
            ExifTags.GPS.GPSLongitude: _dms(gps[1]),
        }
        kwargs["exif"] = exif
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees, minutes = int(value), int(value * 60 % 60)
    return float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4)


def write_sequence(folder: Path, frames: int = 16, colour=(120, 80, 40), size=SIZE, gps=None) -> Path:
    """``frame000000.jpg`` … in ``folder``, all of one colour."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(frames):
        (folder / f"frame{index:06d}.jpg").write_bytes(frame_bytes(colour, size, gps=gps))
    return folder


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def sequence_files(frames: int = 16, **kwargs) -> list[tuple[str, bytes]]:
    return [(f"frame{index:06d}.jpg", frame_bytes(**kwargs)) for index in range(frames)]


# --- official layout -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("v_class3_g37.499,127.1251_c0", (3, 37.499, 127.1251)),
        ("v_class2_g35.0911,129.0394_c1+", (2, 35.0911, 129.0394)),
        ("v_class5_g43.65,-79.38_c2++", (5, 43.65, -79.38)),
        ("v_class1_g19.4505,-99.1326_Mexico_1", (1, 19.4505, -99.1326)),
        ("v_class6_g1,2_c0", None),
        ("holiday", None),
    ],
)
def test_official_folder_names_are_parsed(name, expected):
    assert sequences.parse_official_name(name) == expected


def test_official_layout_is_found_despite_a_trailing_slash_and_macos_debris(tmp_path):
    city = tmp_path / "Toronto_test_SEA"
    write_sequence(city / "v_class4_g43.65,-79.38_c0")
    write_sequence(city / "v_class4_g43.65,-79.38_c0+")
    (city / "v_class4_g43.65,-79.38_c0" / ".DS_Store").write_bytes(b"\0")
    write_sequence(city / "__MACOSX" / "v_class1_g0,0_c0")
    found = sequences.find_sequences(f"{tmp_path}/")
    assert [s.name for s in found] == [
        "Toronto_test_SEA/v_class4_g43.65,-79.38_c0",
        "Toronto_test_SEA/v_class4_g43.65,-79.38_c0+",
    ]
    assert (found[0].sea_class, found[0].lat, found[0].lon) == (4, 43.65, -79.38)
    assert len(found[0].frames) == 16


def test_a_folder_without_images_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no frames here")
    with pytest.raises(SequenceError, match="no folder of images"):
        sequences.find_sequences(tmp_path)


# --- frames ------------------------------------------------------------------------------


def test_frames_are_ordered_by_number_and_any_image_format_is_read(tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    for index in range(16):
        fmt, suffix = [("JPEG", "jpg"), ("PNG", "png"), ("GIF", "gif")][index % 3]
        (folder / f"frame{index}.{suffix}").write_bytes(frame_bytes((index * 15, 0, 0), fmt=fmt))
    seq = sequences.find_sequences(folder)[0]
    assert seq.name == "seq" and seq.sea_class is None
    frames = seq.load()
    assert frames.names[:3] == ("frame0.jpg", "frame1.png", "frame2.gif") and frames.names[-1] == "frame15.jpg"
    reds = [image.getpixel((0, 0))[0] for image in frames.images]
    assert reds == sorted(reds)


def test_rgba_palette_and_greyscale_frames_become_rgb_clips(tmp_path):
    modes = ["RGBA", "P", "L", "LA"] * 4
    items = [(f"f{index}.png", frame_bytes(mode=mode, fmt="PNG")) for index, mode in enumerate(modes)]
    frames = sequences.load_frames(items)
    assert {image.mode for image in frames.images} == {"RGB"}
    clip = sequences.to_clip(frames)
    assert clip.shape == (3, 16, 224, 224) and clip.dtype == torch.float32


def test_fewer_than_16_frames_is_an_error_naming_the_sequence(tmp_path):
    seq = sequences.find_sequences(write_sequence(tmp_path / "short", frames=15))[0]
    with pytest.raises(SequenceError, match="short: 15 frame.*needs a sequence of 16"):
        seq.load()


def test_a_non_image_file_is_an_error(tmp_path):
    folder = write_sequence(tmp_path / "seq")
    (folder / "notes.txt").write_text("not a frame")
    with pytest.raises(SequenceError, match="notes.txt: not an image"):
        sequences.find_sequences(folder)[0].load()


def test_a_truncated_jpeg_is_an_error():
    items = sequence_files()
    items[5] = (items[5][0], items[5][1][:40])
    with pytest.raises(SequenceError, match="frame000005.jpg"):
        sequences.load_frames(items)


def test_frames_of_mixed_sizes_are_an_error():
    items = sequence_files()
    items[3] = ("odd.jpg", frame_bytes(size=(80, 60)))
    with pytest.raises(SequenceError, match="differ in size"):
        sequences.load_frames(items)


def test_more_than_16_frames_are_sampled_evenly():
    items = [(f"frame{index}.jpg", data) for index, (_, data) in enumerate(sequence_files(31))]
    assert sequences.load_frames(items).names == tuple(f"frame{index}.jpg" for index in range(0, 31, 2))


def test_dataset_frames_get_exactly_the_reference_crop_and_normalisation():
    frame = Image.new("RGB", (640, 480), (255, 128, 0))
    view = sequences.model_view(frame)
    assert view.size == (224, 224)
    clip = sequences.to_clip(sequences.Frames((frame,) * 16, ("f",) * 16))
    expected = (torch.tensor([255, 128, 0]) / 255 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor(
        [0.229, 0.224, 0.225]
    )
    assert torch.allclose(clip[:, 0, 100, 100], expected, atol=1e-5)


def test_other_frame_sizes_are_scaled_to_cover_the_crop_before_it():
    wide = Image.new("RGB", (1280, 480), (0, 0, 0))
    wide.paste((255, 255, 255), (0, 0, 320, 480))  # a white band on the left quarter, outside the crop
    assert sequences.model_view(wide).getpixel((0, 112)) == (0, 0, 0)
    small = Image.new("RGB", (64, 48), (10, 200, 30))
    assert sequences.model_view(small).getpixel((112, 112)) == (10, 200, 30)


# --- EXIF GPS ------------------------------------------------------------------------------


def test_exif_gps_is_read_and_averaged_over_frames(tmp_path):
    folder = tmp_path / "walk"
    folder.mkdir()
    for index in range(16):
        gps = (43.6500 + index * 1e-4, -79.3800) if index % 2 else None
        (folder / f"img{index}.jpg").write_bytes(frame_bytes(gps=gps))
    lat, lon = sequences.locate(sequences.find_sequences(folder)[0])
    assert lat == pytest.approx(43.6508, abs=1e-5) and lon == pytest.approx(-79.38, abs=1e-5)


def test_frames_without_gps_have_no_location():
    assert sequences.frames_gps(sequence_files()) is None


# --- zips and videos -------------------------------------------------------------------------


def test_zip_of_one_sequence_gives_its_frames_in_order():
    files = {f"seq/frame{index}.jpg": frame_bytes() for index in (10, 2, 1, 0, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15)}
    files["__MACOSX/seq/._frame0.jpg"] = b"resource fork"
    items = uploads.upload_items([("walk.zip", zip_bytes(files))])
    assert [name for name, _ in items][:3] == ["seq/frame0.jpg", "seq/frame1.jpg", "seq/frame2.jpg"]
    assert len(sequences.load_frames(items).images) == 16


@pytest.mark.parametrize("name", ["../evil.jpg", "/etc/evil.jpg", "seq/../../evil.jpg", "C:/evil.jpg", "..\\evil.jpg"])
def test_zip_members_pointing_outside_are_refused(name, tmp_path):
    data = zip_bytes({"seq/frame0.jpg": frame_bytes(), name: frame_bytes()})
    with pytest.raises(SequenceError, match="outside the archive"):
        uploads.zip_frames(data)
    with pytest.raises(SequenceError, match="outside the archive"):
        uploads.extract_zip(data, tmp_path / "out")
    assert not (tmp_path / "evil.jpg").exists()


def test_zip_bombs_are_refused():
    bomb = zip_bytes({"seq/frame0.jpg": bytes(8 << 20)})
    with pytest.raises(SequenceError, match="decompression bomb"):
        uploads.zip_frames(bomb)
    many = zip_bytes({f"seq/frame{index}.jpg": b"x" for index in range(5)})
    with pytest.raises(SequenceError, match="holds 5 files; at most 4"):
        uploads.zip_frames(many, uploads.ZipLimits(members=4))
    with pytest.raises(SequenceError, match="expands to"):
        uploads.zip_frames(many, uploads.ZipLimits(total_bytes=4))


def test_a_zip_with_several_sequences_is_refused_for_one_upload():
    data = zip_bytes({"a/frame0.jpg": frame_bytes(), "b/frame0.jpg": frame_bytes()})
    with pytest.raises(SequenceError, match="upload one sequence at a time"):
        uploads.zip_frames(data)


def test_not_a_zip_is_a_clear_error():
    with pytest.raises(SequenceError, match="not a readable zip"):
        uploads.upload_items([("walk.zip", b"PK but not really")])


def test_a_zip_of_sequence_folders_is_extracted_and_found():
    files = {
        f"Toronto_train_SEA/v_class2_g43.65,-79.38_c{d}/frame{index:06d}.jpg": frame_bytes()
        for d in range(2)
        for index in range(16)
    }
    with uploads.sequences_in(zip_bytes(files), "walks") as found:
        assert [s.sea_class for s in found] == [2, 2]
        assert found[0].name == "Toronto_train_SEA/v_class2_g43.65,-79.38_c0"


def _video(path: Path, frames: int) -> bytes:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, SIZE)
    for index in range(frames):
        writer.write(np.full((SIZE[1], SIZE[0], 3), index * 5, np.uint8))
    writer.release()
    return path.read_bytes()


def test_a_video_is_sampled_to_16_evenly_spaced_frames(tmp_path):
    items = uploads.upload_items([("walk.avi", _video(tmp_path / "walk.avi", 46))])
    assert [name for name, _ in items] == [f"frame {index}" for index in range(0, 46, 3)]
    frames = sequences.load_frames(items)
    grey = [image.getpixel((5, 5))[0] for image in frames.images]
    assert grey == sorted(grey) and grey[-1] > 200


def test_a_short_video_and_a_broken_one_are_errors(tmp_path):
    with pytest.raises(SequenceError, match="10 frame"):
        uploads.upload_items([("short.avi", _video(tmp_path / "short.avi", 10))])
    with pytest.raises(SequenceError, match="not a video"):
        uploads.upload_items([("broken.mp4", b"\0" * 100)])


def test_a_zip_or_video_mixed_with_frames_is_refused():
    with pytest.raises(SequenceError, match="either loose frames, or one zip, or one video"):
        uploads.upload_items([("walk.zip", b""), ("frame0.jpg", frame_bytes())])
