"""``python -m crimeviz cctv``: score, evaluate and bench on tiny generated inputs."""

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest

from crimeviz.access import auth
from crimeviz.cctv import store
from crimeviz.cctv.video import VideoError
from crimeviz.cli import cctv as cli
from crimeviz.cli import main as main_cli
from crimeviz.store import db
from tests.test_cctv_pipeline import random_weights, scorer  # noqa: F401 (fixtures)
from tests.test_cctv_video import make_clip

ROOT = main_cli.config.ROOT


def run(capsys, *argv):
    """Parses and runs like the main CLI's ``cctv`` command; returns (status, stdout JSON)."""
    parser = argparse.ArgumentParser()
    cli.add_subcommands(parser.add_subparsers(dest="cctv_command", required=True))
    args = parser.parse_args([str(a) for a in argv] + ["--threads", "1"])
    status = args.func(args)
    return status, json.loads(capsys.readouterr().out)


PASSWORD = "cctv test password"


@pytest.fixture
def store_path(tmp_path, monkeypatch):
    """A store with a reviewer account (password in $CRIMEVIZ_PASSWORD) and the camera "Gate"."""
    con = db.connect(tmp_path / "store.duckdb")
    auth.add_user(con, "rev", PASSWORD, "reviewer")
    auth.add_user(con, "ana", PASSWORD, "analyst")
    store.ensure_tables(con)
    store.add_camera(con, "Gate", 43.6532, -79.3832, "admin")
    con.close()
    monkeypatch.setenv("CRIMEVIZ_PASSWORD", PASSWORD)
    return tmp_path / "store.duckdb"


def _report_count(path):
    con = db.connect(path)
    try:
        return con.execute("SELECT count(*) FROM cctv_reports").fetchall()[0][0]
    finally:
        con.close()


def test_every_subcommand_takes_db_and_sets_func():
    parser = argparse.ArgumentParser()
    cli.add_subcommands(parser.add_subparsers(dest="cctv_command", required=True))
    for argv in (["score", "x.mp4"], ["train"], ["evaluate", "--gt", "g.npy"], ["bench"]):
        args = parser.parse_args(argv + ["--db", "here.duckdb"])
        assert callable(args.func) and str(args.db) == "here.duckdb"
    assert parser.parse_args(["train"]).db is None  # db.connect(None) opens $CRIMEVIZ_DB or the default


def test_score_writes_one_score_per_frame(capsys, tmp_path, random_weights):
    clip = make_clip(tmp_path / "walk.avi", n_frames=40)
    status, summary = run(capsys, "score", clip, "--json", tmp_path / "out" / "s.json", "--weights", random_weights)
    payload = json.loads((tmp_path / "out" / "s.json").read_text())
    assert status == 0 and summary["n_frames"] == 40 and summary["report_id"] is None
    assert payload["fps"] == 10 and payload["n_frames"] == 40 and len(payload["frame_scores"]) == 40
    assert isinstance(payload["segments"], list) and payload["timings"]["total_s"] > 0
    assert payload["model"]["label"].startswith("Seeded random weights")


def test_score_with_camera_saves_report_and_pdf(capsys, tmp_path, random_weights, store_path):
    clip = make_clip(tmp_path / "walk.avi", n_frames=40)
    status, summary = run(
        capsys,
        "score",
        clip,
        "--weights",
        random_weights,
        "--camera",
        "gate",
        "--note",
        "checked",
        "--threshold",
        0.01,
        "--pdf",
        tmp_path / "r.pdf",
        "--db",
        store_path,
        "--user",
        "rev",
    )
    assert status == 0 and summary["report_id"] == 1 and summary["segments"] == 1
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    con = db.connect(store_path)
    record, keyframes = store.load_report(con, 1)
    con.close()
    assert record["note"] == "checked" and record["camera"]["name"] == "Gate" and len(keyframes) == 1
    assert record["reviewer"] == "rev"


