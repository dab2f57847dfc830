"""Emerging hot spots: Gi* in every slice of a space-time cube on the H3 grid, a Mann-Kendall trend
per cell, and Esri's pattern categories.

Method: Esri, *How Emerging Hot Spot Analysis works* (ArcGIS Pro, Space Time Pattern Mining
toolbox): the Getis-Ord Gi* statistic is computed for each bin with an FDR correction, each
location's series of Gi* z-scores is tested for a trend with Mann-Kendall, and each location is
put in one of the categories of the tool's table (new, consecutive, intensifying, persistent,
diminishing, sporadic, oscillating, historical; hot and cold), or "No pattern detected".

Choices here, where the Esri page leaves them open or the app differs:

- Bins: H3 cells (every cell with at least one incident in the period, as Esri analyses
  "locations with at least one point for at least one time-step interval") × slices. Weeks are
  7-day slices aligned to the last day (Esri's default time-step alignment, "End"); months are
  the calendar months wholly inside the period. At least ``MIN_SLICES`` slices (Mann-Kendall
  needs a series; Esri asks for ten time steps).
- Gi* per slice: PySAL's ``esda.G_Local(star=True)`` (Getis & Ord 1992; Ord & Getis 1995) with
  binary k-ring weights (``hotspots.kring_weights``), the neighbourhood in space only (Esri's
  neighbourhood time step is not used). Two-sided normal p-values, Benjamini–Hochberg across the
  cells of each slice; a bin is a significant hot (cold) spot when it passes at ``alpha`` with
  z > 0 (z < 0).
- Trend: the Mann-Kendall test (Mann 1945; Kendall 1975) on each cell's Gi* z-scores: S, its
  variance corrected for ties, the continuity-corrected normal score and a two-sided p-value
  (Gilbert 1987, *Statistical Methods for Environmental Pollution Monitoring*, §16.4).
- Categories as Esri defines them ("90 percent" read as at least 90 % of the slices). Where two
  definitions fit one cell, the first in Esri's table wins, hot categories before cold ones.
  Intensifying, persistent and diminishing need the final slice hot: a cell that was hot in
  90 % of the slices but not in the final one is historical.
"""

import json
from dataclasses import dataclass
from datetime import date, timedelta

import h3
import numpy as np
import pandas as pd
from scipy.stats import norm

from crimeviz.explore.hotspots import fdr_significant

SLICES = ("week", "month")
MIN_SLICES = 10
SHARE = 0.9  # Esri's "90 percent of the time-step intervals"
NO_PATTERN = "No pattern detected"
PATTERNS = ("New", "Consecutive", "Intensifying", "Persistent", "Diminishing", "Sporadic", "Oscillating", "Historical")
CATEGORIES = (
    *(f"{p} hot spot" for p in PATTERNS),
    *(f"{p} cold spot" for p in PATTERNS),
    NO_PATTERN,
)
# Esri's renderer: hot patterns in reds, cold ones in blues (darker for the steadier patterns).
COLOURS = {
    "New hot spot": (255, 180, 170),
    "Consecutive hot spot": (250, 128, 114),
    "Intensifying hot spot": (178, 24, 43),
    "Persistent hot spot": (214, 47, 39),
    "Diminishing hot spot": (244, 109, 67),
    "Sporadic hot spot": (253, 174, 97),
    "Oscillating hot spot": (230, 145, 56),
    "Historical hot spot": (200, 160, 140),
    "New cold spot": (198, 219, 239),
    "Consecutive cold spot": (158, 202, 225),
    "Intensifying cold spot": (8, 69, 148),
    "Persistent cold spot": (33, 113, 181),
    "Diminishing cold spot": (66, 146, 198),
    "Sporadic cold spot": (107, 174, 214),
    "Oscillating cold spot": (116, 169, 207),
    "Historical cold spot": (150, 170, 190),
    NO_PATTERN: (220, 220, 220),
}


