"""Checkpoint files for every model here: read safely, adapt, load strictly.

:func:`read_checkpoint` reads with ``torch.load(weights_only=True)``, so no code runs
from a file, and turns every way a file can be unusable into one
:class:`CheckpointError` line that names the file (never its folder).
:func:`load_weights` strips a wrapper prefix such as ``module.`` (``nn.DataParallel``
and DDP checkpoints) and loads with ``strict=True``: a missing, extra or mis-shaped
tensor is an error, never skipped.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

Model = TypeVar("Model", bound=nn.Module)
_SHOWN_KEYS = 3


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line."""


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """The object saved in ``path`` (tensors and plain values only), on ``map_location``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path.name}: no such checkpoint file")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc):  # a class or function the file would construct
            raise CheckpointError(f"{path.name}: holds Python objects besides weights, so it is not loaded") from exc
        raise CheckpointError(f"{path.name}: not a PyTorch checkpoint (corrupt or another format)") from exc
    except Exception as exc:  # torch.load raises many types for a file it cannot read
        raise CheckpointError(f"{path.name}: not a PyTorch checkpoint ({type(exc).__name__})") from exc


def strip_prefix(state_dict: Mapping[str, Any], prefix: str = "module.") -> dict[str, Any]:
    """``state_dict`` with ``prefix`` removed from the keys that start with it."""
    return {key.removeprefix(prefix): value for key, value in state_dict.items()}


def _listed(keys: set[str]) -> str:
    shown = ", ".join(sorted(keys)[:_SHOWN_KEYS])
    return shown + (f" and {len(keys) - _SHOWN_KEYS} more" if len(keys) > _SHOWN_KEYS else "")


def load_weights(model: Model, state_dict: Any, prefix: str | None = "module.", source: str = "checkpoint") -> Model:
    """``model`` with ``state_dict`` loaded strictly after stripping ``prefix``; ``source`` names it in errors."""
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(f"{source}: not a state dict (holds a {type(state_dict).__name__})")
    state = strip_prefix(state_dict, prefix) if prefix else dict(state_dict)
    expected = set(model.state_dict())
    missing, unexpected = expected - set(state), set(state) - expected
    if missing or unexpected:
        parts = [
            f"missing {_listed(missing)}" if missing else "",
            f"unexpected {_listed(unexpected)}" if unexpected else "",
        ]
        raise CheckpointError(f"{source}: weights for another model ({'; '.join(p for p in parts if p)})")
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        detail = " ".join(str(exc).split())
        mismatch = detail.partition("size mismatch for ")[2]
        reason = f"size mismatch for {mismatch[:200]}" if mismatch else "a value is not a tensor of the right shape"
        raise CheckpointError(f"{source}: weights for another model ({reason})") from exc
    return model
