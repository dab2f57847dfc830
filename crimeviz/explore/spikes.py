"""Spike alerts: cells and areas whose last-7-day count is improbably high against their 365-day rate.

For each cell (or area), the count ``k`` of the 7 days ending on the chosen day is compared with
a Poisson distribution whose mean is the cell's own rate over the 365 days before those 7:
λ = 7 · n₃₆₅ / 365. The one-sided p-value is P(X ≥ k | λ) (``scipy.stats.poisson.sf(k − 1, λ)``),
the exact upper tail of the Poisson test (e.g. Kulldorff 1997 uses the same tail for a single
window). The p-values of all the cells (or areas) tested are corrected together with
Benjamini–Hochberg (Benjamini & Hochberg 1995; ``scipy.stats.false_discovery_control``); a
spike passes at the false discovery rate ``alpha`` and counts at least ``min_count`` incidents.

A cell with no incident in its 365 days is tested as if it had one (λ = 7/365): a rate of zero
would make any incident infinitely improbable. The cells tested are those with at least one
incident in the 372 days; the areas, every area of the layer.
"""

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, poisson

from crimeviz.store.filters import IncidentFilter

WINDOW_DAYS = 7
BASELINE_DAYS = 365
ALPHA = 0.05
MIN_COUNT = 3
SPIKE_COLOUR = (0, 170, 230)  # cyan: apart from the warm count ramp under it


