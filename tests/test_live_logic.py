"""Live monitoring pieces alone: alert rules, motion gate, windows, batching, signatures, restart safety."""

import json

import numpy as np
import pandas as pd
import pytest

from crimeviz.cctv import cameras
from crimeviz.cctv.live import alert_store, notify
from crimeviz.cctv.live.alerts import ALERT, DETECTION, AlertTracker
from crimeviz.cctv.live.backend import ContextScorer, batched_last_scores
from crimeviz.cctv.live.motion import MotionGate, watched_area
from crimeviz.cctv.live.snippets import SnippetWindows
from crimeviz.cctv.live.source import Frame
from crimeviz.store import audit, db
from tests.live_helpers import WebhookReceiver, wait_until
from tests.test_cctv_pipeline import random_weights, scorer  # noqa: F401 (fixtures)


def feed(tracker, scores, step=1.0, length=3.0):
    """Windows ``length`` s long every ``step`` s; returns the events as (kind, start, end, severity)."""
    out = []
    for i, score in enumerate(scores):
        for e in tracker.update(i * step, i * step + length, score):
            out.append((e.kind, e.segment.start, e.segment.end, e.segment.severity))
    return out


def test_one_stray_snippet_neither_opens_nor_closes_an_alert():
    tracker = AlertTracker(0.5, hysteresis_n=3, cooldown_s=0)
    assert feed(tracker, [0.1, 0.9, 0.1, 0.1]) == []
    tracker = AlertTracker(0.5, hysteresis_n=3, cooldown_s=0)
    events = feed(tracker, [0.1, 0.9, 0.8, 0.2, 0.9, 0.1, 0.1])
    # opens at the second high window (median of 3), starting at the first high one; the dip at 3 does not close it
    assert events[0] == ("open", 1.0, None, ALERT)
    assert [e[0] for e in events] == ["open", "close"]
    assert events[-1][2] == 4 + 3.0  # ends with the last window above the threshold


def test_minimum_duration_makes_short_segments_detections_and_promotes_long_ones():
    tracker = AlertTracker(0.5, hysteresis_n=1, min_duration_s=4.0, cooldown_s=0)
    events = feed(tracker, [0.9, 0.1])
    assert events == [("open", 0.0, None, DETECTION), ("close", 0.0, 3.0, DETECTION)]
    tracker = AlertTracker(0.5, hysteresis_n=1, min_duration_s=4.0, cooldown_s=0)
    kinds = [(k, sev) for k, _, _, sev in feed(tracker, [0.9, 0.9, 0.1])]
    assert kinds == [("open", DETECTION), ("promote", ALERT), ("close", ALERT)]


def test_activity_within_the_cooldown_reopens_the_same_alert():
    tracker = AlertTracker(0.5, hysteresis_n=1, cooldown_s=10)
    events = feed(tracker, [0.9, 0.1, 0.1, 0.9, 0.1] + [0.1] * 12 + [0.9])
    assert [e[0] for e in events] == ["open", "close", "reopen", "close", "open"]


def test_a_restarted_tracker_continues_the_interrupted_segment():
    first = AlertTracker(0.5, hysteresis_n=1)
    first.update(0, 3, 0.9)
    interrupted = first.current
    interrupted.alert_id = 7
    resumed = AlertTracker(0.5, hysteresis_n=1, last=interrupted)
    assert resumed.update(1, 4, 0.95)[0].kind == "peak" and resumed.current.alert_id == 7
    assert [e.kind for e in resumed.update(2, 5, 0.1)] == ["close"]


def frame(value, index=0, size=(80, 60)):
    return Frame(index, float(index), np.full((size[1], size[0], 3), value, np.uint8))


def test_motion_gate_ignores_a_still_scene_and_masked_motion():
    gate = MotionGate(masks=[[(0, 0), (0.5, 0), (0.5, 1), (0, 1)]])
    base = np.full((60, 80, 3), 100, np.uint8)
    gate(base)
    assert gate(base) == 0 and not gate.moving
    masked = base.copy()
    masked[:, :30] = 250  # motion in the masked left half
    gate(masked)
    assert not gate.moving
    seen = base.copy()
    seen[20:40, 50:70] = 250
    gate(seen)
    assert gate.moving


def test_zones_limit_the_watched_area():
    area = watched_area((40, 40), masks=[[(0, 0), (1, 0), (1, 0.25)]], zones=[[(0, 0), (0.5, 0), (0.5, 1), (0, 1)]])
    assert area[:, 25:].sum() == 0 and area[30, 5] and not area[0, 35]


