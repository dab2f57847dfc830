"""SEA classes from our own incidents, so analysts can label their own street imagery.

DevianceNet's five severity classes come from the crime records around each image
location (Park et al., AAAI 2022). CrimeViz derives them from the incidents in its
store, by a :class:`LabelRule`:

1. Count the incidents near each location, by one of two methods:
   ``radius`` (default): incidents within ``radius_m`` metres (default 250 m);
   ``kring``: incidents in the H3 cell at ``res`` holding the point plus ``k`` rings
   of neighbours (default res 9, k = 1: 7 cells, about 0.74 km²).
   Optionally only incidents from ``start`` to ``end`` (inclusive).
2. Thresholds: the 20/40/60/80 % quantiles of the same count over a reference set of
   locations. ``reference="cells"`` (default): the centres of every H3 cell at ``res``
   holding at least one incident, the city's inhabited grid, so a class means the
   same for every batch of images; ``reference="points"``: the labelled locations
   themselves (at least 5), when they are the city-wide sample.
3. Class k (1–5) holds counts in (t_{k-1}, t_k] with t_0 = −∞ and t_5 = +∞: class 1 is
   the quietest fifth of the reference, class 5 the busiest. Ties at a threshold go
   to the lower class, so where many counts tie a class can be empty.

Locations outside the incidents' extent (bounding box plus 1 km) are refused: their
count would be zero only because no data covers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from h3.api import basic_int as h3int
from scipy.spatial import cKDTree

from crimeviz.explore.hotspots import to_local_metres
from crimeviz.store import counts, grid
from crimeviz.streetview.sequences import Sequence, locate_all

METHODS = ("radius", "kring")
REFERENCES = ("cells", "points")
QUANTILES = (0.2, 0.4, 0.6, 0.8)
MARGIN_M = 1_000.0
MIN_POINTS_REFERENCE = 5


@dataclass(frozen=True)
class LabelRule:
    """How a location's SEA class is derived from the incidents around it (module docstring)."""

    method: str = "radius"
    radius_m: float = 250.0
    res: int = 9
    k: int = 1
    reference: str = "cells"
    start: date | None = None
    end: date | None = None

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"label method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.reference not in REFERENCES:
            raise ValueError(f"label reference must be one of {', '.join(REFERENCES)}, got {self.reference!r}")
        if not self.radius_m > 0:
            raise ValueError("the label radius must be positive")
        if self.k < 0:
            raise ValueError("k must be 0 or more")
        grid.cell_column(self.res)
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"the end date {self.end} is before the start date {self.start}")

    def describe(self) -> str:
        near = (
            f"incidents within {self.radius_m:g} m"
            if self.method == "radius"
            else f"incidents in the res-{self.res} H3 cell and {self.k} ring(s) around it"
        )
        period = ""
        if self.start or self.end:
            period = f" from {self.start or 'the first'} to {self.end or 'the last'}"
        reference = f"res-{self.res} cells with incidents" if self.reference == "cells" else "the labelled locations"
        return f"{near}{period}; quintiles over {reference}"


@dataclass(frozen=True)
class Labels:
    """Derived classes: ``table`` is the input plus ``incidents`` and ``sea_class`` (1–5)."""

    table: pd.DataFrame
    thresholds: tuple[float, ...]
    reference_size: int
    rule: LabelRule

    def describe(self) -> str:
        bounds = " / ".join(f"{t:g}" for t in self.thresholds)
        return (
            f"{self.rule.describe()} ({self.reference_size:,} locations); "
            f"upper bounds of classes 1–4: {bounds} incidents"
        )


def class_thresholds(reference_counts) -> np.ndarray:
    """Upper bounds of classes 1–4: the 20/40/60/80 % quantiles of the reference counts."""
    return np.quantile(np.asarray(reference_counts, dtype=float), QUANTILES)


def classes_for(counts, thresholds) -> np.ndarray:
    """Class 1–5 per count: one more than the number of thresholds strictly below it."""
    return 1 + np.searchsorted(np.asarray(thresholds), np.asarray(counts, dtype=float), side="left")


def _incidents(con, rule: LabelRule) -> pd.DataFrame:
    return counts.locations(con, rule.res, rule.start, rule.end)


def _counts(points: np.ndarray, incidents: pd.DataFrame, rule: LabelRule, origin) -> np.ndarray:
    """Incidents near each (lat, lon) row of ``points`` by ``rule.method``."""
    if rule.method == "radius":
        tree = cKDTree(to_local_metres(incidents["lat"], incidents["lon"], *origin))
        return tree.query_ball_point(
            to_local_metres(points[:, 0], points[:, 1], *origin), r=rule.radius_m, return_length=True
        )
    per_cell = {int(c): int(n) for c, n in incidents.groupby("cell").size().items()}
    return np.array(
        [
            sum(per_cell.get(c, 0) for c in h3int.grid_disk(h3int.latlng_to_cell(lat, lon, rule.res), rule.k))
            for lat, lon in points.tolist()
        ]
    )


def _check_inside(points: np.ndarray, incidents: pd.DataFrame, origin) -> None:
    covered = to_local_metres(incidents["lat"], incidents["lon"], *origin)
    low, high = covered.min(axis=0) - MARGIN_M, covered.max(axis=0) + MARGIN_M
    xy = to_local_metres(points[:, 0], points[:, 1], *origin)
    outside = ~((xy >= low) & (xy <= high)).all(axis=1)
    if outside.any():
        lat, lon = points[outside][0]
        raise ValueError(
            f"{outside.sum()} of {len(points)} location(s) lie outside the area the incidents "
            f"cover (e.g. {lat:.5f}, {lon:.5f}): import incidents for that area first"
        )


def derive_labels(con, locations: pd.DataFrame, rule: LabelRule = LabelRule()) -> Labels:
    """SEA class 1–5 for each row of ``locations`` (``lat``, ``lon``) from nearby incidents."""
    if locations.empty:
        raise ValueError("no locations to label")
    incidents = _incidents(con, rule)
    if incidents.empty:
        raise ValueError("the store holds no incidents for this period: import some first")
    points = locations[["lat", "lon"]].to_numpy(dtype=float)
    origin = (float(incidents["lat"].mean()), float(incidents["lon"].mean()))
    _check_inside(points, incidents, origin)
    counts = _counts(points, incidents, rule, origin)
    if rule.reference == "cells":
        centres = np.array([h3int.cell_to_latlng(int(c)) for c in incidents["cell"].unique()])
        reference = _counts(centres, incidents, rule, origin)
    elif len(points) < MIN_POINTS_REFERENCE:
        raise ValueError(
            f"quintiles over the labelled locations need at least {MIN_POINTS_REFERENCE} of them; "
            "use the reference 'cells' instead"
        )
    else:
        reference = counts
    thresholds = class_thresholds(reference)
    table = locations.assign(incidents=np.asarray(counts, dtype=int), sea_class=classes_for(counts, thresholds))
    return Labels(table, tuple(float(t) for t in thresholds), len(reference), rule)


def label_sequences(con, sequences: list[Sequence], rule: LabelRule = LabelRule()) -> Labels:
    """:func:`derive_labels` for sequences located by folder name or EXIF GPS (``sequence`` column)."""
    locations = pd.DataFrame(
        [(name, lat, lon) for name, (lat, lon) in locate_all(sequences).items()], columns=["sequence", "lat", "lon"]
    )
    return derive_labels(con, locations, rule)
