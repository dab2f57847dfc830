"""Incident reads for models, plans and reviews: cells, offence types, the data's time span,
counts per day, cell and offence, locations, and incidents near a point.

Forecasts, patrol risk, street-view labels and CCTV reviews read the incidents only through these
functions (bound parameters; column names only from :func:`grid.cell_column`).
"""

import math
from datetime import date, datetime

import pandas as pd

from crimeviz.store import grid
from crimeviz.store.grid import EARTH_RADIUS_M


def offence_types(con) -> list[str]:
    """The offence types in the store, sorted."""
    return [r[0] for r in con.execute("SELECT DISTINCT offence FROM incidents ORDER BY 1").fetchall()]


def cells_with_incidents(con, res: int, before: date | None = None) -> list[int]:
    """Cells at ``res`` with at least one incident (strictly before ``before`` if given)."""
    column = grid.cell_column(res)
    if before is None:
        rows = con.execute(f"SELECT DISTINCT {column} FROM incidents").fetchall()
    else:
        rows = con.execute(f"SELECT DISTINCT {column} FROM incidents WHERE occurred_at < ?", [before]).fetchall()
    return [r[0] for r in rows]


def first_incident(con) -> datetime | None:
    """When the earliest stored incident occurred (None for an empty store)."""
    return con.execute("SELECT min(occurred_at) FROM incidents").fetchall()[0][0]


def last_incident(con, before: date | None = None) -> datetime | None:
    """When the latest stored incident (strictly before ``before`` if given) occurred."""
    if before is None:
        return con.execute("SELECT max(occurred_at) FROM incidents").fetchall()[0][0]
    return con.execute("SELECT max(occurred_at) FROM incidents WHERE occurred_at < ?", [before]).fetchall()[0][0]


def counts_by_day(
    con,
    res: int,
    origin: date,
    start: date,
    end: date,
    offences: list[str] | None = None,
    by_hour: bool = False,
) -> pd.DataFrame:
    """Counts of incidents from ``start`` (inclusive) to ``end`` (exclusive) per day, offence and cell:
    columns ``d`` (days since ``origin``, local calendar days), ``h`` (hour, with ``by_hour``),
    ``offence``, ``cell`` (integer H3 at ``res``) and ``n``; only ``offences`` when given."""
    column = grid.cell_column(res)
    if offences is not None and not offences:
        columns = ["d", *(["h"] if by_hour else []), "offence", "cell", "n"]
        return pd.DataFrame({name: pd.Series(dtype="int64") for name in columns})
    hour = "hour(occurred_at) AS h, " if by_hour else ""
    sql = (
        f"SELECT datediff('day', ?::DATE, CAST(occurred_at AS DATE)) AS d, {hour}offence, {column} AS cell, "
        "count(*) AS n FROM incidents WHERE occurred_at >= ? AND occurred_at < ?"
    )
    params = [origin, start, end]
    if offences is not None:
        sql += f" AND offence IN ({', '.join('?' for _ in offences)})"
        params += list(offences)
    return con.execute(sql + " GROUP BY ALL", params).df()


def counts_by_cell_and_offence(con, res: int, before: date) -> pd.DataFrame:
    """Counts of incidents before ``before`` per ``cell`` (integer H3 at ``res``) and ``offence``: ``n``."""
    column = grid.cell_column(res)
    return con.execute(
        f"SELECT {column} AS cell, offence, count(*) AS n FROM incidents WHERE occurred_at < ? GROUP BY ALL", [before]
    ).df()


def locations(con, res: int, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """``lat``, ``lon`` and ``cell`` (integer H3 at ``res``) of the incidents from ``start`` to ``end``
    (days, inclusive; either open when None)."""
    column = grid.cell_column(res)
    return con.execute(
        f"SELECT lat, lon, {column} AS cell FROM incidents "
        "WHERE (?::DATE IS NULL OR occurred_at >= ?::DATE) AND (?::DATE IS NULL OR occurred_at < ?::DATE + 1)",
        [start, start, end, end],
    ).df()


def incidents_near(
    con, lat: float, lon: float, radius_m: float, start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """Incidents within ``radius_m`` (great-circle) of a point, nearest first: occurred_at, offence,
    premises, distance_m; only those from ``start`` to ``end`` (days, inclusive) when given."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    return con.execute(
        """
        SELECT occurred_at, offence, premises, round(distance_m) AS distance_m FROM (
            SELECT occurred_at, offence, premises,
                   2 * ? * asin(sqrt(pow(sin(radians(lat - ?) / 2), 2)
                       + cos(radians(?)) * cos(radians(lat)) * pow(sin(radians(lon - ?) / 2), 2))) AS distance_m
            FROM incidents
            WHERE lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?
              AND (?::DATE IS NULL OR occurred_at >= ?::DATE) AND (?::DATE IS NULL OR occurred_at < ?::DATE + 1))
        WHERE distance_m <= ?
        ORDER BY distance_m, occurred_at DESC""",
        [
            EARTH_RADIUS_M,
            lat,
            lat,
            lon,
            lat - dlat,
            lat + dlat,
            lon - dlon,
            lon + dlon,
            start,
            start,
            end,
            end,
            radius_m,
        ],
    ).df()


def sources(con) -> pd.DataFrame:
    """Per source: ``incidents``, ``first`` and ``last`` day."""
    return con.execute(
        "SELECT source, count(*) AS incidents, min(occurred_at)::DATE AS first, "
        "max(occurred_at)::DATE AS last FROM incidents GROUP BY 1 ORDER BY 1"
    ).df()
