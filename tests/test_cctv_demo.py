"""The committed demo model and clip: small, honestly labelled, documented with their real numbers."""

import json

import numpy as np
import torch

from crimeviz.cctv import DATA_DIR, DEMO_CLIP, DEMO_WEIGHTS, synthetic, train, video
from crimeviz.cctv.model import load_scorer

CARD = (DATA_DIR / "MODEL_CARD.md").read_text()


def test_demo_files_are_small():
    assert DEMO_WEIGHTS.stat().st_size < 5e6
    assert DEMO_CLIP.stat().st_size < 3e6


def test_demo_clip_matches_its_ground_truth_and_plays_in_browsers():
    truth = json.loads(DEMO_CLIP.with_suffix(".json").read_text())
    info = video.probe(DEMO_CLIP)
    assert info.browser_playable and (info.width, info.height) == train.DEMO_SIZE
    assert (info.fps, info.declared_frames) == (truth["fps"], truth["n_frames"])
    assert [e["kind"] for e in truth["events"]] == [e.kind for e in train.DEMO_EVENTS]
    assert "Apache-2.0" in truth["attribution"] and "vtest.avi" in truth["attribution"]


def test_demo_model_says_what_it_was_trained_on():
    checkpoint = torch.load(DEMO_WEIGHTS, weights_only=True)
    scorer = load_scorer(DEMO_WEIGHTS)
    assert "synthetic anomalies" in scorer.label and "real labelled footage" in scorer.label
    assert set(checkpoint["metrics"]["per_type_auc"]) == set(synthetic.ANOMALY_TYPES)


def test_model_card_reports_the_checkpoints_numbers():
    metrics = torch.load(DEMO_WEIGHTS, weights_only=True)["metrics"]
    for kind, auc in metrics["per_type_auc"].items():
        assert f"| {kind} | {auc:.3f} |" in CARD, kind
    for name in ("overall_auc", "training_types_auc", "unseen_types_auc", "demo_clip_auc", "real_hand_occlusion_auc"):
        assert f"{metrics[name]:.3f}" in CARD, name
    assert "python -m crimeviz cctv train" in CARD and "real labelled footage" in CARD


def test_memo_embedder_embeds_each_distinct_frame_once():
    calls = []

    def embed(frames):
        calls.append(len(frames))
        return frames.reshape(len(frames), -1)[:, :2].astype(np.float32)

    memo = train.MemoEmbedder(embed)
    frames = np.stack([np.full((4, 4, 3), v, np.uint8) for v in (1, 2, 1, 3)])
    first = memo(frames)
    again = memo(frames[::-1])
    assert calls == [3] and np.array_equal(again, first[::-1])


def test_snippet_label_loss_rewards_short_events_and_quiet_normal_videos():
    labels = torch.tensor([0.0, 1.0])
    good = torch.tensor([[0.01] * 8, [0.01] * 5 + [0.99] * 3])
    smeared = torch.tensor([[0.01] * 8, [0.99] * 8])
    assert train.snippet_label_loss(good, labels) < 0.05 < train.snippet_label_loss(smeared, labels)