def test_windows_overlap_by_the_stride():
    windows = SnippetWindows(snippet_len=4, stride=2)
    got = [windows.push(frame(0, i), moving=i == 5) for i in range(10)]
    cut = [(w.frames[0].index, w.frames[-1].index, w.previous and w.previous.index, w.moving) for w in got if w]
    assert cut == [(0, 3, None, False), (2, 5, 1, True), (4, 7, 3, True), (6, 9, 5, False)]


def test_batched_scores_equal_one_camera_at_a_time(scorer):  # noqa: F811
    rng = np.random.default_rng(0)
    a, b = (rng.normal(size=(6, scorer.model.feature_dim)).astype(np.float32) for _ in range(2))
    batcher = ContextScorer(scorer, context=4)
    for i in range(6):
        together = batcher.score_batch([("a", a[i]), ("b", b[i])])
    assert together == pytest.approx([scorer.snippet_scores(a[2:])[-1], scorer.snippet_scores(b[2:])[-1]], abs=1e-5)
    assert batched_last_scores(scorer, [a[:2]])[0] == pytest.approx(scorer.snippet_scores(a[:2])[-1], abs=1e-5)
    with pytest.raises(ValueError, match="one snippet per camera"):
        batcher.score_batch([("a", a[0]), ("a", a[1])])


def test_webhook_signature_checks_body_secret_and_age():
    body = b'{"alert_id": 1}'
    header = notify.sign("s3", 1_000_000, body)
    assert notify.verify("s3", header, body, now=1_000_010)
    assert not notify.verify("s3", header, body + b" ", now=1_000_010)
    assert not notify.verify("other", header, body, now=1_000_010)
    assert not notify.verify("s3", header, body, now=1_001_000)  # a replay 1000 s later


@pytest.fixture
def camera_store(tmp_path):
    con = db.connect(tmp_path / "s.duckdb")
    cameras.add(con, cameras.CameraConfig("Gate", "rtsp://127.0.0.1:9/cam", 43.65, -79.38), "boss")
    alert_store.ensure_tables(con)
    yield con, cameras.get(con, "gate")
    con.close()


def test_a_segment_stored_twice_stays_one_alert(camera_store):
    con, cfg = camera_store
    seg = AlertTracker(0.5, 1).update(1000.0, 1003.0, 0.9)[0].segment
    first = alert_store.open_alert(con, cfg, seg, ("m", "label"), [("webhook", "http://x")], 1003.0)
    again = alert_store.open_alert(con, cfg, seg, ("m", "label"), [("webhook", "http://x")], 1004.0)
    assert first == again
    assert len(alert_store.alerts(con)) == 1 and len(alert_store.pings(con)) == 1
    seg.alert_id = first
    resumed = alert_store.last_segment(con, cfg.camera_id)
    assert resumed.is_open and resumed.alert_id == first and resumed.start == pytest.approx(1000.0)


def test_undelivered_pings_are_sent_after_a_restart_and_only_once(camera_store):
    con, cfg = camera_store
    seg = AlertTracker(0.5, 1).update(1000.0, 1003.0, 0.9)[0].segment
    with WebhookReceiver() as hook:
        settings = notify.Settings(webhooks=(hook.url,), webhook_secret="k", backoff_s=0.05)
        alert_id = alert_store.open_alert(con, cfg, seg, ("m", "label"), settings.targets(), 1003.0)
        # the monitor stopped before delivering: the ping waits in the outbox
        first = notify.Notifier(con.cursor(), settings).start()
        assert wait_until(lambda: len(hook.received) == 1, 10)
        first.stop()
        second = notify.Notifier(con.cursor(), settings).start()  # a second restart finds nothing to send
        second.stop(drain_s=0.5)
        assert len(hook.received) == 1
        assert json.loads(hook.received[0][2])["alert_id"] == alert_id
        assert hook.received[0][1]["x-crimeviz-delivery"] == f"alert-{alert_id}"


def test_a_failing_receiver_is_retried_with_back_off_and_left_in_the_outbox(camera_store):
    con, cfg = camera_store
    seg = AlertTracker(0.5, 1).update(1000.0, 1003.0, 0.9)[0].segment
    with WebhookReceiver(status=503) as hook:
        settings = notify.Settings(webhooks=(hook.url,), webhook_secret="k", attempts=3, backoff_s=0.3)
        alert_store.open_alert(con, cfg, seg, ("m", "label"), settings.targets(), 1003.0)
        notifier = notify.Notifier(con.cursor(), settings).start()
        assert wait_until(lambda: len(hook.received) == 3, 10)
        notifier.stop()
        gaps = np.diff([t for t, _, _ in hook.received])
        assert gaps[0] >= 0.3 and gaps[1] >= 0.6  # waits of 0.3 s, then 0.6 s
    ping = alert_store.pings(con).iloc[0]
    assert ping["attempts"] == 3 and pd.isna(ping["delivered_at"])
    assert "503" in ping["last_error"] and notifier.failed == 1


