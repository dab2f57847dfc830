"""CCTV pipeline: snippet features, MGFN scoring of a tiny generated clip, frame scores, segments, AUC."""

import numpy as np
import pytest
import torch

from crimeviz.cctv import evaluation, synthetic
from crimeviz.cctv.features import MOTION_STATS, FeatureSpec, grey, motion_stats, sample_positions
from crimeviz.cctv.model import FORMAT, WeightsError, load_scorer, save_checkpoint
from crimeviz.cctv.scoring import LiveScorer, alert_segments, frame_scores, score_clip
from models.mgfn import MGFN
from tests.test_cctv_video import make_clip

STAT = {name: i for i, name in enumerate(MOTION_STATS)}


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """A CrimeViz checkpoint with seeded random MGFN weights, labelled as exactly that."""
    torch.manual_seed(0)
    spec = FeatureSpec()
    path = tmp_path_factory.mktemp("weights") / "random.pt"
    k = len(MOTION_STATS)
    save_checkpoint(
        path,
        MGFN.small(spec.dim),
        {},
        spec,
        np.zeros(k),
        np.ones(k),
        "random-test",
        "Seeded random weights for tests: the scores mean nothing.",
        {},
    )
    return path


@pytest.fixture(scope="module")
def scorer(random_weights):
    return load_scorer(random_weights)


def test_snippet_frames_are_sampled_evenly():
    assert sample_positions(16, 2) == [4, 12]
    assert sample_positions(16, 1) == [8]
    assert sample_positions(3, 2) == [0, 2]
    assert sample_positions(1, 2) == [0]


def test_motion_stats_see_movement_blackout_and_blur():
    rng = np.random.default_rng(0)
    spec = FeatureSpec()
    still = np.repeat((rng.random((1, 160, 224, 3)) * 255).astype(np.uint8), 16, axis=0)
    moving = np.stack([np.roll(still[0], 8 * i, axis=1) for i in range(16)])
    dark = np.zeros_like(still)
    blurred = np.stack([np.full_like(still[0], still[0].mean(dtype=np.float64).round().astype(np.uint8))] * 16)
    stats = {
        name: motion_stats(grey(frames, spec), None)
        for name, frames in [("still", still), ("moving", moving), ("dark", dark), ("blurred", blurred)]
    }
    assert stats["still"].shape == (len(MOTION_STATS),)
    assert stats["moving"][STAT["log_diff_mean"]] > stats["still"][STAT["log_diff_mean"]] + 3
    assert stats["moving"][STAT["changed_fraction"]] > 0.5 > stats["still"][STAT["changed_fraction"]]
    assert stats["dark"][STAT["brightness"]] == 0 < stats["still"][STAT["brightness"]]
    assert stats["blurred"][STAT["log_sharpness"]] < stats["still"][STAT["log_sharpness"]] - 5
    # the jump into a blackout shows up against the frame before the snippet
    jump = motion_stats(grey(dark, spec), grey(still[:1], spec)[0])
    assert jump[STAT["brightness_jump"]] > 0.3 and jump[STAT["histogram_jump"]] > 1


def test_frame_scores_give_each_snippet_score_to_its_16_frames_then_smooth():
    raw = frame_scores(np.array([0.0, 1.0, 0.0]), 40, smooth=False)
    assert raw.tolist() == [0.0] * 16 + [1.0] * 16 + [0.0] * 8
    smooth = frame_scores(np.array([0.0, 1.0, 0.0]), 40)
    assert len(smooth) == 40 and smooth[0] == 0 and smooth[24] == 1
    assert 0 < smooth[10] < smooth[14] < 1  # a ramp instead of a step
    assert smooth.sum() == pytest.approx(raw.sum())


def test_alert_segments_merge_gaps_under_a_second_and_report_peaks():  # a plateau's peak is its middle
    scores = np.zeros(100)
    scores[10:20] = 0.6
    scores[15] = 0.9
    scores[25:30] = 0.7  # 5 frames after the first run: merged at 10 fps
    scores[60:70] = 0.8
    segments = alert_segments(scores, fps=10, threshold=0.5)
    assert [(s.start_frame, s.end_frame, s.peak_frame) for s in segments] == [(10, 30, 15), (60, 70, 65)]
    assert segments[0].to_dict() == {
        "start_s": 1.0,
        "end_s": 3.0,
        "peak_s": 1.5,
        "peak": 0.9,
        "start_frame": 10,
        "end_frame": 30,
        "peak_frame": 15,
    }
    assert alert_segments(scores, fps=10, threshold=0.95) == []


