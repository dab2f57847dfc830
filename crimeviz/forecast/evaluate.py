"""Backtest: every method forecasts every day of a period; hotspot metrics and Poisson fit.

Baseline parameters are the defaults in :mod:`crimeviz.forecast.baselines`;
:func:`tune_baselines` re-derives them on the validation year.
"""

import inspect
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from tqdm import tqdm

from crimeviz.forecast import baselines, blend, bootstrap, checkpoint, metrics, shifts
from crimeviz.forecast.frames import ALL, History, cells_with_incidents, grid_mapping, load_history, offences
from crimeviz.forecast.predict import METHODS, load_forecaster, method_intensities
from crimeviz.forecast.protocol import PROTOCOL, Protocol
from crimeviz.forecast.train import code_version

KDE_GRID = {"window": (28, 91, 365, 730), "bandwidth_m": (1000.0, 1150.0, 1300.0, 1700.0)}
PROMAP_GRID = {"max_distance": (1, 2, 3), "weeks": (4, 8, 26, 52)}


def method_report(intensity: np.ndarray, counts: np.ndarray, areas: np.ndarray) -> dict:
    """hit_rate / pai / pei keyed by coverage, plus the Poisson fit."""
    return metrics.hotspot_metrics(intensity, counts, areas) | {"poisson": metrics.poisson_fit(intensity, counts)}


def backtest(
    con,
    start: date,
    end: date,
    methods=tuple(METHODS),
    groups=(ALL,),
    res: int = 8,
    checkpoint_path: Path | str = checkpoint.DEFAULT_CHECKPOINT,
    protocol: Protocol = PROTOCOL,
    tune: bool = False,
    progress: bool = True,
    shift_list: tuple[shifts.Shift, ...] = (),
    resamples: int = bootstrap.RESAMPLES,
) -> dict:
    """Forecast every day ``start..end`` with each method; metrics per offence group.

    Returns ``{"protocol", "groups": {group: {"methods": {method: report}, "diagnostics"}}}``
    where a report holds ``hit_rate``, ``pai`` and ``pei`` keyed by coverage
    (``"5%"``) with ``mean`` (over days) and ``pooled`` values, and ``poisson``.
    With ``tune`` the kernel and ProMap settings are searched on the validation
    year for each group (else the defaults of :mod:`baselines` are used).

    Each group also holds ``bootstrap`` (:func:`crimeviz.forecast.bootstrap.compare`: every
    method's PAI at 5% and 10% against the best baseline, ``resamples`` paired resamples of the
    days). With ``shift_list`` the same is done for each shift (:mod:`~crimeviz.forecast.shifts`)
    under ``"shifts": {name: {"hours", "label", "groups"}}``; CDNA, trained on whole days, is
    scaled by each cell's share of incidents in the shift up to ``train_end``.
    """
    if start <= protocol.train_end:
        raise ValueError(f"the backtest must start after the training period (ends {protocol.train_end})")
    mapping = grid_mapping(cells_with_incidents(con, res, before=protocol.train_end + timedelta(days=1)), res)
    forecaster = load_forecaster(checkpoint_path) if {"cdna", "ensemble"} & set(methods) else None
    names = forecaster.meta["offences"] if forecaster else offences(con)
    history = load_history(con, mapping, end, offence_names=names)
    targets = np.arange(history.index(start), history.index(end) + 1)
    areas = mapping.areas_km2
    cdna, cdna_seconds, cdna_val = None, 0.0, None
    if forecaster is not None:
        began = time.perf_counter()
        cdna = forecaster.intensities(history, targets)
        cdna_seconds = time.perf_counter() - began
        if tune and "ensemble" in methods:  # the ensemble's weights are chosen on the validation year
            cdna_val = forecaster.intensities(history, validation_rows(history, protocol))
    out = {
        "protocol": protocol.describe()
        | {
            "period": f"{start} .. {end}",
            "days": len(targets),
            "h3_resolution": res,
            "valid_cells": mapping.n_cells,
            "valid_area_km2": round(float(areas.sum()), 2),
            "coverages": [metrics.coverage_key(c) for c in metrics.COVERAGES],
            "coverage_rule": "highest-intensity cells until their area reaches the coverage; ties split in expectation",
            "mean": "mean over days with >= 1 incident",
            "pooled": "total hits / total incidents",
            "pei_best": "best hit rate with the same number of cells",
            "baseline_defaults": baseline_params(),
        },
        "code_version": code_version(),
        "groups": {},
    }
    out["groups"] = _evaluate_groups(
        history,
        targets,
        groups,
        methods,
        names,
        cdna,
        cdna_seconds,
        protocol,
        tune,
        progress,
        resamples,
        cdna_val,
    )
    if shift_list:
        out["protocol"]["shift_day"] = "an incident belongs to the day its shift began (03:00 is the previous night)"
        out["shifts"] = {}
    train_rows = history.index(protocol.train_end) + 1
    for shift in shift_list:
        shifted = shifts.load_shift_history(con, mapping, shift, end, history.start, names)
        scale, scale_val = None, None
        if cdna is not None:
            share = {
                g: shifts.shift_share(history.group(g)[:train_rows], shifted.group(g)[:train_rows]) for g in groups
            }
            scale = (cdna, share)
            scale_val = None if cdna_val is None else (cdna_val, share)
        out["shifts"][shift.name] = shift.as_dict() | {
            "groups": _evaluate_groups(
                shifted,
                targets,
                groups,
                methods,
                names,
                scale,
                cdna_seconds,
                protocol,
                tune,
                progress,
                resamples,
                scale_val,
            )
        }
    return out


