"""``bench monitor``: a short real run of one demo camera (the sample clip looped at 5 fps)."""

import pytest

from crimeviz.bench import monitor as bench
from crimeviz.cctv import DEMO_WEIGHTS, train

pytestmark = pytest.mark.skipif(
    not (train.SOURCE_DIR / train.TRAIN_CLIP).is_file(), reason="needs OpenCV's sample clip (Debian opencv-doc)"
)


def test_bench_monitor_reports_latencies_deliveries_and_real_time_per_backend():
    result = bench.bench_monitor([1], 12, ["in-process"], DEMO_WEIGHTS, black_at=3.0)
    run = result["runs"][0]
    assert (run["backend"], run["cameras"]) == ("in-process", 1)
    assert run["snippets_per_camera"][0] >= 2 and run["latency_s"]["snippet_p50"] > 0
    # the blackout 3 s into the clip raises an alert; both receivers got its ping
    assert run["alerts"] >= 1 and run["webhooks_received"] >= 1 and run["emails_received"] >= 1, run
    assert 0 < run["delivery_s"]["webhook_p95"] < 60 and 0 < run["delivery_s"]["email_p95"] < 60
    assert result["max_realtime_cameras"] == {"in-process": 1 if run["realtime"] else 0}
    assert result["targets"] == {"snippet_p95_s": 0.2, "ping_p95_s": 1.0, "report_p95_s": 3.0}
