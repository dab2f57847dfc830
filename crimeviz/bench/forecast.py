"""Timing of next-day inference (whole city) and of CDNA training, on CPU and on CUDA if present."""

import platform
from dataclasses import replace
from datetime import timedelta

import numpy as np
import torch

from crimeviz.bench.timing import timed
from crimeviz.forecast import checkpoint
from crimeviz.forecast.frames import ALL, load_history
from crimeviz.forecast.inputs import ModelInputs
from crimeviz.forecast.predict import METHODS, forecast_for_date, method_intensities
from crimeviz.forecast.protocol import PROTOCOL
from crimeviz.forecast.train import TrainConfig, seed_everything
from crimeviz.store import counts
from models.cdna import CDNA, poisson_nll


def _median_ms(fn, repeats: int) -> float:
    return round(1000 * timed(fn, repeats), 2)


def _synchronised(fn, on: str):
    def run():
        fn()
        if on == "cuda":
            torch.cuda.synchronize()

    return run


def bench(
    con,
    checkpoint_path=checkpoint.DEFAULT_CHECKPOINT,
    repeats: int = 20,
    train_batches: int = 5,
    devices: tuple[str, ...] | None = None,
) -> dict:
    """Median next-day times (model alone, with its input features, end to end from the
    store, and each baseline) and training seconds per epoch, per device."""
    devices = devices or (("cpu", "cuda") if torch.cuda.is_available() else ("cpu",))
    forecaster = checkpoint.load(checkpoint_path, on="cpu")
    meta = forecaster.meta
    history = load_history(con, forecaster.mapping, PROTOCOL.train_end, offence_names=meta["offences"])
    target = [history.n_days]
    out = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "torch": str(torch.__version__),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "grid": {"res": meta["res"], "cells": len(meta["cells"]), "frame": meta["model"]["frame_shape"]},
        "parameters": sum(p.numel() for p in forecaster.model.parameters()),
        "baselines_next_day_ms": {},
        "devices": {},
    }
    for method in METHODS:
        if method != "cdna":
            out["baselines_next_day_ms"][method] = _median_ms(
                lambda m=method: method_intensities(m, history, target), max(3, repeats // 4)
            )
    last = counts.last_incident(con).date()
    out["forecast_for_date_cdna_ms"] = _median_ms(
        lambda: forecast_for_date(con, last + timedelta(days=1), ALL, "cdna", checkpoint_path=checkpoint_path),
        max(3, repeats // 4),
    )
    for on in devices:
        model = checkpoint.load(checkpoint_path, on=on)
        inputs = ModelInputs(history, tuple(meta["rate_windows"]), on)
        out["devices"][on] = {
            "next_day_model_ms": _median_ms(
                _synchronised(lambda: model.intensities(history, target, inputs=inputs), on), repeats
            ),
            "next_day_with_features_ms": _median_ms(
                _synchronised(lambda: model.intensities(history, target), on), max(3, repeats // 4)
            ),
            "train_seconds_per_epoch": _train_epoch_seconds(history, meta, on, train_batches),
        }
    return out


def _train_epoch_seconds(history, meta: dict, on: str, batches: int) -> float:
    """Seconds for ``batches`` training steps of the stored configuration, scaled to one epoch."""
    settings = meta["training"]["config"]
    cfg = replace(
        TrainConfig(),
        batch_size=settings["batch_size"],
        stride=settings["stride"],
        context=settings["context"],
        horizon=settings["horizon"],
        burn_in=settings["burn_in"],
    )
    seed_everything(0)
    spec = dict(meta["model"])
    model = CDNA(tuple(spec.pop("frame_shape")), **spec).to(on)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    inputs = ModelInputs(history, tuple(meta["rate_windows"]), on)
    length = cfg.context + cfg.horizon
    windows = len(range(max(cfg.burn_in - 1, 0), history.n_days - length + 1, cfg.stride))
    starts = np.arange(cfg.batch_size) * cfg.stride + cfg.burn_in

    def step():
        counts, rates, cal = inputs.window(starts, length, cfg.context, length - 1)
        loss = poisson_nll(model(counts, rates, cal, inputs.city, cfg.context), counts[:, 1:], inputs.city)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    seconds = _median_ms(_synchronised(step, on), batches) / 1000
    return round(seconds * -(-windows // cfg.batch_size), 1)
