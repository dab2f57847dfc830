"""Time playback: counts per step, one colour scale for the whole run, the GIF/MP4 exports, the Map's panel."""

import io
import json
import shutil
from datetime import date

import h3
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from crimeviz.explore import playback
from crimeviz.store import audit, timeline
from crimeviz.store.filters import IncidentFilter
from tests.test_pages import deck_specs, page

MARCH = IncidentFilter(date(2021, 3, 1), date(2021, 3, 14))
DOWNTOWN = h3.latlng_to_cell(43.6532, -79.3832, 8)


def test_counts_per_day_and_week_start_on_the_filters_first_day(small_store):
    by_day = timeline.hex_counts_by_step(small_store, MARCH, 8, 1)
    # 1 Mar 08:00 and 23:00 and 2 Mar 02:00 downtown; 6 Mar in the Annex; 7 Mar in Yonge-Eglinton
    assert sorted(by_day.itertuples(index=False, name=None)) == sorted(
        [
            (0, DOWNTOWN, 2),
            (1, DOWNTOWN, 1),
            (5, h3.latlng_to_cell(43.6700, -79.3900, 8), 1),
            (6, h3.latlng_to_cell(43.7000, -79.4000, 8), 1),
        ]
    )
    by_week = timeline.hex_counts_by_step(small_store, MARCH, 8, 7)
    assert by_week.groupby("step")["n"].sum().to_dict() == {0: 5}
    later = timeline.hex_counts_by_step(small_store, MARCH.with_dates(date(2021, 3, 2), date(2021, 3, 8)), 8, 2)
    assert later.groupby("step")["n"].sum().to_dict() == {0: 1, 2: 2}  # 2 Mar; 6 and 7 Mar
    robbery = timeline.hex_counts_by_step(
        small_store, IncidentFilter(date(2021, 3, 1), date(2021, 3, 14), ("Robbery",)), 8, 1
    )
    assert robbery[["step", "n"]].values.tolist() == [[1, 1]]


def test_playback_keeps_one_colour_scale_and_reads_out_dates(small_store):
    pb = playback.build(timeline.hex_counts_by_step(small_store, MARCH, 8, 1), MARCH, "day")
    assert pb.n_steps == 14 and pb.totals().tolist() == [2, 1, 0, 0, 0, 1, 1] + [0] * 7
    assert pb.label(0) == "Mon 01 Mar 2021"
    assert pb.breaks.tolist() == [1.0, 2.0]  # from every step's counts, not one step's
    one = pb.colours([1])[0]
    # the single incident of 2 Mar gets the colour of a 1 in the whole run, not the top colour of its own step
    layer = playback.hex_layer(pb, 1)
    assert [row["color"] for row in layer.data] == [one] and one != pb.colours([2])[0]
    weeks = playback.build(timeline.hex_counts_by_step(small_store, MARCH, 8, 7), MARCH, "week")
    assert weeks.n_steps == 2 and weeks.label(1) == "08 Mar – 14 Mar 2021"
    assert "Tue 02 Mar 2021" in layer.data[0]["tooltip"]


def test_a_run_with_too_many_frames_is_refused_with_the_way_out():
    long = IncidentFilter(date(2014, 1, 1), date(2021, 12, 31))
    assert "play by week" in playback.check_run(long, "day")
    assert playback.check_run(long, "week") is None
    with pytest.raises(ValueError, match="too many frames"):
        playback.build(pd.DataFrame({"step": [], "cell": [], "n": []}), long, "day")