def windows(day: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """The recent window (the 7 days ending on ``day``) and the baseline (the 365 days before it),
    each as ``(first, last)`` day, inclusive."""
    recent = (day - timedelta(days=WINDOW_DAYS - 1), day)
    baseline = (recent[0] - timedelta(days=BASELINE_DAYS), recent[0] - timedelta(days=1))
    return recent, baseline


def poisson_test(recent, baseline, alpha: float = ALPHA, min_count: int = MIN_COUNT) -> pd.DataFrame:
    """The test on aligned counts (``recent`` in the 7 days, ``baseline`` in the 365 before).

    Returns ``recent``, ``baseline``, ``expected`` (λ), ``ratio`` (recent / λ), ``p`` (one-sided),
    ``q`` (Benjamini–Hochberg adjusted) and ``spike`` (q ≤ alpha and recent ≥ min_count), in the
    inputs' order and index.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"the false discovery rate must lie between 0 and 1 (got {alpha})")
    if min_count < 1:
        raise ValueError(f"the smallest spike must be at least 1 incident (got {min_count})")
    recent = pd.Series(recent, dtype="int64")
    baseline = pd.Series(baseline, dtype="int64").reindex(recent.index, fill_value=0)
    expected = WINDOW_DAYS * np.maximum(baseline.to_numpy(float), 1.0) / BASELINE_DAYS
    k = recent.to_numpy()
    p = poisson.sf(k - 1, expected)
    q = false_discovery_control(p, method="bh") if len(p) else p
    return pd.DataFrame(
        {
            "recent": k,
            "baseline": baseline.to_numpy(),
            "expected": expected,
            "ratio": k / expected,
            "p": p,
            "q": q,
            "spike": (q <= alpha) & (k >= min_count),
        },
        index=recent.index,
    )


def _aligned(recent: pd.Series, baseline: pd.Series) -> tuple[pd.Series, pd.Series]:
    keys = recent.index.union(baseline.index)
    return recent.reindex(keys, fill_value=0), baseline.reindex(keys, fill_value=0)


def cell_spikes(
    con, f: IncidentFilter, day: date, res: int = 8, alpha: float = ALPHA, min_count: int = MIN_COUNT
) -> pd.DataFrame:
    """Every cell tested for ``day`` with the filter's other choices (offences, premises, …):
    ``cell`` (hex) and the columns of :func:`poisson_test`, spikes first, then by p-value."""
    import h3

    from crimeviz.store import queries

    (r0, r1), (b0, b1) = windows(day)
    recent, baseline = _aligned(
        queries.cell_counts(con, f.with_dates(r0, r1), res), queries.cell_counts(con, f.with_dates(b0, b1), res)
    )
    table = poisson_test(recent, baseline, alpha, min_count)
    table.insert(0, "cell", [h3.int_to_str(int(c)) for c in table.index])
    table.index.name = None
    return table.sort_values(["spike", "p", "cell"], ascending=[False, True, True]).reset_index(drop=True)


def area_spikes(
    con, f: IncidentFilter, day: date, layer: str, alpha: float = ALPHA, min_count: int = MIN_COUNT
) -> pd.DataFrame:
    """Every area of ``layer`` tested for ``day``: ``area`` and the columns of :func:`poisson_test`."""
    from crimeviz.store import areas

    (r0, r1), (b0, b1) = windows(day)
    now, _ = areas.counts(con, layer, f.with_dates(r0, r1))
    before, _ = areas.counts(con, layer, f.with_dates(b0, b1))
    recent, baseline = _aligned(now.set_index("name")["incidents"], before.set_index("name")["incidents"])
    table = poisson_test(recent, baseline, alpha, min_count)
    table.insert(0, "area", table.index.astype(str))
    table.index.name = None
    return table.sort_values(["spike", "p", "area"], ascending=[False, True, True]).reset_index(drop=True)


def mark_new(current: pd.DataFrame, previous: pd.DataFrame, key: str) -> pd.DataFrame:
    """``current`` with a column ``new``: a spike that was not a spike in ``previous`` (the test of the
    7 days before, same ``key`` column: ``cell`` or ``area``)."""
    before = set(previous.loc[previous["spike"], key])
    return current.assign(new=current["spike"] & ~current[key].isin(before))


def _rows(table: pd.DataFrame, key: str) -> list[dict]:
    return [
        {
            key: r[key],
            "recent": int(r["recent"]),
            "baseline": int(r["baseline"]),
            "expected": round(float(r["expected"]), 4),
            "ratio": round(float(r["ratio"]), 2),
            "p": float(f"{r['p']:.4g}"),
            "q": float(f"{r['q']:.4g}"),
        }
        for _, r in table[table["spike"]].iterrows()
    ]


def report(
    cells: pd.DataFrame,
    areas: pd.DataFrame | None,
    day: date,
    res: int,
    layer: str | None = None,
    offences=None,
    alpha: float = ALPHA,
    min_count: int = MIN_COUNT,
) -> dict:
    """The JSON report: the windows, the test's settings, how many cells and areas were tested, and the spikes."""
    (r0, r1), (b0, b1) = windows(day)
    out = {
        "date": str(day),
        "window": [str(r0), str(r1)],
        "baseline": [str(b0), str(b1)],
        "offences": list(offences) if offences else None,
        "alpha": alpha,
        "min_count": min_count,
        "res": res,
        "cells_tested": len(cells),
        "cells": _rows(cells, "cell"),
    }
    if areas is not None:
        out |= {"layer": layer, "areas_tested": len(areas), "areas": _rows(areas, "area")}
    return out


def export_json(con, username: str, report: dict) -> str:
    """``report`` as JSON text, audited (``spikes.export``)."""
    from crimeviz.store import audit

    detail = {"res": report["res"], "cells": len(report["cells"]), "areas": len(report.get("areas", []))}
    audit.record(con, username, "spikes.export", "spikes", report["date"], detail)
    return json.dumps(report, indent=1)


def spike_layer(table: pd.DataFrame, names: dict[str, str], layer_id: str = "spike-cells"):
    """The spike cells of :func:`cell_spikes` as a pydeck layer of thick cyan hexagon outlines (so the
    counts under them stay readable), plain-text tooltips; None if there is no spike."""
    import pydeck as pdk

    from crimeviz.explore import maps

    shown = table[table["spike"]].copy()
    if shown.empty:
        return None
    shown["color"] = [[*SPIKE_COLOUR, 255]] * len(shown)
    shown["hood"] = shown["cell"].map(names).fillna("(none recorded)")
    shown["expected_text"] = shown["expected"].map("{:.2f}".format)
    shown["p_text"] = shown["p"].map(lambda p: f"{p:.2g}")
    shown["tooltip"] = maps.tooltip_rows(
        shown,
        {
            "Spike (last 7 days)": "recent",
            "Expected from the 365 days before": "expected_text",
            "Neighbourhood": "hood",
            "p (one-sided Poisson)": "p_text",
        },
    )
    return pdk.Layer(
        "H3HexagonLayer",
        shown[["cell", "color", "tooltip"]],
        id=layer_id,
        get_hexagon="cell",
        get_line_color="color",
        filled=False,
        stroked=True,
        extruded=False,
        line_width_min_pixels=3,
        high_precision=False,
        pickable=True,
    )


def area_spike_layer(features: list[dict], table: pd.DataFrame, layer_id: str = "spike-areas"):
    """The spike areas of :func:`area_spikes` among GeoJSON ``features`` (``properties.name``): cyan
    outlines over a light tint (so hovering the area shows its test); None if no area is a spike."""
    import pydeck as pdk

    from crimeviz.explore import maps

    shown = table[table["spike"]].copy()
    if shown.empty:
        return None
    shown["expected_text"] = shown["expected"].map("{:.2f}".format)
    shown["p_text"] = shown["p"].map(lambda p: f"{p:.2g}")
    tips = dict(
        zip(
            shown["area"],
            maps.tooltip_rows(
                shown,
                {
                    "Spike area (last 7 days)": "area",
                    "Incidents": "recent",
                    "Expected from the 365 days before": "expected_text",
                    "p (one-sided Poisson)": "p_text",
                },
            ),
        )
    )
    drawn = [
        {"type": "Feature", "geometry": f["geometry"], "properties": {"tooltip": tips[f["properties"]["name"]]}}
        for f in features
        if f["properties"]["name"] in tips
    ]
    return pdk.Layer(
        "GeoJsonLayer",
        {"type": "FeatureCollection", "features": drawn},
        id=layer_id,
        stroked=True,
        filled=True,
        get_fill_color=[*SPIKE_COLOUR, 40],
        get_line_color=[*SPIKE_COLOUR, 255],
        line_width_min_pixels=3,
        pickable=True,
    )


def caption(
    table: pd.DataFrame,
    day: date,
    areas: pd.DataFrame | None = None,
    layer: str | None = None,
    alpha: float = ALPHA,
    min_count: int = MIN_COUNT,
) -> str:
    """One line for the map: how many of the cells (and areas of ``layer``) tested are spikes in the 7
    days to ``day``, and the rule."""
    (r0, r1), _ = windows(day)
    found = int(table["spike"].sum())
    what = f"{found} spike cell{'s' if found != 1 else ''}" if found else "No spike"
    text = f"{what} among {len(table):,} cells tested"
    if areas is not None:
        named = areas.loc[areas["spike"], "area"].tolist()
        text += f"; {len(named)} of the {len(areas):,} areas of {layer}" + (f" ({', '.join(named)})" if named else "")
    return (
        f"{text}, {r0:%d %b} – {r1:%d %b %Y}: at least {min_count} incidents, "
        f"improbably many against the rate in the 365 days before (one-sided Poisson test, "
        f"Benjamini–Hochberg at {alpha:.0%})."
    )
