"""CCTV clips: opening, limits, and a clear reason for every kind of bad file.

Every clip is generated here with OpenCV; ``make_clip`` is shared with the other
CCTV tests.
"""

import wave

import cv2
import numpy as np
import pytest

from crimeviz.cctv import video
from crimeviz.cctv.video import Limits, VideoError


def make_clip(path, n_frames=48, size=(160, 120), fps=10.0, fourcc="MJPG", event=None):
    """A grey scene with a square walking across; ``event=(start, stop)`` blacks those frames out."""
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened()
    w, h = size
    for i in range(n_frames):
        frame = np.full((h, w, 3), 110, np.uint8)
        frame[: h // 3] = (150, 140, 120)
        x = int(i * (w - 20) / max(1, n_frames - 1))
        cv2.rectangle(frame, (x, h // 2), (x + 20, h // 2 + 30), (30, 30, 160), -1)
        if event and event[0] <= i < event[1]:
            frame[:] = 0
        writer.write(frame)
    writer.release()
    return path


def test_probe_reads_what_the_container_declares(tmp_path):
    info = video.probe(make_clip(tmp_path / "ok.avi", n_frames=30, size=(160, 120), fps=12.5))
    assert (info.width, info.height, info.fps, info.declared_frames, info.fourcc) == (160, 120, 12.5, 30, "MJPG")
    assert info.duration_s == pytest.approx(2.4)
    assert not info.browser_playable
    assert len(list(video.iter_frames(info))) == 30


def test_vp8_webm_round_trips_and_plays_in_browsers(tmp_path):
    frames = [np.full((48, 64, 3), i * 10, np.uint8) for i in range(12)]
    assert video.write_clip(frames, tmp_path / "clip.webm", 10) == 12
    info = video.probe(tmp_path / "clip.webm")
    assert info.browser_playable and (info.width, info.height) == (64, 48)
    assert len(list(video.iter_frames(info))) == 12


def test_read_frames_at_returns_exactly_the_requested_frames(tmp_path):
    info = video.probe(make_clip(tmp_path / "ok.avi", n_frames=20))
    all_frames = list(video.iter_frames(info))
    picked = video.read_frames_at(info, [15, 3, 3])
    assert sorted(picked) == [3, 15]
    assert np.array_equal(picked[15], all_frames[15])


def test_preview_is_small_browser_playable_webm(tmp_path):
    info = video.probe(make_clip(tmp_path / "ok.avi", n_frames=10, size=(640, 480)))
    assert video.write_preview(info, tmp_path / "p.webm", max_width=320) == 10
    preview = video.probe(tmp_path / "p.webm")
    assert (preview.width, preview.height, preview.browser_playable) == (320, 240, True)


def _reason(path, limits=None):
    with pytest.raises(VideoError) as caught:
        info = video.probe(path, limits)
        for _ in video.iter_frames(info, limits):
            pass
    message = str(caught.value)
    assert "\n" not in message and message.startswith(path.name)
    return message


def test_text_file_renamed_mp4_is_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("minutes of the meeting\n" * 50)
    assert "text file, not a video" in _reason(path)


def test_image_renamed_mp4_is_not_a_video(tmp_path):
    path = tmp_path / "photo.mp4"
    path.write_bytes(cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    assert "PNG image, not a video" in _reason(path)


def test_empty_file_is_rejected(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert "empty" in _reason(tmp_path / "empty.mp4")


def test_audio_only_file_has_no_video_stream(tmp_path):
    path = tmp_path / "voice.mp4"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 8000)
    assert "audio only" in _reason(path)


def test_truncated_avi_reports_missing_bytes(tmp_path):
    data = make_clip(tmp_path / "full.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    assert "truncated" in _reason(tmp_path / "cut.avi")


def test_truncated_mp4_without_index_is_rejected(tmp_path):
    data = make_clip(tmp_path / "full.mp4", fourcc="mp4v").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    message = _reason(tmp_path / "cut.mp4")
    assert "truncated" in message or "moov" in message


def test_decoding_far_short_of_the_declared_frames_is_corrupt(tmp_path):
    make_clip(tmp_path / "ok.avi", n_frames=40)
    info = video.probe(tmp_path / "ok.avi")
    lying = video.VideoInfo(info.path, info.width, info.height, info.fps, 400, info.fourcc)
    with pytest.raises(VideoError, match="only 40 of the 400 frames"):
        list(video.iter_frames(lying))


def test_zero_frame_video_is_rejected(tmp_path):
    path = make_clip(tmp_path / "zero.avi", n_frames=0)
    assert "no frames" in _reason(path)


def test_unsupported_codec_is_named(tmp_path):
    data = make_clip(tmp_path / "ok.avi").read_bytes()
    (tmp_path / "odd.avi").write_bytes(data.replace(b"MJPG", b"ZZZZ"))
    assert "codec 'ZZZZ' is not supported" in _reason(tmp_path / "odd.avi")


def test_enormous_resolution_is_refused_before_decoding(tmp_path):
    path = make_clip(tmp_path / "huge.avi", n_frames=1, size=(4000, 2500))
    assert "4000×2500 is above the limit" in _reason(path)


def test_clip_longer_than_the_configured_limit_is_refused(tmp_path, monkeypatch):
    path = make_clip(tmp_path / "long.avi", n_frames=40, fps=10)  # 4 s
    monkeypatch.setenv(video.MAX_MINUTES_ENV, str(3 / 60))  # 3 s
    assert "longer than the 0.05 min limit" in _reason(path, Limits.from_env())


def test_limit_also_holds_while_decoding_a_clip_that_understates_its_length(tmp_path):
    info = video.probe(make_clip(tmp_path / "long.avi", n_frames=40, fps=10))
    understated = video.VideoInfo(info.path, info.width, info.height, info.fps, 10, info.fourcc)
    with pytest.raises(VideoError, match="longer than"):
        list(video.iter_frames(understated, Limits(max_seconds=2)))
