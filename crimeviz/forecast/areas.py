"""Forecasts inside the areas a commander picks (a division, some beats): the cells whose centre
lies in those areas of a layer, flagged and scored among themselves.

A cell belongs to the area holding its centre (``crimeviz.store.areas.cell_areas``, the rule of
``h3.polygon_to_cells``), so each cell is inside or outside as a whole and the flagged share of
the area stays a share of whole cells, as in the backtest (``crimeviz.forecast.metrics.flagged``).
"""

import pandas as pd

from crimeviz.store import areas


def within(con, forecast: pd.DataFrame, layer: str, names) -> pd.DataFrame:
    """The rows of ``forecast`` (``cell`` hex, ``intensity``, ``rank``) whose cell lies in the areas
    ``names`` of ``layer``, ranked again among themselves (1 = hottest), with an ``area`` column.

    ValueError, in words, when no cell of the forecast lies in those areas."""
    chosen = set(names)
    if not chosen:
        raise ValueError("choose at least one area")
    labels = pd.Series(areas.cell_areas(con, layer, forecast["cell"].tolist()), index=forecast.index)
    inside = labels.isin(chosen)
    if not inside.any():
        raise ValueError(f"no cell of the forecast has its centre in {', '.join(sorted(chosen))} ({layer})")
    out = forecast[inside].assign(area=labels[inside])
    out = out.sort_values(["intensity", "cell"], ascending=[False, True], ignore_index=True)
    out["rank"] = range(1, len(out) + 1)
    out.attrs = dict(forecast.attrs)
    return out


def actual_within(actual: pd.DataFrame, forecast: pd.DataFrame) -> pd.DataFrame:
    """The day's counts (``cell``, ``n``) in the cells of ``forecast`` only: a restricted forecast is
    scored on the incidents of its own cells."""
    return actual[actual["cell"].isin(set(forecast["cell"]))].reset_index(drop=True)
