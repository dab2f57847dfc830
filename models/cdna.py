"""CDNA: Convolutional Dynamic Neural Advection, for daily crime-count frames.

Finn, Goodfellow & Levine, "Unsupervised Learning for Physical Interaction
through Video Prediction", NeurIPS 2016 (arXiv:1605.07157). Reference code:
tensorflow/models ``research/video_prediction/prediction_model.py``.

Paper section -> code (arXiv:1605.07157; titles given since numbering varies by version):

- Sec. 3.3 "Action-conditioned convolutional LSTMs" and Fig. 1: :class:`CDNA`
  stacks 7 convolutional LSTMs (:class:`ConvLSTMCell`, Shi et al. 2015) in an
  encoder-decoder: 5×5 stride-2 conv, LSTM 1-2, stride-2 conv, LSTM 3-4,
  stride-2 conv, bottleneck LSTM 5 at 1/8 resolution, transposed convs up
  through LSTM 6-7, skip connections (LSTM 6 + encoder stage 2, LSTM 7 +
  encoder stage 1), layer norm after every LSTM and ReLU after every plain
  (transposed) conv, as in the reference code.
- Sec. 3.1 "Pixel transformations", CDNA: ``cdna_kernels`` maps the flattened
  bottleneck to ``n_kernels`` 5×5 kernels, non-negative and normalised to sum
  to one (a softmax over the 25 taps); :func:`apply_kernels` convolves the
  previous frame with each, the same kernel for every channel.
- Sec. 3.2 "Composing object motion predictions": ``mask_head`` gives a
  per-pixel softmax over ``n_kernels + 1`` candidates, one mask per candidate:
  the transformed frames and the static background (:func:`composite`). Here
  the background is the long-run rate frame (:meth:`CDNA.background`), the
  crime analogue of the static scene.
- Sec. 3.3, conditioning: the robot state/action vector tiled over the
  bottleneck is replaced by calendar covariates (weekday, month, holiday,
  trend; :mod:`crimeviz.forecast.calendar`) tiled in at the same point.
- Training details (Sec. 5): scheduled sampling (Bengio et al. 2015) over the
  rollout steps, ground truth for a share ``k / (k + exp(step / k))`` of the
  sequences (:func:`sampling_truth_share`).

Departures, on purpose:

- Two defects of the reference code are not copied: it makes ``n_kernels + 1``
  masks for ``n_kernels + 2`` candidates, so ``zip`` silently drops the last
  transformed image; and its ``conv2d_transpose`` layers default to a ReLU
  before the sigmoid image and the mask softmax. Here there is one mask per
  candidate and no activation before the softmax.
- Counts are sparse, so the output is a non-negative intensity (expected
  incidents per cell and day), trained with a Poisson likelihood
  (:func:`poisson_nll`) masked to the city, instead of an L2 image loss. A
  per-channel level ``exp(a)`` from the bottleneck scales the composite (a
  convex mixture alone cannot follow weekly swings).
- The background is a convex mixture, learned per channel, of long-run rate
  frames over several windows (7, 28, 365 and 1095 days in the Toronto model),
  and the mask starts at 90% background: yesterday's counts are mostly noise.
- Default widths are a quarter of the paper's (8-8-16-16-32-16-8) with 3×3
  ConvLSTM kernels, so training fits a CPU; the paper's are constructor
  arguments (``widths=(32, 32, 64, 64, 128, 64, 32), lstm_kernel=5``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KERNEL_SIZE = 5


class ConvLSTMCell(nn.Module):
    """Convolutional LSTM (Shi et al. 2015) without peepholes; forget-gate bias +1 as the reference."""

    def __init__(self, in_channels: int, hidden: int, kernel_size: int):
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(in_channels + hidden, 4 * hidden, kernel_size, padding=kernel_size // 2)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """x (N, C_in, H, W), state (h, c) each (N, hidden, H, W) or None -> h, (h, c)."""
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden, *x.shape[2:])
            state = (zeros, zeros)
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f + 1.0) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


def layer_norm(channels: int) -> nn.GroupNorm:
    """Layer norm over (C, H, W) with a per-channel affine, as ``tf.contrib.layers.layer_norm``."""
    return nn.GroupNorm(1, channels)


def normalised_kernels(logits: Tensor) -> Tensor:
    """(N, K, k*k) logits -> (N, K, k, k) non-negative kernels summing to one (Sec. 3.1)."""
    n, k, taps = logits.shape
    side = int(round(taps**0.5))
    return torch.softmax(logits, dim=-1).view(n, k, side, side)


def apply_kernels(image: Tensor, kernels: Tensor) -> Tensor:
    """Convolve each sample's image with its own K kernels (Sec. 3.1).

    image (N, C, H, W), kernels (N, K, k, k) -> (N, K, C, H, W); the same kernel
    is applied to every channel, zero padding outside the frame.
    """
    n, c, h, w = image.shape
    k = kernels.shape[1]
    side = kernels.shape[-1]
    # channels into the batch, samples into groups: one grouped conv for the whole batch
    x = image.transpose(0, 1).reshape(c, n, h, w)
    weight = kernels.reshape(n * k, 1, side, side)
    out = F.conv2d(x, weight, padding=side // 2, groups=n)
    return out.view(c, n, k, h, w).permute(1, 2, 0, 3, 4)


def composite(candidates: Tensor, mask_logits: Tensor) -> tuple[Tensor, Tensor]:
    """Per-pixel softmax compositing (Sec. 3.2): one mask per candidate.

    candidates (N, M, C, H, W), mask_logits (N, M, H, W) -> image (N, C, H, W), masks (N, M, H, W).
    """
    if candidates.shape[1] != mask_logits.shape[1]:
        raise ValueError(f"{candidates.shape[1]} candidates but {mask_logits.shape[1]} masks")
    masks = torch.softmax(mask_logits, dim=1)
    return (candidates * masks.unsqueeze(2)).sum(dim=1), masks


class CDNA(nn.Module):
    """Next-day intensity frames from daily count frames (Finn et al. 2016, adapted).

    Args:
        frame_shape: (H, W) of the frames, each a multiple of 8.
        channels: count channels (offence types); the model predicts each.
        rate_windows: how many long-run rate frames per channel feed the background.
        covariates: length of the calendar vector injected at the bottleneck.
        widths: the 7 ConvLSTM widths (paper: 32, 32, 64, 64, 128, 64, 32).
        lstm_kernel: ConvLSTM kernel size (paper: 5).
        n_kernels: CDNA transformations (paper: 10).
    """

    def __init__(
        self,
        frame_shape: tuple[int, int],
        channels: int,
        rate_windows: int,
        covariates: int,
        widths: tuple[int, ...] = (8, 8, 16, 16, 32, 16, 8),
        lstm_kernel: int = 3,
        n_kernels: int = 10,
    ):
        super().__init__()
        if len(widths) != 7:
            raise ValueError("CDNA has exactly 7 ConvLSTM layers")
        if frame_shape[0] % 8 or frame_shape[1] % 8:
            raise ValueError(f"frame sides must be multiples of 8, got {frame_shape}")
        self.config = dict(
            frame_shape=tuple(frame_shape),
            channels=channels,
            rate_windows=rate_windows,
            covariates=covariates,
            widths=tuple(widths),
            lstm_kernel=lstm_kernel,
            n_kernels=n_kernels,
        )
        w1, w2, w3, w4, w5, w6, w7 = widths
        in_channels = channels * (1 + rate_windows) + 1  # counts, rate frames, city mask
        self.enc0 = nn.Sequential(nn.Conv2d(in_channels, w1, 5, stride=2, padding=2), layer_norm(w1))
        self.lstm1, self.norm1 = ConvLSTMCell(w1, w1, lstm_kernel), layer_norm(w1)
        self.lstm2, self.norm2 = ConvLSTMCell(w1, w2, lstm_kernel), layer_norm(w2)
        self.enc1 = nn.Conv2d(w2, w2, 3, stride=2, padding=1)
        self.lstm3, self.norm3 = ConvLSTMCell(w2, w3, lstm_kernel), layer_norm(w3)
        self.lstm4, self.norm4 = ConvLSTMCell(w3, w4, lstm_kernel), layer_norm(w4)
        self.enc2 = nn.Conv2d(w4, w4, 3, stride=2, padding=1)
        self.enc3 = nn.Conv2d(w4 + covariates, w4, 1)
        self.lstm5, self.norm5 = ConvLSTMCell(w4, w5, lstm_kernel), layer_norm(w5)
        self.dec4 = nn.ConvTranspose2d(w5, w5, 3, stride=2, padding=1, output_padding=1)
        self.lstm6, self.norm6 = ConvLSTMCell(w5, w6, lstm_kernel), layer_norm(w6)
        self.dec5 = nn.ConvTranspose2d(w6 + w2, w6 + w2, 3, stride=2, padding=1, output_padding=1)
        self.lstm7, self.norm7 = ConvLSTMCell(w6 + w2, w7, lstm_kernel), layer_norm(w7)
        self.dec6 = nn.Sequential(
            nn.ConvTranspose2d(w7 + w1, w7 + w1, 3, stride=2, padding=1, output_padding=1), layer_norm(w7 + w1)
        )
        bottleneck = w5 * (frame_shape[0] // 8) * (frame_shape[1] // 8)
        self.cdna_kernels = nn.Linear(bottleneck, n_kernels * KERNEL_SIZE**2)
        self.mask_head = nn.Conv2d(w7 + w1, n_kernels + 1, 1)
        self.level = nn.Linear(w5 + covariates, channels)
        self.background_logits = nn.Parameter(torch.zeros(channels, rate_windows))
        nn.init.zeros_(self.level.weight)
        nn.init.zeros_(self.level.bias)
        with torch.no_grad():  # start from 90% background
            self.mask_head.bias.zero_()
            self.mask_head.bias[0] = math.log(9 * n_kernels)

    def background(self, rates: Tensor) -> Tensor:
        """Static background: per-channel convex mix of rate frames. rates (N, C, R, H, W) -> (N, C, H, W)."""
        return (rates * torch.softmax(self.background_logits, dim=-1)[..., None, None]).sum(dim=2)

    def step(
        self, prev: Tensor, rates: Tensor, calendar: Tensor, city: Tensor, state: list | None
    ) -> tuple[Tensor, Tensor, list]:
        """One day: prev counts (N, C, H, W), rates (N, C, R, H, W), calendar (N, K) of the
        predicted day, city (H, W) -> intensity (N, C, H, W), masks (N, M, H, W), new state."""
        n, c, h, w = prev.shape
        state = state or [None] * 7
        x = torch.cat([torch.log1p(prev), torch.log1p(rates.flatten(1, 2) * 28.0), city.expand(n, 1, h, w)], dim=1)
        e0 = F.relu(self.enc0(x))
        h1, state[0] = self.lstm1(e0, state[0])
        h2, state[1] = self.lstm2(self.norm1(h1), state[1])
        e1 = F.relu(self.enc1(self.norm2(h2)))
        h3, state[2] = self.lstm3(e1, state[2])
        h4, state[3] = self.lstm4(self.norm3(h3), state[3])
        e2 = F.relu(self.enc2(self.norm4(h4)))
        smear = calendar[:, :, None, None].expand(-1, -1, *e2.shape[2:])
        e3 = F.relu(self.enc3(torch.cat([e2, smear], dim=1)))
        h5, state[4] = self.lstm5(e3, state[4])
        h5 = self.norm5(h5)
        h6, state[5] = self.lstm6(F.relu(self.dec4(h5)), state[5])
        h7, state[6] = self.lstm7(F.relu(self.dec5(torch.cat([self.norm6(h6), e1], dim=1))), state[6])
        e6 = F.relu(self.dec6(torch.cat([self.norm7(h7), e0], dim=1)))

        kernels = normalised_kernels(self.cdna_kernels(h5.flatten(1)).view(n, -1, KERNEL_SIZE**2))
        transformed = apply_kernels(prev, kernels)
        candidates = torch.cat([self.background(rates).unsqueeze(1), transformed], dim=1)
        image, masks = composite(candidates, self.mask_head(e6))
        level = self.level(torch.cat([h5.mean(dim=(2, 3)), calendar], dim=1))
        return image * torch.exp(level)[:, :, None, None], masks, state

    def forward(
        self, counts: Tensor, rates: Tensor, calendar: Tensor, city: Tensor, context: int, truth: Tensor | None = None
    ) -> Tensor:
        """Roll the model over ``S = calendar.shape[1]`` days.

        Args:
            counts: (N, L, C, H, W) observed daily counts, L ≥ context.
            rates: (N, context, C, R, H, W) long-run rate frames known at the end
                of each context day; rollout steps keep the last (no peeking).
            calendar: (N, S, K) covariates of each predicted day.
            city: (H, W) 1 inside the city, 0 elsewhere.
            context: steps fed ground truth before the model feeds itself.
            truth: optional (N,) bool; True rows get ground truth after ``context``
                too (scheduled sampling, needs L ≥ S).

        Returns:
            (N, S, C, H, W) intensities; step s predicts the day after frame s.
        """
        outputs, state = [], None
        for s in range(calendar.shape[1]):
            if s < context:
                prev = counts[:, s]
            elif truth is None:
                prev = outputs[-1]
            else:
                prev = torch.where(truth[:, None, None, None], counts[:, s], outputs[-1])
            out, _, state = self.step(prev, rates[:, min(s, context - 1)], calendar[:, s], city, state)
            outputs.append(out)
        return torch.stack(outputs, dim=1)


def poisson_nll(intensity: Tensor, counts: Tensor, city: Tensor, eps: float = 1e-6) -> Tensor:
    """Mean Poisson negative log-likelihood (dropping log y!) over city pixels.

    intensity, counts (..., H, W); city (H, W) of 0/1.
    """
    nll = intensity - counts * torch.log(intensity + eps)
    return (nll * city).sum() / (city.sum() * nll[..., 0, 0].numel())


def sampling_truth_share(step: int, k: float) -> float:
    """Scheduled sampling: share of sequences fed ground truth, ``k / (k + exp(step / k))``."""
    return k / (k + torch.exp(torch.tensor(step / k)).item())
