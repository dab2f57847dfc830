"""Patrol plans: parameters, the plan (beats with routes and coverage), building and editing."""

import getpass
import json
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime

import numpy as np
import pandas as pd
from h3.api import basic_int as h3int

from crimeviz.patrol import beats as beats_mod
from crimeviz.patrol.risk import HISTORICAL, SHIFTS, PlanError, RiskSurface, Shift, ShiftHistory, surface
from crimeviz.store import areas as area_store
from crimeviz.store import grid

PLAN_RESOLUTIONS = (8, 9)
MINUTES_PER_CELL = {8: 40.0, 9: 15.0}  # default time a unit spends in one cell
STATUSES = ("draft", "approved")


def default_user() -> str:
    """``$USER`` (or the login name), else ``unknown``; sign-in will pass the real user later."""
    try:
        return getpass.getuser() or "unknown"
    except (OSError, KeyError):
        return "unknown"


@dataclass(frozen=True)
class PlanParams:
    """Everything a plan is built from. ``weights`` pairs offence → priority (absent: 1).

    Areas a commander picks: with ``area_layer`` and ``areas``, only cells whose centre lies in
    those areas of the layer are patrolled (``store.areas.cell_areas``); with ``one_area_per_unit``
    each unit's beat also stays inside one area (its official beat or division), all the layer's
    areas being open when ``areas`` is empty.
    """

    day: date
    shift: Shift = SHIFTS["evening"]
    res: int = 9
    units: int = 10
    patrol_minutes: float = 240.0
    minutes_per_cell: float | None = None  # None: MINUTES_PER_CELL[res]
    speed_kmh: float = 20.0
    max_cells: int = 20
    max_area_km2: float | None = None
    weights: tuple[tuple[str, float], ...] = ()
    excluded: tuple[str, ...] = ()
    source: str = HISTORICAL
    area_layer: str | None = None
    areas: tuple[str, ...] = ()
    one_area_per_unit: bool = False

    def __post_init__(self):
        if self.res not in PLAN_RESOLUTIONS:
            raise PlanError(f"plans are made at H3 resolution 8 or 9, not {self.res}")
        for name, value in (("patrol time", self.patrol_minutes), ("travel speed", self.speed_kmh)):
            if not value > 0:
                raise PlanError(f"the {name} must be positive")
        if self.minutes_per_cell is not None and not self.minutes_per_cell > 0:
            raise PlanError("the time per cell must be positive")
        if self.max_area_km2 is not None and not self.max_area_km2 > 0:
            raise PlanError("the maximum area per unit must be positive")
        for cell in self.excluded:
            if h3int.get_resolution(grid.to_int(cell)) != self.res:
                raise PlanError(f"excluded cell {cell} is not at resolution {self.res}")
        if (self.areas or self.one_area_per_unit) and not self.area_layer:
            raise PlanError("areas to patrol need the layer they belong to")

    @property
    def by_area(self) -> bool:
        """Whether the plan keeps to areas of a layer (some picked, or one area per unit)."""
        return bool(self.area_layer) and (bool(self.areas) or self.one_area_per_unit)

    @property
    def weight_map(self) -> dict[str, float]:
        return dict(self.weights)

    def limits(self) -> beats_mod.Limits:
        minutes = self.minutes_per_cell if self.minutes_per_cell is not None else MINUTES_PER_CELL[self.res]
        return beats_mod.Limits(self.max_cells, self.max_area_km2, self.patrol_minutes, minutes, self.speed_kmh)

    def to_json(self) -> str:
        out = asdict(self)
        out["day"] = self.day.isoformat()
        out["weights"] = dict(self.weights)
        return json.dumps(out, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "PlanParams":
        raw = json.loads(text)
        raw["day"] = date.fromisoformat(raw["day"])
        raw["shift"] = Shift(**raw["shift"])
        raw["weights"] = tuple(sorted(raw["weights"].items()))
        raw["excluded"] = tuple(raw["excluded"])
        raw["areas"] = tuple(raw.get("areas", ()))
        return cls(**raw)


@dataclass(frozen=True)
class Beat:
    """One unit's cells (hex) in visiting order, their risk, and the loop's length."""

    unit: int
    cells: tuple[str, ...]
    risk: tuple[float, ...]
    route_km: float

    @property
    def covered(self) -> float:
        return float(sum(self.risk))

    def area_km2(self) -> float:
        return float(sum(h3int.cell_area(grid.to_int(c), "km^2") for c in self.cells))


@dataclass(frozen=True)
class Plan:
    """Beats for a shift, the risk they were chosen on, and the record kept in the store."""

    params: PlanParams
    beats: tuple[Beat, ...]
    total_risk: float  # expected weighted incidents in the shift, whole surface
    day_risk: float  # expected weighted incidents over the whole day
    risk_model: str
    risk_version: str
    created_by: str = field(default_factory=default_user)
    method: str = beats_mod.METHOD
    status: str = "draft"
    plan_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None

    @property
    def covered(self) -> float:
        return float(sum(b.covered for b in self.beats))

    @property
    def share(self) -> float:
        """Expected share of the shift's (priority-weighted) incidents inside the plan's cells."""
        return self.covered / self.total_risk if self.total_risk > 0 else 0.0

    @property
    def day_share(self) -> float:
        return self.covered / self.day_risk if self.day_risk > 0 else 0.0

    def cell_list(self) -> list[str]:
        return [c for b in self.beats for c in b.cells]

    def beat(self, unit: int) -> Beat:
        for b in self.beats:
            if b.unit == unit:
                return b
        raise PlanError(f"the plan has no unit {unit}")

    def cells_frame(self) -> pd.DataFrame:
        """One row per stop: unit, stop, cell, lat, lon, risk, share of the shift."""
        rows = [
            (b.unit, k + 1, c, *h3int.cell_to_latlng(grid.to_int(c)), r)
            for b in self.beats
            for k, (c, r) in enumerate(zip(b.cells, b.risk))
        ]
        out = pd.DataFrame(rows, columns=["unit", "stop", "cell", "lat", "lon", "risk"])
        out["share"] = out["risk"] / self.total_risk if self.total_risk > 0 else 0.0
        return out

    def units_frame(self) -> pd.DataFrame:
        """One row per unit: cells, area, loop length, minutes, expected incidents and shares."""
        limits = self.params.limits()
        rows = [
            {
                "unit": b.unit,
                "cells": len(b.cells),
                "area_km2": b.area_km2(),
                "route_km": b.route_km,
                "minutes": limits.route_minutes(len(b.cells), b.route_km),
                "expected_incidents": b.covered,
                "share_of_shift": b.covered / self.total_risk if self.total_risk > 0 else 0.0,
                "share_of_day": b.covered / self.day_risk if self.day_risk > 0 else 0.0,
            }
            for b in self.beats
        ]
        return pd.DataFrame(
            rows,
            columns=[
                "unit",
                "cells",
                "area_km2",
                "route_km",
                "minutes",
                "expected_incidents",
                "share_of_shift",
                "share_of_day",
            ],
        )

    def summary(self) -> dict:
        """Plain-type description for JSON and headers."""
        p = self.params
        return {
            "plan_id": self.plan_id,
            "status": self.status,
            "date": p.day.isoformat(),
            "shift": p.shift.label(),
            "res": p.res,
            "units": len(self.beats),
            "cells": len(self.cell_list()),
            "expected_incidents": round(self.covered, 3),
            "expected_in_shift": round(self.total_risk, 3),
            "share_of_shift": round(self.share, 4),
            "share_of_day": round(self.day_share, 4),
            "risk_model": self.risk_model,
            "risk_version": self.risk_version,
            "method": self.method,
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
            "approved_by": self.approved_by,
            "approved_at": _iso(self.approved_at),
        }


def _iso(when: datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") if when else None


def parse_cells(text: str) -> tuple[str, ...]:
    """H3 cells typed as hex, separated by spaces, commas or new lines; ValueError for anything else."""
    tokens = [t for t in text.replace(",", " ").split() if t]
    return tuple(dict.fromkeys(grid.to_hex([grid.to_int(t.lower()) for t in tokens])))


def routed_beat(unit: int, cells: list[int], risk: list[float], res: int) -> Beat:
    """A beat with its loop through ``cells`` (from the riskiest), in visiting order."""
    xy = beats_mod.CellGrid(tuple(cells), res).xy
    order, km = beats_mod.route(xy, int(np.argmax(risk)))
    return Beat(unit, tuple(grid.to_hex([cells[k] for k in order])), tuple(float(risk[k]) for k in order), km)


def area_zones(con, params: PlanParams, cells) -> np.ndarray | None:
    """For each cell (integers or hex), the index of its area among the areas the plan keeps to
    (``params.areas``, else every area of the layer), or -1 when it lies in none of them;
    None when the plan keeps to no areas. PlanError when no cell lies in them."""
    if not params.by_area:
        return None
    try:
        held = area_store.cell_areas(con, params.area_layer, list(cells))
        names = params.areas or tuple(area_store.area_names(con, params.area_layer))
    except ValueError as exc:
        raise PlanError(str(exc)) from exc
    order = {name: k for k, name in enumerate(names)}
    zones = np.array([order.get(name, -1) for name in held], dtype=np.int64)
    if len(zones) and (zones < 0).all():
        raise PlanError(f"no cell of the risk surface lies in the chosen areas of {params.area_layer}")
    return zones


def blocked_cells(params: PlanParams, risk: RiskSurface, zones: np.ndarray | None = None) -> np.ndarray:
    """Mask of the surface's cells the plan excludes (typed or outside its areas, ``zones`` < 0)."""
    blocked = np.isin(risk.cells, np.array([grid.to_int(c) for c in params.excluded], dtype=np.uint64))
    return blocked if zones is None else blocked | (zones < 0)


def planner_for(params: PlanParams, risk: RiskSurface, zones: np.ndarray | None = None) -> beats_mod.Planner:
    """The optimiser set up for ``params`` on ``risk`` (limits checked); ``zones`` from :func:`area_zones`."""
    cell_grid = beats_mod.cell_grid(tuple(risk.cells.tolist()), risk.res)
    return beats_mod.Planner(
        cell_grid,
        risk.risk,
        blocked_cells(params, risk, zones),
        params.units,
        params.limits(),
        zones if params.one_area_per_unit else None,
    )


def plan_on_surface(
    params: PlanParams, risk: RiskSurface, created_by: str | None = None, zones: np.ndarray | None = None
) -> Plan:
    """Optimise beats on a given risk surface (see ``beats.METHOD``); ``zones`` (:func:`area_zones`)
    when the plan keeps to areas."""
    if risk.res != params.res:
        raise PlanError(f"the risk surface is at resolution {risk.res}, the plan at {params.res}")
    if len(risk.cells) == 0:
        raise PlanError("the risk surface is empty: it holds no cells")
    found = [
        Beat(k + 1, tuple(grid.to_hex(risk.cells[idx])), tuple(risk.risk[idx].tolist()), km)
        for k, (idx, km) in enumerate(planner_for(params, risk, zones).plan())
    ]
    return Plan(
        params, tuple(found), risk.total, risk.day_total, risk.model, risk.version, created_by or default_user()
    )


def risk_for(con, params: PlanParams) -> RiskSurface:
    """The risk surface ``params.source`` gives for the plan's date and shift."""
    history = ShiftHistory(con, params.res, params.shift, params.weight_map, params.day, params.day)
    return surface(con, history, params.day, params.source)


def build_plan(con, params: PlanParams, created_by: str | None = None) -> Plan:
    """A new draft plan: the risk surface for ``params``, then optimised beats."""
    risk = risk_for(con, params)
    return plan_on_surface(params, risk, created_by, area_zones(con, params, risk.cells))


def top_k_plan(plan: Plan, risk: RiskSurface, zones: np.ndarray | None = None) -> list[str]:
    """The naive comparison: as many cells as ``plan`` holds, the riskiest usable ones."""
    chosen = beats_mod.top_k_cells(risk.risk, blocked_cells(plan.params, risk, zones), len(plan.cell_list()))
    return grid.to_hex(risk.cells[chosen])


# -- editing ---------------------------------------------------------------------------
def _editable(plan: Plan) -> None:
    if plan.status != "draft":
        raise PlanError("an approved plan cannot be edited: reopen it as a draft first")


def _connected(cells: list[str], res: int) -> bool:
    ints = [grid.to_int(c) for c in cells]
    return beats_mod.connected(list(range(len(ints))), beats_mod.CellGrid(tuple(ints), res))


def _with_beat(plan: Plan, unit: int, cells: list[str], risk: list[float]) -> list[Beat]:
    others = [b for b in plan.beats if b.unit != unit]
    if not cells:
        return others
    return sorted(
        others + [routed_beat(unit, [grid.to_int(c) for c in cells], risk, plan.params.res)], key=lambda b: b.unit
    )


def remove_cell(plan: Plan, cell: str) -> Plan:
    """The plan without ``cell``; its unit's beat must stay connected and keep one cell."""
    _editable(plan)
    owner = next((b for b in plan.beats if cell in b.cells), None)
    if owner is None:
        raise PlanError(f"cell {cell} is not in the plan")
    keep = [(c, r) for c, r in zip(owner.cells, owner.risk) if c != cell]
    if not keep:
        raise PlanError(f"cell {cell} is unit {owner.unit}'s only cell; a unit keeps at least one")
    if not _connected([c for c, _ in keep], plan.params.res):
        raise PlanError(f"removing {cell} would split unit {owner.unit}'s beat in two")
    beats = _with_beat(plan, owner.unit, [c for c, _ in keep], [r for _, r in keep])
    return replace(plan, beats=tuple(beats))


def assign_cell(plan: Plan, risk: RiskSurface, cell: str, unit: int, zones: dict[str, int] | None = None) -> Plan:
    """The plan with ``cell`` in ``unit``'s beat (moved from another unit if needed), limits checked.

    ``zones`` (cell → area index, -1 outside the plan's areas; see :func:`area_zones`) for ``cell``
    and the unit's cells, when the plan keeps to areas."""
    _editable(plan)
    plan.beat(unit)
    value = grid.to_int(cell)
    if not np.isin(np.uint64(value), risk.cells):
        raise PlanError(f"cell {cell} is outside the plan's area")
    if cell in plan.params.excluded:
        raise PlanError(f"cell {cell} is excluded from this plan")
    zone = None if zones is None else zones[cell]
    if zone is not None and zone < 0:
        raise PlanError(f"cell {cell} lies outside the areas this plan keeps to")
    if zone is not None and plan.params.one_area_per_unit and {zones[c] for c in plan.beat(unit).cells} - {zone}:
        raise PlanError(f"cell {cell} lies in another area than unit {unit}'s beat, which keeps to one area")
    if cell in plan.beat(unit).cells:
        return plan
    owner = next((b for b in plan.beats if cell in b.cells), None)
    edited = remove_cell(plan, cell) if owner is not None else plan
    target = edited.beat(unit)
    cells, risks = [*target.cells, cell], [*target.risk, float(risk.lookup([value])[0])]
    if not _connected(cells, plan.params.res):
        raise PlanError(f"cell {cell} does not touch unit {unit}'s beat")
    limits = plan.params.limits()
    if len(cells) > limits.max_cells:
        raise PlanError(f"unit {unit} already has {limits.max_cells} cells, the limit")
    beats = _with_beat(edited, unit, cells, risks)
    new = next(b for b in beats if b.unit == unit)
    if limits.max_area_km2 is not None and new.area_km2() > limits.max_area_km2 + 1e-9:
        raise PlanError(f"unit {unit}'s beat would exceed {limits.max_area_km2:g} km²")
    minutes = limits.route_minutes(len(new.cells), new.route_km)
    if minutes > limits.patrol_minutes + 1e-9:
        raise PlanError(f"unit {unit}'s patrol would take {minutes:.0f} min, more than {limits.patrol_minutes:g}")
    return replace(edited, beats=tuple(beats))
