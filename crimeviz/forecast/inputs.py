"""CDNA input tensors cut from a :class:`~crimeviz.forecast.frames.History`.

A window starting on row ``t0`` holds the count frames of days ``t0 … t0+L-1``,
the long-run rate frames known at the end of each context day and the calendar
covariates of each predicted day (``t0+1 …``). Rates at row ``t`` average the
last ``w`` days up to and including ``t`` (fewer at the start of the history);
they are differences of one cumulative sum, so only the rows a window needs are
ever computed.
"""

from datetime import timedelta

import numpy as np
import torch

from crimeviz.forecast import calendar
from crimeviz.forecast.frames import History, cumulative, day_range

MAX_LEAD = 7  # days ahead a rollout may go past the end of the history


class ModelInputs:
    """Count tensors of a history on ``device``, cut into frame windows."""

    def __init__(self, history: History, rate_windows: tuple[int, ...], device: str = "cpu"):
        self.history = history
        self.device = device
        self.windows = torch.as_tensor(rate_windows, device=device)
        self.counts = torch.as_tensor(history.counts, dtype=torch.float32, device=device)
        # integer counts: float32 sums are exact below 2**24 per cell
        self.cum = torch.as_tensor(cumulative(history.counts, np.float32), device=device)
        days = day_range(history.start, history.end + timedelta(days=MAX_LEAD + 1))
        self.calendar = torch.as_tensor(calendar.covariates(days), device=device)
        mapping = history.mapping
        self.shape = mapping.shape
        self.pixels = torch.as_tensor(mapping.rows * mapping.shape[1] + mapping.cols, device=device)
        self.city = torch.as_tensor(mapping.mask, dtype=torch.float32, device=device)

    def _frames(self, values: torch.Tensor) -> torch.Tensor:
        """(..., cells) -> (..., H, W), zero outside the city."""
        out = values.new_zeros(values.shape[:-1] + (self.shape[0] * self.shape[1],))
        out[..., self.pixels] = values
        return out.view(values.shape[:-1] + self.shape)

    def rates(self, rows: torch.Tensor) -> torch.Tensor:
        """(...,) history rows -> (..., C, R, cells) mean daily counts over each window."""
        end = (rows + 1)[..., None]
        begin = (end - self.windows).clamp(min=0)
        total = self.cum[end] - self.cum[begin]  # (..., R, C, cells)
        return (total / (end - begin)[..., None, None]).transpose(-3, -2)

    def window(self, starts, length: int, context: int, steps: int):
        """Counts (N, length, C, H, W), rates (N, context, C, R, H, W), calendar (N, steps, K).

        Count rows past the end of the history are zero (only used as targets
        that do not exist yet, never fed to the model).
        """
        starts = torch.as_tensor(np.asarray(starts), device=self.device)
        rows = starts[:, None] + torch.arange(length, device=self.device)
        counts = self.counts[rows.clamp(max=len(self.counts) - 1)]
        counts = counts * (rows < len(self.counts))[..., None, None]
        rates = self.rates(starts[:, None] + torch.arange(context, device=self.device))
        cal = self.calendar[starts[:, None] + 1 + torch.arange(steps, device=self.device)]
        return self._frames(counts), self._frames(rates), cal

    def cells(self, frames: torch.Tensor) -> torch.Tensor:
        """(..., H, W) -> (..., cells)."""
        return frames.flatten(-2)[..., self.pixels]
