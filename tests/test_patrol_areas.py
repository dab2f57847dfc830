"""Patrol plans that keep to areas a commander picks: cells outside the areas are never patrolled, and
with one area per unit every beat stays inside one area (its official beat), on hand-made grids and
on areas joined from a stored layer."""

import json
from dataclasses import replace

import h3
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from crimeviz.patrol import session
from crimeviz.patrol.plan import PlanParams, area_zones, assign_cell, plan_on_surface
from crimeviz.patrol.risk import PlanError, RiskSurface
from crimeviz.store import areas, db
from tests.test_areas import layer_frame, point_store, write
from tests.test_patrol_beats import CENTRE, DAY, check_limits, connected, surface
from tests.test_patrol_cli import password, run, shared_store, store  # noqa: F401 (fixtures)

WEST, EAST = 0, 1


def split_world():
    """A ring-6 disk around CENTRE whose hot spot straddles the meridian through CENTRE: zone WEST
    for cells whose centre lies west of it, EAST for the rest."""
    lat0, lon0 = h3.cell_to_latlng(CENTRE)
    hot = {c: 1.0 for c in h3.grid_disk(CENTRE, 2)}
    risk = surface(hot)
    zones = np.array([WEST if h3.cell_to_latlng(h3.int_to_str(int(c)))[1] < lon0 else EAST for c in risk.cells])
    return risk, zones


def zone_of(risk, zones) -> dict[str, int]:
    return {h3.int_to_str(int(c)): int(z) for c, z in zip(risk.cells, zones)}


def disk_surface(lat: float, lon: float, ring: int, hot_ring: int) -> RiskSurface:
    """Cells within ``ring`` of (lat, lon) at resolution 9: risk 1 within ``hot_ring``, 0.01 beyond."""
    centre = h3.latlng_to_cell(lat, lon, 9)
    hot = set(h3.grid_disk(centre, hot_ring))
    cells = h3.grid_disk(centre, ring)
    return RiskSurface.from_frame(
        pd.DataFrame({"cell": cells, "risk": [1.0 if c in hot else 0.01 for c in cells]}), 9, "hand-made"
    )


def test_without_the_constraint_a_beat_straddles_the_two_zones():
    risk, zones = split_world()
    plan = plan_on_surface(PlanParams(DAY, units=2, max_cells=12), risk)
    zone = zone_of(risk, zones)
    assert any(len({zone[c] for c in beat.cells}) == 2 for beat in plan.beats)  # so the next test can fail


def test_one_area_per_unit_keeps_every_beat_inside_one_zone():
    risk, zones = split_world()
    params = PlanParams(DAY, units=2, max_cells=12, area_layer="sectors", one_area_per_unit=True)
    plan = plan_on_surface(params, risk, zones=zones)
    check_limits(plan, params)
    zone = zone_of(risk, zones)
    assert [len({zone[c] for c in beat.cells}) for beat in plan.beats] == [1, 1]
    assert {zone[beat.cells[0]] for beat in plan.beats} == {WEST, EAST}  # the hot spot's two halves


def test_cells_outside_the_chosen_areas_are_never_patrolled():
    risk, zones = split_world()
    only_east = np.where(zones == EAST, 0, -1)
    params = PlanParams(DAY, units=3, max_cells=8, area_layer="sectors", areas=("East",))
    plan = plan_on_surface(params, risk, zones=only_east)
    check_limits(plan, params)
    zone = zone_of(risk, only_east)
    assert plan.cell_list() and all(zone[c] == 0 for c in plan.cell_list())
    assert all(connected(beat.cells) for beat in plan.beats)


def test_edits_keep_to_the_areas():
    risk, zones = split_world()
    params = PlanParams(DAY, units=2, max_cells=12, area_layer="sectors", one_area_per_unit=True)
    plan = plan_on_surface(params, risk, zones=zones)
    zone = zone_of(risk, zones)
    beat = plan.beats[0]
    own = zone[beat.cells[0]]
    free = set(zone) - set(plan.cell_list())
    across = next(c for c in free if zone[c] != own and any(n in beat.cells for n in h3.grid_ring(c, 1)))
    with pytest.raises(PlanError, match="another area than unit 1's beat"):
        assign_cell(plan, risk, across, beat.unit, zone)
    with pytest.raises(PlanError, match="outside the areas this plan keeps to"):
        assign_cell(plan, risk, across, beat.unit, {**zone, across: -1})
    alongside = next(c for c in free if zone[c] == own and any(n in beat.cells for n in h3.grid_ring(c, 1)))
    edited = assign_cell(replace(plan, params=replace(params, max_cells=13)), risk, alongside, beat.unit, zone)
    assert alongside in edited.beat(beat.unit).cells


