"""Plan parameters, manual edits of beats and the plan's coverage figures."""

from dataclasses import replace
from datetime import date

import h3
import pytest

from crimeviz.patrol.plan import PlanParams, assign_cell, parse_cells, plan_on_surface, remove_cell
from crimeviz.patrol.risk import SHIFTS, PlanError, Shift
from tests.test_patrol_beats import CENTRE, DAY, connected, random_surface


@pytest.fixture
def risk():
    return random_surface(3)


@pytest.fixture
def plan(risk):
    return plan_on_surface(PlanParams(DAY, units=3, max_cells=6), risk, created_by="sgt.test")


def test_params_survive_json():
    params = PlanParams(
        date(2021, 3, 4),
        Shift("night", 22, 9),
        8,
        4,
        180.0,
        30.0,
        15.0,
        9,
        2.5,
        (("Assault", 2.0), ("Robbery", 0.0)),
        (h3.cell_to_parent(CENTRE, 8),),
        "forecast:mc365",
    )
    assert PlanParams.from_json(params.to_json()) == params


def test_shift_hours_wrap_past_midnight():
    night = SHIFTS["night"]
    assert night.covers([22, 23, 0, 6, 7]).tolist() == [False, True, True, True, False]
    start, end = night.window(date(2021, 12, 31))
    assert (start.hour, end.date(), end.hour) == (23, date(2022, 1, 1), 7)
    assert night.label() == "night 23:00–07:00"
    with pytest.raises(PlanError, match="1–24 hours"):
        Shift("long", 7, 25)


def test_coverage_shares_add_up(plan, risk):
    units = plan.units_frame()
    assert units["expected_incidents"].sum() == pytest.approx(plan.covered)
    assert plan.share == pytest.approx(plan.covered / risk.total)
    assert units["share_of_shift"].sum() == pytest.approx(plan.share)
    assert plan.created_by == "sgt.test" and plan.status == "draft"
    stops = plan.cells_frame()
    assert len(stops) == len(plan.cell_list()) and stops.groupby("unit")["stop"].min().eq(1).all()


def test_a_neighbouring_cell_can_be_moved_into_a_beat(plan, risk):
    beat = plan.beats[0]
    outside = next(n for c in beat.cells for n in h3.grid_ring(c, 1) if n not in plan.cell_list())
    smaller = remove_cell(plan, next(c for c in beat.cells if connected([x for x in beat.cells if x != c])))
    edited = assign_cell(smaller, risk, outside, beat.unit)
    assert outside in edited.beat(beat.unit).cells and connected(edited.beat(beat.unit).cells)
    assert edited.beat(beat.unit).route_km > 0


def test_edits_that_break_a_beat_or_a_limit_are_refused(plan, risk):
    beat = plan.beats[0]
    far = next(c for c in h3.grid_ring(CENTRE, 7) if c not in plan.cell_list())
    with pytest.raises(PlanError, match="does not touch"):
        assign_cell(plan, risk, far, beat.unit)
    full = next(b for b in plan.beats if len(b.cells) == 6)
    neighbour = next(n for c in full.cells for n in h3.grid_ring(c, 1) if n not in plan.cell_list())
    with pytest.raises(PlanError, match="already has 6 cells"):
        assign_cell(plan, risk, neighbour, full.unit)
    cut = [c for c in beat.cells if not connected([x for x in beat.cells if x != c])]
    if cut:
        with pytest.raises(PlanError, match="split"):
            remove_cell(plan, cut[0])
    with pytest.raises(PlanError, match="not in the plan"):
        remove_cell(plan, far)
    with pytest.raises(PlanError, match="approved"):
        remove_cell(replace(plan, status="approved"), beat.cells[0])


def test_excluded_cells_cannot_be_assigned(risk):
    excluded = h3.grid_ring(CENTRE, 7)[0]
    plan = plan_on_surface(PlanParams(DAY, units=2, max_cells=6, excluded=(excluded,)), risk)
    with pytest.raises(PlanError, match="excluded"):
        assign_cell(plan, risk, excluded, 1)


def test_typed_cells_are_parsed_and_checked():
    a, b = h3.grid_ring(CENTRE, 1)[:2]
    assert parse_cells(f"{a}, {b.upper()}\n{a}") == (a, b)
    with pytest.raises(ValueError, match="not an H3 cell"):
        parse_cells("Yonge & Bloor")