def slices(start: date, end: date, slice_by: str) -> list[tuple[date, date]]:
    """The time slices from ``start`` to ``end`` (inclusive days), oldest first: ``(first, last)`` day.

    ``week``: 7-day slices ending on ``end``, as many as fit after ``start``; ``month``: the
    calendar months wholly between ``start`` and ``end``.
    """
    if slice_by not in SLICES:
        raise ValueError(f"slice must be one of {', '.join(SLICES)} (got {slice_by!r})")
    if end < start:
        raise ValueError(f"the end date {end} is before the start date {start}")
    out = []
    if slice_by == "week":
        last = end
        while last - timedelta(days=6) >= start:
            out.append((last - timedelta(days=6), last))
            last -= timedelta(days=7)
        out.reverse()
    else:
        first = date(start.year, start.month, 1)
        if first < start:
            first = (pd.Timestamp(first) + pd.DateOffset(months=1)).date()
        while True:
            last = (pd.Timestamp(first) + pd.DateOffset(months=1)).date() - timedelta(days=1)
            if last > end:
                break
            out.append((first, last))
            first = last + timedelta(days=1)
    return out


def check_slices(edges: list[tuple[date, date]], slice_by: str) -> None:
    """ValueError in one line when there are too few slices for a trend."""
    if len(edges) < MIN_SLICES:
        raise ValueError(
            f"emerging hot spots need at least {MIN_SLICES} whole {slice_by}s in the period "
            f"(found {len(edges)}): widen the dates" + (" or slice by week" if slice_by == "month" else "")
        )


def cube(day_counts: pd.DataFrame, edges: list[tuple[date, date]]) -> tuple[list[int], np.ndarray]:
    """The space-time cube from counts per ``cell`` and ``day``: the cells with at least one incident
    in the slices (sorted) and their counts ``(cells, slices)``."""
    frame = day_counts[["cell", "day", "n"]].copy()
    day = pd.to_datetime(frame["day"]).to_numpy("datetime64[D]")
    firsts = np.array([np.datetime64(a, "D") for a, _ in edges])
    lasts = np.array([np.datetime64(b, "D") for _, b in edges])
    index = np.searchsorted(firsts, day, side="right") - 1
    inside = (index >= 0) & (day <= lasts[np.clip(index, 0, None)])
    frame, index = frame[inside], index[inside]
    cells = sorted(int(c) for c in frame["cell"].unique())
    row = {c: i for i, c in enumerate(cells)}
    counts = np.zeros((len(cells), len(edges)), dtype=np.int64)
    np.add.at(counts, (frame["cell"].map(row).to_numpy(int), index), frame["n"].to_numpy(np.int64))
    return cells, counts


def gi_star_slices(counts: np.ndarray, weights) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z-scores and two-sided normal p-values of every bin, ``(cells, slices)`` each.

    One ``esda.G_Local(star=True)`` per slice, binary weights. A slice without variance (e.g. no
    incident at all) has z = 0 and p = 1, like a cell whose neighbourhood is the whole study area.
    """
    import warnings

    from esda.getisord import G_Local

    z = np.zeros(counts.shape)
    for t in range(counts.shape[1]):
        x = counts[:, t].astype(float)
        if np.ptp(x) == 0:
            continue
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The weights matrix is not fully connected")
            with np.errstate(invalid="ignore", divide="ignore"):
                g = G_Local(x, weights, "B", 0, star=True)
        z[:, t] = np.where(np.isfinite(g.Zs), g.Zs, 0.0)
    return z, 2 * norm.sf(np.abs(z))


@dataclass(frozen=True)
class Trend:
    """Mann-Kendall results per series: S, Kendall's tau (S over the number of pairs), z and p."""

    s: np.ndarray
    tau: np.ndarray
    z: np.ndarray
    p: np.ndarray


def mann_kendall(series: np.ndarray) -> Trend:
    """The Mann-Kendall trend test on each row of ``series`` ``(rows, n)``, oldest value first.

    S = Σ_{i<j} sign(x_j − x_i); Var(S) = [n(n−1)(2n+5) − Σ_g t_g(t_g−1)(2t_g+5)] / 18 over the
    groups of tied values; z = (S − sign S) / √Var(S) (continuity correction), p = 2(1 − Φ(|z|))
    (Gilbert 1987, §16.4). A row without variance has z = 0 and p = 1.
    """
    x = np.asarray(series, dtype=float)
    rows, n = x.shape
    if n < 3:
        raise ValueError(f"the Mann-Kendall test needs at least 3 values per series (got {n})")
    i, j = np.triu_indices(n, k=1)
    s = np.sign(x[:, j] - x[:, i]).sum(axis=1)
    var = np.full(rows, n * (n - 1) * (2 * n + 5), dtype=float)
    for r in range(rows):
        _, t = np.unique(x[r], return_counts=True)
        t = t[t > 1]
        var[r] -= float((t * (t - 1) * (2 * t + 5)).sum())
    var /= 18.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var > 0, (s - np.sign(s)) / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    return Trend(s=s, tau=s / (n * (n - 1) / 2), z=z, p=2 * norm.sf(np.abs(z)))


