"""The beat optimiser on hand-made risk grids: every limit holds and it beats the naive plans."""

from datetime import date
from itertools import combinations, permutations

import h3
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from networkx.algorithms.approximation import christofides
from scipy.sparse import csgraph

from crimeviz.patrol import beats
from crimeviz.patrol.plan import PlanParams, plan_on_surface, planner_for, top_k_plan
from crimeviz.patrol.risk import PlanError, RiskSurface

CENTRE = h3.latlng_to_cell(43.6532, -79.3832, 9)
DAY = date(2021, 6, 1)


def surface(risk: dict[str, float], ring: int = 6) -> RiskSurface:
    """Every cell within ``ring`` of CENTRE, risk 0.01 unless given."""
    cells = h3.grid_disk(CENTRE, ring)
    values = [risk.get(c, 0.01) for c in cells]
    return RiskSurface.from_frame(pd.DataFrame({"cell": cells, "risk": values}), 9, "hand-made")


def random_surface(seed: int, ring: int = 7) -> RiskSurface:
    """Gamma noise plus three Gaussian hot spots."""
    rng = np.random.default_rng(seed)
    cells = h3.grid_disk(CENTRE, ring)
    hot = rng.choice(cells, 3, replace=False)
    risk = {
        c: rng.gamma(0.5, 0.05) + sum(np.exp(-(h3.grid_distance(c, s) ** 2) / 4) * rng.uniform(0.3, 1) for s in hot)
        for c in cells
    }
    return surface(risk, ring)


def connected(cells) -> bool:
    cells = set(cells)
    seen, todo = set(), [next(iter(cells))]
    while todo:
        c = todo.pop()
        if c not in seen:
            seen.add(c)
            todo += [n for n in h3.grid_ring(c, 1) if n in cells]
    return seen == cells


def check_limits(plan, params: PlanParams) -> None:
    assert len(plan.beats) <= params.units
    used = plan.cell_list()
    assert len(used) == len(set(used)), "a cell is in two beats"
    assert not set(used) & set(params.excluded)
    units = plan.units_frame()
    for beat in plan.beats:
        assert 1 <= len(beat.cells) <= params.max_cells
        assert connected(beat.cells), f"unit {beat.unit} is not contiguous"
        radius = beats.disk_radius(min(params.max_cells, len(beat.cells))) + 1
        assert max(h3.grid_distance(a, b) for a in beat.cells for b in beat.cells) <= 2 * max(radius, 1) + 2
    assert (units["minutes"] <= params.patrol_minutes + 1e-6).all()
    if params.max_area_km2 is not None:
        assert (units["area_km2"] <= params.max_area_km2 + 1e-9).all()


@pytest.mark.parametrize("seed", range(6))
def test_builder_respects_every_limit_and_beats_top_k_disks(seed):
    risk = random_surface(seed)
    rng = np.random.default_rng(seed)
    excluded = tuple(rng.choice(list(h3.grid_disk(CENTRE, 7)), 12, replace=False))
    params = PlanParams(
        DAY,
        units=int(rng.integers(2, 6)),
        max_cells=int(rng.integers(3, 10)),
        max_area_km2=[None, 0.6][seed % 2],
        patrol_minutes=float(rng.integers(90, 240)),
        excluded=excluded,
    )
    plan = plan_on_surface(params, risk)
    check_limits(plan, params)
    planner = planner_for(params, risk)
    assert plan.covered >= planner.routed_risk(planner.baseline()) - 1e-9
    top_k = risk.lookup([h3.str_to_int(c) for c in top_k_plan(plan, risk)]).sum()
    assert plan.covered <= top_k + 1e-9  # the non-contiguous top-k cells bound any plan with as many cells


def test_one_unit_finds_the_best_connected_group_not_the_hottest_cell():
    ring1 = h3.grid_ring(CENTRE, 1)
    lonely = h3.grid_ring(CENTRE, 5)[0]
    cluster = [CENTRE, *ring1[:3]]
    risk = surface({lonely: 5.0, **{c: 2.0 for c in cluster}})
    params = PlanParams(DAY, units=1, max_cells=4)
    plan = plan_on_surface(params, risk)
    cells = [h3.str_to_int(c) for c in h3.grid_disk(CENTRE, 6)]
    values = dict(zip(cells, risk.lookup(cells)))
    best = max(
        (g for g in combinations(h3.grid_disk(CENTRE, 2), 4) if connected(g)),
        key=lambda g: sum(values[h3.str_to_int(c)] for c in g),
    )
    assert set(plan.beats[0].cells) == set(best) == set(cluster)
    planner = planner_for(params, risk)
    assert plan.covered > planner.routed_risk(planner.baseline())  # the naive plan spends its unit on the lonely cell


def test_beats_do_not_cross_excluded_cells():
    ring1 = h3.grid_ring(CENTRE, 1)
    risk = surface({c: 1.0 for c in [CENTRE, *ring1]})
    params = PlanParams(DAY, units=1, max_cells=7, excluded=(CENTRE,))
    plan = plan_on_surface(params, risk)
    check_limits(plan, params)
    assert CENTRE not in plan.cell_list()


