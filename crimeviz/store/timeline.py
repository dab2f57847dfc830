"""Counts per time step (day or week) for the Map's playback: per H3 cell and per area."""

import pandas as pd

from crimeviz.store import grid
from crimeviz.store.filters import IncidentFilter, where


def hex_counts_by_step(con, f: IncidentFilter, res: int, step_days: int) -> pd.DataFrame:
    """Incidents per step and H3 cell under ``f``: ``step`` (0 for the ``step_days`` days from
    ``f.start``, 1 for the next, …), ``cell`` (hex string) and ``n``."""
    column = grid.cell_column(res)
    sql, params = where(f)
    return con.execute(
        "SELECT CAST(floor(datediff('day', CAST(? AS DATE), CAST(occurred_at AS DATE)) / ?) AS BIGINT) AS step, "
        f"lower(hex({column})) AS cell, count(*) AS n FROM incidents WHERE {sql} GROUP BY 1, 2 ORDER BY 1, 3 DESC",
        [f.start, float(step_days), *params],
    ).df()


def area_counts_by_step(con, layer: str, f: IncidentFilter, step_days: int) -> pd.DataFrame:
    """Incidents per step and area of ``layer`` (its join table ``incident_areas``): ``step``, ``area``, ``n``."""
    sql, params = where(f)
    return con.execute(
        "SELECT CAST(floor(datediff('day', CAST(? AS DATE), CAST(i.occurred_at AS DATE)) / ?) AS BIGINT) AS step, "
        "a.area AS area, count(*) AS n FROM incidents i JOIN incident_areas a ON a.incident_id = i.id "
        f"WHERE a.layer = ? AND i.id IN (SELECT id FROM incidents WHERE {sql}) GROUP BY 1, 2 ORDER BY 1, 3 DESC",
        [f.start, float(step_days), layer, *params],
    ).df()
