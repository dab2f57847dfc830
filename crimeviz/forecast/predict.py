"""Forecasts for a day from any method (CDNA or a baseline), as the Forecast page shows them."""

import hashlib
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from crimeviz.forecast import baselines, checkpoint
from crimeviz.forecast.frames import ALL, History, cells_with_incidents, grid_mapping, load_history, offences
from crimeviz.forecast.inputs import MAX_LEAD
from crimeviz.forecast.protocol import PROTOCOL

METHODS = {
    "cdna": "CDNA video prediction (Finn et al. 2016), trained checkpoint",
    "mc365": "Moving count, last 365 days",
    "mc28": "Moving count, last 28 days",
    "mc7": "Moving count, last 7 days",
    "persistence": "Persistence (yesterday's counts)",
    "retro_kde": "Retrospective quartic-kernel hotspot",
    "promap": "Prospective hotspot (ProMap)",
    "sepp": "Grid self-exciting point process (Mohler et al. 2015)",
}


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> checkpoint.CDNAForecaster:
    return checkpoint.load(path)


def load_forecaster(path: Path | str | None = None) -> checkpoint.CDNAForecaster:
    """The CDNA forecaster in ``path`` (default: the app's), cached until the file changes."""
    path = Path(path or checkpoint.app_checkpoint())
    if not path.exists():
        raise FileNotFoundError(
            f"no CDNA checkpoint at {path}: train one with `python -m crimeviz forecast train "
            f"--out {path}`, or set CRIMEVIZ_CDNA_CHECKPOINT to another"
        )
    return _load(str(path), path.stat().st_mtime)


_SEPP_FITS: dict[str, baselines.SEPP] = {}


def fit_sepp(history: History, offence_group: str, train_end: date = PROTOCOL.train_end) -> baselines.SEPP:
    """The SEPP fitted by EM on the history up to ``train_end`` (cached per training data).

    A history that starts after ``train_end`` is fitted whole.
    """
    rows = history.index(train_end) + 1 if train_end >= history.start else history.n_days
    train = history.group(offence_group)[:rows]
    key = hashlib.sha1(np.ascontiguousarray(train).tobytes()).hexdigest()
    if key not in _SEPP_FITS:
        _SEPP_FITS[key] = baselines.SEPP.fit(train)
    return _SEPP_FITS[key]


def method_intensities(
    method: str,
    history: History,
    targets,
    offence_group: str = ALL,
    lead: int = 1,
    forecaster: checkpoint.CDNAForecaster | None = None,
    train_end: date = PROTOCOL.train_end,
    options: dict | None = None,
) -> np.ndarray:
    """``(len(targets), cells)`` expected incidents on each target row of ``history``.

    Every method uses only the days up to ``lead`` days before a target; the SEPP
    is fitted on the history up to ``train_end`` and then applied causally.
    ``options`` overrides the keyword defaults of ``retro_kde`` and ``promap``.
    """
    options = options or {}
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    targets = np.asarray(targets)
    if method == "cdna":
        forecaster = forecaster or load_forecaster()
        lam = forecaster.intensities(history, targets, lead)
        names = history.offences
        return lam.sum(axis=1) if offence_group == ALL else lam[:, names.index(offence_group)]
    counts = history.group(offence_group)
    known = targets - lead + 1  # a baseline forecasts as if the first unknown day were the target
    if method == "persistence":
        return baselines.persistence(counts, known)
    if method.startswith("mc"):
        return baselines.moving_count(counts, known, int(method[2:]))
    if method == "retro_kde":
        return baselines.retrospective_hotspot(counts, known, history.mapping, **options)
    if method == "promap":
        return baselines.promap(counts, known, history.mapping, **options)
    return fit_sepp(history, offence_group, train_end).intensity(counts, known)


def forecast_for_date(
    con,
    day: date,
    offence_group: str = ALL,
    method: str = "cdna",
    res: int = 8,
    checkpoint_path: Path | str | None = None,
) -> pd.DataFrame:
    """Forecast of ``day`` from incidents strictly before it (or before the end of the data).

    Returns one row per cell, highest intensity first: ``cell`` (H3 hex),
    ``intensity`` (expected incidents that day) and ``rank`` (1 = hottest). When
    the store ends before ``day - 1`` the forecast is ``lead`` days ahead (≤ 7);
    ``df.attrs`` holds ``method``, ``offence_group``, ``lead``, ``data_until`` and, for
    CDNA, ``checkpoint``.
    The grid is the checkpoint's (default: the app's) when ``res`` matches it, else every
    cell with an incident before ``day``.
    """
    checkpoint_path = Path(checkpoint_path or checkpoint.app_checkpoint())
    last = con.execute("SELECT max(occurred_at) FROM incidents WHERE occurred_at < ?", [day]).fetchall()[0][0]
    if last is None:
        raise ValueError(f"no incidents before {day} to forecast from")
    data_until = min(last.date(), day - timedelta(days=1))
    lead = (day - data_until).days
    if lead > MAX_LEAD:
        raise ValueError(f"the data end on {data_until}: forecasts reach at most {MAX_LEAD} days past that")
    forecaster = load_forecaster(checkpoint_path) if method == "cdna" or checkpoint_path.exists() else None
    if forecaster is not None and forecaster.meta["res"] == res:
        mapping, names = forecaster.mapping, forecaster.meta["offences"]
    elif method == "cdna":
        raise ValueError(f"the CDNA checkpoint is for H3 resolution {forecaster.meta['res']}, not {res}")
    else:
        mapping, names = grid_mapping(cells_with_incidents(con, res, before=day), res), offences(con)
    history = load_history(con, mapping, data_until, offence_names=names)
    train_end = min(PROTOCOL.train_end, data_until)
    lam = method_intensities(method, history, [history.index(day)], offence_group, lead, forecaster, train_end)[0]
    order = np.argsort(-lam, kind="stable")
    frame = pd.DataFrame(
        {"cell": np.asarray(mapping.hex())[order], "intensity": lam[order], "rank": np.arange(1, len(order) + 1)}
    )
    frame.attrs = {"method": method, "offence_group": offence_group, "lead": lead, "data_until": data_until.isoformat()}
    if method == "cdna":
        commit = forecaster.meta["code_version"].get("git_commit") or "unknown commit"
        frame.attrs["checkpoint"] = f"{checkpoint_path.name} ({commit[:7]})"
    return frame
