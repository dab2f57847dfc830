"""DevianceNet: official-checkpoint parity, the published loss, the CPU configuration."""

import json
import math
from pathlib import Path

import pytest
import torch

from models.checkpoint import CheckpointError
from models.deviancenet import (
    DevianceNet,
    DevianceNetLite,
    deviance_loss,
    load_official_weights,
    recommended_optimizer,
)
from tests.parity_fill import fill_state_dict, seeded_input

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "parity" / "deviancenet_con.json").read_text())


@pytest.fixture(scope="module")
def parity_model():
    """DevianceNet("con") in eval mode with the fixture's deterministic weights."""
    model = DevianceNet(variant="con").eval()
    state = model.state_dict()
    fill_state_dict(state, FIXTURE["salt"])
    model.load_state_dict(state, strict=True)
    return model


@pytest.fixture(scope="module")
def lite_model():
    return DevianceNetLite().eval()


def test_state_dict_has_the_official_784_keys_and_shapes(parity_model):
    shapes = {key: list(value.shape) for key, value in parity_model.state_dict().items()}
    assert len(shapes) == 784
    assert shapes == FIXTURE["state_dict"]


def test_logits_match_the_official_implementation(parity_model):
    spec = FIXTURE["input"]
    clip = seeded_input(spec["shape"], spec["seed"], spec["kind"])
    with torch.no_grad():
        sea, dia = parity_model(clip)
    assert sea.shape == (1, 5) and dia.shape == (1, 2)
    expected_sea = torch.tensor([FIXTURE["expected"]["sea_logits"]])
    expected_dia = torch.tensor([FIXTURE["expected"]["dia_logits"]])
    assert (sea - expected_sea).abs().max() < 1e-3
    assert (dia - expected_dia).abs().max() < 1e-3


def test_dataparallel_checkpoint_loads_strictly_after_stripping_module(parity_model, tmp_path):
    official = {"module." + key: value for key, value in parity_model.state_dict().items()}
    path = tmp_path / "[AAAI2022-DevianceNet]SEA.pth"
    torch.save(official, path)
    fresh = load_official_weights(DevianceNet(), path)
    assert torch.equal(fresh.classification.weight, parity_model.classification.weight)


def test_checkpoint_with_a_foreign_key_is_refused(parity_model):
    state = dict(parity_model.state_dict(), **{"module.extra.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="unexpected extra.weight"):
        load_official_weights(parity_model, state)


def test_mul_variant_returns_both_heads_on_a_small_clip():
    model = DevianceNet(variant="mul").eval()
    assert model.conv1_2d.in_channels == 256
    with torch.no_grad():
        sea, dia = model(torch.randn(2, 3, 4, 64, 64))
    assert sea.shape == (2, 5) and dia.shape == (2, 2)


def test_unknown_variant_is_rejected():
    with pytest.raises(ValueError, match="variant"):
        DevianceNet(variant="None")


# Softmax of these logits is exactly p = (0.1, 0.2, 0.3, 0.25, 0.15).
PROBS = (0.1, 0.2, 0.3, 0.25, 0.15)
SEA_LOGITS = torch.tensor([PROBS]).log()
HALF_LN2 = 0.5 * math.log(2)  # DIA term for logits (0, 0), whatever the target


@pytest.mark.parametrize(
    "sea_class, expected_sea_term",
    [
        # -(ln .1 + .15 * (300/330 ln .2 + 29/330 ln .3 + 1/330 ln .25))
        (0, 2.538555),
        # -(ln .2 + .15 * (300/330 ln .3 + 29/330 ln .25 + 1/330 ln .15))
        (1, 1.792752),
        # -(ln .3 + .15 * (300/330 ln .25 + 29/330 ln .15)): the k+3 term falls off the end
        (2, 1.418020),
        # -(ln .25 + .15 * 300/330 ln .15)
        (3, 1.644993),
        # -ln .15: plain cross-entropy for the last class
        (4, 1.897120),
    ],
)
def test_loss_adds_heinrich_weighted_terms_for_the_next_classes(sea_class, expected_sea_term):
    loss = deviance_loss(SEA_LOGITS, torch.zeros(1, 2), torch.tensor([sea_class]))
    assert loss.item() == pytest.approx(HALF_LN2 + expected_sea_term, abs=1e-5)


def test_loss_averages_the_batch_and_takes_dia_target_from_class_five():
    # class 1 -> DIA target 0, class 5 -> DIA target 1; both DIA logits favour their
    # target by 2, so each DIA cross-entropy is ln(1 + e^-2) = 0.126928.
    loss = deviance_loss(SEA_LOGITS.repeat(2, 1), torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 4]))
    assert loss.item() == pytest.approx(0.5 * 0.126928 + (2.538555 + 1.897120) / 2, abs=1e-5)


def test_lite_model_returns_sea_and_dia_logits_for_16_frame_clips(lite_model):
    with torch.no_grad():
        sea, dia = lite_model(torch.randn(2, 3, 16, 224, 224))
        features = lite_model.encode(torch.randn(1, 3, 16, 224, 224))
    assert sea.shape == (2, 5) and dia.shape == (2, 2)
    assert features.shape == (1, 8, 1280)


def test_lite_backbone_is_frozen_and_stays_in_eval_mode(lite_model):
    lite_model.train()
    try:
        assert not lite_model.backbone.training
        assert not any(p.requires_grad for p in lite_model.backbone.parameters())
        sea, dia = lite_model(torch.randn(2, 3, 8, 160, 160))
        deviance_loss(sea, dia, torch.tensor([1, 4])).backward()
        assert lite_model.fc1.weight.grad is not None
        assert all(p.grad is None for p in lite_model.backbone.parameters())
        optimizer = recommended_optimizer(lite_model)
        trained = {id(p) for group in optimizer.param_groups for p in group["params"]}
        assert trained == {id(p) for p in lite_model.parameters() if p.requires_grad}
        assert optimizer.param_groups[0]["lr"] == 1e-4
    finally:
        lite_model.eval().zero_grad(set_to_none=True)
