"""Hostile images and clips: misread frames, tiny and huge images, memory per request."""

import io
import json
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from crimeviz.cli import main as cli
from crimeviz.streetview import sequences
from crimeviz.streetview.sequences import SequenceError
from tests.conftest import ROOT
from tests.test_streetview_page import installed, page_env  # noqa: F401  (fixtures)


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def forged_png(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` × ``height`` (a decompression-bomb header)."""
    data = bytearray(png(Image.new("L", (8, 8))))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def test_16_bit_frames_are_scaled_to_8_bits_not_saturated():
    grey = Image.fromarray(np.full((48, 64), 30000, np.uint16))
    assert grey.mode.startswith("I;16")
    frames = sequences.load_frames([(f"f{i}.png", png(grey)) for i in range(16)])
    assert frames.images[0].getpixel((10, 10)) == (117, 117, 117)  # 30000 / 257, not white


@pytest.mark.parametrize(
    "frame, message",
    [
        (png(Image.new("RGB", (1, 1))), "f3.png: 1×1 is too small; frames need at least 48 pixels a side"),
        (forged_png(30000, 30000), "f3.png: the header claims over 179 megapixels; refused as a possible"),
        (forged_png(9000, 6000), "f3.png: 9000×6000 is over 50 megapixels"),
    ],
)
def test_tiny_and_huge_frames_are_refused_before_decoding(frame, message):
    items = [(f"f{i}.png", png(Image.new("RGB", (64, 48)))) for i in range(16)]
    items[3] = ("f3.png", frame)
    with pytest.raises(SequenceError, match=message.replace("(", r"\(")):
        sequences.load_frames(items)


def test_cli_streetview_score_refuses_a_bomb_in_one_line(tmp_path, capsys, monkeypatch):
    from crimeviz.access import auth
    from crimeviz.store import db
    from crimeviz.streetview import checkpoints
    from tests.test_streetview_scoring import RECORD, small_lite

    store = tmp_path / "store.duckdb"
    con = db.connect(store)
    auth.add_user(con, "ana", "a long test password", "analyst")
    con.close()
    monkeypatch.setenv("CRIMEVIZ_PASSWORD", "a long test password")
    weights = tmp_path / "lite.pth"
    checkpoints.save_lite(small_lite(), weights, RECORD)
    folder = tmp_path / "v_class1_g43.65,-79.38_c0"
    folder.mkdir()
    for i in range(16):
        frame = forged_png(30000, 30000) if i == 5 else png(Image.new("RGB", (64, 48)))
        (folder / f"frame{i:02d}.png").write_bytes(frame)
    args = ["streetview", "score", str(folder), "--weights", str(weights), "--user", "ana", "--db", str(store)]
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.count("error: ") == 1
    assert err.splitlines()[-1].startswith("error: ") and "decompression bomb" in err


def test_phone_photos_are_reduced_while_loading():
    """16 phone-sized JPEGs (4032×3024): the frames' peak memory stays near 16 × 640×480, not 16 × 12 MP."""
    script = """
import io, json, resource
import numpy as np
from PIL import Image
from crimeviz.streetview import sequences
rng = np.random.default_rng(0)
items = []
for i in range(16):
    small = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).resize((4032, 3024), Image.BICUBIC)
    out = io.BytesIO(); small.save(out, "JPEG", quality=70); items.append((f"p{i}.jpg", out.getvalue()))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
frames = sequences.load_frames(items)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"mib": (after - before) / 1024, "size": frames.images[0].size, "mb": sum(len(d) for _, d in items) / 1e6}))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    measured = json.loads(out.stdout)
    assert measured["size"] == [640, 480]
    assert measured["mib"] < 150, measured


def zero_rate_avi(path):
    """An MJPG AVI whose video stream header (and main header) declare 0 frames per second."""
    from tests.test_cctv_video import make_clip

    data = bytearray(make_clip(path, n_frames=32).read_bytes())
    strh = data.find(b"strh")
    data[strh + 28 : strh + 36] = struct.pack("<II", 1, 0)  # dwScale, dwRate
    avih = data.find(b"avih")
    data[avih + 8 : avih + 12] = struct.pack("<I", 0)  # microseconds per frame
    path.write_bytes(bytes(data))
    return path


def test_a_clip_declaring_0_fps_is_refused_not_timed_at_25(tmp_path):
    import cv2

    from crimeviz.cctv import video

    path = zero_rate_avi(tmp_path / "zero.avi")
    assert cv2.VideoCapture(str(path), cv2.CAP_FFMPEG).get(cv2.CAP_PROP_FPS) == 25  # FFmpeg's guess
    with pytest.raises(video.VideoError, match="zero.avi: the header declares 0 frames per second"):
        video.probe(path)


def test_ffmpeg_log_lines_do_not_precede_the_error_line(tmp_path):
    from tests.test_cctv_video import make_clip

    data = make_clip(tmp_path / "full.avi", n_frames=48).read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: int(len(data) * 0.6)])
    out = subprocess.run(
        [sys.executable, "-m", "crimeviz", "cctv", "score", str(tmp_path / "cut.avi")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2 and out.stderr.splitlines()[-1].startswith("error: cut.avi: truncated or corrupt")
    assert not [line for line in out.stderr.splitlines() if " @ 0x" in line]  # FFmpeg's "[mjpeg @ 0x…]" lines


@pytest.mark.parametrize(
    "shape, message",
    [
        ((5, 10, 2048), "need the official MGFN UCF-Crime weights"),
        ((5, 7), "score the clip itself"),
    ],
)
def test_npy_features_of_the_wrong_shape_say_which_weights_fit(tmp_path, capsys, shape, message):
    path = tmp_path / "features.npy"
    np.save(path, np.zeros(shape, np.float32))
    assert cli.main(["cctv", "score", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith(f"error: features.npy: features of shape {shape} do not fit the weights")
    assert message in err and "broadcast" not in err


def test_official_weights_refuse_other_features_in_words():
    from crimeviz.cctv.features import check_feature_shape

    with pytest.raises(ValueError, match=r"only I3D features \(T, 10, 2048\) fit these weights"):
        check_feature_shape((5, 1292), 2048, "the official weights")
    check_feature_shape((5, 10, 2048), 2048, "the official weights")


def test_cctv_page_refuses_a_0_fps_upload(app_db, tmp_path):
    from tests.test_cctv_page import page

    data = zero_rate_avi(tmp_path / "zero.avi").read_bytes()
    at = page().run()
    at.file_uploader(key="cctv_upload").set_value(("zero.avi", data, "video/x-msvideo")).run()
    assert not at.exception
    assert at.error[0].value.startswith(
        "This clip cannot be reviewed: zero.avi: the header declares 0 frames per second"
    )
    assert not at.get("plotly_chart")


@pytest.mark.parametrize(
    "frame, message",
    [
        (png(Image.new("RGB", (1, 1))), "f03.png: 1×1 is too small"),
        (forged_png(30000, 30000), "f03.png: the header claims over 179 megapixels"),
    ],
)
def test_street_view_page_refuses_tiny_and_bomb_frames(installed, frame, message):
    from tests.test_streetview_page import open_page

    files = [(f"f{i:02d}.png", png(Image.new("RGB", (64, 48))), "image/png") for i in range(16)]
    files[3] = ("f03.png", frame, "image/png")
    at = open_page()
    at.file_uploader(key="sv_upload").set_value(files)
    at.number_input(key="sv_lat").set_value(43.66)
    at.number_input(key="sv_lon").set_value(-79.39)
    at.run()
    at.button(key="sv_score").click().run()
    assert not at.exception
    assert at.error and message in at.error[0].value