def _evaluate_groups(
    history, targets, groups, methods, names, cdna, cdna_seconds, protocol, tune, progress, resamples, cdna_val=None
):
    """``{group: {"incidents", "methods", "bootstrap", "baseline_params", "tuning", "diagnostics"}}``.

    ``cdna`` is the ``(days, offences, cells)`` CDNA forecast, or for a shift ``(forecast,
    {group: per-cell shift share})``; ``cdna_val`` the same for the validation year (for the
    ensemble's weights, with ``tune``).
    """
    areas = history.mapping.areas_km2
    result = {}
    for group in tqdm(groups, disable=not progress, desc="backtest", unit="group"):
        counts = history.group(group)[targets]
        tuning = tune_baselines(history, protocol, group) if tune else None
        chosen = {name: _without_score(row) for name, row in tuning["best"].items()} if tune else {}
        if tune and "ensemble" in methods:
            tuning["ensemble"] = tune_ensemble(history, protocol, group, _group_cdna(cdna_val, group, names), chosen)
            chosen["ensemble"] = _without_score(tuning["ensemble"]["best"])
        reports, per_day, lams = {}, {}, {}
        for method in methods:
            began = time.perf_counter()
            lam = _forecast(method, lams, history, targets, group, names, cdna, chosen, protocol)
            seconds = cdna_seconds if method == "cdna" else time.perf_counter() - began
            reports[method] = (
                {"label": METHODS[method]} | method_report(lam, counts, areas) | {"seconds": round(seconds, 2)}
            )
            per_day[method] = {
                metrics.coverage_key(c): bootstrap.daily_pai(lam, counts, areas, c) for c in bootstrap.COVERAGES
            }
        oracle = np.broadcast_to(counts.mean(axis=0), counts.shape)
        result[group] = {
            "incidents": int(counts.sum()),
            "methods": reports,
            "bootstrap": bootstrap.compare(per_day, resamples),
            "baseline_params": baseline_params() | chosen,
            "tuning": tuning,
            "diagnostics": {
                "oracle_static": {
                    "label": "Mean daily count of the evaluation period itself: NOT a forecast "
                    "(uses the future); the ceiling for any map that does not change by day"
                }
                | method_report(oracle, counts, areas)
            },
        }
    return result


