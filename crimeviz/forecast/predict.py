"""Forecasts for a day from any method (CDNA or a baseline), as the Forecast page shows them."""

import hashlib
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from crimeviz.forecast import baselines, blend, checkpoint, shifts
from crimeviz.forecast.frames import (
    ALL,
    GridMapping,
    History,
    cells_with_incidents,
    grid_mapping,
    load_history,
    offences,
)
from crimeviz.forecast.inputs import MAX_LEAD
from crimeviz.forecast.protocol import PROTOCOL
from crimeviz.store import counts

METHODS = {  # short names: the method select, the legends and the backtest table all show these
    "cdna": "CDNA (trained checkpoint)",  # video prediction, Finn et al. 2016
    "mc365": "Moving count, 365 days",
    "mc28": "Moving count, 28 days",
    "mc7": "Moving count, 7 days",
    "persistence": "Persistence (yesterday)",
    "retro_kde": "Quartic-kernel hotspot",  # retrospective
    "promap": "ProMap (prospective)",  # Bowers, Johnson & Pease 2004
    "sepp": "Grid SEPP",  # self-exciting point process, Mohler et al. 2015
    "selfexc": "Self-exciting hotspot",  # blend.self_exciting, Mohler et al. 2011
    "ensemble": "Ensemble (CDNA + baselines)",  # blend.tune_ensemble, weights chosen on 2020
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
    ``options`` overrides the keyword defaults of ``retro_kde``, ``promap`` and ``selfexc``, and
    for ``ensemble`` gives the weight of each component (default :data:`blend.ENSEMBLE_DEFAULTS`).
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
    if method == "ensemble":
        weights = options or blend.ENSEMBLE_DEFAULTS
        parts = {
            name: method_intensities(name, history, targets, offence_group, lead, forecaster, train_end)
            for name, weight in weights.items()
            if weight
        }
        return blend.combine(parts, weights)
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
    if method == "selfexc":
        return blend.self_exciting(counts, known, history.mapping, **options)
    return fit_sepp(history, offence_group, train_end).intensity(counts, known)


def store_grid(con, res: int, day: date) -> GridMapping:
    """The store's grid for forecasting ``day``: every cell with an incident before it."""
    return grid_mapping(cells_with_incidents(con, res, before=day), res)


def unseen_by(forecaster: checkpoint.CDNAForecaster, con, day: date) -> dict:
    """What the store holds before ``day`` that a checkpoint never saw.

    ``cells`` / ``outside_cells``: cells with incidents, and those outside the
    checkpoint's grid; ``incidents`` / ``outside_incidents``: incidents, and those in
    such cells or of offences it was not trained on (``unknown_offences``).
    """
    mapping, known = forecaster.mapping, set(forecaster.meta["offences"])
    frame = counts.counts_by_cell_and_offence(con, mapping.res, day)
    outside = mapping.index_of(frame["cell"].to_numpy(dtype=np.uint64)) < 0
    unknown = ~frame["offence"].isin(known).to_numpy()
    return {
        "cells": int(frame["cell"].nunique()),
        "outside_cells": int(frame.loc[outside, "cell"].nunique()),
        "incidents": int(frame["n"].sum()),
        "outside_incidents": int(frame.loc[outside | unknown, "n"].sum()),
        "unknown_offences": sorted(frame.loc[unknown, "offence"].unique().tolist()),
    }


def unseen_warning(unseen: dict) -> str | None:
    """One line on what a CDNA checkpoint leaves out of its forecast (None when it sees everything)."""
    if not unseen["outside_incidents"]:
        return None
    reasons = []
    if unseen["outside_cells"]:
        reasons.append(f"{unseen['outside_cells']:,} of {unseen['cells']:,} cells with incidents lie outside its grid")
    if unseen["unknown_offences"]:
        reasons.append(f"{len(unseen['unknown_offences'])} offence types are new to it")
    return (
        f"The CDNA checkpoint never saw {unseen['outside_incidents']:,} of {unseen['incidents']:,} incidents "
        f"({'; '.join(reasons)}): its forecast leaves them out. Retrain it for these data, or choose a "
        "baseline (baselines use the store's current grid)."
    )


def _data_until(con, day: date) -> tuple[date, int]:
    """The last day of data a forecast of ``day`` may use, and how many days ahead ``day`` is."""
    last = counts.last_incident(con, before=day)
    if last is None:
        raise ValueError(f"no incidents before {day} to forecast from")
    data_until = min(last.date(), day - timedelta(days=1))
    lead = (day - data_until).days
    if lead > MAX_LEAD:
        raise ValueError(f"the data end on {data_until}: forecasts reach at most {MAX_LEAD} days past that")
    return data_until, lead


def forecast_for_date(
    con,
    day: date,
    offence_group: str = ALL,
    method: str = "cdna",
    res: int = 8,
    checkpoint_path: Path | str | None = None,
    shift: str | None = None,
) -> pd.DataFrame:
    """Forecast of ``day`` from incidents strictly before it (or before the end of the data).

    With ``shift`` (a name from :func:`crimeviz.forecast.shifts.configured`) the forecast is for
    that shift of ``day``: baselines run on the shift's own daily counts, CDNA's whole-day
    forecast is scaled by each cell's share of its incidents in the shift.

    Returns one row per cell, highest intensity first: ``cell`` (H3 hex),
    ``intensity`` (expected incidents that day) and ``rank`` (1 = hottest). When
    the store ends before ``day - 1`` the forecast is ``lead`` days ahead (≤ 7);
    ``df.attrs`` holds ``method``, ``offence_group``, ``lead``, ``data_until`` and, for
    CDNA, ``checkpoint`` and ``unseen`` (:func:`unseen_by`).
    Baselines cover the store's grid (:func:`store_grid`); CDNA covers its checkpoint's
    (default: the app's).
    """
    if method == "ensemble":
        return _ensemble_for_date(con, day, offence_group, res, checkpoint_path, shift)
    data_until, lead = _data_until(con, day)
    forecaster = None
    if method == "cdna":
        checkpoint_path = Path(checkpoint_path or checkpoint.app_checkpoint())
        forecaster = load_forecaster(checkpoint_path)
        if forecaster.meta["res"] != res:
            raise ValueError(f"the CDNA checkpoint is for H3 resolution {forecaster.meta['res']}, not {res}")
        mapping, names = forecaster.mapping, forecaster.meta["offences"]
        if offence_group not in (ALL, *names):
            raise ValueError(f"the CDNA checkpoint was not trained on {offence_group!r}: choose a baseline")
    else:
        mapping, names = store_grid(con, res, day), offences(con)
    history = load_history(con, mapping, data_until, offence_names=names)
    train_end = min(PROTOCOL.train_end, data_until)
    chosen = shifts.by_name(shift) if shift else None
    if chosen is not None and method != "cdna":
        history = shifts.load_shift_history(con, mapping, chosen, data_until, history.start, names)
    lam = method_intensities(method, history, [history.index(day)], offence_group, lead, forecaster, train_end)[0]
    if chosen is not None and method == "cdna":
        shifted = shifts.load_shift_history(con, mapping, chosen, data_until, history.start, names)
        lam = lam * shifts.shift_share(history.group(offence_group), shifted.group(offence_group))
    order = np.argsort(-lam, kind="stable")
    frame = pd.DataFrame(
        {"cell": np.asarray(mapping.hex())[order], "intensity": lam[order], "rank": np.arange(1, len(order) + 1)}
    )
    frame.attrs = {"method": method, "offence_group": offence_group, "lead": lead, "data_until": data_until.isoformat()}
    if chosen is not None:
        frame.attrs["shift"] = chosen.as_dict()
    if forecaster is not None:
        commit = forecaster.meta["code_version"].get("git_commit") or "unknown commit"
        frame.attrs["checkpoint"] = f"{checkpoint_path.name} ({commit[:7]})"
        frame.attrs["unseen"] = unseen_by(forecaster, con, day)
    return frame


def _ensemble_for_date(con, day, offence_group, res, checkpoint_path, shift) -> pd.DataFrame:
    """The ensemble over the store's grid: each component's :func:`forecast_for_date`, weighted.

    CDNA adds nothing in cells outside its checkpoint's grid; on a shift each component is
    forecast as it would be alone (baselines on the shift's counts, CDNA scaled by shift share).
    """
    cells = store_grid(con, res, day).hex()
    total = pd.Series(0.0, index=cells)
    attrs = {}
    for name, weight in blend.ENSEMBLE_DEFAULTS.items():
        if not weight:
            continue
        part = forecast_for_date(con, day, offence_group, name, res, checkpoint_path, shift)
        total = total.add(weight * part.set_index("cell")["intensity"].reindex(cells, fill_value=0.0))
        attrs = part.attrs | attrs if name == "cdna" else attrs | part.attrs
    order = np.argsort(-total.to_numpy(), kind="stable")
    frame = pd.DataFrame(
        {"cell": total.index[order], "intensity": total.to_numpy()[order], "rank": np.arange(1, len(order) + 1)}
    )
    frame.attrs = attrs | {"method": "ensemble", "weights": dict(blend.ENSEMBLE_DEFAULTS)}
    return frame


def forecast_json(
    con,
    day: date,
    method: str = "cdna",
    offence_group: str = ALL,
    res: int = 8,
    checkpoint_path: Path | str | None = None,
    shift: str | None = None,
) -> dict:
    """:func:`forecast_for_date` in plain types, over the store's grid (:func:`store_grid`).

    ``cells`` lists each cell (H3 hex) with its ``expected`` incidents that day: null
    where a CDNA checkpoint has no such cell (``unseen`` and ``warning`` say how much it misses).
    """
    frame = forecast_for_date(con, day, offence_group, method, res, checkpoint_path, shift)
    expected = dict(zip(frame["cell"], frame["intensity"].astype(float)))
    out = {"date": day.isoformat(), "method": method} | frame.attrs
    out["cells"] = [{"cell": cell, "expected": expected.get(cell)} for cell in store_grid(con, res, day).hex()]
    if "unseen" in frame.attrs:
        out["warning"] = unseen_warning(frame.attrs["unseen"])
    return out
