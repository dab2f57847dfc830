"""CCTV store and reports: camera registry, all-or-nothing reports, map points, JSON and PDF."""

import json
from datetime import datetime

import numpy as np
import pytest

from crimeviz.cctv import report, store
from crimeviz.cctv.scoring import ScoreResult
from crimeviz.cctv.video import VideoInfo, probe
from crimeviz.store import audit, counts
from tests.test_cctv_video import make_clip


@pytest.fixture
def con(small_store):
    store.ensure_tables(small_store)
    store.ensure_tables(small_store)  # idempotent
    return small_store


def _result(path, n=60, fps=10.0) -> ScoreResult:
    scores = np.zeros(n)
    scores[20:30] = np.linspace(0.6, 0.9, 10)
    scores[45:50] = 0.7
    return ScoreResult(probe(path), n, scores[::16], scores, "test-model+abc", "Test weights: made-up scores.")


def _record(con, tmp_path, camera_id, note="ok"):
    clip = make_clip(tmp_path / "clip.avi", n_frames=60)
    result = _result(clip)
    record = report.build_report(
        result,
        store.camera(con, camera_id),
        "clip.avi",
        "ab" * 32,
        0.5,
        "reviewer1",
        note,
        datetime(2024, 5, 1, 12, 30),
    )
    return record, report.keyframe_jpegs(result.info, [s["peak_frame"] for s in record["segments"]])


def test_cameras_are_added_listed_and_edited(con):
    a = store.add_camera(con, "  King & Bay  ", 43.6487, -79.3817, "admin")
    b = store.add_camera(con, "Union Station", 43.6453, -79.3806, "admin")
    assert store.cameras(con)["name"].tolist() == ["King & Bay", "Union Station"]
    store.update_camera(con, a, "King and Bay", 43.65, -79.38, "admin")
    assert store.camera(con, a) == {"camera_id": a, "name": "King and Bay", "lat": 43.65, "lon": -79.38}
    assert store.camera(con, name="union station")["camera_id"] == b
    assert store.camera(con, 999) is None


@pytest.mark.parametrize(
    "name, lat, lon, message",
    [
        ("", 43.6, -79.3, "needs a name"),
        ("x" * 101, 43.6, -79.3, "at most 100"),
        ("Cam", 91.0, -79.3, "latitude"),
        ("Cam", 43.6, -181.0, "longitude"),
        ("Cam", float("nan"), 0.0, "latitude"),
    ],
)
def test_invalid_cameras_are_refused(con, name, lat, lon, message):
    with pytest.raises(ValueError, match=message):
        store.add_camera(con, name, lat, lon, "admin")
    assert store.cameras(con).empty


def test_camera_names_are_unique_ignoring_case(con):
    a = store.add_camera(con, "Gate", 43.6, -79.3, "admin")
    b = store.add_camera(con, "Yard", 43.6, -79.3, "admin")
    with pytest.raises(ValueError, match="already exists"):
        store.add_camera(con, "GATE", 43.6, -79.3, "admin")
    with pytest.raises(ValueError, match="already exists"):
        store.update_camera(con, b, "gate", 43.6, -79.3, "admin")
    store.update_camera(con, a, "gate", 43.7, -79.3, "admin")  # renaming itself is fine
    assert sorted(store.cameras(con)["name"]) == ["Yard", "gate"]


def test_report_round_trips_through_the_store(con, tmp_path):
    camera_id = store.add_camera(con, "Gate", 43.6532, -79.3832, "admin")
    record, keyframes = _record(con, tmp_path, camera_id)
    assert [(s["start_frame"], s["end_frame"], s["peak_frame"]) for s in record["segments"]] == [
        (20, 30, 29),
        (45, 50, 47),
    ]
    assert all(k[:2] == b"\xff\xd8" for k in keyframes) and len(keyframes) == 2
    report_id = store.save_report(con, record, keyframes)
    loaded, loaded_frames = store.load_report(con, report_id)
    assert loaded == {**record, "report_id": report_id}
    assert loaded_frames == keyframes
    listing = store.reports(con, camera_id)
    assert listing[["report_id", "camera", "n_segments", "peak"]].values.tolist() == [[report_id, "Gate", 2, 0.9]]
    assert store.cameras(con)["reports"].tolist() == [1]
    trail = audit.entries(con)
    assert trail[["username", "action", "object_id"]].values.tolist()[:2] == [
        ["reviewer1", "cctv.report", str(report_id)],
        ["admin", "cameras.add", str(camera_id)],
    ]