def test_saving_a_report_needs_a_reviewer_sign_in(capsys, tmp_path, random_weights, store_path):
    clip = make_clip(tmp_path / "walk.avi", n_frames=20)
    with pytest.raises(main_cli.CommandError, match="give --user"):
        run(capsys, "score", clip, "--weights", random_weights, "--camera", "Gate", "--db", store_path)
    with pytest.raises(auth.AccessDenied, match="analyst role may not use cctv"):
        run(capsys, "score", clip, "--weights", random_weights, "--camera", "Gate", "--db", store_path, "--user", "ana")
    with pytest.raises(main_cli.CommandError, match="--pdf writes the saved report"):
        run(capsys, "score", clip, "--weights", random_weights, "--pdf", tmp_path / "r.pdf")
    assert _report_count(store_path) == 0


def test_broken_clip_fails_with_one_line_and_stores_nothing(capsys, tmp_path, random_weights, store_path):
    data = make_clip(tmp_path / "full.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 3])
    with pytest.raises(VideoError, match=r"^cut.avi: truncated"):
        run(
            capsys,
            "score",
            tmp_path / "cut.avi",
            "--weights",
            random_weights,
            "--camera",
            "Gate",
            "--db",
            store_path,
            "--user",
            "rev",
        )
    assert _report_count(store_path) == 0


def test_unknown_camera_is_refused_before_scoring(capsys, tmp_path, random_weights, store_path):
    clip = make_clip(tmp_path / "walk.avi", n_frames=20)
    with pytest.raises(main_cli.CommandError, match="no camera named 'Yard'"):
        run(capsys, "score", clip, "--weights", random_weights, "--camera", "Yard", "--db", store_path, "--user", "rev")


def test_score_and_evaluate_precomputed_features(capsys, tmp_path, scorer, random_weights):
    rng = np.random.default_rng(0)
    for name, t in (("a", 4), ("b", 6)):
        np.save(tmp_path / f"{name}.npy", rng.random((t, scorer.model.feature_dim), dtype=np.float32))
    status, summary = run(capsys, "score", tmp_path / "a.npy", "--weights", random_weights, "--fps", 30)
    assert status == 0 and summary["n_frames"] == 64 and summary["fps"] == 30
    (tmp_path / "test.list").write_text("a.npy\nb.npy\n")
    truth = np.zeros(160, np.uint8)
    truth[70:100] = 1
    np.save(tmp_path / "gt.npy", truth)
    status, result = run(
        capsys, "evaluate", "--list", tmp_path / "test.list", "--gt", tmp_path / "gt.npy", "--weights", random_weights
    )
    assert status == 0 and result["frames"] == 160 and result["videos"] == 2 and 0 <= result["auc"] <= 1
    with pytest.raises(main_cli.CommandError, match="no such ground-truth file"):
        run(capsys, "evaluate", tmp_path / "a.npy", "--gt", tmp_path / "missing.npy", "--weights", random_weights)
    with pytest.raises(ValueError, match="ground truth has 160 frames"):
        run(capsys, "evaluate", tmp_path / "a.npy", "--gt", tmp_path / "gt.npy", "--weights", random_weights)


def test_bench_reports_throughput_latency_and_report_time(capsys, tmp_path, random_weights):
    clip = make_clip(tmp_path / "walk.avi", n_frames=64)
    status, result = run(capsys, "bench", "--clip", clip, "--weights", random_weights, "--snippets", 2)
    assert status == 0 and result["frames"] == 64 and result["resolution"] == "160x120"
    assert result["end_to_end"]["realtime_factor"] > 0 and result["snippet_latency"]["snippets"] == 2
    assert result["report"]["segments"] >= 1 and result["report"]["pdf_bytes"] > 0
    assert set(result["targets_met"]) == {"realtime_factor", "snippet_latency_s", "report_s"}


def test_main_cli_prints_one_error_line_and_exits_2(tmp_path):
    (tmp_path / "notes.mp4").write_text("not a video\n" * 20)
    done = subprocess.run(
        [sys.executable, "-m", "crimeviz", "cctv", "score", str(tmp_path / "notes.mp4")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: notes.mp4: this is a text file, not a video"]