def test_area_settings_need_a_layer_and_survive_json():
    with pytest.raises(PlanError, match="need the layer they belong to"):
        PlanParams(DAY, areas=("East",))
    params = PlanParams(DAY, area_layer="sectors", areas=("East", "North"), one_area_per_unit=True)
    assert PlanParams.from_json(params.to_json()) == params
    older = json.loads(PlanParams(DAY).to_json())
    for key in ("area_layer", "areas", "one_area_per_unit"):
        older.pop(key)
    assert PlanParams.from_json(json.dumps(older)) == PlanParams(DAY)  # plans saved before areas existed


@pytest.fixture
def wards(empty_store, tmp_path):
    con = point_store(empty_store)
    areas.import_layer(con, write(layer_frame(), tmp_path), "wards", "ward", "root")
    return con


def test_zones_come_from_the_stored_layer_by_cell_centre(wards):
    cells = [h3.str_to_int(c) for c in sorted(h3.grid_disk(h3.latlng_to_cell(43.65, -79.38, 9), 6))]
    held = areas.cell_areas(wards, "wards", cells)
    beta = area_zones(wards, PlanParams(DAY, area_layer="wards", areas=("Beta",)), cells)
    assert [z == 0 for z in beta] == [a == "Beta" for a in held] and (beta == 0).any()
    both = area_zones(wards, PlanParams(DAY, area_layer="wards", one_area_per_unit=True), cells)
    assert both.tolist() == [{"Alpha": 0, "Beta": 1}.get(a, -1) for a in held]
    assert area_zones(wards, PlanParams(DAY), cells) is None
    far = [h3.str_to_int(h3.latlng_to_cell(43.9, -79.0, 9))]
    with pytest.raises(PlanError, match="no cell of the risk surface lies in the chosen areas of wards"):
        area_zones(wards, PlanParams(DAY, area_layer="wards", areas=("Beta",)), far)
    with pytest.raises(PlanError, match="no area layer 'beats'"):
        area_zones(wards, PlanParams(DAY, area_layer="beats", areas=("Beta",)), cells)


def test_a_plan_on_a_stored_layer_keeps_each_unit_in_one_ward(wards):
    both_wards = box(-79.40, 43.64, -79.36, 43.66)
    risk = disk_surface(43.65, -79.38, 6, 2)  # a hot spot on the wards' shared edge
    params = PlanParams(DAY, units=3, max_cells=10, area_layer="wards", one_area_per_unit=True)
    plan = plan_on_surface(params, risk, zones=area_zones(wards, params, risk.cells))
    held = dict(zip(plan.cell_list(), areas.cell_areas(wards, "wards", plan.cell_list())))
    assert None not in held.values()
    assert all(both_wards.covers(Point(h3.cell_to_latlng(c)[::-1])) for c in held)
    assert all(len({held[c] for c in beat.cells}) == 1 for beat in plan.beats)
    assert {held[c] for c in plan.cell_list()} == {"Alpha", "Beta"}


def test_the_session_checks_an_assigned_cell_against_the_stored_areas(wards):
    risk = disk_surface(43.65, -79.37, 5, 5)
    disk = [h3.int_to_str(int(c)) for c in risk.cells]
    params = PlanParams(DAY, units=1, max_cells=3, area_layer="wards", areas=("Beta",))
    plan = plan_on_surface(params, risk, zones=area_zones(wards, params, risk.cells))
    state = {session.PLAN: plan}
    outside = next(
        c
        for c in disk
        if areas.cell_areas(wards, "wards", [c]) != ["Beta"]
        and any(n in plan.beats[0].cells for n in h3.grid_ring(c, 1))
    )
    with pytest.raises(PlanError, match="outside the areas this plan keeps to"):
        session.assign(state, risk, outside, 1, wards)


def test_the_cli_builds_a_plan_inside_chosen_areas_one_area_per_unit(capsys, store, toronto_db):
    layer, chosen = areas.DEFAULT_LAYER, ["Annex", "Moss Park"]
    argv = ["build", "--db", store, "--date", "2021-10-05", "--res", "8", "--units", "2", "--user", "cmdr"]
    code, out, _ = run(
        capsys, *argv, "--area-layer", layer, "--area", chosen[0], "--area", chosen[1], "--one-area-per-unit"
    )
    plan = json.loads(out)
    assert code == 0 and len(plan["beats"]) == 2
    con = db.connect(toronto_db, read_only=True)
    held = [areas.cell_areas(con, layer, beat["route"]) for beat in plan["beats"]]
    con.close()
    assert sorted(sorted(set(h)) for h in held) == [["Annex"], ["Moss Park"]]
    code, out, err = run(capsys, *argv, "--area", "Annex")
    assert code == 2 and out == "" and "areas to patrol need the layer they belong to" in err
