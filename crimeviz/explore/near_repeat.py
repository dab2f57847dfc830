"""Near-repeat analysis: the Knox test as Ratcliffe's Near Repeat Calculator runs it.

Knox, E. G. (1964), "The detection of space-time interactions", *Applied Statistics* 13(1),
25-29: count the pairs of events close in both space and time and compare the count with what
chance gives. Ratcliffe, J. H. (2009), *Near Repeat Calculator (version 1.3) user guide*, Temple
University, sections "How the calculator works" and "Interpreting the results": a table of
distance bands × time bands, the expectation from Monte-Carlo permutations of the event times
among fixed locations, the Knox ratio (observed / expected) and the pseudo p-value per cell.

Definitions here: great-circle distance in metres; time as the whole-day difference of the
occurrence dates; every band a half-open interval [a, b).
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crimeviz.store.grid import EARTH_RADIUS_M

# Calculator's shading of a cell (Ratcliffe 2009, "Interpreting the results").
NEAR_REPEAT_RATIO = 1.2
SIGNIFICANCE = 0.05
MAX_PERMUTATIONS = 9999
MAX_PAIRS = 20_000_000  # about 1 GB of pair arrays


def parse_bands(text: str, what: str) -> tuple[float, ...]:
    """Band edges from ``"0,100,200"``; a one-line ValueError naming ``what`` if they cannot be used."""
    try:
        edges = tuple(float(part) for part in str(text).split(","))
    except ValueError:
        raise ValueError(f"{what} bands must be numbers separated by commas, e.g. 0,100,200 (got {text!r})") from None
    return check_bands(edges, what)


def check_bands(edges, what: str) -> tuple[float, ...]:
    """``edges`` if they are at least two finite, non-negative, strictly increasing numbers."""
    edges = tuple(float(e) for e in edges)
    if len(edges) < 2:
        raise ValueError(f"{what} bands need at least two edges, e.g. 0,100 (got {len(edges)})")
    if not all(np.isfinite(edges)) or min(edges) < 0:
        raise ValueError(f"{what} band edges must be finite and not negative (got {_edges_text(edges)})")
    if any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"{what} band edges must increase strictly (got {_edges_text(edges)})")
    if what == "time" and any(e != int(e) for e in edges):
        raise ValueError(f"time band edges are whole days (got {_edges_text(edges)})")
    return edges


def _edges_text(edges) -> str:
    return ",".join(f"{e:g}" for e in edges)


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in metres between points given in degrees (haversine formula)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(np.subtract(lon2, lon1)) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def close_pairs(lat: np.ndarray, lon: np.ndarray, within_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair ``i < j`` less than ``within_m`` metres apart: ``(i, j, metres)``.

    A KD-tree on a local equirectangular projection (x scaled by the cosine of the latitude
    farthest from the equator, so projected distances do not exceed great-circle ones beyond
    rounding) finds candidates within a 1 % wider radius; the haversine distance decides.
    More than MAX_PAIRS candidates is a ValueError (bands too wide for the data).
    """
    scale = np.cos(np.radians(np.abs(lat).max()))
    xy = np.column_stack([scale * np.radians(lon), np.radians(lat)]) * EARTH_RADIUS_M
    from scipy.spatial import cKDTree

    tree, radius = cKDTree(xy), within_m * 1.01 + 1.0
    candidates = (tree.count_neighbors(tree, radius) - len(xy)) // 2
    if candidates > MAX_PAIRS:
        raise ValueError(
            f"{candidates:,} pairs of incidents lie within {within_m:g} m, more than {MAX_PAIRS:,} can be "
            "permuted: narrow the distance bands or the period"
        )
    pairs = tree.query_pairs(radius, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    metres = haversine_m(lat[i], lon[i], lat[j], lon[j])
    keep = metres < within_m
    return i[keep], j[keep], metres[keep]


def shuffled_days(days: np.ndarray, permutations: int, seed: int | None) -> Iterator[np.ndarray]:
    """The days permuted among the incidents, ``permutations`` times (locations stay fixed)."""
    rng = np.random.default_rng(seed)
    for _ in range(permutations):
        yield days[rng.permutation(len(days))]


class _BandCounter:
    """Counts pairs per distance band × time band for any assignment of days to incidents."""

    def __init__(self, i, j, metres, distance_bands, time_bands, max_gap: int):
        band = np.searchsorted(distance_bands, metres, side="right") - 1
        keep = band >= 0
        order = np.lexsort((j[keep], i[keep]))  # pairs in index order: the day look-ups stay in cache
        self.i, self.j, self.band = (a[keep][order].astype(np.intp) for a in (i, j, band))
        self.n_time = len(time_bands) - 1
        # day gap → time band, for every gap the data can have; past the last edge: n_time (not counted)
        self.lookup = np.full(max(int(time_bands[-1]), max_gap) + 1, self.n_time, dtype=np.intp)
        for k, (a, b) in enumerate(zip(time_bands, time_bands[1:])):
            self.lookup[int(a) : int(b)] = k
        self.cell = self.band * (self.n_time + 1)
        self.shape = (len(distance_bands) - 1, self.n_time)

    def time_band(self, days: np.ndarray) -> np.ndarray:
        return self.lookup.take(np.abs(days.take(self.i) - days.take(self.j)))

    def counts(self, days: np.ndarray) -> np.ndarray:
        cells = self.time_band(days)
        cells += self.cell
        flat = np.bincount(cells, minlength=self.shape[0] * (self.n_time + 1))
        return flat.reshape(self.shape[0], self.n_time + 1)[:, : self.n_time]


@dataclass(frozen=True)
class NearRepeatResult:
    """The Knox table per distance × time band, with the near-repeat chains (incident ids)."""

    distance_bands: tuple[float, ...]
    time_bands: tuple[float, ...]
    observed: np.ndarray  # (distance bands, time bands) pair counts
    expected: np.ndarray  # mean count over the permutations
    p: np.ndarray  # (1 + #{permuted >= observed}) / (1 + permutations)
    permutations: int
    seed: int | None
    incidents: int
    chains: list[list[int]]

    @property
    def ratio(self) -> np.ndarray:
        """Knox ratio observed / expected; NaN where nothing was expected."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.expected > 0, self.observed / self.expected, np.nan)

    def table(self) -> pd.DataFrame:
        """One row per cell: band edges, observed, expected, ratio, p and ``near_repeat``."""
        rows = []
        ratio = self.ratio
        for d, (d0, d1) in enumerate(zip(self.distance_bands, self.distance_bands[1:])):
            for t, (t0, t1) in enumerate(zip(self.time_bands, self.time_bands[1:])):
                rows.append(
                    {
                        "distance_from": d0,
                        "distance_to": d1,
                        "days_from": int(t0),
                        "days_to": int(t1),
                        "observed": int(self.observed[d, t]),
                        "expected": float(self.expected[d, t]),
                        "ratio": float(ratio[d, t]),
                        "p": float(self.p[d, t]),
                    }
                )
        table = pd.DataFrame(rows)
        table["near_repeat"] = is_near_repeat(table["ratio"], table["p"])
        return table

    def cells(self) -> list[dict]:
        """The table as JSON-ready cells: ``{"distance": [a, b], "days": [a, b], …, "ratio": r or None}``."""
        return [
            {
                "distance": [_number(r.distance_from), _number(r.distance_to)],
                "days": [r.days_from, r.days_to],
                "observed": r.observed,
                "expected": round(r.expected, 4),
                "ratio": None if np.isnan(r.ratio) else round(r.ratio, 4),
                "p": round(r.p, 4),
            }
            for r in self.table().itertuples()
        ]


def _number(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


def is_near_repeat(ratio, p) -> np.ndarray:
    """Cells the Calculator shades: Knox ratio ≥ 1.2 (20 % above chance) and p ≤ 0.05."""
    ratio = np.asarray(ratio, dtype=float)
    return (np.nan_to_num(ratio, nan=0.0) >= NEAR_REPEAT_RATIO) & (np.asarray(p, dtype=float) <= SIGNIFICANCE)


def chains(ids: np.ndarray, i: np.ndarray, j: np.ndarray) -> list[list[int]]:
    """Connected components of the linked pairs ``(i, j)``: lists of ids, largest first."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(ids)
    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    linked = np.unique(np.concatenate([i, j]))
    groups = pd.Series(np.asarray(ids)[linked]).groupby(label[linked]).agg(lambda s: sorted(int(v) for v in s))
    return sorted(groups.tolist(), key=lambda c: (-len(c), c[0]))


def _check_inputs(lat, lon, days, ids, permutations) -> None:
    n = len(lat)
    if not len(lon) == len(days) == len(ids) == n:
        raise ValueError("lat, lon, days and ids must have one value per incident")
    if n < 2:
        raise ValueError(f"near-repeat analysis needs at least 2 incidents; found {n}")
    if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        raise ValueError("incident coordinates must be finite numbers")
    if not 1 <= permutations <= MAX_PERMUTATIONS:
        raise ValueError(f"permutations must lie between 1 and {MAX_PERMUTATIONS} (got {permutations})")


def knox_test(
    lat,
    lon,
    days,
    ids,
    distance_bands,
    time_bands,
    permutations: int = 99,
    seed: int | None = None,
) -> NearRepeatResult:
    """Near-repeat Knox table for incidents at (``lat``, ``lon``) degrees on whole ``days``.

    Pairs within the last distance edge come from :func:`close_pairs`; their day gaps are
    counted per cell for the data and for each permutation of the days among the incidents
    (Ratcliffe 2009: times shuffled, locations fixed). Chains link pairs in the first distance
    band and the first time band.
    """
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    days, ids = np.asarray(days, dtype=np.int64), np.asarray(ids)
    _check_inputs(lat, lon, days, ids, permutations)
    distance_bands = check_bands(distance_bands, "distance")
    time_bands = check_bands(time_bands, "time")
    pairs = close_pairs(lat, lon, distance_bands[-1])
    counter = _BandCounter(*pairs, distance_bands, time_bands, int(days.max() - days.min()))
    observed = counter.counts(days)
    exceed = np.zeros_like(observed)
    total = np.zeros(observed.shape, dtype=float)
    for shuffled in shuffled_days(days, permutations, seed):
        counts = counter.counts(shuffled)
        exceed += counts >= observed
        total += counts
    first = (counter.band == 0) & (counter.time_band(days) == 0)
    return NearRepeatResult(
        distance_bands,
        time_bands,
        observed,
        total / permutations,
        (1 + exceed) / (1 + permutations),
        permutations,
        seed,
        len(lat),
        chains(ids, counter.i[first], counter.j[first]),
    )


def for_offence(
    con, offence: str, start, end, distance_bands, time_bands, permutations: int = 99, seed: int | None = None
) -> tuple[NearRepeatResult, pd.DataFrame]:
    """The Knox test for one offence from ``start`` to ``end`` in the store, and its incidents."""
    from crimeviz.store import queries

    if end < start:
        raise ValueError(f"the end date {end} is before the start date {start}")
    incidents = queries.offence_incidents(con, offence, start, end)
    if len(incidents) < 2 and offence not in queries.options(con)["offences"]:
        raise ValueError(f"unknown offence {offence!r}: the store holds no incidents of it")
    result = knox_test(
        incidents["lat"],
        incidents["lon"],
        incidents["day"],
        incidents["id"],
        distance_bands,
        time_bands,
        permutations,
        seed,
    )
    return result, incidents


def report(result: NearRepeatResult, offence: str, start, end) -> dict:
    """The JSON report: the query, the cells of the table and the chains."""
    return {
        "offence": offence,
        "start": str(start),
        "end": str(end),
        "incidents": result.incidents,
        "permutations": result.permutations,
        "seed": result.seed,
        "distance_bands": [_number(e) for e in result.distance_bands],
        "time_bands": [int(e) for e in result.time_bands],
        "cells": result.cells(),
        "chains": result.chains,
    }


def export_json(con, username: str, report: dict) -> str:
    """``report`` as JSON text, audited (``near_repeat.export``) since its chains name incidents."""
    from crimeviz.store import audit

    detail = {k: report[k] for k in ("start", "end", "incidents", "permutations")}
    audit.record(
        con, username, "near_repeat.export", "offence", report["offence"], detail | {"chains": len(report["chains"])}
    )
    return json.dumps(report, indent=1)


def band_label(a: float, b: float, unit: str) -> str:
    """``"[0, 100) m"``: a half-open band as the table shows it."""
    return f"[{_number(a)}, {_number(b)}) {unit}"


def matrix(result: NearRepeatResult, values: np.ndarray) -> pd.DataFrame:
    """``values`` laid out like the Calculator's tables: distance bands down, time bands across."""
    d, t = result.distance_bands, result.time_bands
    return pd.DataFrame(
        values,
        index=[band_label(a, b, "m") for a, b in zip(d, d[1:])],
        columns=[band_label(a, b, "days") for a, b in zip(t, t[1:])],
    )


# Qualitative colours (ColorBrewer Dark2) told apart by chain number.
CHAIN_COLOURS = [(27, 158, 119), (217, 95, 2), (117, 112, 179), (231, 41, 138), (102, 166, 30), (230, 171, 2)]


def chain_incidents(result: NearRepeatResult, incidents: pd.DataFrame, most: int = 200) -> pd.DataFrame:
    """The incidents of the ``most`` largest chains, oldest first within a chain: ``chain`` (1 = largest),
    ``id``, ``lat``, ``lon``, ``occurred_on``, a ``color`` and a plain-text ``tooltip``."""
    members = pd.DataFrame(
        [(k, i) for k, chain in enumerate(result.chains[:most], start=1) for i in chain], columns=["chain", "id"]
    )
    frame = members.merge(incidents[["id", "lat", "lon", "occurred_on"]], on="id").sort_values(["chain", "occurred_on"])
    frame["color"] = [[*CHAIN_COLOURS[(k - 1) % len(CHAIN_COLOURS)], 220] for k in frame["chain"]]
    frame["when"] = frame["occurred_on"].astype(str)
    frame["size"] = frame["chain"].map(frame["chain"].value_counts())
    frame["tooltip"] = [
        f"Chain {k} ({n} incidents)\nIncident {i}\nDate: {w}"
        for k, n, i, w in zip(frame["chain"], frame["size"], frame["id"], frame["when"])
    ]
    return frame.reset_index(drop=True)


def chain_links(frame: pd.DataFrame) -> list[dict]:
    """Segments joining each chain's incidents in date order: ``{"s": [lon, lat], "t": …, "color": …}``."""
    links = []
    for _, chain in frame.groupby("chain", sort=False):
        points = chain[["lon", "lat"]].to_numpy().tolist()
        links += [{"s": a, "t": b, "color": chain["color"].iloc[0]} for a, b in zip(points, points[1:])]
    return links


def chain_layers(frame: pd.DataFrame) -> list:
    """pydeck layers of the chains: date-ordered links under round markers (plain-text tooltips)."""
    import pydeck as pdk

    from crimeviz.explore import maps

    links = pdk.Layer(
        "LineLayer",
        chain_links(frame),
        id="near-repeat-links",
        get_source_position="s",
        get_target_position="t",
        get_color="color",
        get_width=3,
        pickable=False,
    )
    return [links, maps.marker_layer(frame, "near-repeat-chains")]
