"""Review: how much of what actually happened in a shift the plan's cells covered.

For each compared selection of cells:

- hit rate: share of the shift's incidents (of the offences with a positive
  priority) that occurred inside the selected cells;
- PAI (predictive accuracy index, Chainey et al. 2008): hit rate ÷ the selected
  cells' share of the study area's area.

Compared selections: the plan (beats on its risk source), the naive top-k plan (as
many cells as the plan, the riskiest ones of the same surface, not contiguous) and
a plan built by the same method from historical counts only.
"""

from dataclasses import replace
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from crimeviz.patrol.plan import Plan, PlanParams, area_zones, plan_on_surface, top_k_plan
from crimeviz.patrol.risk import HISTORICAL, PlanError, RiskSurface, ShiftHistory, surface
from crimeviz.store import counts, grid

MAX_PERIOD_DAYS = 92
PLAN, TOP_K, HISTORICAL_PLAN = "plan", "top-k cells", "historical plan"


def last_observed(con) -> datetime:
    """Midnight after the last day with a stored incident: shifts ending later are not over yet."""
    last = counts.last_incident(con)
    if last is None:
        raise PlanError("the incident store is empty")
    return datetime.combine(last.date() + timedelta(days=1), datetime.min.time())


def check_reviewable(con, params: PlanParams, last_day: date | None = None) -> None:
    """PlanError unless the shifts from ``params.day`` to ``last_day`` are over in the data."""
    end = params.shift.window(last_day or params.day)[1]
    observed = last_observed(con)
    if end > observed:
        raise PlanError(
            f"the {params.shift.name} shift of {last_day or params.day} ends after the last recorded "
            f"incidents ({observed.date() - timedelta(days=1)}): it can be reviewed once its data are in"
        )


def hit_metrics(cells: list[str], observed: np.ndarray, study: np.ndarray, areas: np.ndarray) -> dict:
    """Hits, incidents, hit rate, area share and PAI of the hex ``cells`` against ``observed`` per study cell."""
    chosen = np.isin(study, np.array([grid.to_int(c) for c in cells], dtype=np.uint64))
    incidents = float(observed.sum())
    hits = float(observed[chosen].sum())
    area_share = float(areas[chosen].sum() / areas.sum())
    rate = hits / incidents if incidents > 0 else np.nan
    return {
        "hits": hits,
        "incidents": incidents,
        "hit_rate": rate,
        "area_share": area_share,
        "pai": rate / area_share if area_share > 0 else np.nan,
    }


def _compare(
    plan: Plan,
    risk: RiskSurface,
    historical: Plan | None,
    history: ShiftHistory,
    areas: np.ndarray,
    zones: np.ndarray | None = None,
) -> list[dict]:
    observed = history.observed(plan.params.day)
    picks = {PLAN: plan.cell_list(), TOP_K: top_k_plan(plan, risk, zones)}
    if historical is not None:
        picks[HISTORICAL_PLAN] = historical.cell_list()
    rows = []
    for name, cells in picks.items():
        rows.append(
            {
                "day": plan.params.day,
                "method": name,
                "cells": len(cells),
                "expected": float(risk.lookup([grid.to_int(c) for c in cells]).sum()),
                **hit_metrics(cells, observed, history.cells, areas),
            }
        )
    return rows


def review_plan(con, plan: Plan) -> pd.DataFrame:
    """One row per compared selection for a plan whose shift is over (saved or just built)."""
    params = plan.params
    check_reviewable(con, params)
    history = ShiftHistory(con, params.res, params.shift, params.weight_map, params.day, params.day)
    risk = surface(con, history, params.day, params.source)
    zones = area_zones(con, params, risk.cells)
    historical = None
    if params.source != HISTORICAL:
        past = history.historical(params.day)
        historical = plan_on_surface(params, past, zones=area_zones(con, params, past.cells))
    return pd.DataFrame(_compare(plan, risk, historical, history, _areas(history), zones))


def _areas(history: ShiftHistory) -> np.ndarray:
    return grid.cell_area_km2(history.cells)


def review_period(con, template: PlanParams, start: date, end: date) -> pd.DataFrame:
    """Plans built for every day ``start``..``end`` with ``template``'s settings, compared with what happened.

    One row per day and selection (see module doc); ``expected`` is the risk the
    selection covers on that day's surface.
    """
    if end < start:
        raise PlanError(f"the end date {end} is before the start date {start}")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise PlanError(f"review at most {MAX_PERIOD_DAYS} days at a time")
    check_reviewable(con, template, end)
    history = ShiftHistory(con, template.res, template.shift, template.weight_map, start, end)
    areas = _areas(history)
    rows = []
    for offset in range((end - start).days + 1):
        params = replace(template, day=start + timedelta(days=offset))
        risk = surface(con, history, params.day, params.source)
        zones = area_zones(con, params, risk.cells)
        plan = plan_on_surface(params, risk, zones=zones)
        historical = None
        if params.source != HISTORICAL:
            past = history.historical(params.day)
            historical = plan_on_surface(params, past, zones=area_zones(con, params, past.cells))
        rows += _compare(plan, risk, historical, history, areas, zones)
    return pd.DataFrame(rows)


def period_summary(daily: pd.DataFrame) -> pd.DataFrame:
    """Per selection: days, incidents, mean and pooled hit rate, mean PAI, mean area share."""

    def agg(part):
        return pd.Series(
            {
                "days": part["day"].nunique(),
                "incidents": part["incidents"].sum(),
                "hits": part["hits"].sum(),
                "mean_hit_rate": part["hit_rate"].mean(),
                "pooled_hit_rate": part["hits"].sum() / part["incidents"].sum()
                if part["incidents"].sum() > 0
                else np.nan,
                "mean_pai": part["pai"].mean(),
                "area_share": part["area_share"].mean(),
            }
        )

    order = [m for m in (PLAN, TOP_K, HISTORICAL_PLAN) if m in set(daily["method"])]
    return pd.DataFrame({m: agg(daily[daily["method"] == m]) for m in order}).T.rename_axis("method").reset_index()