def _forecast(method, lams, history, targets, group, names, cdna, chosen, protocol) -> np.ndarray:
    """A method's intensities on the target days, kept in ``lams`` (the ensemble reuses its components')."""
    if method not in lams:
        if method == "cdna":
            lams[method] = _group_cdna(cdna, group, names)
        elif method == "ensemble":
            weights = chosen.get("ensemble", blend.ENSEMBLE_DEFAULTS)
            parts = {
                m: _forecast(m, lams, history, targets, group, names, cdna, chosen, protocol)
                for m, w in weights.items()
                if w
            }
            lams[method] = blend.combine(parts, weights)
        else:
            lams[method] = method_intensities(
                method, history, targets, group, train_end=protocol.train_end, options=chosen.get(method)
            )
    return lams[method]


def _group_cdna(cdna, group: str, names: list[str]) -> np.ndarray:
    """One group's CDNA forecast from ``(days, offences, cells)``, or ``(that, shift shares)`` on a shift."""
    day_lam, share = cdna if isinstance(cdna, tuple) else (cdna, None)
    lam = day_lam.sum(axis=1) if group == ALL else day_lam[:, names.index(group)]
    return lam if share is None else lam * share[group]


def validation_rows(history: History, protocol: Protocol = PROTOCOL) -> np.ndarray:
    """History rows of the validation year."""
    return np.arange(history.index(protocol.val_start), history.index(protocol.val_end) + 1)


def tune_ensemble(history: History, protocol: Protocol, group: str, cdna_val: np.ndarray, chosen: dict) -> dict:
    """The ensemble's weights chosen on the validation year (:func:`blend.tune_ensemble`).

    ``cdna_val`` is CDNA's forecast of the validation days for ``group``; the baselines use the
    settings in ``chosen`` (from :func:`tune_baselines`). Nothing after the validation year is read.
    """
    rows = validation_rows(history, protocol)
    seen = History(history.mapping, history.offences, history.start, history.counts[: rows.max() + 1])
    parts = {
        name: cdna_val
        if name == "cdna"
        else method_intensities(name, seen, rows, group, train_end=protocol.train_end, options=chosen.get(name))
        for name in blend.ENSEMBLE_COMPONENTS
    }
    return blend.tune_ensemble(parts, seen.group(group)[rows], history.mapping.areas_km2)


def baseline_params() -> dict:
    """The default baseline settings (see :mod:`baselines`)."""

    def defaults(fn):
        return {
            name: p.default
            for name, p in inspect.signature(fn).parameters.items()
            if p.default is not inspect.Parameter.empty
        }

    return {
        "retro_kde": defaults(baselines.retrospective_hotspot),
        "promap": defaults(baselines.promap),
        "sepp": "EM fit on the training period, parameters then fixed",
        "selfexc": dict(blend.SELFEXC_DEFAULTS),
        "ensemble": dict(blend.ENSEMBLE_DEFAULTS),
    }


def _without_score(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "score"}


def tune_baselines(history: History, protocol: Protocol = PROTOCOL, group: str = ALL) -> dict:
    """Grid search of the kernel, ProMap and self-exciting settings on the validation year (mean PAI at 5% and 10%)."""
    targets = np.arange(history.index(protocol.val_start), history.index(protocol.val_end) + 1)
    counts = history.group(group)
    areas = history.mapping.areas_km2

    def score(lam):
        pai = metrics.hotspot_metrics(lam, counts[targets], areas, (0.05, 0.10))["pai"]
        return (pai["5%"]["mean"] + pai["10%"]["mean"]) / 2

    table = {"retro_kde": [], "promap": []}
    for window in KDE_GRID["window"]:
        for bandwidth in KDE_GRID["bandwidth_m"]:
            lam = baselines.retrospective_hotspot(counts, targets, history.mapping, window, bandwidth)
            table["retro_kde"].append({"window": window, "bandwidth_m": bandwidth, "score": score(lam)})
    for distance in PROMAP_GRID["max_distance"]:
        for weeks in PROMAP_GRID["weeks"]:
            lam = baselines.promap(counts, targets, history.mapping, distance, weeks)
            table["promap"].append({"max_distance": distance, "weeks": weeks, "score": score(lam)})
    table["selfexc"] = blend.tune_self_exciting(counts, targets, history.mapping)["table"]
    best = {name: max(rows, key=lambda r: r["score"]) for name, rows in table.items()}
    return {"criterion": "mean of validation PAI at 5% and 10%", "best": best, "table": table}