def test_area_layer_colours_every_area_and_leaves_empty_ones_grey():
    square = {"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]]}
    features = [{"type": "Feature", "geometry": square, "properties": {"name": n}} for n in ("North", "South")]
    counts = pd.DataFrame({"step": [0, 0, 1], "area": ["North", "South", "North"], "n": [3, 1, 1]})
    pb = playback.build(counts, IncidentFilter(date(2021, 1, 1), date(2021, 1, 2)), "day", "areas", key="area")
    data = {f["properties"]["name"]: f["properties"] for f in playback.area_layer(pb, 1, features).data["features"]}
    assert data["North"]["n"] == 1 and data["North"]["color"] == pb.colours([1])[0]
    assert data["South"]["n"] == 0 and data["South"]["color"][:3] == list(playback.EMPTY)
    assert set(playback.area_shapes(features)) == {"North", "South"}


def test_gif_has_a_frame_per_step_and_the_export_is_audited(small_store):
    pb = playback.build(timeline.hex_counts_by_step(small_store, MARCH, 8, 1), MARCH, "day")
    shapes = playback.hex_shapes(sorted(set(pb.counts["key"])))
    frames = list(playback.render_frames(pb, shapes))
    assert len(frames) == 14 and frames[0].shape == (640, 640, 3)
    assert not np.array_equal(frames[0], frames[1])  # colours and date change
    assert np.array_equal(frames[2][100:], frames[3][100:])  # two empty days differ only in the date readout
    data = playback.export(small_store, "ana", pb, shapes, "gif", 4.0, "March", "filter")
    gif = Image.open(io.BytesIO(data))
    assert gif.n_frames == 14 and gif.info["duration"] == 250
    gif.seek(0)
    pixels = {tuple(p) for p in np.asarray(gif.convert("RGB")).reshape(-1, 3)}
    assert {tuple(c[:3]) for c in pb.colours(pb.breaks)} <= pixels  # the class colours exactly
    entry = audit.entries(small_store, action="map.export.playback_gif")
    assert len(entry) == 1 and entry.iloc[0]["username"] == "ana"
    assert json.loads(entry.iloc[0]["detail"])["steps"] == 14


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_mp4_is_an_h264_video_with_every_step(small_store, tmp_path):
    import subprocess

    pb = playback.build(timeline.hex_counts_by_step(small_store, MARCH, 8, 1), MARCH, "day")
    data = playback.mp4_bytes(pb, playback.hex_shapes(sorted(set(pb.counts["key"]))), fps=2)
    assert data[4:8] == b"ftyp"
    (tmp_path / "p.mp4").write_bytes(data)
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,nb_read_frames",
            "-of",
            "json",
            str(tmp_path / "p.mp4"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    stream = json.loads(probe.stdout)["streams"][0]
    assert stream["codec_name"] == "h264" and int(stream["nb_read_frames"]) == 14


def test_map_page_playback_steps_and_pauses(app_db):
    at = page("map").run()
    at.toggle(key="pb_on").set_value(True).run()
    assert not at.exception
    layers = [layer["id"] for spec in deck_specs(at) for layer in spec["layers"]]
    assert "playback-hexes" in layers
    assert any("step 1 of" in m.value for m in at.markdown)
    at.button(key="pb_forward").click().run()
    assert at.session_state["pb_slider"] == 1 and any("step 2 of" in m.value for m in at.markdown)
    at.radio(key="pb_step").set_value("week").run()
    assert any("step 2 of 53" in m.value or "step 2 of 52" in m.value for m in at.markdown)
    at.button(key="pb_play").click().run()
    assert at.session_state["pb_playing"] and at.button(key="pb_play").label == "Pause"
    at.button(key="pb_start").click().run()
    assert at.session_state["pb_slider"] == 0 and not at.session_state["pb_playing"]
    assert "Download the playback as an animated GIF (53 frames)" in [b.label for b in at.get("download_button")]


def test_map_page_plays_the_areas_of_the_choropleths_layer(app_db):
    at = page("map")
    at.session_state["map_layers"] = ["Areas"]
    at.run()
    at.toggle(key="pb_on").set_value(True).run()
    assert [o for o in at.radio(key="pb_kind").options] == ["Hexagons", "Areas"]
    at.radio(key="pb_kind").set_value("Areas").run()
    assert not at.exception
    spec = next(s for s in deck_specs(at) if any(layer["id"] == "playback-areas" for layer in s["layers"]))
    features = next(layer for layer in spec["layers"] if layer["id"] == "playback-areas")["data"]["features"]
    assert len(features) > 100 and {"name", "n", "color", "tooltip"} <= set(features[0]["properties"])
    assert sum(f["properties"]["n"] for f in features) > 0