def _trailing_run(flags: np.ndarray) -> int:
    """How many of the last values of ``flags`` are True in a row."""
    run = 0
    for flag in flags[::-1]:
        if not flag:
            break
        run += 1
    return run


def classify(hot: np.ndarray, cold: np.ndarray, trend_z: float, trend_p: float, alpha: float) -> str:
    """Esri's category for one location from its significant hot and cold bins (oldest first) and the
    Mann-Kendall trend of its Gi* z-scores; the first definition in Esri's table that fits wins."""
    n = len(hot)
    rising, falling = trend_p <= alpha and trend_z > 0, trend_p <= alpha and trend_z < 0
    for side, same, other, stronger, weaker in (
        ("hot", hot, cold, rising, falling),
        ("cold", cold, hot, falling, rising),
    ):
        share, final, run = same.mean(), bool(same[-1]), _trailing_run(same)
        mostly = share >= SHARE
        rules = (
            ("New", final and not same[:-1].any()),
            ("Consecutive", final and run >= 2 and not same[: n - run].any() and not mostly),
            ("Intensifying", final and mostly and stronger),
            ("Persistent", final and mostly and trend_p > alpha),
            ("Diminishing", final and mostly and weaker),
            ("Sporadic", final and not mostly and not other.any()),
            ("Oscillating", final and not mostly and other[:-1].any()),
            ("Historical", not final and mostly),
        )
        for pattern, fits in rules:
            if fits:
                return f"{pattern} {side} spot"
    return NO_PATTERN


@dataclass(frozen=True)
class EmergingResult:
    """The cube, its Gi* bins, the trends and the category of every cell."""

    res: int
    slice_by: str
    k: int
    alpha: float
    slices: list[tuple[date, date]]
    cells: list[int]
    counts: np.ndarray  # (cells, slices) incidents
    z: np.ndarray  # (cells, slices) Gi* z-scores
    p: np.ndarray  # (cells, slices) two-sided normal p-values
    hot: np.ndarray  # (cells, slices) significant hot bins after the per-slice FDR correction
    cold: np.ndarray
    trend: Trend

    def table(self) -> pd.DataFrame:
        """One row per cell: ``cell`` (hex), ``category``, ``incidents``, ``hot_bins``, ``cold_bins``,
        ``final_z``, ``trend_tau``, ``trend_z``, ``trend_p``; hot categories first, busiest first."""
        categories = [
            classify(h, c, tz, tp, self.alpha) for h, c, tz, tp in zip(self.hot, self.cold, self.trend.z, self.trend.p)
        ]
        table = pd.DataFrame(
            {
                "cell": [h3.int_to_str(int(c)) for c in self.cells],
                "category": categories,
                "incidents": self.counts.sum(axis=1).astype(int),
                "hot_bins": self.hot.sum(axis=1).astype(int),
                "cold_bins": self.cold.sum(axis=1).astype(int),
                "final_z": self.z[:, -1] if self.z.size else np.zeros(len(self.cells)),
                "trend_tau": self.trend.tau,
                "trend_z": self.trend.z,
                "trend_p": self.trend.p,
            }
        )
        order = table["category"].map({c: i for i, c in enumerate(CATEGORIES)})
        return table.assign(_o=order).sort_values(["_o", "incidents"], ascending=[True, False]).drop(columns="_o")

    def summary(self) -> dict[str, int]:
        """How many cells fall in each category that occurs, in Esri's order."""
        counts = self.table()["category"].value_counts()
        return {c: int(counts[c]) for c in CATEGORIES if c in counts}


