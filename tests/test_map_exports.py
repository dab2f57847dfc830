"""Map exports: the cell CSV and the Leaflet HTML are audited (who, what, rows); the CSV is spreadsheet-safe."""

import io
import json
from datetime import date

import h3
import pandas as pd

from crimeviz.explore import exports
from crimeviz.store import audit, db, queries
from crimeviz.store.filters import IncidentFilter
from tests.conftest import incident_rows

F = IncidentFilter(date(2021, 1, 1), date(2021, 12, 31))
CELL = h3.latlng_to_cell(43.6532, -79.3832, 9)


def last_entry(con) -> pd.Series:
    return audit.entries(con, 1).iloc[0]


def test_cell_csv_is_audited_with_its_rows(small_store):
    data = exports.cell_csv(small_store, "ana", F, 9, CELL)
    rows = pd.read_csv(io.BytesIO(data))
    assert len(rows) == 3 and {"lat", "lon"} <= set(rows.columns)
    entry = last_entry(small_store)
    assert (entry["username"], entry["action"], entry["object_id"]) == ("ana", "map.export.cell_csv", CELL)
    assert json.loads(entry["detail"])["rows"] == 3


def test_cell_csv_neutralises_formulas(small_store):
    rows = incident_rows([("2021-05-01 10:00", "=HYPERLINK(\"http://x\")", 43.6532, -79.3832, "@SUM(A1)", "x")])
    db.insert_incidents(small_store, db.with_cells(rows, "hand"))
    text = exports.cell_csv(small_store, "ana", F, 9, CELL).decode()
    assert "'=HYPERLINK" in text and "'@SUM(A1)" in text
    assert "\n=" not in text and ",=" not in text and ",@" not in text


def test_leaflet_html_is_audited_with_its_rows(small_store):
    counts = queries.hex_counts(small_store, F, 8)
    page = exports.leaflet_html(small_store, "ana", counts, (43.6, 43.7, -79.5, -79.3), "none", 8)
    assert "<html" in page.lower()
    entry = last_entry(small_store)
    assert (entry["username"], entry["action"]) == ("ana", "map.export.leaflet")
    assert json.loads(entry["detail"])["rows"] == len(counts) > 0
