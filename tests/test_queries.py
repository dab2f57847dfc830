"""Filters and the read queries behind the Map and Trends pages, on hand-made incidents."""

from datetime import date

import h3
import pandas as pd

from crimeviz.store import db, queries
from crimeviz.store.filters import IncidentFilter, where

MARCH = IncidentFilter(date(2021, 3, 1), date(2021, 3, 31))


def test_hex_counts_group_by_cell_and_return_hex_strings(small_store):
    counts = queries.hex_counts(small_store, MARCH, 9)
    assert counts["n"].sum() == 5
    downtown = h3.latlng_to_cell(43.6532, -79.3832, 9)
    assert counts.set_index("cell")["n"][downtown] == 3
    assert all(h3.is_valid_cell(c) for c in counts["cell"])


def test_hours_wrap_past_midnight(small_store):
    night = IncidentFilter(date(2021, 3, 1), date(2021, 3, 31), hours=(22, 5))
    assert queries.total(small_store, night) == 2  # 23:00 and 02:00
    day = IncidentFilter(date(2021, 3, 1), date(2021, 3, 31), hours=(6, 21))
    assert queries.total(small_store, day) == 3


def test_weekday_offence_and_neighbourhood_filters(small_store):
    weekend = IncidentFilter(date(2021, 3, 1), date(2021, 3, 31), weekdays=(5, 6))  # 6 and 7 March 2021
    assert queries.total(small_store, weekend) == 2
    assaults = IncidentFilter(date(2021, 3, 1), date(2021, 3, 31), offences=("Assault",))
    assert queries.total(small_store, assaults) == 2
    annex = IncidentFilter(date(2020, 1, 1), date(2021, 12, 31), neighbourhoods=("Annex",))
    assert queries.total(small_store, annex) == 3


def test_sql_looking_values_are_data_not_sql(small_store):
    hostile = IncidentFilter(
        date(2021, 3, 1), date(2021, 3, 31), offences=("Assault') OR 1=1; DROP TABLE incidents; --",)
    )
    assert queries.total(small_store, hostile) == 0
    assert db.incident_count(small_store) == 8
    sql, params = where(hostile)
    assert "DROP" not in sql and params[2].startswith("Assault')")


def test_filter_problems_are_explained():
    bad = IncidentFilter(date(2021, 3, 31), date(2021, 3, 1), offences=(), weekdays=())
    assert len(bad.problems()) == 3
    assert MARCH.problems() == []


def test_series_compares_with_the_year_before(small_store):
    series = queries.series(small_store, MARCH, "M")
    assert list(series["n"]) == [5]
    assert list(series["n_last_year"]) == [2]  # March 2020
    daily = queries.series(small_store, MARCH, "D")
    assert len(daily) == 31 and daily["n"].sum() == 5
    # 52 weeks before Tue 2 March 2021 is Tue 3 March 2020: the 11:00 Annex assault.
    assert daily.set_index("period")["n_last_year"][pd.Timestamp("2021-03-02")] == 1


def test_neighbourhood_change_windows(small_store):
    table = queries.neighbourhood_change(small_store, IncidentFilter(date(2021, 3, 1), date(2021, 3, 7)), 28)
    rows = table.set_index("neighbourhood")
    assert rows.loc["Bay Street Corridor", "current"] == 3 and rows.loc["Bay Street Corridor", "previous"] == 0
    assert rows.loc["Annex", "current"] == 2 and rows.loc["Annex", "previous"] == 0  # 10 Feb, 6 Mar
    assert pd.isna(rows.loc["Annex", "pct_change"])
    year = queries.neighbourhood_change(small_store, IncidentFilter(date(2021, 3, 1), date(2021, 3, 7)), 365)
    year = year.set_index("neighbourhood")
    assert (year.loc["Annex", "previous"], year.loc["Annex", "pct_change"]) == (1, 100.0)
    assert (year.loc["Bay Street Corridor", "current"], year.loc["Bay Street Corridor", "previous"]) == (3, 1)


def test_cell_detail_and_incident_download(small_store):
    cell = h3.latlng_to_cell(43.6532, -79.3832, 9)
    detail = queries.cell_detail(small_store, MARCH, 9, cell)
    assert dict(zip(detail["by_offence"]["offence"], detail["by_offence"]["n"])) == {"Assault": 2, "Robbery": 1}
    assert detail["hour_weekday"]["n"].sum() == 3
    rows = queries.incidents(small_store, MARCH, 9, cell)
    assert len(rows) == 3 and rows["occurred_at"].is_monotonic_decreasing


def test_options_list_distinct_values(small_store):
    opts = queries.options(small_store)
    assert opts["offences"] == ["Assault", "Auto Theft", "Break and Enter", "Robbery"]
    assert opts["first_date"] == date(2020, 3, 2) and opts["last_date"] == date(2021, 3, 7)
