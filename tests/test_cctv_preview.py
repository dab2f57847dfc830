"""Playable copies of clips browsers cannot play: made in the background, once per clip."""

import threading
import time

import pytest

from crimeviz.cctv import preview, video
from tests.test_cctv_video import make_clip


@pytest.fixture(autouse=True)
def uploads(tmp_path, monkeypatch):
    monkeypatch.setenv("CRIMEVIZ_UPLOADS", str(tmp_path / "uploads"))
    monkeypatch.setattr(preview, "_jobs", {})


def wait(info, sha256, timeout_s=60.0) -> preview.Preview:
    deadline = time.monotonic() + timeout_s
    while (job := preview.request(info, sha256)).pending and time.monotonic() < deadline:
        time.sleep(0.05)
    return job


def test_an_mpeg4_part2_avi_gets_a_vp8_webm_copy_in_the_background_kept_by_its_sha256(tmp_path, monkeypatch):
    info = video.probe(make_clip(tmp_path / "camera.avi", n_frames=40, fourcc="FMP4"))
    assert not info.browser_playable
    first = preview.request(info, "ab" * 32)  # returns at once, the copy is made meanwhile
    assert 0.0 <= first.fraction <= 1.0
    done = wait(info, "ab" * 32)
    assert done.error is None and done.path == preview.cached_path("ab" * 32) and done.fraction == 1.0
    copy = video.probe(done.path)
    assert copy.browser_playable and copy.fourcc == "VP80"
    assert len(list(video.iter_frames(copy))) == 40

    def no_thread(*args, **kwargs):
        raise AssertionError("the cached copy is made again")

    monkeypatch.setattr(threading, "Thread", no_thread)
    monkeypatch.setattr(preview, "_jobs", {})  # e.g. another server process: the file on disk is enough
    again = preview.request(info, "ab" * 32)
    assert (again.pending, again.path) == (False, done.path)


def test_a_clip_gone_before_its_copy_is_made_reports_why_once(tmp_path):
    path = make_clip(tmp_path / "gone.avi", n_frames=20)
    info = video.probe(path)
    path.unlink()
    job = wait(info, "cd" * 32)
    assert job.path is None and job.error.startswith("no browser-playable copy could be made")
    assert preview.request(info, "cd" * 32) is job  # not restarted on every rerun
    assert not list(preview.cached_path("cd" * 32).parent.glob("*.webm"))


@pytest.mark.parametrize(
    "failure",
    [RuntimeError("cv::VideoWriter failed for /srv/uploads/x.webm"), OSError(28, "No space left on device", "/srv/x")],
)
def test_a_copy_that_fails_in_any_way_ends_with_one_message_and_no_server_path(tmp_path, monkeypatch, failure):
    info = video.probe(make_clip(tmp_path / "camera.avi", n_frames=10, fourcc="FMP4"))

    def broken(info, out, limits=None, progress=None):
        out.write_bytes(b"partial")
        raise failure

    monkeypatch.setattr(video, "write_preview", broken)
    job = wait(info, "ef" * 32)
    assert not job.pending and job.path is None
    assert job.error.startswith("no browser-playable copy could be made") and "/srv" not in job.error
    assert not list(preview.cached_path("ef" * 32).parent.glob("*"))  # the partial file is gone
