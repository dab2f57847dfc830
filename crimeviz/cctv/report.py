"""Review reports: the report record, key frames, JSON and a printable PDF.

The record (:func:`build_report`) is what the store saves and what both exports
show; the PDF repeats the model's training label next to the scores, so a printed
page cannot pass demo-model scores off as validated detections.
"""

from __future__ import annotations

import json
from datetime import datetime

import cv2
import numpy as np

from crimeviz.cctv import video
from crimeviz.cctv.scoring import ScoreResult, time_of_day
from crimeviz.explore import pdf as document

FONT_DIR = document.DEJAVU
THUMB_WIDTH = 320


def build_report(
    result: ScoreResult,
    camera: dict,
    clip_name: str,
    sha256: str,
    threshold: float,
    reviewer: str,
    note: str = "",
    created_at: datetime | None = None,
    recording_start: datetime | None = None,
) -> dict:
    """The report of one review: camera, clip, scores, segments at ``threshold``, model, reviewer, note.

    With ``recording_start`` (when the clip's first frame was recorded) segments carry wall-clock times.
    """
    segments = [s.to_dict(recording_start) for s in result.segments(threshold)]
    return {
        "report_id": None,
        "created_at": (created_at or datetime.now()).isoformat(timespec="seconds"),
        "camera": {k: camera[k] for k in ("camera_id", "name", "lat", "lon")},
        "clip": {
            "name": clip_name,
            "sha256": sha256,
            "duration_s": round(result.duration_s, 3),
            "fps": result.fps,
            "n_frames": result.n_frames,
            "width": result.info.width,
            "height": result.info.height,
            "recording_start": recording_start and recording_start.isoformat(),
        },
        "threshold": threshold,
        "peak": round(float(result.frame_scores.max()), 4),
        "segments": segments,
        "model": {"version": result.model_version, "label": result.model_label},
        "reviewer": reviewer,
        "note": note.strip(),
        "frame_scores": [round(float(s), 5) for s in result.frame_scores],
    }


def keyframe_jpegs(info: video.VideoInfo, frame_indices: list[int], width: int = THUMB_WIDTH) -> list[bytes]:
    """JPEG thumbnails of the given frames (e.g. segment peaks), in the given order."""
    frames = video.read_frames_at(info, frame_indices)
    out = []
    for index in frame_indices:
        frame = frames[index]
        height = round(frame.shape[0] * width / frame.shape[1])
        thumb = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        out.append(cv2.imencode(".jpg", thumb, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    return out


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes):02d}:{secs:05.2f}"


def _when(segment: dict, name: str) -> str:
    """A segment's ``start``/``end``/``peak``: wall-clock time when the recording's start is known."""
    at = segment.get(f"{name}_at")
    return time_of_day(datetime.fromisoformat(at)) if at else _clock(segment[f"{name}_s"])


def _curve(pdf: document.Document, scores: np.ndarray, fps: float, threshold: float, segments: list[dict]) -> None:
    """The per-frame score curve drawn with vector lines, segments shaded, threshold dashed."""
    n = len(scores)
    step = max(1, n // 800)  # at most ~800 points: sharp when printed, small file
    points = [(i / max(1, n - 1), scores[i]) for i in range(0, n, step)]
    spans = [(s["start_frame"] / n, (s["end_frame"] - s["start_frame"]) / n) for s in segments]
    pdf.score_curve(points, threshold, ("0 s", f"{n / fps:.1f} s"), spans)


def to_pdf(report: dict, keyframes: list[bytes]) -> bytes:
    """A printable report: header, model label, curve, segment table, key frames, note."""
    title = f"CCTV review report #{report['report_id']}" if report["report_id"] else "CCTV review report"
    pdf = document.Document(title, report["reviewer"], font_dir=FONT_DIR)
    pdf.heading(title, 16)
    camera, clip = report["camera"], report["clip"]
    pdf.paragraph(f"Camera: {camera['name']} ({camera['lat']:.5f}, {camera['lon']:.5f})")
    pdf.paragraph(f"Reviewed {report['created_at'].replace('T', ' ')} by {report['reviewer']}")
    pdf.paragraph(
        f"Clip: {clip['name']} · {clip['width']}×{clip['height']} · {clip['fps']:g} fps · "
        f"{clip['n_frames']} frames ({_clock(clip['duration_s'])}) · SHA-256 {clip['sha256'][:16]}…"
    )
    if clip.get("recording_start"):
        pdf.paragraph(f"Recording started {clip['recording_start'].replace('T', ' ')}; times below are wall-clock")
    pdf.set_text_color(150, 60, 0)
    pdf.paragraph(f"Model {report['model']['version']}: {report['model']['label']}", 9)
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    pdf.heading(f"Anomaly score per frame (alert threshold {report['threshold']:.2f}, peak {report['peak']:.3f})")
    _curve(pdf, np.asarray(report["frame_scores"]), clip["fps"], report["threshold"], report["segments"])
    segments = report["segments"]
    pdf.heading(f"Alert segments: {len(segments)}")
    if segments:
        rows = [
            [str(i), _when(s, "start"), _when(s, "end"), _when(s, "peak"), f"{s['peak']:.3f}"]
            for i, s in enumerate(segments, 1)
        ]
        pdf.data_table(["#", "Start", "End", "Peak at", "Peak"], rows, (10, 35, 35, 35, 20), 9, "RIGHT")
        pdf.ln(3)
    if keyframes:
        pdf.heading("Key frames at the segment peaks")
        pdf.image_row(keyframes, [f"#{i} at {_when(s, 'peak')} · {s['peak']:.3f}" for i, s in enumerate(segments, 1)])
    pdf.ln(2)
    pdf.heading("Reviewer note")
    pdf.paragraph(report["note"] or "—")
    return pdf.to_bytes()
