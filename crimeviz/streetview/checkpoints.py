"""DevianceNet weights: where they live, strict loading, saving trained ones, and scoring.

Two kinds of checkpoint are accepted, both read with ``torch.load(weights_only=True)``
so that no code runs from an uploaded file:

- the official ``[AAAI2022-DevianceNet]SEA.pth`` / ``DIA.pth`` of Park et al. (AAAI
  2022): a state dict of :class:`~models.deviancenet.DevianceNet` (``con``);
- a CrimeViz light checkpoint written by :func:`save_lite` (``streetview train``):
  ``{"format", "config", "trained_on", "state_dict"}`` with the trainable part of
  :class:`~models.deviancenet.DevianceNetLite` (its frozen EfficientNet-Lite0 comes
  from the installed package) and a record of what it was trained on.

Both load strictly: a missing, extra or mis-shaped tensor is an error, never skipped.
Installed checkpoints live in :func:`weights_dir`; none ships with CrimeViz.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from crimeviz import config
from crimeviz.access import auth
from crimeviz.access.auth import User
from crimeviz.files import file_sha256
from crimeviz.store import audit
from models.checkpoint import CheckpointError, load_weights, read_checkpoint
from models.deviancenet import DevianceNet, DevianceNetLite

LITE_FORMAT = "crimeviz-deviancenet-lite/1"
LITE_CONFIG = ("frames", "image_size", "hidden")
MODEL_NAMES = {"con": "DevianceNet (con)", "lite": "DevianceNet-Lite"}


def weights_dir() -> Path:
    """Installed checkpoints: ``$CRIMEVIZ_STREETVIEW_WEIGHTS`` or ``data/models/streetview``."""
    return Path(os.environ.get("CRIMEVIZ_STREETVIEW_WEIGHTS", config.DATA_DIR / "models" / "streetview"))


def installed() -> list[Path]:
    """The ``.pth`` files in :func:`weights_dir`, by name."""
    folder = weights_dir()
    return sorted(folder.glob("*.pth")) if folder.is_dir() else []


def none_installed_note(may_install: bool) -> str:
    """Why nothing can be scored yet and who can change that (no server paths: users cannot reach them)."""
    kinds = (
        "the official `[AAAI2022-DevianceNet]SEA.pth`, or one made by "
        "`python -m crimeviz streetview train DIR --out W.pth`"
    )
    how = (
        f"Install one for every user under *Add a trained model* ({kinds}; on the command line "
        "`python -m crimeviz streetview install W.pth --user NAME`), or train on your labelled sequences there."
        if may_install
        else f"Models are installed for every user by an administrator: ask one to install {kinds}."
    )
    return (
        "**No trained DevianceNet model is installed**, so nothing can be scored. CrimeViz ships no weights, "
        f"and scores from untrained weights would mean nothing. {how} To score a folder from the command line "
        "with a checkpoint of your own: `python -m crimeviz streetview score DIR --weights W.pth --user NAME`."
    )


@dataclass(frozen=True)
class Score:
    """One sequence's outputs: SEA class probabilities (classes 1–5) and the DIA deviance probability."""

    sea_probs: tuple[float, ...]
    dia_prob: float

    @property
    def sea_class(self) -> int:
        """The most probable SEA class, 1–5."""
        return 1 + max(range(len(self.sea_probs)), key=self.sea_probs.__getitem__)

    @property
    def expected_class(self) -> float:
        """Probability-weighted mean class, 1.0–5.0."""
        return sum((k + 1) * p for k, p in enumerate(self.sea_probs))


@dataclass(frozen=True)
class ScoringModel:
    """A loaded checkpoint ready to score: the model, its variant, file, hash and provenance."""

    model: nn.Module
    variant: str
    path: Path
    sha256: str
    trained_on: Mapping | None = None

    @property
    def name(self) -> str:
        return MODEL_NAMES[self.variant]

    def describe(self) -> str:
        text = f"{self.name} · {self.path.name} · sha256 {self.sha256[:12]}"
        return text + f" · trained on {training_summary(self.trained_on)}" if self.trained_on else text

    @torch.inference_mode()
    def score(self, clip: torch.Tensor) -> Score:
        """(3, 16, 224, 224) clip from :func:`~crimeviz.streetview.sequences.to_clip` -> :class:`Score`."""
        sea, dia = self.model(clip.unsqueeze(0))
        return Score(tuple(F.softmax(sea, dim=1)[0].tolist()), float(F.softmax(dia, dim=1)[0, 1]))