def test_reviewing_an_alert_is_audited_and_checked(camera_store):
    con, cfg = camera_store
    seg = AlertTracker(0.5, 1).update(1000.0, 1003.0, 0.9)[0].segment
    alert_id = alert_store.open_alert(con, cfg, seg, ("m", "label"), [], 1003.0)
    assert alert_store.review(con, alert_id, "confirm", "  seen on site ", "rev") == "confirmed"
    row = alert_store.alert(con, alert_id)
    assert row["status"] == "confirmed" and row["note"] == "seen on site" and row["reviewed_by"] == "rev"
    assert audit.entries(con, action="cctv.alert.confirm")["username"].tolist() == ["rev"]
    with pytest.raises(ValueError, match="unknown action"):
        alert_store.review(con, alert_id, "delete", "", "rev")
    with pytest.raises(ValueError, match="no alert"):
        alert_store.review(con, 999, "dismiss", "", "rev")


def test_a_still_window_reuses_the_appearance_and_skips_the_backbone(scorer):  # noqa: F811
    from crimeviz.cctv.live.snippets import LiveFeatures, Window

    rng = np.random.default_rng(3)
    frames = [Frame(i, float(i), rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)) for i in range(17)]
    features = LiveFeatures(scorer.spec, scorer.embed)
    moving = features(Window(tuple(frames[1:]), frames[0], moving=True))
    still = features(Window(tuple(frames[1:]), frames[0], moving=False))
    assert (features.backbone_runs, features.reused) == (1, 1)
    assert np.array_equal(moving, still)  # same frames: reusing the appearance changes nothing
    assert moving.shape == (scorer.spec.dim,)


def _alert_with_media(con, cfg, folder, start, status=None, size=1000):
    seg = AlertTracker(0.5, 1).update(start, start + 3, 0.9)[0].segment
    alert_id = alert_store.open_alert(con, cfg, seg, ("m", "label"), [], start + 3)
    seg.alert_id, seg.end = alert_id, start + 3
    alert_store.update_alert(con, seg)
    media = folder / f"alert-{alert_id}"
    media.mkdir()
    (media / "clip.mp4").write_bytes(b"\0" * size)
    (media / "snapshot.jpg").write_bytes(b"\0" * 10)
    (media / "report.json").write_text("{}")
    alert_store.set_files(con, alert_id, clip=str(media / "clip.mp4"), report_json=str(media / "report.json"))
    if status:
        alert_store.review(con, alert_id, status, "", "rev")
    return alert_id, media


def test_media_retention_by_class_and_budget_keeps_confirmed_alerts_until_released(camera_store, tmp_path):
    from datetime import datetime

    from crimeviz.cctv.live import retention

    con, cfg = camera_store
    now = datetime(2026, 6, 30, 12, 0)
    day = 86400
    t0 = now.timestamp()
    old_alert, old_media = _alert_with_media(con, cfg, tmp_path, t0 - 40 * day)
    confirmed, confirmed_media = _alert_with_media(con, cfg, tmp_path, t0 - 41 * day, status="confirm")
    dismissed, dismissed_media = _alert_with_media(con, cfg, tmp_path, t0 - 5 * day, status="dismiss")
    recent_a, recent_a_media = _alert_with_media(con, cfg, tmp_path, t0 - 2 * day, size=5000)
    recent_b, recent_b_media = _alert_with_media(con, cfg, tmp_path, t0 - 1 * day, size=5000)
    days = {"alert": 30, "detection": 7, "dismissed": 3}
    result = retention.purge(con, "admin", now=now, days=days, budget_bytes=7000)
    assert result["purged_retention"] == 2 and result["purged_budget"] == 1  # old alert + dismissed; then recent_a
    assert not (old_media / "clip.mp4").exists() and (old_media / "report.json").exists()
    assert not (dismissed_media / "snapshot.jpg").exists() and not (recent_a_media / "clip.mp4").exists()
    assert (confirmed_media / "clip.mp4").exists() and (recent_b_media / "clip.mp4").exists()
    assert alert_store.alert(con, old_alert)["clip"] is None
    assert alert_store.alert(con, old_alert)["media_purged_at"] == now
    with pytest.raises(ValueError, match="not confirmed"):
        retention.release(con, recent_b, "admin")
    retention.release(con, confirmed, "admin")
    assert retention.purge(con, "admin", now=now, days=days)["purged_retention"] == 1
    assert not (confirmed_media / "clip.mp4").exists()
    assert len(audit.entries(con, action="cctv.alert.purge")) == 4
    assert audit.entries(con, action="cctv.alert.release")["username"].tolist() == ["admin"]


