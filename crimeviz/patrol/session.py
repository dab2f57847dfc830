"""The Patrol page's working state, kept in a session mapping (Streamlit's session state on the page).

- The plan settings are remembered, so that they survive a visit to another page (Streamlit
  forgets the values of widgets that a run does not draw).
- The saved plan on screen is named under ``LINKED`` for share links; a link naming another saved
  plan opens it.
- The plan on screen is built from the settings or opened from the store; once the settings
  change it is *stale*: still shown, but it can be neither saved nor approved.
- Save, approve and reopen, with the four-eyes rule (see :func:`crimeviz.patrol.store.set_status`),
  each leaving a notice for the next run to confirm what was done.

A plan with ``updated_at`` unset has changes the store has not seen (new, rebuilt or edited).
"""

import json
from collections.abc import MutableMapping
from dataclasses import replace
from datetime import date

import pandas as pd

from crimeviz.patrol import review, store
from crimeviz.patrol.plan import Plan, PlanParams, area_zones, assign_cell, build_plan, parse_cells, remove_cell
from crimeviz.patrol.risk import PlanError, RiskSurface

PLAN, NOTICE, REMEMBERED, CLICKED = "patrol_plan", "patrol_notice", "patrol_settings", "patrol_clicked"
LINKED = "patrol_linked"
SETTINGS = (
    "patrol_date",
    "patrol_shift",
    "patrol_source",
    "patrol_res",
    "patrol_units",
    "patrol_minutes",
    "patrol_max_cells",
    "patrol_max_area",
    "patrol_speed",
    "patrol_ex_hoods",
    "patrol_ex_cells",
    "patrol_area_layer",
    "patrol_areas",
    "patrol_one_area",
    "patrol_show_risk",
    "patrol_review_period",
)
SETTINGS_PER_CHOICE = ("patrol_start_", "patrol_hours_", "patrol_per_cell_", "patrol_w_")  # + shift, res, offence


def _is_setting(key) -> bool:
    return isinstance(key, str) and (key in SETTINGS or key.startswith(SETTINGS_PER_CHOICE))


def restore_settings(state: MutableMapping) -> None:
    """Put back the settings remembered on an earlier run that the session has since dropped."""
    for key, value in state.get(REMEMBERED, {}).items():
        if key not in state:
            state[key] = value


def remember_settings(state: MutableMapping) -> None:
    """Remember the settings as they are now (call after the settings' widgets are drawn)."""
    state[REMEMBERED] = {key: state[key] for key in list(state.keys()) if _is_setting(key)}


def excluded_cells(names: dict[str, str], neighbourhoods: list[str], typed: str) -> tuple[str, ...]:
    """The cells of the chosen ``neighbourhoods`` (``names``: cell → neighbourhood), then the ``typed`` ones."""
    chosen = set(neighbourhoods)
    return tuple(dict.fromkeys([c for c, n in names.items() if n in chosen] + list(parse_cells(typed))))


def _canonical(params: PlanParams) -> dict:
    raw = json.loads(params.to_json())
    raw["minutes_per_cell"] = params.limits().minutes_per_cell
    raw["weights"] = {k: v for k, v in raw["weights"].items() if v != 1.0}
    raw["excluded"] = sorted(raw["excluded"])
    return raw


def is_stale(plan: Plan, params: PlanParams | None) -> bool:
    """Whether the settings ``params`` (None: unusable) differ from those ``plan`` was built with.

    Priorities of 1 (the default) and the order of excluded cells do not count.
    """
    return params is None or _canonical(plan.params) != _canonical(params)


def unsaved(plan: Plan) -> bool:
    return plan.plan_id is None or plan.updated_at is None


def update_plan(state: MutableMapping, con, params: PlanParams, by: str, new: bool, rebuild: bool) -> None:
    """Build the plan on screen when asked (``new``; ``rebuild``: keep the saved draft's number and creator)
    or when there is none yet. PlanError when ``params`` give no plan; the old plan is then gone."""
    current = state.get(PLAN)
    if not (new or rebuild or current is None):
        return
    try:
        plan = build_plan(con, params, by)
    except ValueError:
        state.pop(PLAN, None)
        raise
    if rebuild and current is not None:
        plan = replace(plan, plan_id=current.plan_id, created_by=current.created_by, created_at=current.created_at)
    state[PLAN] = plan


