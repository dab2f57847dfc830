"""Read queries behind the Map, Trends and Hotspots pages (bound parameters only)."""

from datetime import date, timedelta

import pandas as pd

from crimeviz.store import grid
from crimeviz.store.filters import IncidentFilter, where


def options(con) -> dict:
    """Distinct offences, premises, neighbourhoods and the date range, for filter widgets."""

    def distinct(column):
        rows = con.execute(f"SELECT DISTINCT {column} FROM incidents WHERE {column} IS NOT NULL ORDER BY 1").fetchall()
        return [r[0] for r in rows]

    first, last = con.execute("SELECT min(occurred_at), max(occurred_at) FROM incidents").fetchall()[0]
    return {
        "offences": distinct("offence"),
        "premises": distinct("premises"),
        "neighbourhoods": distinct("neighbourhood"),
        "first_date": first.date() if first else None,
        "last_date": last.date() if last else None,
    }


def hex_counts(con, f: IncidentFilter, res: int) -> pd.DataFrame:
    """Incident count per H3 cell at ``res``: columns ``cell`` (hex string) and ``n``."""
    column = grid.cell_column(res)
    sql, params = where(f)
    return con.execute(
        f"SELECT lower(hex({column})) AS cell, count(*) AS n FROM incidents WHERE {sql} "
        f"GROUP BY {column} ORDER BY n DESC",
        params,
    ).df()


def cell_counts(con, f: IncidentFilter, res: int) -> pd.Series:
    """Incident count per integer cell (index) at ``res``, for statistics."""
    column = grid.cell_column(res)
    sql, params = where(f)
    frame = con.execute(f"SELECT {column} AS cell, count(*) AS n FROM incidents WHERE {sql} GROUP BY 1", params).df()
    return frame.set_index("cell")["n"]


def study_cells(con, res: int) -> list[int]:
    """Every cell at ``res`` with at least one stored incident: the study area."""
    column = grid.cell_column(res)
    return [r[0] for r in con.execute(f"SELECT DISTINCT {column} FROM incidents ORDER BY 1").fetchall()]


def total(con, f: IncidentFilter) -> int:
    sql, params = where(f)
    return con.execute(f"SELECT count(*) FROM incidents WHERE {sql}", params).fetchall()[0][0]


def incidents(
    con, f: IncidentFilter, res: int | None = None, cell: str | None = None, limit: int | None = None
) -> pd.DataFrame:
    """The incidents themselves (optionally in one cell), newest first, for tables and CSV."""
    sql, params = where(f)
    if cell is not None:
        sql += f" AND {grid.cell_column(res)} = ?"
        params.append(grid.to_int(cell))
    tail = ""
    if limit is not None:
        tail = " LIMIT ?"
        params.append(int(limit))
    return con.execute(
        "SELECT id, occurred_at, offence, premises, neighbourhood, lat, lon, source, "
        f"lower(hex(h3_9)) AS h3_9 FROM incidents WHERE {sql} ORDER BY occurred_at DESC{tail}",
        params,
    ).df()


def points(con, f: IncidentFilter, limit: int = 50_000) -> pd.DataFrame:
    """Up to ``limit`` incident locations (a deterministic sample) for point/heatmap layers."""
    sql, params = where(f)
    return con.execute(
        f"SELECT lat, lon, offence, premises, occurred_at FROM incidents WHERE {sql} ORDER BY hash(id) LIMIT ?",
        params + [int(limit)],
    ).df()


def cell_detail(con, f: IncidentFilter, res: int, cell: str) -> dict[str, pd.DataFrame]:
    """Everything the hex detail panel shows for one cell."""
    sql, params = where(f)
    sql += f" AND {grid.cell_column(res)} = ?"
    params.append(grid.to_int(cell))

    def q(select, group, order):
        return con.execute(
            f"SELECT {select}, count(*) AS n FROM incidents WHERE {sql} GROUP BY {group} ORDER BY {order}", params
        ).df()

    return {
        "by_offence": q("offence", "offence", "n DESC"),
        "hour_weekday": q("isodow(occurred_at) - 1 AS weekday, hour(occurred_at) AS hour", "ALL", "weekday, hour"),
        "monthly": q("date_trunc('month', occurred_at) AS month", "ALL", "month"),
        "premises": q("coalesce(premises, '(unknown)') AS premises", "ALL", "n DESC"),
    }


def series(con, f: IncidentFilter, freq: str) -> pd.DataFrame:
    """Counts per day/week/month over the filter's dates, with the same period a year before.

    Columns: ``period``, ``n``, ``n_last_year`` (the count 52 weeks earlier for daily and
    weekly series, so weekdays line up; 12 months earlier for monthly).
    """
    unit = {"D": "day", "W": "week", "M": "month"}[freq]
    lag = pd.DateOffset(months=12) if freq == "M" else pd.Timedelta(weeks=52)
    shifted = f.with_dates((pd.Timestamp(f.start) - lag).date(), (pd.Timestamp(f.end) - lag).date())

    def counts(flt):
        sql, params = where(flt)
        return con.execute(
            f"SELECT date_trunc('{unit}', occurred_at) AS period, count(*) AS n FROM incidents WHERE {sql} GROUP BY 1",
            params,
        ).df()

    now, before = counts(f), counts(shifted)
    start = pd.Timestamp(f.start).to_period(freq).start_time
    periods = pd.date_range(start, pd.Timestamp(f.end), freq={"D": "D", "W": "W-MON", "M": "MS"}[freq])
    out = pd.DataFrame({"period": periods})
    out["n"] = out["period"].map(now.set_index("period")["n"]).fillna(0).astype(int)
    before["period"] = before["period"] + lag
    out["n_last_year"] = out["period"].map(before.set_index("period")["n"]).fillna(0).astype(int)
    return out


