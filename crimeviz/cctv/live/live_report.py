"""The report of a live alert, as JSON and a printable PDF, written as soon as the alert opens.

A preliminary report (camera, location, start time, peak so far, curve so far, the
snapshot, the model and its training label, the promoted classification heads' type,
instrument and severity, :func:`crimeviz.cctv.retrain.classify_alert`) is written when the alert opens; the
same files are rewritten, ``complete``, when the segment ends and its clip is
finished. Files are replaced whole (written aside, then renamed), so a reader never
sees half a report.
"""

from __future__ import annotations

import io
import json
import os
from datetime import datetime
from pathlib import Path

import h3
import numpy as np

from crimeviz.explore import pdf as document
from crimeviz.store import queries
from crimeviz.store.filters import IncidentFilter

CURVE_HEIGHT = 40


def build(alert: dict, camera, curve: list[tuple[float, float]], model: tuple[str, str], complete: bool) -> dict:
    """The report record. ``alert``: alert_id, start, end, peak, peak_at (epoch seconds), severity, the
    names of its ``clips`` and ``snapshot`` in the report's folder, and its ``classification``."""

    def iso(t):
        return None if t is None else datetime.fromtimestamp(t).isoformat(timespec="milliseconds")

    return {
        "alert_id": alert["alert_id"],
        "status": "complete" if complete else "preliminary",
        "written_at": iso(datetime.now().timestamp()),
        "camera": {"camera_id": camera.camera_id, "name": camera.name, "lat": camera.lat, "lon": camera.lon},
        "start": iso(alert["start"]),
        "end": iso(alert["end"]),
        "peak": round(float(alert["peak"]), 4),
        "peak_at": iso(alert["peak_at"]),
        "severity": alert["severity"],
        "threshold": camera.threshold,
        "model": {"version": model[0], "label": model[1]},
        "clips": alert.get("clips", []),
        "snapshot": alert.get("snapshot"),
        "classification": alert.get("classification"),
        "curve": [[iso(t), round(float(s), 4)] for t, s in curve],
    }


def classification_text(classification: dict | None) -> str:
    """One line for a report, the Live queue or an alert's page."""
    if not classification:
        return "not classified yet"
    if "note" in classification:
        return classification["note"]
    return (
        f"type {classification['event_type']} · instrument {classification['instrument']} · "
        f"severity {classification['severity']}"
        + (" (1–10)" if isinstance(classification["severity"], int) else "")
        + f" · model version {classification['model_version']}"
    )


MAP_RES, MAP_RING = 9, 4  # H3 cells about 350 m across, four rings around the camera's (about 1.5 km)


def location_counts(con, lat: float, lon: float) -> dict[str, int]:
    """Recorded incidents per H3 cell (res 9, hex) within four rings of the camera's cell, over the whole store."""
    cells = h3.grid_disk(h3.latlng_to_cell(lat, lon, MAP_RES), MAP_RING)
    opts = queries.options(con)
    if opts["first_date"] is None:
        return {c: 0 for c in cells}
    counts = queries.cell_counts(con, IncidentFilter(opts["first_date"], opts["last_date"]), MAP_RES)
    return {c: int(counts.get(h3.str_to_int(c), 0)) for c in cells}


def location_map(lat: float, lon: float, counts: dict[str, int]) -> bytes:
    """A PNG of the cells around the camera shaded by their incident count, the camera as a red star."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    cells = list(counts)
    polygons = [[(x, y) for y, x in h3.cell_to_boundary(c)] for c in cells]
    values = np.array([counts[c] for c in cells], dtype=float)
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    collection = PolyCollection(polygons, array=values, cmap="Reds", edgecolors="white", linewidths=0.6)
    ax.add_collection(collection)
    ax.plot([lon], [lat], marker="*", markersize=16, color="#1f4e99", markeredgecolor="white")
    ax.autoscale_view()
    ax.set_aspect(1 / max(np.cos(np.radians(lat)), 1e-6))
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(collection, ax=ax, shrink=0.8, label="recorded incidents per cell")
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out.getvalue()


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _curve(pdf: document.Document, curve: list[tuple[float, float]], threshold: float) -> None:
    times = None
    points = []
    if len(curve) >= 2:
        t0, t1 = curve[0][0], max(curve[-1][0], curve[0][0] + 1e-6)
        points = [((t - t0) / (t1 - t0), s) for t, s in curve]
        times = tuple(datetime.fromtimestamp(t).strftime("%H:%M:%S") for t in (t0, t1))
    pdf.score_curve(points, threshold, times, height=CURVE_HEIGHT)


def to_pdf(record: dict, keyframes: list[tuple[str, bytes]], place: bytes | None = None) -> bytes:
    """Header, model label, times, location (``place``: :func:`location_map`), curve, key frames (caption, JPEG)."""
    title = f"CCTV alert #{record['alert_id']} ({record['status']})"
    pdf = document.Document(title, "CrimeViz monitor", font_dir=document.DEJAVU)
    pdf.heading(title, 16)
    camera = record["camera"]
    pdf.paragraph(f"Camera: {camera['name']} at {camera['lat']:.5f}, {camera['lon']:.5f}")
    pdf.paragraph(
        f"Started {record['start'].replace('T', ' ')}; ended {(record['end'] or 'still going').replace('T', ' ')}"
    )
    pdf.paragraph(
        f"Severity: {record['severity']} · peak {record['peak']:.3f} at {(record['peak_at'] or '').replace('T', ' ')} "
        f"· threshold {record['threshold']:.2f}"
    )
    pdf.paragraph(f"Classification: {classification_text(record.get('classification'))}")
    pdf.set_text_color(150, 60, 0)
    pdf.paragraph(f"Model {record['model']['version']}: {record['model']['label']}", 9)
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    pdf.heading("Anomaly score per snippet")
    curve = [(datetime.fromisoformat(t).timestamp(), s) for t, s in record["curve"]]
    _curve(pdf, curve, record["threshold"])
    if keyframes:
        pdf.heading("Key frames")
        pdf.image_row([j for _, j in keyframes], [c for c, _ in keyframes])
    if place:
        pdf.heading("Location: the camera (star) and the incidents recorded around it")
        pdf.image(place, w=95)
    if record.get("clips"):
        pdf.ln(2)
        pdf.paragraph(f"Clip files beside this report: {', '.join(record['clips'])}", 9)
    return pdf.to_bytes()


def write(
    folder: Path, record: dict, keyframes: list[tuple[str, bytes]], place: bytes | None = None
) -> tuple[Path, Path]:
    """Writes ``report.json`` and ``report.pdf`` in ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, pdf_path = folder / "report.json", folder / "report.pdf"
    _write(pdf_path, to_pdf(record, keyframes, place))
    _write(json_path, (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode())
    return json_path, pdf_path