def training_summary(record: Mapping) -> str:
    """One line on a light checkpoint's ``trained_on`` record: data, labels, held-out check."""
    text = f"{record.get('sequences', '?')} sequences from {record.get('source', '?')} ({record.get('labels', '?')})"
    check = record.get("validation")
    if not check:
        return text + "; no held-out check (too few sequences)"
    return (
        text + f"; held out {check['sequences']}: SEA accuracy {check['sea_accuracy']:.0%}, "
        f"mean class error {check['sea_mae']:.2f}, DIA accuracy {check['dia_accuracy']:.0%}"
    )


def _lite_from(payload: Mapping) -> DevianceNetLite:
    """The light model: its frozen backbone as installed, every other tensor from the checkpoint."""
    model = DevianceNetLite(**{key: int(payload["config"][key]) for key in LITE_CONFIG})
    trained = payload["state_dict"]
    if any(key.startswith("backbone.") for key in trained):
        raise CheckpointError("light checkpoint: holds backbone tensors, which come from the installed package")
    backbone = {key: value for key, value in model.state_dict().items() if key.startswith("backbone.")}
    return load_weights(model, {**backbone, **trained}, prefix=None, source="light checkpoint")


def load(path: Path | str, variant: str | None = None) -> ScoringModel:
    """Loads a checkpoint of either kind (or only ``variant``: ``con`` / ``lite``) strictly, in eval mode."""
    path = Path(path)
    payload = read_checkpoint(path)
    if not isinstance(payload, Mapping):
        raise ValueError(f"{path.name}: not a DevianceNet checkpoint (holds a {type(payload).__name__})")
    found = "lite" if payload.get("format") == LITE_FORMAT else "con"
    if variant is not None and variant != found:
        raise ValueError(f"{path.name} is a {MODEL_NAMES[found]} checkpoint, not {MODEL_NAMES[variant]}")
    try:
        model = _lite_from(payload) if found == "lite" else load_weights(DevianceNet("con"), payload)
    except (CheckpointError, KeyError, TypeError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise ValueError(f"{path.name}: not a {MODEL_NAMES[found]} checkpoint ({detail})") from exc
    trained_on = payload.get("trained_on") if found == "lite" else None
    return ScoringModel(model.eval(), found, path, file_sha256(path), trained_on)


def save_lite(model: DevianceNetLite, path: Path, trained_on: Mapping) -> str:
    """Writes a light checkpoint (trainable tensors, config, ``trained_on``); returns its sha256."""
    payload = {
        "format": LITE_FORMAT,
        "config": {"frames": model.frames, "image_size": model.image_size, "hidden": model.fc1.in_features},
        "trained_on": dict(trained_on),
        "state_dict": {k: v for k, v in model.state_dict().items() if not k.startswith("backbone.")},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
    return file_sha256(path)


def install(con, user: User, name: str, data: bytes) -> ScoringModel:
    """Checks an uploaded checkpoint by loading it, then keeps it in :func:`weights_dir` for every user.

    An administrator's action (``models`` permission), entered in the audit trail.
    """
    auth.require(user, "models")
    folder = weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.+\-\[\]]", "_", Path(name).stem)[:80] or "checkpoint"
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as file:
        file.write(data)
    part = Path(file.name)
    try:
        loaded = load(part)
    except ValueError as exc:
        part.unlink()
        raise ValueError(str(exc).replace(part.name, Path(name).name)) from exc
    target = folder / f"{stem}.pth"
    if target.exists() and file_sha256(target) != loaded.sha256:
        target = folder / f"{stem}-{loaded.sha256[:8]}.pth"
    os.replace(part, target)
    details = {"sha256": loaded.sha256, "model": loaded.name}
    audit.record(con, user.username, "streetview.install", "checkpoint", target.name, details)
    return replace(loaded, path=target)
