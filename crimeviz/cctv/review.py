"""The work behind the CCTV review screen, without Streamlit: notes, scoring, tables, exports.

``app_pages/cctv.py`` holds the widgets and layout and calls one function here per piece of
work. Scores and exports are entered in the audit trail; times are clip-relative, or
wall-clock when the reviewer gives the recording's start.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pandas as pd

from crimeviz.access.auth import User
from crimeviz.cctv import DEMO_CLIP, report, video
from crimeviz.cctv.model import Scorer
from crimeviz.cctv.scoring import ScoreResult, Segment, recorded_at, score_clip, time_of_day
from crimeviz.store import audit, counts

# The demo model scores footage without events around 0.01, so thresholds go that low.
THRESHOLD_MIN, THRESHOLD_MAX, THRESHOLD_STEP = 0.001, 0.999, 0.001
NEARBY_M = 250
NEARBY_ROWS = 20


def model_note(scorer: Scorer) -> str | None:
    """What the weights scored on held-out footage, when their checkpoint says."""
    m = scorer.metrics
    if "overall_auc" not in m:
        return None
    return (
        f"Frame-level ROC-AUC on held-out footage with synthetic events: {m['overall_auc']:.2f} "
        f"(event types never seen in training: {m['unseen_types_auc']:.2f}); on the one real event available, "
        f"a hand over the lens of another camera: {m['real_hand_occlusion_auc']:.2f}. "
        "Details in data/cctv/MODEL_CARD.md."
    )


def demo_note(clip: Path = DEMO_CLIP) -> str:
    """Where the demo clip comes from and which events were injected, and when."""
    truth = json.loads(clip.with_suffix(".json").read_text())
    events = "; ".join(f"{e['kind'].replace('_', ' ')} {e['start_s']:.1f}–{e['end_s']:.1f} s" for e in truth["events"])
    return f"{truth['attribution']} Injected events: {events}."


def no_camera_note(may_edit_cameras: bool) -> str:
    """Why the review cannot be filed yet, and who can fix that."""
    if may_edit_cameras:
        return "Reviews are saved per camera, and no camera is registered yet: add the one the footage comes from."
    return (
        "Reviews are saved per camera, and no camera is registered yet: ask an administrator to add "
        "the one the footage comes from (name and location)."
    )


def score(
    con,
    path: Path,
    scorer: Scorer,
    by: str,
    clip_name: str,
    sha256: str,
    limits: video.Limits | None = None,
    progress: Callable[[float], None] | None = None,
) -> ScoreResult:
    """Scores the clip and enters the score in the audit trail; :class:`video.VideoError` for a bad clip."""
    result = score_clip(path, scorer, limits, progress)
    details = {"name": clip_name, "frames": result.n_frames, "model": scorer.version}
    audit.record(con, by, "cctv.score", "clip", sha256, details)
    return result


def recording_start(text: str) -> datetime | None:
    """The recording's start from ISO 8601 text (``2021-06-01 14:02:07``, an offset allowed); None if blank."""
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"The recording's start {text[:40]!r} is not a date and time like 2021-06-01 14:02:07; "
            "times stay relative to the clip."
        ) from None


def clock(seconds: float, recording_start: datetime | None = None) -> str:
    """``12.3 s`` into the clip, or the wall-clock time (``14:02:07.3``) when the recording's start is known."""
    if recording_start is None:
        return f"{seconds:.1f} s"
    return time_of_day(recorded_at(recording_start, seconds))


def segment_labels(segments: list[Segment], recording_start: datetime | None = None) -> list[str]:
    """One line per segment for the jump-to list: number, span and peak."""
    if recording_start is None:
        return [f"#{i}: {s.start_s:.1f}–{s.end_s:.1f} s, peak {s.peak:.3f}" for i, s in enumerate(segments, 1)]
    return [
        f"#{i}: {clock(s.start_s, recording_start)}–{clock(s.end_s, recording_start)}, peak {s.peak:.3f}"
        for i, s in enumerate(segments, 1)
    ]


def segments_table(segments: list[Segment], recording_start: datetime | None = None) -> pd.DataFrame:
    """The alert segments: clip times, and wall-clock times first when the recording's start is known."""
    table = pd.DataFrame(
        {
            "#": range(1, len(segments) + 1),
            "start (s)": [round(s.start_s, 1) for s in segments],
            "end (s)": [round(s.end_s, 1) for s in segments],
            "peak at (s)": [round(s.peak_s, 1) for s in segments],
            "peak score": [round(s.peak, 3) for s in segments],
        }
    )
    if recording_start is not None:
        table.insert(1, "starts at", [clock(s.start_s, recording_start) for s in segments])
        table.insert(2, "ends at", [clock(s.end_s, recording_start) for s in segments])
    return table


def no_alert_note(result: ScoreResult, threshold: float) -> str:
    """Says that nothing reaches the threshold, and how low to go to see the clip's top stretch."""
    peak = float(result.frame_scores.max())
    return f"No frame reaches the threshold; this clip peaks at {peak:.3f}, so a threshold below that shows its top."


def exporter(con, by: str, record: dict, keyframes: list[bytes], kind: str) -> Callable[[], bytes | str]:
    """The report as ``kind`` (``json`` or ``pdf``), made when called and entered in the audit trail."""

    def data():
        audit.record(con, by, f"cctv.export.{kind}", "cctv_report", record["report_id"])
        return report.to_json(record) if kind == "json" else report.to_pdf(record, keyframes)

    return data


def nearby_incidents(con, user: User, camera: dict) -> tuple[str, pd.DataFrame] | None:
    """A caption and the nearest incidents around the camera, for roles that may read incidents; else None."""
    if not user.may("incidents"):
        return None
    nearby = counts.incidents_near(con, camera["lat"], camera["lon"], NEARBY_M)
    caption = f"{len(nearby):,} recorded incidents lie within {NEARBY_M} m of {camera['name']}."
    return caption, nearby.head(NEARBY_ROWS)