def analyse(
    day_counts: pd.DataFrame,
    start: date,
    end: date,
    res: int,
    slice_by: str = "week",
    k: int = 1,
    alpha: float = 0.05,
) -> EmergingResult:
    """Emerging hot spot analysis of counts per ``cell`` (integer H3 at ``res``) and ``day``."""
    from crimeviz.explore.hotspots import kring_weights

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1 (got {alpha})")
    if k < 1:
        raise ValueError(f"the k-ring must be at least 1 (got {k})")
    edges = slices(start, end, slice_by)
    check_slices(edges, slice_by)
    cells, counts = cube(day_counts, edges)
    if len(cells) < 3:
        raise ValueError(f"emerging hot spots need incidents in at least 3 cells (found {len(cells)})")
    z, p = gi_star_slices(counts, kring_weights(cells, k))
    significant = np.column_stack([fdr_significant(p[:, t], alpha) for t in range(p.shape[1])])
    return EmergingResult(
        res=res,
        slice_by=slice_by,
        k=k,
        alpha=alpha,
        slices=edges,
        cells=cells,
        counts=counts,
        z=z,
        p=p,
        hot=significant & (z > 0),
        cold=significant & (z < 0),
        trend=mann_kendall(z),
    )


def for_filter(con, f, res: int, slice_by: str = "week", k: int = 1, alpha: float = 0.05) -> EmergingResult:
    """:func:`analyse` on the incidents matching the filter ``f`` from ``f.start`` to ``f.end``."""
    from crimeviz.store import queries

    return analyse(queries.cell_day_counts(con, f, res), f.start, f.end, res, slice_by, k, alpha)


def report(result: EmergingResult, start: date, end: date, offences=None) -> dict:
    """The JSON report: the query, the slices, each category's count and every cell."""
    table = result.table()
    return {
        "start": str(start),
        "end": str(end),
        "offences": list(offences) if offences else None,
        "res": result.res,
        "slice": result.slice_by,
        "k": result.k,
        "alpha": result.alpha,
        "slices": [[str(a), str(b)] for a, b in result.slices],
        "summary": result.summary(),
        "cells": [
            {
                "cell": r.cell,
                "category": r.category,
                "incidents": int(r.incidents),
                "hot_bins": int(r.hot_bins),
                "cold_bins": int(r.cold_bins),
                "final_z": round(float(r.final_z), 4),
                "trend_tau": round(float(r.trend_tau), 4),
                "trend_z": round(float(r.trend_z), 4),
                "trend_p": round(float(r.trend_p), 6),
            }
            for r in table.itertuples()
        ],
    }


def export_json(con, username: str, report: dict) -> str:
    """``report`` as JSON text, audited (``emerging.export``)."""
    from crimeviz.store import audit

    detail = {k: report[k] for k in ("start", "end", "res", "slice", "offences")} | {"cells": len(report["cells"])}
    audit.record(con, username, "emerging.export", "emerging_hot_spots", f"{report['start']}..{report['end']}", detail)
    return json.dumps(report, indent=1)


def people_table(result: EmergingResult, names: dict[str, str]) -> pd.DataFrame:
    """The table for people: neighbourhood, category, counts, final Gi* z and the trend."""
    table = result.table()
    return pd.DataFrame(
        {
            "Cell": table["cell"],
            "Neighbourhood": table["cell"].map(names).fillna("(none recorded)"),
            "Category": table["category"],
            "Incidents": table["incidents"],
            f"Hot {result.slice_by}s": table["hot_bins"],
            f"Cold {result.slice_by}s": table["cold_bins"],
            "Final Gi* z": table["final_z"].round(2),
            "Trend (Kendall's tau)": table["trend_tau"].round(3),
            "Trend p": table["trend_p"].round(4),
        }
    )


def category_layer(table: pd.DataFrame, names: dict[str, str], layer_id: str = "emerging-hot-spots"):
    """A pydeck hexagon layer of ``table``'s cells coloured by category, plain-text tooltips."""
    from crimeviz.explore import maps

    shown = table.copy()
    shown["color"] = [[*COLOURS[c], 210] for c in shown["category"]]
    shown["hood"] = shown["cell"].map(names).fillna("(none recorded)")
    shown["trend"] = shown["trend_tau"].round(3)
    shown["tooltip"] = maps.tooltip_rows(
        shown,
        {"Category": "category", "Neighbourhood": "hood", "Incidents": "incidents", "Kendall's tau": "trend"},
    )
    return maps.hex_layer(shown, layer_id)