def test_patrol_time_trims_a_beat_until_its_loop_fits():
    risk = random_surface(1)
    params = PlanParams(DAY, units=3, max_cells=20, patrol_minutes=100, minutes_per_cell=12, speed_kmh=5)
    plan = plan_on_surface(params, risk)
    check_limits(plan, params)
    assert max(len(b.cells) for b in plan.beats) <= 100 // 12


def test_route_is_a_short_closed_loop_visiting_every_cell_once():
    xy = np.array([[0, 0], [2, 0], [1, 0], [2, 1], [0, 1], [1, 1]], dtype=float)
    order, km = beats.route(xy, start=0)
    assert order[0] == 0 and sorted(order) == list(range(6))
    assert km == pytest.approx(6.0)  # the rectangle's perimeter


@pytest.mark.parametrize(
    "params, message",
    [
        (PlanParams(DAY, units=0), "at least one unit"),
        (PlanParams(DAY, units=400), "only 127 cells can be patrolled"),
        (PlanParams(DAY, units=2, patrol_minutes=10), "does not cover one cell"),
        (PlanParams(DAY, units=2, max_area_km2=0.01), "smaller than one cell"),
    ],
)
def test_impossible_limits_are_explained(params, message):
    with pytest.raises(PlanError, match=message):
        plan_on_surface(params, surface({}))


def test_an_empty_forecast_is_explained():
    empty = surface({c: 0.0 for c in h3.grid_disk(CENTRE, 6)})
    with pytest.raises(PlanError, match="risk surface is empty"):
        plan_on_surface(PlanParams(DAY, units=2), empty)
    no_cells = RiskSurface.from_frame(pd.DataFrame({"cell": [], "risk": []}), 9)
    with pytest.raises(PlanError, match="holds no cells"):
        plan_on_surface(PlanParams(DAY, units=2), no_cells)


def test_wrong_resolution_inputs_are_refused():
    with pytest.raises(PlanError, match="resolution 8 or 9"):
        PlanParams(DAY, res=7)
    with pytest.raises(PlanError, match="not at resolution 9"):
        PlanParams(DAY, excluded=(h3.cell_to_parent(CENTRE, 8),))
    with pytest.raises(PlanError, match="surface is at resolution 9"):
        plan_on_surface(PlanParams(DAY, res=8), surface({}))


def blob(seed: int, n: int) -> list[str]:
    """``n`` edge-connected cells grown at random from CENTRE."""
    rng = np.random.default_rng(seed)
    cells = [CENTRE]
    while len(cells) < n:
        free = [c for c in h3.grid_ring(str(rng.choice(cells)), 1) if c not in cells]
        if free:
            cells.append(str(rng.choice(free)))
    return cells


def blob_xy(cells: list[str]) -> np.ndarray:
    return beats.CellGrid(tuple(h3.str_to_int(c) for c in cells), 9).xy


def loop_through(xy: np.ndarray, order) -> float:
    return beats.loop_km(xy[list(order)])


@pytest.mark.parametrize("seed", range(4))
def test_route_is_within_a_ten_thousandth_of_the_shortest_loop_on_small_beats(seed):
    xy = blob_xy(blob(seed, 7))
    _, km = beats.route(xy)
    best = min(loop_through(xy, (0, *rest)) for rest in permutations(range(1, len(xy))))
    assert km == pytest.approx(best, rel=1e-4)  # hexagon centres give near-ties of a few centimetres


def test_route_is_no_longer_than_networkx_christofides_loops():
    """networkx's TSP approximations are the library alternative; ours must not lose to them."""
    ratios = []
    for seed in range(12):
        xy = blob_xy(blob(seed, 12 + 2 * seed))
        dist = np.linalg.norm(xy[:, None] - xy[None], axis=2)
        cycle = christofides(nx.from_numpy_array(dist))
        ratios.append(beats.route(xy)[1] / loop_through(xy, cycle[:-1]))
    assert max(ratios) <= 1.01 and np.mean(ratios) < 0.97


def test_connected_and_reach_agree_with_scipy_csgraph():
    cells = h3.grid_disk(CENTRE, 5)
    grid = beats.CellGrid(tuple(h3.str_to_int(c) for c in cells), 9)
    rng = np.random.default_rng(0)
    for _ in range(40):
        subset = sorted(rng.choice(len(cells), int(rng.integers(2, 12)), replace=False).tolist())
        parts = csgraph.connected_components(grid.adjacency[subset][:, subset], directed=False)[0]
        assert beats.connected(subset, grid) == (parts == 1)
        allowed = rng.random(len(cells)) < 0.7
        seed, radius = subset[0], int(rng.integers(1, 4))
        allowed[seed] = True
        keep = np.flatnonzero(allowed)
        steps = csgraph.dijkstra(
            grid.adjacency[keep][:, keep], indices=int(np.searchsorted(keep, seed)), unweighted=True, limit=radius
        )
        expected = {int(keep[k]): int(steps[k]) for k in np.flatnonzero(np.isfinite(steps))}
        assert grid.within(seed, radius, allowed) == expected
