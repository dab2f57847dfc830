"""MGFN: parity with the official UCF-Crime model, checkpoint loading, losses."""

import json
import math
from pathlib import Path

import pytest
import torch

from models.checkpoint import CheckpointError
from models.mgfn import (
    MGFN,
    MGFNOutput,
    append_magnitude,
    load_official_weights,
    magnitude_contrastive_loss,
    mgfn_loss,
    sparsity_loss,
    temporal_smoothness_loss,
)
from tests.parity_fill import fill_state_dict, seeded_input

FIXTURE = json.loads((Path(__file__).parent / "fixtures/parity/mgfn_ucf.json").read_text())


@pytest.fixture(scope="module")
def official_ucf():
    """UCF model filled with the fixture's key-seeded weights, eval mode."""
    model = MGFN().eval()
    state = model.state_dict()
    fill_state_dict(state, FIXTURE["salt"])
    model.load_state_dict(state, strict=True)
    return model


def test_state_dict_has_official_keys_and_shapes_in_order():
    ours = [(key, list(t.shape)) for key, t in MGFN().state_dict().items()]
    assert ours == [(key, shape) for key, shape in FIXTURE["state_dict"].items()]


def test_ucf_outputs_match_official_code(official_ucf):
    spec = FIXTURE["input"]
    video = append_magnitude(seeded_input(spec["shape"], spec["seed"], spec["kind"]))
    with torch.no_grad():
        out = official_ucf(video)
    expected = FIXTURE["expected"]
    assert out.snippet_scores.shape == (1, spec["shape"][2])
    torch.testing.assert_close(out.snippet_scores[0], torch.tensor(expected["snippet_scores"]), atol=1e-4, rtol=0)
    torch.testing.assert_close(out.video_score, torch.tensor([expected["video_score"]]), atol=1e-4, rtol=0)


def test_video_score_is_mean_score_of_top3_magnitude_snippets():
    model = MGFN.small(16).eval()
    captured = []
    model.to_logits.register_forward_hook(lambda module, args, out: captured.append(out))
    with torch.no_grad():
        out = model(append_magnitude(torch.rand(2, 3, 8, 16)))
    magnitudes = captured[0].norm(dim=-1).reshape(2, 3, 8).mean(dim=1)  # (B, T)
    top3 = magnitudes.topk(3, dim=1)
    assert torch.equal(out.topk_index, top3.indices)
    torch.testing.assert_close(out.topk_features.norm(dim=-1).mean(dim=1), top3.values)
    torch.testing.assert_close(out.video_score, out.snippet_scores.gather(1, top3.indices).mean(1))


def test_data_parallel_checkpoint_loads_strictly_after_prefix_strip(official_ucf, tmp_path):
    checkpoint = {f"module.{k}": v for k, v in official_ucf.state_dict().items()}
    torch.save(checkpoint, tmp_path / "mgfn.pkl")
    for source in (checkpoint, tmp_path / "mgfn.pkl"):
        model = load_official_weights(MGFN(), source)
        for key, value in official_ucf.state_dict().items():
            assert torch.equal(model.state_dict()[key], value), key


def test_checkpoint_with_missing_key_is_rejected(official_ucf):
    checkpoint = {f"module.{k}": v for k, v in official_ucf.state_dict().items()}
    del checkpoint["module.to_mag.bias"]
    with pytest.raises(CheckpointError, match="missing to_mag.bias"):
        load_official_weights(MGFN(), checkpoint)


def test_append_magnitude_adds_l2_norm_channel():
    features = torch.tensor([[[3.0, 4.0], [0.0, 1.0]]])
    assert append_magnitude(features).tolist() == [[[3.0, 4.0, 5.0], [0.0, 1.0, 1.0]]]


def test_temporal_smoothness_sums_squared_steps_over_all_videos():
    scores = torch.tensor([[0.1, 0.4, 0.2], [0.5, 0.5, 0.7]])
    # steps 0.3, -0.2, 0.0, 0.2 -> 0.09 + 0.04 + 0 + 0.04 = 0.17
    assert temporal_smoothness_loss(scores).item() == pytest.approx(8e-4 * 0.17)


def test_sparsity_is_l2_norm_of_normal_scores():
    normal_scores = torch.tensor([[0.3, 0.0], [0.0, 0.4]])
    assert sparsity_loss(normal_scores).item() == pytest.approx(8e-3 * 0.5)


