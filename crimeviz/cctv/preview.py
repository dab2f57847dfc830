"""Browser-playable copies of clips that browsers cannot play (e.g. MPEG-4 part 2 in AVI).

A copy is a VP8 WebM at most 480 px wide (:func:`video.write_preview`), made in a
background thread as soon as the clip is scored, so the reviewer does not wait or
click for it. Copies are kept under the uploads folder by the clip's SHA-256: the same
footage uploaded again plays at once. :func:`request` starts the copy at most once per
clip and says how far it is; the page asks again until it is done.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from crimeviz import config
from crimeviz.cctv import video

FOLDER = "cctv-previews"


@dataclass
class Preview:
    """How far a clip's copy is: ``path`` once it is written, or ``error`` (one sentence) if it failed."""

    fraction: float = 0.0
    path: Path | None = None
    error: str | None = None

    @property
    def pending(self) -> bool:
        return self.path is None and self.error is None


_jobs: dict[str, Preview] = {}
_lock = threading.Lock()


def cached_path(sha256: str) -> Path:
    """Where the copy of the clip with this SHA-256 is kept."""
    return config.uploads_dir() / FOLDER / f"{sha256}.webm"


def _make(job: Preview, info: video.VideoInfo, target: Path, limits: video.Limits | None) -> None:
    part = target.with_name(f"{target.stem}.part{threading.get_ident()}.webm")
    try:
        video.write_preview(info, part, limits=limits, progress=lambda f: setattr(job, "fraction", f))
        os.replace(part, target)
    except video.VideoError as exc:
        job.error = f"no browser-playable copy could be made ({exc})"
    except OSError as exc:  # its message would name a server path
        job.error = f"no browser-playable copy could be made ({exc.strerror or type(exc).__name__})"
    except Exception as exc:  # a thread that died silently would leave the page waiting forever
        job.error = f"no browser-playable copy could be made ({type(exc).__name__})"
    else:
        job.fraction, job.path = 1.0, target
    finally:
        part.unlink(missing_ok=True)


def request(info: video.VideoInfo, sha256: str, limits: video.Limits | None = None) -> Preview:
    """The copy of ``info``'s clip: done if cached, else started once in the background."""
    target = cached_path(sha256)
    with _lock:
        if target.is_file():
            _jobs.pop(sha256, None)
            return Preview(1.0, target)
        job = _jobs.get(sha256)
        if job is None or job.path is not None:  # never started, or its copy was purged since
            target.parent.mkdir(parents=True, exist_ok=True)
            job = _jobs[sha256] = Preview()
            threading.Thread(target=_make, args=(job, info, target, limits), daemon=True, name="cctv-preview").start()
    return job
