"""``python -m crimeviz bench analyze``: the near-repeat test on a year of the commonest offence.

The yardstick, measured in the same run on the same incidents and the same permutations,
is the brute-force computation: the great-circle distance and day gap of every pair of
incidents (n(n-1)/2 of them), in blocks of rows, as a spreadsheet-sized tool would do it.
"""

import os
import statistics
import time
from datetime import date

import numpy as np

from crimeviz.explore import near_repeat
from crimeviz.store import db, queries
from crimeviz.store.filters import IncidentFilter

BLOCK_ROWS = 512


def brute_force_tables(lat, lon, day_sets: list[np.ndarray], distance_bands, time_bands) -> np.ndarray:
    """Pair counts per distance × time band for each day assignment in ``day_sets``, over all pairs."""
    d_edges, t_edges = np.asarray(distance_bands), np.asarray(time_bands)
    n_d, n_t = len(d_edges) - 1, len(t_edges) - 1
    trash = n_d * n_t  # one bin for every pair outside the table
    t_lookup = np.searchsorted(t_edges, np.arange(int(t_edges[-1]) + 1), side="right") - 1
    t_lookup = np.where((t_lookup >= 0) & (t_lookup < n_t), t_lookup, trash).astype(np.int32)
    tables = np.zeros((len(day_sets), trash + 1), dtype=np.int64)
    n = len(lat)
    for r0 in range(0, n - 1, BLOCK_ROWS):
        rows = np.arange(r0, min(r0 + BLOCK_ROWS, n - 1))
        cols = np.arange(r0 + 1, n)
        metres = near_repeat.haversine_m(lat[rows, None], lon[rows, None], lat[None, cols], lon[None, cols])
        d_band = np.searchsorted(d_edges, metres, side="right") - 1
        ok = (d_band >= 0) & (d_band < n_d) & (cols[None, :] > rows[:, None])
        d_cell = np.where(ok, d_band * n_t, trash).astype(np.int32)
        for k, days in enumerate(day_sets):
            gap = np.abs(days[rows, None] - days[None, cols])
            cell = np.minimum(d_cell + t_lookup[np.minimum(gap, len(t_lookup) - 1)], trash)
            tables[k] += np.bincount(cell.ravel(), minlength=trash + 1)
    return tables[:, :trash].reshape(len(day_sets), n_d, n_t)


def _commonest_offence(con, start: date, end: date) -> str:
    mix = queries.offence_mix(con, IncidentFilter(start, end))
    return str(mix.groupby("offence")["n"].sum().idxmax())


def _bench_year(con, year: int | None) -> int:
    last = queries.options(con)["last_date"]
    return year or (last.year if (last.month, last.day) == (12, 31) else last.year - 1)


def _median_time(fn, repeats: int):
    """``fn()``'s result and its median wall and CPU seconds over ``repeats`` runs (CPU time tells
    the cost apart from waiting for a busy machine's cores)."""
    wall, cpu, out = [], [], None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return out, statistics.median(wall), statistics.median(cpu)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 1) if b > 0 else None


def bench_near_repeat(con, args) -> dict:
    """Seconds for the full test (``args.permutations``) and, on ``args.baseline_permutations``,
    KD-tree pairs vs brute force, with a check that both give the same table."""
    year = _bench_year(con, args.year)
    start, end = date(year, 1, 1), date(year, 12, 31)
    offence = _commonest_offence(con, start, end)
    d_bands = near_repeat.parse_bands(args.distance_bands, "distance")
    t_bands = near_repeat.parse_bands(args.time_bands, "time")
    seed = int(np.random.default_rng().integers(2**31)) if args.seed is None else args.seed  # both methods share it
    incidents, query_s, _ = _median_time(lambda: queries.offence_incidents(con, offence, start, end), args.repeats)
    lat, lon, days, ids = (incidents[c].to_numpy() for c in ("lat", "lon", "day", "id"))
    days = days.astype(np.int32)

    def ours(permutations):
        return near_repeat.knox_test(lat, lon, days, ids, d_bands, t_bands, permutations, seed)

    load_before = os.getloadavg()[0]
    full, full_s, full_cpu = _median_time(lambda: ours(args.permutations), args.repeats)
    small, small_s, small_cpu = _median_time(lambda: ours(args.baseline_permutations), args.repeats)
    day_sets = [days, *near_repeat.shuffled_days(days, args.baseline_permutations, seed)]
    brute, brute_s, brute_cpu = _median_time(lambda: brute_force_tables(lat, lon, day_sets, d_bands, t_bands), 1)
    same = bool(np.array_equal(brute[0], small.observed) and np.allclose(brute[1:].mean(axis=0), small.expected))
    return {
        "offence": offence,
        "year": year,
        "store_rows": db.incident_count(con),
        "incidents": len(incidents),
        "distance_bands": list(d_bands),
        "time_bands": list(t_bands),
        "seed": seed,
        "query_s": round(query_s, 3),
        "near_repeat": {
            "permutations": args.permutations,
            "seconds": round(full_s, 3),
            "cpu_s": round(full_cpu, 3),
            "chains": len(full.chains),
        },
        "comparison": {
            "permutations": args.baseline_permutations,
            "kd_tree_s": round(small_s, 3),
            "kd_tree_cpu_s": round(small_cpu, 3),
            "brute_force_s": round(brute_s, 3),
            "brute_force_cpu_s": round(brute_cpu, 3),
            "ratio": _ratio(brute_s, small_s),
            "cpu_ratio": _ratio(brute_cpu, small_cpu),
            "same_table": same,
        },
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