def test_magnitude_contrastive_pairs_rows_crop_major():
    # one video per class, 2 crops, k=2 snippets, 2-d features; rows = L1 magnitudes
    normal = torch.tensor(
        [
            [
                [[1.0, -1.0], [0.0, 2.0]],  # crop 0 -> [2, 2]
                [[3.0, 0.0], [1.0, 1.0]],
            ]
        ]
    )  # crop 1 -> [3, 2]
    abnormal = torch.tensor(
        [
            [
                [[10.0, 0.0], [0.0, -4.0]],  # crop 0 -> [10, 4]
                [[0.0, -20.0], [5.0, 5.0]],
            ]
        ]
    )  # crop 1 -> [20, 10]
    # separation: distances sqrt(8^2 + 2^2) (inside margin 15), sqrt(17^2 + 8^2) (outside)
    separation = ((15 - math.sqrt(68)) ** 2 + 0) / 2
    # within class: crop 1 row vs crop 0 row -> normal 1^2 + 0^2, abnormal 10^2 + 6^2
    expected = 1e-3 * separation + 1.0 + 136.0
    loss = magnitude_contrastive_loss(normal, abnormal, margin=15.0)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_magnitude_contrastive_without_pairs_within_class_only_separates():
    normal = torch.zeros(1, 1, 3, 4)
    abnormal = torch.ones(1, 1, 3, 4)  # L1 magnitudes 4, distance sqrt(3 * 4^2)
    loss = magnitude_contrastive_loss(normal, abnormal, margin=10.0, separation_weight=1.0)
    assert loss.item() == pytest.approx((10 - math.sqrt(48)) ** 2, rel=1e-5)


def _hand_made_output(video_score, snippet_scores, topk_features):
    topk_index = torch.zeros(len(video_score), 1, dtype=torch.long)
    return MGFNOutput(snippet_scores, video_score, snippet_scores[:, None], topk_index, topk_features)


def test_mgfn_loss_adds_bce_and_weighted_terms():
    snippet_scores = torch.tensor([[0.2, 0.6], [0.9, 0.5]])
    features = torch.tensor([[[[1.0, 1.0]]], [[[4.0, 0.0]]]])  # L1 magnitudes 2 and 4
    output = _hand_made_output(torch.tensor([0.2, 0.9]), snippet_scores, features)
    losses = mgfn_loss(output, torch.tensor([0.0, 1.0]), margin=3.0)
    assert losses.classification.item() == pytest.approx(-(math.log(0.8) + math.log(0.9)) / 2)
    assert losses.magnitude_contrastive.item() == pytest.approx(1e-3 * 1e-3 * (3 - 2) ** 2, rel=1e-4)
    assert losses.smoothness.item() == pytest.approx(8e-4 * (0.4**2 + 0.4**2))
    assert losses.sparsity.item() == pytest.approx(8e-3 * math.hypot(0.2, 0.6))
    assert losses.total.item() == pytest.approx(sum(v.item() for v in losses[1:]))


def test_mgfn_loss_rejects_unbalanced_batch():
    output = _hand_made_output(torch.tensor([0.2, 0.9, 0.7]), torch.rand(3, 4), torch.rand(3, 1, 3, 2))
    with pytest.raises(ValueError, match="as many normal as abnormal"):
        mgfn_loss(output, torch.tensor([0.0, 1.0, 1.0]))


def test_small_config_shapes_and_one_training_step():
    model = MGFN.small(1280 + 4)
    video = append_magnitude(torch.rand(4, 1, 32, 1284))
    out = model.train()(video)
    assert out.snippet_scores.shape == (4, 32)
    assert out.video_score.shape == (4,)
    assert out.crop_scores.shape == (4, 1, 32)
    assert out.topk_index.shape == (4, 3)
    assert out.topk_features.shape == (4, 1, 3, 256)
    loss = mgfn_loss(out, torch.tensor([0.0, 0.0, 1.0, 1.0])).total
    loss.backward()
    assert torch.isfinite(loss) and model.to_tokens.weight.grad is not None


def test_wrong_channel_count_is_rejected():
    with pytest.raises(ValueError, match="1 magnitude channel"):
        MGFN.small(16)(torch.rand(1, 1, 8, 16))
