"""CDNA building blocks and the model's contracts: normalised kernels, one mask per candidate,
non-negative intensities, no peeking past the context, determinism."""

import pytest
import torch

from models.cdna import (
    CDNA,
    KERNEL_SIZE,
    apply_kernels,
    composite,
    normalised_kernels,
    poisson_nll,
    sampling_truth_share,
)
from models.checkpoint import load_weights

SHAPE = (16, 16)


def tiny(seed: int = 0) -> CDNA:
    torch.manual_seed(seed)
    return CDNA(SHAPE, channels=2, rate_windows=3, covariates=4, widths=(4, 4, 4, 4, 8, 4, 4), lstm_kernel=3)


def batch(n: int = 2, length: int = 6, context: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    counts = torch.poisson(torch.full((n, length, 2, *SHAPE), 0.3), generator=g)
    rates = torch.rand((n, context, 2, 3, *SHAPE), generator=g)
    calendar = torch.rand((n, length - 1, 4), generator=g)
    return counts, rates, calendar, torch.ones(SHAPE)


def test_kernels_are_non_negative_and_sum_to_one():
    k = normalised_kernels(torch.randn(3, 10, KERNEL_SIZE**2) * 5)
    assert k.shape == (3, 10, 5, 5)
    assert (k >= 0).all()
    assert torch.allclose(k.sum(dim=(-1, -2)), torch.ones(3, 10))


def test_identity_and_shift_kernels():
    image = torch.rand(2, 3, 8, 8)
    kernels = torch.zeros(2, 2, 5, 5)
    kernels[:, 0, 2, 2] = 1  # identity
    kernels[:, 1, 2, 3] = 1  # take the right neighbour: shifts the image one pixel left
    out = apply_kernels(image, kernels)
    assert out.shape == (2, 2, 3, 8, 8)
    assert torch.allclose(out[:, 0], image)
    assert torch.allclose(out[:, 1, ..., :-1], image[..., 1:])


def test_each_sample_uses_its_own_kernels():
    image = torch.ones(2, 1, 6, 6)
    kernels = torch.zeros(2, 1, 5, 5)
    kernels[0, 0, 2, 2] = 1
    kernels[1, 0, 2, 2] = 0.5
    out = apply_kernels(image, kernels)
    assert out[0].mean() == 1 and out[1].mean() == 0.5


def test_masks_sum_to_one_and_one_mask_per_candidate():
    candidates = torch.rand(2, 11, 3, 8, 8)
    image, masks = composite(candidates, torch.randn(2, 11, 8, 8))
    assert torch.allclose(masks.sum(dim=1), torch.ones(2, 8, 8))
    assert image.shape == (2, 3, 8, 8)
    with pytest.raises(ValueError):
        composite(candidates, torch.randn(2, 10, 8, 8))


def test_model_composites_the_background_and_every_kernel():
    model = tiny()
    counts, rates, calendar, city = batch()
    out, masks, _ = model.step(counts[:, 0], rates[:, 0], calendar[:, 0], city, None)
    assert masks.shape[1] == model.config["n_kernels"] + 1
    assert torch.allclose(masks.sum(dim=1), torch.ones_like(masks[:, 0]))
    assert out.shape == counts[:, 0].shape and (out >= 0).all()


def test_no_relu_before_the_mask_softmax():
    model = tiny()
    assert isinstance(model.mask_head, torch.nn.Conv2d)  # logits straight into the softmax


def test_rollout_does_not_peek_past_the_context():
    model = tiny()
    counts, rates, calendar, city = batch()
    changed = counts.clone()
    changed[:, 4:] += 7
    with torch.no_grad():
        a = model(counts, rates, calendar, city, context=4)
        b = model(changed, rates, calendar, city, context=4)
        c = model(changed, rates, calendar, city, context=4, truth=torch.tensor([True, False]))
    assert torch.equal(a, b)
    assert not torch.equal(a[0, 4:], c[0, 4:]) and torch.equal(a[1], c[1])


def test_same_seed_same_weights_and_outputs():
    counts, rates, calendar, city = batch()
    with torch.no_grad():
        assert torch.equal(tiny(3)(counts, rates, calendar, city, 4), tiny(3)(counts, rates, calendar, city, 4))


def test_poisson_loss_prefers_the_true_rate_and_ignores_pixels_outside_the_city():
    g = torch.Generator().manual_seed(0)
    counts = torch.poisson(torch.full((200, 8, 8), 0.5), generator=g)
    city = torch.zeros(8, 8)
    city[:4] = 1
    losses = [poisson_nll(torch.full_like(counts, lam), counts, city).item() for lam in (0.25, 0.5, 1.0)]
    assert losses[1] < losses[0] and losses[1] < losses[2]
    outside = counts.clone()
    outside[:, 4:] = 100
    assert poisson_nll(torch.full_like(counts, 0.5), outside, city) == pytest.approx(losses[1])


def test_training_step_reduces_the_loss():
    model = tiny()
    counts, rates, calendar, city = batch(n=4)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = poisson_nll(model(counts, rates, calendar, city, 4), counts[:, 1:], city)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_scheduled_sampling_share_decays_from_one():
    shares = [sampling_truth_share(step, 100.0) for step in (0, 500, 2000)]
    assert shares[0] == pytest.approx(100 / 101)
    assert shares[0] > shares[1] > shares[2]


def test_state_dict_prefix_is_stripped_for_a_strict_load():
    model = tiny()
    wrapped = {f"module.{k}": v for k, v in model.state_dict().items()}
    loaded = load_weights(tiny(1), wrapped)  # the shared loader strips the prefix, then loads strictly
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())


def test_frame_sides_must_be_multiples_of_8():
    with pytest.raises(ValueError):
        CDNA((12, 16), 1, 1, 1)
