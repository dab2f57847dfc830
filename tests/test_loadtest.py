"""``bench load`` drives real browser sessions against a real server and reports what it measured."""

import pytest

from crimeviz.bench import load as loadtest


def test_two_sessions_change_filters_and_every_rerun_is_timed(toronto_db):
    result = loadtest.bench_load(toronto_db, sessions=2, seconds=8, think=1)
    assert result["errors"] == 0, result["error_examples"]
    assert result["reruns"] >= 2  # at least one per session (how many depends on the machine)
    assert 0 < result["rerun_p50_s"] <= result["rerun_p95_s"] <= result["rerun_max_s"]
    assert result["server_runs"] >= result["reruns"]  # every rerun ran the page on the server
    assert 0 < result["server_run_p50_s"] < result["rerun_p50_s"]  # the browser's part comes on top
    assert result["idle_frames_parked"] and result["think_s"] == 1
    assert result["cpus"] >= 1
    for shares in (result["cpu_before"], result["cpu_window"]):  # read from /proc/stat on Linux
        assert 0 <= shares["stolen"] <= shares["busy"] + shares["stolen"] <= 1
    assert result["cpu_window"]["busy"] > 0  # two browsers and a server were working


def test_cpu_shares_split_busy_idle_and_stolen_ticks():
    before = [100, 0, 50, 1000, 10, 0, 0, 5]
    #        user nice system idle iowait irq softirq steal: +30 +0 +10 +50 +0 +5 +0 +5 = 100 ticks
    after = [130, 0, 60, 1050, 10, 5, 0, 10]
    assert loadtest.cpu_shares(before, after) == {"busy": 0.45, "stolen": 0.05}
    assert loadtest.cpu_shares(before, before) == {"busy": None, "stolen": None}
    assert loadtest.cpu_shares(None, after) == {"busy": None, "stolen": None}


def test_cpu_times_reads_the_machine_total():
    first = loadtest.cpu_times()
    assert first is not None and len(first) == 8 and all(t >= 0 for t in first)
    assert sum(loadtest.cpu_times()) >= sum(first)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sessions": 0}, "must be positive"),
        ({"seconds": 0}, "must be positive"),
        ({"think": -1}, "not negative"),
    ],
)
def test_bad_arguments_are_refused(toronto_db, kwargs, message):
    with pytest.raises(ValueError, match=message):
        loadtest.bench_load(toronto_db, **kwargs)


def test_a_missing_store_is_named(tmp_path):
    with pytest.raises(ValueError, match="db build"):
        loadtest.bench_load(tmp_path / "none.duckdb")
