"""Training the CPU model, DevianceNetLite, on the user's labelled sequences.

Classes come from official folder names (``v_class{N}_…``) or from a table such as the
CSV of ``streetview label`` (derived from our incidents, :mod:`.labels`). The frozen
EfficientNet-Lite0 encodes each sequence once (:meth:`DevianceNetLite.encode`) and only
the temporal head is trained, on the published objective (:func:`deviance_loss`, Park et
al., AAAI 2022) with Adam. From ten sequences on, a seeded fifth is held out; its SEA
accuracy, SEA mean absolute error and DIA accuracy are kept in the checkpoint's
``trained_on`` record with the data, labels and settings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pandas as pd
import torch

from crimeviz.access import auth
from crimeviz.access.auth import User
from crimeviz.store import audit
from crimeviz.streetview.checkpoints import save_lite, weights_dir
from crimeviz.streetview.labels import LabelRule, label_sequences
from crimeviz.streetview.sequences import Sequence, SequenceError, to_clip
from crimeviz.streetview.uploads import sequences_in
from models.deviancenet import DevianceNetLite, deviance_loss, dia_target, recommended_optimizer

MIN_FOR_VALIDATION = 10


def classes_from_names(sequences: list[Sequence]) -> list[int]:
    """SEA classes 1–5 from official folder names; every sequence must have one."""
    missing = [s.name for s in sequences if s.sea_class is None]
    if missing:
        raise SequenceError(
            f"{len(missing)} sequence(s) have no class in their folder name (v_class<N>_…), "
            f"e.g. {missing[0]}: derive classes from incidents with `streetview label`"
        )
    return [s.sea_class for s in sequences]


def classes_from_table(sequences: list[Sequence], table: pd.DataFrame) -> list[int]:
    """SEA classes 1–5 from a table with ``sequence`` and ``sea_class`` columns."""
    if not {"sequence", "sea_class"} <= set(table.columns):
        raise ValueError("the labels need the columns 'sequence' and 'sea_class'")
    by_name = dict(zip(table["sequence"].astype(str), table["sea_class"]))
    missing = [s.name for s in sequences if s.name not in by_name]
    if missing:
        raise ValueError(f"{len(missing)} sequence(s) have no label, e.g. {missing[0]}")
    classes = [int(by_name[s.name]) for s in sequences]
    if not all(1 <= c <= 5 for c in classes):
        raise ValueError("SEA classes must lie between 1 and 5")
    return classes


def classes_for(
    sequences: list[Sequence], source: str, con=None, rule: LabelRule = LabelRule()
) -> tuple[list[int], str]:
    """Classes and where they came from: ``"names"`` (folder names) or ``"incidents"`` (:mod:`.labels`)."""
    if source == "names":
        return classes_from_names(sequences), "classes in the folder names"
    labels = label_sequences(con, sequences, rule)
    return labels.table["sea_class"].tolist(), f"derived from incidents: {labels.describe()}"


def encode_sequences(
    model: DevianceNetLite, sequences: list[Sequence], progress: Callable[[int, int], None] | None = None
) -> torch.Tensor:
    """(N, frames, 1280) frozen-backbone features, one row per sequence."""
    features = []
    for done, sequence in enumerate(sequences, start=1):
        features.append(model.encode(to_clip(sequence.load()).unsqueeze(0))[0])
        if progress:
            progress(done, len(sequences))
    return torch.stack(features)


def fit(
    model: DevianceNetLite,
    features: torch.Tensor,
    targets: torch.Tensor,
    epochs: int,
    lr: float,
    batch_size: int,
    generator: torch.Generator,
) -> list[float]:
    """Trains the head on cached features (targets: class indices 0–4); mean loss per epoch."""
    optimizer = recommended_optimizer(model, lr=lr)
    model.train()
    losses = []
    for _ in range(epochs):
        total = 0.0
        for batch in torch.randperm(len(targets), generator=generator).split(batch_size):
            loss = deviance_loss(*model.classify(features[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / len(targets))
    model.eval()
    return losses


@torch.no_grad()
def evaluate(model: DevianceNetLite, features: torch.Tensor, targets: torch.Tensor) -> dict:
    """SEA accuracy, SEA mean absolute error (classes) and DIA accuracy."""
    sea, dia = model.classify(features)
    predicted = sea.argmax(dim=1)
    return {
        "sequences": len(targets),
        "sea_accuracy": round(float((predicted == targets).float().mean()), 4),
        "sea_mae": round(float((predicted - targets).abs().float().mean()), 4),
        "dia_accuracy": round(float((dia.argmax(dim=1) == dia_target(targets)).float().mean()), 4),
    }


def train(
    sequences: list[Sequence],
    classes: list[int],
    out: Path,
    *,
    source: str,
    labels: str,
    epochs: int = 40,
    lr: float = 1e-3,
    batch_size: int = 32,
    seed: int = 0,
    frames: int = 8,
    image_size: int = 160,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Trains DevianceNetLite on labelled sequences, saves it to ``out``; returns its record.

    ``source`` names the data and ``labels`` says where the classes came from; both are
    stored in the checkpoint with the class counts, settings and held-out metrics.
    ``frames`` and ``image_size`` (a multiple of 32) set the model's input, as in
    :class:`DevianceNetLite`.
    """
    if len(set(classes)) < 2:
        raise ValueError("training needs sequences of at least two different classes")
    if min(epochs, batch_size, frames) < 1 or lr <= 0 or image_size < 32 or image_size % 32:
        raise ValueError(
            "epochs, batch size and frames must be at least 1, the learning rate positive "
            "and the image size a multiple of 32"
        )
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = DevianceNetLite(frames=frames, image_size=image_size).eval()
    features = encode_sequences(model, sequences, progress)
    targets = torch.tensor(classes) - 1
    order = torch.randperm(len(targets), generator=generator)
    held_out = order[: len(order) // 5] if len(order) >= MIN_FOR_VALIDATION else order[:0]
    kept = order[len(held_out) :]
    losses = fit(model, features[kept], targets[kept], epochs, lr, batch_size, generator)
    record = {
        "source": source,
        "labels": labels,
        "sequences": len(sequences),
        "class_counts": {str(k): n for k, n in sorted(Counter(classes).items())},
        "model": f"DevianceNetLite(frames={model.frames}, image_size={model.image_size})",
        "epochs": epochs,
        "lr": lr,
        "batch_size": batch_size,
        "seed": seed,
        "train_loss": round(losses[-1], 4),
        "validation": evaluate(model, features[held_out], targets[held_out]) if len(held_out) else None,
        "trained_at": datetime.now().isoformat(timespec="seconds"),
    }
    return {"out": str(out), "sha256": save_lite(model, out, record), **record}


def train_archive(
    con,
    data: bytes,
    name: str,
    user: User,
    labels_from: str,
    rule: LabelRule = LabelRule(),
    epochs: int = 40,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Trains on an uploaded zip of sequence folders and installs the result in :func:`weights_dir`
    for every user: an administrator's action (``models`` permission), entered in the audit trail.

    ``labels_from`` is ``"names"`` or ``"incidents"`` (:func:`classes_for`); returns the record.
    """
    auth.require(user, "models")
    stem = Path(name).stem
    out = weights_dir() / f"lite-{stem}-{datetime.now():%Y%m%d-%H%M%S}.pth"
    with sequences_in(data, stem) as found:
        classes, described = classes_for(found, labels_from, con, rule)
        record = train(found, classes, out, source=name, labels=described, epochs=epochs, progress=progress)
    audit.record(
        con,
        user.username,
        "streetview.train",
        "checkpoint",
        out.name,
        {"sha256": record["sha256"], "source": name, "sequences": record["sequences"]},
    )
    return record
