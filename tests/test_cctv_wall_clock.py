"""Wall-clock times from the recording's start: segments, the ``cctv score --start`` CLI, stored reports."""

import json
from datetime import datetime

import pytest

from crimeviz.cctv import review, store
from crimeviz.cctv.scoring import alert_segments
from crimeviz.store import db
from tests.test_cctv_cli import run, store_path  # noqa: F401 (fixture)
from tests.test_cctv_pipeline import random_weights, scorer  # noqa: F401 (fixtures)
from tests.test_cctv_video import make_clip


def test_segments_carry_wall_clock_times_when_the_start_is_known():
    (segment,) = alert_segments([0, 0.9, 0.9, 0.9, 0], fps=2.0, threshold=0.5)
    assert "start_at" not in segment.to_dict()
    timed = segment.to_dict(datetime(2021, 6, 1, 23, 59, 59))
    assert (timed["start_at"], timed["end_at"], timed["peak_at"]) == (
        "2021-06-01T23:59:59.500",
        "2021-06-02T00:00:01.000",
        "2021-06-02T00:00:00.000",
    )
    assert review.clock(1.25) == "1.2 s" and review.clock(1.25, datetime(2021, 6, 1, 8)) == "08:00:01.2"


def test_the_recording_start_is_read_from_iso_text_or_refused_in_one_line():
    assert review.recording_start("  ") is None
    assert review.recording_start("2021-06-01 14:02:07") == datetime(2021, 6, 1, 14, 2, 7)
    assert review.recording_start("2021-06-01T14:02:07+02:00").utcoffset().total_seconds() == 7200
    with pytest.raises(ValueError, match=r"^The recording's start '1 June' is not a date and time") as caught:
        review.recording_start("1 June")
    assert "\n" not in str(caught.value)


def test_score_start_gives_wall_clock_times_in_the_json_and_the_saved_report(
    capsys, tmp_path, random_weights, store_path
):
    clip = make_clip(tmp_path / "walk.avi", n_frames=40)
    out = tmp_path / "s.json"
    argv = ["score", clip, "--weights", random_weights, "--threshold", 0.01, "--json", out]
    status, summary = run(
        capsys, *argv, "--start", "2021-06-01T14:00:00", "--camera", "Gate", "--db", store_path, "--user", "rev"
    )
    payload = json.loads(out.read_text())
    assert status == 0 and payload["recording_start"] == "2021-06-01T14:00:00"
    assert payload["segments"][0]["start_at"] == "2021-06-01T14:00:00.000"
    con = db.connect(store_path)
    record, _ = store.load_report(con, summary["report_id"])
    con.close()
    assert record["clip"]["recording_start"] == "2021-06-01T14:00:00"
    assert record["segments"][0]["end_at"] == payload["segments"][0]["end_at"]
    with pytest.raises(ValueError, match="The recording's start 'noon' is not a date and time"):
        run(capsys, *argv, "--start", "noon")


def test_a_store_from_before_wall_clock_times_gains_the_column(tmp_path):
    old_schema = store.SCHEMA.replace(",\n    recording_start VARCHAR", "")
    assert old_schema != store.SCHEMA
    con = db.connect(tmp_path / "old.duckdb")
    con.execute(old_schema)
    con.execute("INSERT INTO cameras (name, lat, lon) VALUES ('Gate', 43.65, -79.38)")
    store.ensure_tables(con)
    columns = [r[0] for r in con.execute("DESCRIBE cctv_reports").fetchall()]
    con.close()
    assert columns[-1] == "recording_start"
