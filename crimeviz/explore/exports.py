"""The Map page's exports, each audited with who exported what and how many rows."""

import pandas as pd

from crimeviz.explore import leaflet
from crimeviz.store import audit, queries
from crimeviz.store.filters import IncidentFilter
from crimeviz.store.safe_csv import to_csv_bytes


def cell_csv(con, username: str, f: IncidentFilter, res: int, cell: str) -> bytes:
    """The incidents of ``cell`` under ``f`` as spreadsheet-safe CSV (audited: ``map.export.cell_csv``)."""
    rows = queries.incidents(con, f, res, cell)
    audit.record(con, username, "map.export.cell_csv", "cell", cell, {"rows": len(rows), "filter": repr(f)})
    return to_csv_bytes(rows)


def incidents_csv(con, username: str, f: IncidentFilter, source: str | None = None) -> tuple[bytes, int]:
    """The incidents under ``f`` (of ``source`` only, if given) as spreadsheet-safe CSV with the columns
    of :func:`cell_csv`, and the row count (audited: ``export.incidents_csv``)."""
    rows = queries.incidents(con, f)
    if source is not None:
        rows = rows[rows["source"] == source]
    detail = {"rows": len(rows), "filter": repr(f), "source": source}
    audit.record(con, username, "export.incidents_csv", "incidents", source or "all sources", detail)
    return to_csv_bytes(rows), len(rows)


def leaflet_html(con, username: str, counts: pd.DataFrame, bounds, basemap: str, res: int) -> str:
    """The Leaflet map of ``counts`` as one HTML file (audited: ``map.export.leaflet``)."""
    page = leaflet.folium_map(counts, bounds, basemap).get_root().render()
    audit.record(con, username, "map.export.leaflet", "map", f"h3r{res}", {"rows": len(counts)})
    return page