def open_plan(state: MutableMapping, con, plan_id: int, offences: list[str], sources: list[str]) -> None:
    """Show a saved plan and put its settings in the sidebar (a source no longer offered leaves it stale)."""
    plan = store.load_plan(con, plan_id)
    p, limits = plan.params, plan.params.limits()
    state.update(
        {
            PLAN: plan,
            "patrol_date": p.day,
            "patrol_shift": p.shift.name,
            f"patrol_start_{p.shift.name}": p.shift.start,
            f"patrol_hours_{p.shift.name}": p.shift.hours,
            "patrol_res": p.res,
            "patrol_units": p.units,
            "patrol_minutes": int(p.patrol_minutes),
            f"patrol_per_cell_{p.res}": int(limits.minutes_per_cell),
            "patrol_max_cells": p.max_cells,
            "patrol_max_area": p.max_area_km2 or 0.0,
            "patrol_speed": int(p.speed_kmh),
            "patrol_ex_hoods": [],
            "patrol_ex_cells": "\n".join(p.excluded),
            "patrol_areas": list(p.areas),
            "patrol_one_area": p.one_area_per_unit,
            **{f"patrol_w_{o}": p.weight_map.get(o, 1.0) for o in offences},
        }
    )
    if p.source in sources:
        state["patrol_source"] = p.source
    if p.area_layer:
        state["patrol_area_layer"] = p.area_layer


def link_plan(state: MutableMapping) -> None:
    """Name the saved plan on screen under ``LINKED`` (none: no plan, or one never saved)."""
    plan = state.get(PLAN)
    if plan is not None and plan.plan_id is not None:
        state[LINKED] = plan.plan_id
    else:
        state.pop(LINKED, None)


def open_linked(state: MutableMapping, con, offences: list[str], sources: list[str]) -> None:
    """Open the saved plan named under ``LINKED`` (by a link) unless it is the one on screen."""
    wanted, plan = state.get(LINKED), state.get(PLAN)
    if wanted is not None and (plan is None or plan.plan_id != wanted):
        open_plan(state, con, wanted, offences, sources)


def approval_barrier(con, plan: Plan, by: str, four_eyes: bool, stale: bool) -> str | None:
    """Why ``by`` cannot approve ``plan`` now, in words for the page; None when they can."""
    if plan.status != "draft":
        return "the plan is approved"
    if stale:
        return "the plan does not match the settings in the sidebar"
    if not four_eyes:
        return None
    if unsaved(plan):
        return "save the plan first: under the four-eyes rule a second commander approves the saved plan"
    if by in store.authors(con, plan.plan_id):
        return f"under the four-eyes rule another commander must approve it: {by} created or saved this plan"
    return None


def save(state: MutableMapping, con, by: str) -> None:
    """Save the plan on screen as a draft."""
    state[PLAN] = store.save_plan(con, state[PLAN], by)
    state[NOTICE] = f"Plan #{state[PLAN].plan_id} saved as a draft."


def approve(state: MutableMapping, con, by: str, four_eyes: bool) -> None:
    """Approve the plan on screen; without four-eyes, saving it first if it has unsaved changes."""
    plan = state[PLAN]
    if unsaved(plan):
        if four_eyes:
            raise PlanError("save the plan first: under the four-eyes rule a second commander approves the saved plan")
        plan = store.save_plan(con, plan, by)
    state[PLAN] = store.set_status(con, plan.plan_id, "approved", by, four_eyes=four_eyes, seen=plan.updated_at)
    state[NOTICE] = f"Plan #{plan.plan_id} approved by {by}."


def reopen(state: MutableMapping, con, by: str) -> None:
    """Make the approved plan on screen a draft again."""
    state[PLAN] = store.set_status(con, state[PLAN].plan_id, "draft", by, four_eyes=False)
    state[NOTICE] = f"Plan #{state[PLAN].plan_id} reopened as a draft."


def take_clicked_cell(state: MutableMapping, objects: dict, edit_key: str) -> None:
    """Put a cell newly clicked on the map (``objects``: the selection per layer) into the edit field."""
    clicked = [o.get("cell") for layer in ("patrol-beats", "patrol-risk") for o in (objects.get(layer) or [])]
    if clicked and clicked[0] != state.get(CLICKED):
        state[CLICKED] = state[edit_key] = clicked[0]


def assign(state: MutableMapping, risk: RiskSurface, cell: str, unit: int, con=None) -> None:
    """Put ``cell`` in ``unit``'s beat; with ``con``, a plan that keeps to areas checks the cell's area."""
    plan = state[PLAN]
    zones = None
    if con is not None and plan.params.by_area:
        cells = [cell, *plan.beat(unit).cells]
        zones = dict(zip(cells, area_zones(con, plan.params, cells).tolist()))
    state[PLAN] = replace(assign_cell(plan, risk, cell, unit, zones), updated_at=None)


def remove(state: MutableMapping, cell: str) -> None:
    state[PLAN] = replace(remove_cell(state[PLAN], cell), updated_at=None)


def review_period(con, params: PlanParams, period) -> pd.DataFrame:
    """Plans for every day of ``period`` (a date-input value: two days) with the settings ``params``."""
    if not isinstance(period, (tuple, list)) or len(period) != 2 or not all(isinstance(d, date) for d in period):
        raise PlanError("pick the last day of the period too")
    return review.review_period(con, replace(params, day=period[0]), *period)