def hour_weekday(con, f: IncidentFilter) -> pd.DataFrame:
    sql, params = where(f)
    return con.execute(
        "SELECT isodow(occurred_at) - 1 AS weekday, hour(occurred_at) AS hour, "
        f"count(*) AS n FROM incidents WHERE {sql} GROUP BY ALL ORDER BY ALL",
        params,
    ).df()


def seasonal(con, f: IncidentFilter) -> pd.DataFrame:
    """Monthly counts by year (year, month, n) for a seasonal profile."""
    sql, params = where(f)
    return con.execute(
        "SELECT year(occurred_at) AS year, month(occurred_at) AS month, "
        f"count(*) AS n FROM incidents WHERE {sql} GROUP BY ALL ORDER BY ALL",
        params,
    ).df()


def offence_mix(con, f: IncidentFilter) -> pd.DataFrame:
    """Monthly counts per offence (month, offence, n)."""
    sql, params = where(f)
    return con.execute(
        "SELECT date_trunc('month', occurred_at) AS month, offence, count(*) AS n "
        f"FROM incidents WHERE {sql} GROUP BY ALL ORDER BY ALL",
        params,
    ).df()


def neighbourhood_change(con, f: IncidentFilter, days: int, top: int = 15) -> pd.DataFrame:
    """CompStat table: counts in the ``days`` ending at ``f.end`` vs the ``days`` before.

    Columns: neighbourhood, current, previous, change, pct_change; top by current count.
    """
    end = f.end
    current = f.with_dates(end - timedelta(days=days - 1), end)
    previous = f.with_dates(end - timedelta(days=2 * days - 1), end - timedelta(days=days))

    def counts(flt):
        sql, params = where(flt)
        return (
            con.execute(
                "SELECT coalesce(neighbourhood, '(unknown)') AS neighbourhood, count(*) AS n "
                f"FROM incidents WHERE {sql} GROUP BY 1",
                params,
            )
            .df()
            .set_index("neighbourhood")["n"]
        )

    table = pd.DataFrame({"current": counts(current), "previous": counts(previous)}).fillna(0).astype(int)
    table["change"] = table["current"] - table["previous"]
    table["pct_change"] = (100 * table["change"] / table["previous"].where(table["previous"] > 0)).round(1)
    table = table.sort_values(["current", "change"], ascending=False).head(top)
    return table.reset_index(names="neighbourhood")


def period_label(start: date, end: date) -> str:
    return f"{start:%d %b %Y} – {end:%d %b %Y}"


def neighbourhood_cells(con, res: int = 8) -> pd.DataFrame:
    """Each cell at ``res`` with the neighbourhood most of its incidents name (``name``, ``cell`` hex)."""
    column = grid.cell_column(res)
    return con.execute(
        f"SELECT mode(neighbourhood) AS name, lower(hex({column})) AS cell FROM incidents "
        f"WHERE neighbourhood IS NOT NULL GROUP BY {column} ORDER BY 1, 2"
    ).df()


def neighbourhood_names(con, res: int = 8) -> dict[str, str]:
    """``{cell hex: neighbourhood}`` from ``neighbourhood_cells``."""
    cells = neighbourhood_cells(con, res)
    return dict(zip(cells["cell"], cells["name"]))


def bounds(con) -> tuple[float, float, float, float]:
    """(lat_min, lat_max, lon_min, lon_max) of the central 99.8% of incidents: a map view that
    does not move when filters change and is not stretched by a few stray points."""
    row = con.execute(
        "SELECT quantile_cont(lat, 0.001), quantile_cont(lat, 0.999), "
        "quantile_cont(lon, 0.001), quantile_cont(lon, 0.999) FROM incidents"
    ).fetchall()[0]
    return row if row[0] is not None else (43.58, 43.86, -79.64, -79.12)


def offence_incidents(con, offence: str, start: date, end: date) -> pd.DataFrame:
    """One offence's incidents from ``start`` to ``end`` (inclusive) for near-repeat analysis:
    ``id``, ``lat``, ``lon``, ``occurred_on`` (date) and ``day`` (days since 1970-01-01), oldest first."""
    sql, params = where(IncidentFilter(start, end, (offence,)))
    return con.execute(
        "SELECT id, lat, lon, CAST(occurred_at AS DATE) AS occurred_on, "
        "datediff('day', DATE '1970-01-01', CAST(occurred_at AS DATE)) AS day "
        f"FROM incidents WHERE {sql} ORDER BY occurred_at, id",
        params,
    ).df()


def cell_day_counts(con, f: IncidentFilter, res: int) -> pd.DataFrame:
    """Incidents matching ``f`` per integer cell at ``res`` and day: ``cell``, ``day`` (date), ``n``
    (the space-time cube of emerging hot spots)."""
    column = grid.cell_column(res)
    sql, params = where(f)
    return con.execute(
        f"SELECT {column} AS cell, CAST(occurred_at AS DATE) AS day, count(*) AS n FROM incidents "
        f"WHERE {sql} GROUP BY 1, 2",
        params,
    ).df()
