"""Training CDNA on the incident store: data windows, Poisson loss, scheduled sampling, checkpoint.

Protocol (issue 3): weights are fit on days before ``train_end``; the epoch kept
is the one with the best Poisson likelihood on the validation year; the test
year is never looked at here.
"""

import random
import subprocess
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

import crimeviz
from crimeviz import config
from crimeviz.forecast import checkpoint, metrics
from crimeviz.forecast.calendar import N_COVARIATES
from crimeviz.forecast.frames import ALL, History, cells_with_incidents, grid_mapping, load_history
from crimeviz.forecast.inputs import ModelInputs
from crimeviz.forecast.protocol import PROTOCOL
from models.cdna import CDNA, poisson_nll, sampling_truth_share


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained checkpoint (stored in its metadata)."""

    res: int = 8
    start: date | None = None  # first day of history; None: the first stored day
    train_end: date = PROTOCOL.train_end
    val_start: date = PROTOCOL.val_start
    val_end: date = PROTOCOL.val_end
    grid_end: date | None = None  # the grid: cells with an incident up to this day; None: train_end
    context: int = 20
    horizon: int = 7
    rate_windows: tuple[int, ...] = (7, 28, 365, 1095)
    burn_in: int = 365  # first training target: this many days into the history
    widths: tuple[int, ...] = (8, 8, 16, 16, 32, 16, 8)
    lstm_kernel: int = 3
    n_kernels: int = 10
    epochs: int = 6  # validation (2020) likelihood plateaus from epoch 4; later epochs overfit
    batch_size: int = 8
    stride: int = 7  # days between training windows
    lr: float = 1e-3
    sampling_k: float = 50.0  # ground-truth share falls to ~0.5 by the end of the default run
    val_stride: int = 3  # validate on every n-th day while training; all days at the end
    seed: int = 0


def config_for_data(first: date, last: date, res: int = 8) -> TrainConfig:
    """Settings for a checkpoint of the data from ``first`` to ``last``, every cell with an incident included.

    The issue's protocol when the data cover it; otherwise the last year (at most a
    quarter of the days) validates and the days before it train.
    """
    if first <= PROTOCOL.train_end - timedelta(days=365) and last >= PROTOCOL.val_end:
        return TrainConfig(res=res, grid_end=last)
    days = (last - first).days + 1
    val_start = last - timedelta(days=min(365, max(days // 4, 1)) - 1)
    burn_in = min(TrainConfig.burn_in, (val_start - first).days // 2)
    return TrainConfig(
        res=res,
        train_end=val_start - timedelta(days=1),
        val_start=val_start,
        val_end=last,
        grid_end=last,
        burn_in=burn_in,
    )


def train_command(cfg: TrainConfig, out: Path | str) -> str:
    """The ``python -m crimeviz forecast train`` line that trains ``cfg`` into ``out``."""
    options = {
        "out": out,
        "res": cfg.res,
        "train-end": cfg.train_end,
        "val-start": cfg.val_start,
        "val-end": cfg.val_end,
        "grid-end": cfg.grid_end,
        "burn-in": cfg.burn_in,
    }
    return "python -m crimeviz forecast train " + " ".join(f"--{k} {v}" for k, v in options.items() if v is not None)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def code_version() -> dict:
    """The package version and the git commit the code was run from (if any)."""

    def git(*args):
        try:
            return subprocess.run(
                ["git", *args], cwd=config.ROOT, capture_output=True, text=True, timeout=5
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--", "crimeviz/forecast", "models/cdna.py"))
    return {
        "crimeviz": crimeviz.__version__,
        "git_commit": commit or None,
        "dirty": dirty,
        "torch": str(torch.__version__),
    }


def validation_report(intensity: np.ndarray, history: History, targets: np.ndarray) -> dict:
    """Hotspot metrics and Poisson fit for every offence group of ``(days, offences, cells)`` intensities."""
    areas = history.mapping.areas_km2
    report = {}
    for group in [ALL, *history.offences]:
        names = history.offences
        lam = intensity.sum(axis=1) if group == ALL else intensity[:, names.index(group)]
        y = history.group(group)[targets]
        report[group] = metrics.hotspot_metrics(lam, y, areas) | {"poisson": metrics.poisson_fit(lam, y)}
    return report


def train(
    con, cfg: TrainConfig = TrainConfig(), out: Path | str | None = None, progress: bool = True, on: str | None = None
) -> checkpoint.CDNAForecaster:
    """Train CDNA as configured; save to ``out`` if given; return the forecaster (best epoch)."""
    seed_everything(cfg.seed)
    on = on or checkpoint.device()
    began = time.perf_counter()
    grid_end = cfg.grid_end or cfg.train_end
    mapping = grid_mapping(cells_with_incidents(con, cfg.res, before=grid_end + timedelta(days=1)), cfg.res)
    history = load_history(con, mapping, cfg.val_end, cfg.start)
    inputs = ModelInputs(history, cfg.rate_windows, on)
    length = cfg.context + cfg.horizon
    last_start = history.index(cfg.train_end) - length + 1
    starts = np.arange(max(cfg.burn_in - 1, 0), last_start + 1, cfg.stride)
    if len(starts) == 0:
        raise ValueError("not enough training days for one window; lower burn_in or context")
    val_targets = np.arange(history.index(cfg.val_start), history.index(cfg.val_end) + 1)

    model = CDNA(
        mapping.shape,
        len(history.offences),
        len(cfg.rate_windows),
        N_COVARIATES,
        widths=cfg.widths,
        lstm_kernel=cfg.lstm_kernel,
        n_kernels=cfg.n_kernels,
    ).to(on)
    forecaster = checkpoint.CDNAForecaster(model, _meta(cfg, history, model), on)
    background = [model.background_logits]  # a handful of mixing weights: let them move faster
    rest = [p for name, p in model.named_parameters() if name != "background_logits"]
    optimiser = torch.optim.Adam([{"params": rest}, {"params": background, "lr": 10 * cfg.lr}], lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    best, best_state, log, step = np.inf, None, [], 0
    bar = tqdm(
        total=cfg.epochs * -(-len(starts) // cfg.batch_size), disable=not progress, desc="train CDNA", unit="batch"
    )
    for epoch in range(cfg.epochs):
        model.train()
        losses = []
        for batch in np.array_split(rng.permutation(starts), -(-len(starts) // cfg.batch_size)):
            counts, rates, cal = inputs.window(batch, length, cfg.context, length - 1)
            truth = torch.rand(len(batch), device=on) < sampling_truth_share(step, cfg.sampling_k)
            pred = model(counts, rates, cal, inputs.city, cfg.context, truth)
            loss = poisson_nll(pred, counts[:, 1:], inputs.city)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            losses.append(loss.item())
            step += 1
            bar.update()
            bar.set_postfix(epoch=epoch + 1, loss=f"{np.mean(losses):.4f}")
        sampled = val_targets[:: cfg.val_stride]
        lam = forecaster.intensities(history, sampled, inputs=inputs)
        val_nll = -metrics.poisson_fit(lam, history.counts[sampled])["loglik_per_cell_day"]
        log.append({"epoch": epoch + 1, "train_nll": float(np.mean(losses)), "val_nll": val_nll})
        bar.set_postfix(epoch=epoch + 1, loss=f"{np.mean(losses):.4f}", val=f"{val_nll:.4f}")
        if val_nll < best:
            best = val_nll
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    bar.close()
    model.load_state_dict(best_state)
    lam = forecaster.intensities(history, val_targets, inputs=inputs)
    forecaster.meta["training"].update(
        log=log,
        best_epoch=int(np.argmin([e["val_nll"] for e in log]) + 1),
        device=on,
        threads=torch.get_num_threads(),
        seconds=round(time.perf_counter() - began, 1),
    )
    forecaster.meta["metrics"] = {"validation": validation_report(lam, history, val_targets)}
    if out is not None:
        checkpoint.save(out, model, forecaster.meta)
    return forecaster


def _meta(cfg: TrainConfig, history: History, model: CDNA) -> dict:
    """Checkpoint metadata in plain types (loads with ``torch.load(weights_only=True)``)."""
    settings = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(cfg).items()}
    train_rows = slice(0, history.index(cfg.train_end) + 1)
    return {
        "format": 1,
        "model": dict(model.config),
        "res": cfg.res,
        "cells": history.mapping.hex(),
        "offences": list(history.offences),
        "rate_windows": list(cfg.rate_windows),
        "context": cfg.context,
        "horizon": cfg.horizon,
        "data": {
            "first_day": history.start.isoformat(),
            "train_end": cfg.train_end.isoformat(),
            "val_start": cfg.val_start.isoformat(),
            "val_end": cfg.val_end.isoformat(),
            "grid_end": (cfg.grid_end or cfg.train_end).isoformat(),
            "training_incidents": int(history.counts[train_rows].sum()),
            "valid_area": "cells with >= 1 incident up to grid_end",
        },
        "training": {"config": settings},
        "code_version": code_version(),
    }
