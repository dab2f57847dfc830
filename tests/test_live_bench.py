"""``bench monitor``: a short real run of one demo camera (the sample clip looped at 5 fps)."""

import pytest

from crimeviz.bench import monitor as bench
from crimeviz.cctv import DEMO_WEIGHTS, train

pytestmark = pytest.mark.skipif(
    not (train.SOURCE_DIR / train.TRAIN_CLIP).is_file(), reason="needs OpenCV's sample clip (Debian opencv-doc)"
)


def test_bench_monitor_reports_latencies_and_real_time_per_backend():
    result = bench.bench_monitor([1], 8, ["in-process"], DEMO_WEIGHTS)
    run = result["runs"][0]
    assert (run["backend"], run["cameras"]) == ("in-process", 1)
    assert run["snippets_per_camera"][0] >= 2 and run["latency_s"]["snippet_p50"] > 0
    assert run["alerts"] == 0 and run["webhooks_received"] == 0  # the blackout comes 12 s into the clip
    assert result["max_realtime_cameras"] == {"in-process": 1 if run["realtime"] else 0}
    assert result["targets"] == {"snippet_p95_s": 0.2, "ping_p95_s": 1.0, "report_p95_s": 3.0}