def test_a_labelled_alert_keeps_its_media_past_retention_until_released(camera_store, tmp_path):
    from datetime import datetime

    from crimeviz.cctv import labels
    from crimeviz.cctv.live import retention

    con, cfg = camera_store
    now = datetime(2026, 6, 30, 12, 0)
    t0 = now.timestamp()
    labelled, labelled_media = _alert_with_media(con, cfg, tmp_path, t0 - 40 * 86400, status="dismiss")
    plain, plain_media = _alert_with_media(con, cfg, tmp_path, t0 - 39 * 86400, status="dismiss")
    labels.save_label(con, {"source": "alert", "source_id": labelled, "verdict": "false"}, "rev")
    days = {"alert": 30, "detection": 7, "dismissed": 3}
    assert retention.purge(con, "admin", now=now, days=days, budget_bytes=0)["purged_retention"] == 1
    assert (labelled_media / "clip.mp4").exists() and not (plain_media / "clip.mp4").exists()
    assert alert_store.alert(con, labelled)["clip"] is not None
    with pytest.raises(ValueError, match="not confirmed nor labelled"):
        retention.release(con, plain, "admin")
    retention.release(con, labelled, "admin")
    assert retention.purge(con, "admin", now=now, days=days)["purged_retention"] == 1
    assert not (labelled_media / "clip.mp4").exists() and (labelled_media / "report.json").exists()


def test_feature_history_keeps_recent_windows_and_what_an_alert_holds():
    from crimeviz.cctv.live.snippets import FeatureHistory

    history = FeatureHistory(keep_s=10.0)
    for i in range(40):  # a window every second, two seconds long (half overlapping), for 40 s
        history.add(float(i), i + 2.0, np.full(3, i, np.float32))
        if i == 12:
            history.hold(7, since=8.0)
        if i == 20:
            history.hold(7, since=8.0, until=25.0)
    assert history.windows[0][0] == 41 - 10  # the hold lapsed: windows starting in the last 10 s are kept
    history = FeatureHistory(keep_s=10.0)
    for i in range(30):
        history.add(float(i), i + 2.0, np.full(3, i, np.float32))
        if i == 12:
            history.hold(7, since=8.0)
    assert history.windows[0][0] == 8.0  # held since 8 s while the alert lasts
    features, first = history.snippets(8.5, 20.0)
    assert first == 9.0 and features[:, 0].tolist() == [9, 12, 15, 18]  # back to back: each after the last ended
    assert history.snippets(31.0, 40.0) is None


def test_masks_are_shaded_red_and_zones_outlined_green():
    from crimeviz.cctv.live.motion import draw_areas

    image = np.full((60, 80, 3), 100, np.uint8)
    out = draw_areas(image, masks=[[(0, 0), (0.4, 0), (0.4, 1), (0, 1)]], zones=[[(0.6, 0.2), (0.9, 0.2), (0.9, 0.8)]])
    b, g, r = out[30, 10].astype(int)
    assert r > 130 and b < 90  # inside the mask
    assert out[30, round(0.9 * 79)][1] > 150  # on the zone's right (vertical) edge
    assert (out[55, 75] == image[55, 75]).all()  # elsewhere untouched


def test_the_report_map_counts_the_incidents_around_the_camera(small_store):
    import h3

    from crimeviz.cctv.live import live_report

    counts = live_report.location_counts(small_store, 43.6532, -79.3832)
    assert len(counts) == 61  # the camera's cell and four rings around it
    assert counts[h3.latlng_to_cell(43.6532, -79.3832, 9)] == 4 and sum(counts.values()) == 4  # the Annex is too far
    assert live_report.location_map(43.6532, -79.3832, counts)[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_failing_report_job_is_counted_and_the_next_one_still_runs():
    from crimeviz.cctv.live.monitor import Latencies, Reporter

    reporter, done = Reporter(None, Latencies()), []
    reporter.submit(lambda: 1 / 0)
    reporter.submit(lambda: done.append("report"))
    reporter.stop()
    assert done == ["report"] and reporter.failures == 1 and reporter.last_error.startswith("ZeroDivisionError")


def test_a_stride_that_does_not_tile_the_snippets_is_refused(camera_store, tmp_path):
    from crimeviz.cctv.live.monitor import Monitor
    from crimeviz.cctv.model import load_scorer

    con, cfg = camera_store
    with pytest.raises(ValueError, match=r"the stride must divide the snippet length \(16\), not be 5"):
        Monitor(con, load_scorer(), [cfg], stride=5, media_dir=tmp_path)