def test_tiny_clip_is_scored_frame_by_frame(scorer, tmp_path):
    path = make_clip(tmp_path / "walk.avi", n_frames=40, event=(20, 30))  # 2 full snippets + 8 frames
    progress = []
    result = score_clip(path, scorer, progress=progress.append)
    assert result.n_frames == 40 and len(result.snippet_scores) == 3
    assert result.frame_scores.shape == (40,)
    assert ((result.frame_scores >= 0) & (result.frame_scores <= 1)).all()
    assert progress[-1] == 1.0 and progress == sorted(progress)
    assert {"decode_s", "motion_s", "backbone_s", "mgfn_s", "total_s", "realtime_factor"} <= set(result.timings)
    payload = result.to_dict(threshold=0.5)
    assert payload["fps"] == 10 and payload["n_frames"] == 40 and len(payload["frame_scores"]) == 40
    assert payload["model"]["label"].startswith("Seeded random weights")


def test_clip_shorter_than_mgfn_top_k_is_padded_not_rejected(scorer, tmp_path):
    result = score_clip(make_clip(tmp_path / "short.avi", n_frames=5), scorer)
    assert result.n_frames == 5 and len(result.snippet_scores) == 1


def test_live_scorer_scores_each_snippet_as_it_arrives(scorer):
    frames = [np.full((120, 160, 3), 100 + i, np.uint8) for i in range(48)]
    live = LiveScorer(scorer, context=2)
    scores = [live.push(frames[i : i + 16]) for i in range(0, 48, 16)]
    assert len(scores) == 3 and all(0 <= s <= 1 for s in scores)
    assert len(live.window) == 2


def test_checkpoint_without_training_label_is_refused(tmp_path, random_weights):
    checkpoint = torch.load(random_weights, weights_only=True)
    checkpoint["trained_on"] = ""
    torch.save(checkpoint, tmp_path / "unlabelled.pt")
    with pytest.raises(WeightsError, match="does not say what it was trained on"):
        load_scorer(tmp_path / "unlabelled.pt")
    assert checkpoint["format"] == FORMAT


def test_official_state_dict_scores_precomputed_i3d_features_only(tmp_path):
    torch.save({f"module.{k}": v for k, v in MGFN().state_dict().items()}, tmp_path / "mgfn_ucf.pkl")
    official = load_scorer(tmp_path / "mgfn_ucf.pkl")
    assert official.spec is None and official.version.startswith("mgfn-ucf+")
    scores = official.snippet_scores(np.random.default_rng(0).random((5, 10, 2048), dtype=np.float32))
    assert scores.shape == (5,)
    with pytest.raises(WeightsError, match="precomputed"):
        score_clip(make_clip(tmp_path / "c.avi", n_frames=16), official)
    with pytest.raises(WeightsError, match="do not fit"):
        official.snippet_scores(np.zeros((5, 1292), np.float32))


def test_roc_auc_by_hand():
    assert evaluation.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert evaluation.roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert evaluation.roc_auc([1, 0], [0.9, 0.1]) == 1.0
    with pytest.raises(ValueError, match="both"):
        evaluation.roc_auc([1, 1], [0.2, 0.3])


def test_official_evaluation_repeats_snippets_16_times_in_list_order(scorer, tmp_path):
    rng = np.random.default_rng(1)
    names = []
    for i, t in enumerate((3, 5)):
        np.save(tmp_path / f"v{i}.npy", rng.random((t, scorer.model.feature_dim), dtype=np.float32))
        names.append(f"v{i}.npy")
    (tmp_path / "test.list").write_text("\n".join(names) + "\n")
    files = evaluation.read_feature_list(tmp_path / "test.list")
    expected = np.concatenate([np.repeat(scorer.snippet_scores(np.load(f)), 16) for f in files])
    truth = (expected > np.median(expected)).astype(np.uint8)
    result = evaluation.official_evaluation(scorer, files, truth)
    assert result["auc"] == 1.0 and result["frames"] == 128 and result["videos"] == 2
    with pytest.raises(ValueError, match="ground truth has 127 frames"):
        evaluation.official_evaluation(scorer, files, truth[:-1])


@pytest.mark.parametrize("kind", synthetic.ANOMALY_TYPES)
def test_injected_event_changes_only_its_frames(kind):
    rng = np.random.default_rng(3)
    frames = (rng.random((60, 48, 64, 3)) * 255).astype(np.uint8)
    event = synthetic.Event(kind, 20, 25)
    out = synthetic.inject(frames, event, rng)
    changed = np.flatnonzero((out != frames).any(axis=(1, 2, 3)))
    assert changed.min() >= 20 and changed.max() < 45 and len(changed) > 15
    assert event.labels(60).sum() == 25 and event.labels(60)[20] == 1


def test_random_event_fits_in_the_clip():
    rng = np.random.default_rng(0)
    for _ in range(50):
        event = synthetic.random_event("blur", 100, 10, rng)
        assert event.start >= 0 and event.start + event.length <= 100 and 1 <= event.length <= 50
    with pytest.raises(ValueError, match="unknown anomaly type"):
        synthetic.inject(np.zeros((4, 8, 8, 3), np.uint8), synthetic.Event("fire", 0, 2), rng)