def test_failed_report_leaves_no_row(con, tmp_path):
    camera_id = store.add_camera(con, "Gate", 43.6532, -79.3832, "admin")
    record, keyframes = _record(con, tmp_path, camera_id, note="x" * (store.MAX_NOTE + 1))
    with pytest.raises(ValueError, match="note is longer"):
        store.save_report(con, record, keyframes)
    record["note"], record["camera"]["camera_id"] = "", 12345
    with pytest.raises(ValueError, match="camera is not registered"):
        store.save_report(con, record, keyframes)
    del record["clip"]["sha256"]
    record["camera"]["camera_id"] = camera_id
    with pytest.raises(KeyError):
        store.save_report(con, record, keyframes)
    assert con.execute("SELECT count(*) FROM cctv_reports").fetchall() == [(0,)]
    assert "cctv.report" not in set(audit.entries(con)["action"])


def test_reports_for_map_follow_their_camera(con, tmp_path):
    camera_id = store.add_camera(con, "Gate", 43.6532, -79.3832, "admin")
    record, keyframes = _record(con, tmp_path, camera_id)
    report_id = store.save_report(con, record, keyframes)
    store.update_camera(con, camera_id, "Gate", 43.7, -79.4, "admin")
    points = store.reports_for_map(con)
    assert list(points.columns) == ["lat", "lon", "camera", "created_at", "peak", "n_segments", "report_id"]
    assert points.iloc[0][["lat", "lon", "camera", "peak", "n_segments", "report_id"]].tolist() == [
        43.7,
        -79.4,
        "Gate",
        0.9,
        2,
        report_id,
    ]


def test_nearby_incidents_are_within_the_radius_nearest_first(con):
    near = counts.incidents_near(con, 43.6532, -79.3832, radius_m=50)
    assert len(near) == 4 and near["distance_m"].is_monotonic_increasing
    assert set(near["offence"]) == {"Assault", "Robbery"}
    assert counts.incidents_near(con, 43.6532, -79.3832, radius_m=5000)["distance_m"].max() <= 5000
    assert counts.incidents_near(con, 0.0, 0.0, 250).empty


def test_nearby_incidents_keep_to_the_given_days(con):
    near = counts.incidents_near(con, 43.6532, -79.3832, radius_m=50)
    days = sorted(near["occurred_at"].dt.date)
    for start, end in ((days[0], days[0]), (days[1], days[-1]), (days[-1], None), (None, days[0])):
        kept = counts.incidents_near(con, 43.6532, -79.3832, 50, start, end)["occurred_at"].dt.date
        expected = [d for d in days if (start is None or d >= start) and (end is None or d <= end)]
        assert sorted(kept) == expected


def test_json_and_pdf_exports(con, tmp_path):
    camera_id = store.add_camera(con, "Kamera Straße 7 – Süd", 43.6532, -79.3832, "admin")
    record, keyframes = _record(con, tmp_path, camera_id, note="Person läuft; <b>not html</b>")
    record["report_id"] = store.save_report(con, record, keyframes)
    exported = json.loads(report.to_json(record))
    assert exported["camera"]["name"] == "Kamera Straße 7 – Süd" and len(exported["frame_scores"]) == 60
    assert {"fps", "n_frames", "sha256", "duration_s"} <= set(exported["clip"])
    assert exported["model"] == {"version": "test-model+abc", "label": "Test weights: made-up scores."}
    pdf = report.to_pdf(record, keyframes)
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    assert report.to_pdf({**record, "segments": [], "report_id": None}, []).startswith(b"%PDF")


def test_pdf_without_unicode_font_still_prints(con, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "FONT_DIR", tmp_path / "no-fonts")
    camera_id = store.add_camera(con, "Café ✓", 43.6532, -79.3832, "admin")
    record, keyframes = _record(con, tmp_path, camera_id)
    assert report.to_pdf(record, keyframes).startswith(b"%PDF")


def test_keyframes_are_thumbnails_of_the_requested_frames(tmp_path):
    info = probe(make_clip(tmp_path / "c.avi", n_frames=30, size=(640, 480)))
    jpegs = report.keyframe_jpegs(info, [25, 5])
    assert len(jpegs) == 2
    import cv2

    thumb = cv2.imdecode(np.frombuffer(jpegs[0], np.uint8), cv2.IMREAD_COLOR)
    assert thumb.shape == (240, 320, 3)
    assert isinstance(info, VideoInfo)
