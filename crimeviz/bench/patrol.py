"""``python -m crimeviz patrol bench``: time a city-wide plan and compare its coverage with the baselines."""

import statistics
import time

import numpy as np

from crimeviz.patrol import review
from crimeviz.patrol.plan import PlanParams, plan_on_surface, planner_for, risk_for, top_k_plan
from crimeviz.store import grid

TARGET_S = 2.0


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_build(con, params: PlanParams, repeats: int = 5) -> dict:
    """Build time (risk surface + optimisation; first call and median of ``repeats``), and coverage.

    Coverage is the expected share of the shift's incidents for the plan, the top-k
    cells (same number of cells, not contiguous: an upper bound) and the top-k disks
    (the naive contiguous plan); for a past date, also the observed hit rate and PAI.
    """
    first_risk, first_risk_s = _timed(lambda: risk_for(con, params))
    plan, first_opt_s = _timed(lambda: plan_on_surface(params, first_risk))
    risk_s, opt_s = [], []
    for _ in range(repeats):
        risk, t = _timed(lambda: risk_for(con, params))
        risk_s.append(t)
        plan, t = _timed(lambda: plan_on_surface(params, risk))
        opt_s.append(t)
    planner = planner_for(params, risk)
    top_k = risk.lookup([grid.to_int(c) for c in top_k_plan(plan, risk)]).sum()
    expected = {
        "plan": plan.share,
        "top_k_cells": float(top_k) / risk.total,
        "top_k_disks": planner.routed_risk(planner.baseline()) / risk.total,
    }
    out = {
        "date": params.day.isoformat(),
        "shift": params.shift.label(),
        "res": params.res,
        "units": len(plan.beats),
        "cells_in_city": len(risk.cells),
        "cells_in_plan": len(plan.cell_list()),
        "risk_model": risk.model,
        "method": plan.method,
        "first_build_s": round(first_risk_s + first_opt_s, 4),
        "build_s": round(statistics.median(np.add(risk_s, opt_s)), 4),
        "risk_s": round(statistics.median(risk_s), 4),
        "optimise_s": round(statistics.median(opt_s), 4),
        "target_s": TARGET_S,
        "expected_share_of_shift": {k: round(v, 4) for k, v in expected.items()},
    }
    out["within_target"] = bool(out["first_build_s"] <= TARGET_S and out["build_s"] <= TARGET_S)
    try:
        observed = review.review_plan(con, plan)
    except ValueError as exc:
        out["observed"] = str(exc)
    else:
        out["observed"] = {
            row.method: {
                "hit_rate": round(float(row.hit_rate), 4),
                "pai": round(float(row.pai), 2),
                "hits": float(row.hits),
                "incidents": float(row.incidents),
            }
            for row in observed.itertuples()
        }
    return out
