"""Analysis by area of any layer: the filter's (layer, areas) criterion, change vs the previous period,
CompStat and monthly counts per area, cells of areas, the choropleth, checked against an independent
geopandas sjoin on the boundary fixture of test_areas."""

import json
from datetime import date

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest

from crimeviz.explore import area_maps
from crimeviz.store import areas, db, queries
from crimeviz.store.filters import IncidentFilter, where
from tests.conftest import incident_rows
from tests.test_areas import EVERYTHING, POINTS, WGS84, layer_frame, point_store, sjoin_counts, write


@pytest.fixture
def wards(empty_store, tmp_path):
    """The boundary fixture's points (2021-03-01) in a store with its two wards as layer "wards"."""
    con = point_store(empty_store)
    areas.import_layer(con, write(layer_frame(), tmp_path), "wards", "ward", "root")
    return con


def dated_points(con, rows):
    """Add incidents ``(when, lon, lat)``."""
    frame = incident_rows([(when, "Assault", lat, lon) for when, lon, lat in rows])
    db.insert_incidents(con, db.with_cells(frame, "dated"))
    areas.join_new_incidents(con)


def test_the_area_criterion_keeps_the_incidents_an_sjoin_puts_in_those_areas(wards):
    reference, outside = sjoin_counts(POINTS, layer_frame())
    for chosen in (["Alpha"], ["Beta"], ["Alpha", "Beta"]):
        f = EVERYTHING.with_areas("wards", chosen)
        assert queries.total(wards, f) == sum(reference[a] for a in chosen)
    assert queries.total(wards, EVERYTHING) == sum(reference.values()) + outside == len(POINTS)
    assert queries.total(wards, EVERYTHING.with_areas("wards", ["Gamma"])) == 0  # no such area: nothing


def test_area_names_are_bound_never_written_into_the_sql(wards):
    f = EVERYTHING.with_areas("wards", ["Alpha' OR 1=1 --"])
    sql, params = where(f)
    assert "Alpha" not in sql and "wards" not in sql and params[-2:] == ["wards", "Alpha' OR 1=1 --"]
    assert queries.total(wards, f) == 0


def test_the_area_criterion_combines_with_the_others_and_with_counts_per_area(wards):
    dated_points(wards, [("2021-03-01 23:00", -79.37, 43.65)])  # Beta, late evening
    f = IncidentFilter(date(2021, 3, 1), date(2021, 3, 1), hours=(22, 23)).with_areas("wards", ["Beta"])
    assert queries.total(wards, f) == 1
    table, outside = areas.counts(wards, "wards", f)
    assert dict(zip(table["name"], table["incidents"])) == {"Beta": 1, "Alpha": 0} and outside == 0


def test_an_empty_choice_of_areas_is_a_problem_not_an_empty_result():
    assert "choose at least one area" in EVERYTHING.with_areas("wards", []).problems()
    assert "areas need the layer they belong to" in EVERYTHING.with_areas(None, ["Alpha"]).problems()
    assert EVERYTHING.with_areas("wards", None) == EVERYTHING
    assert EVERYTHING.with_areas("wards", ["Alpha"]).with_dates(date(2021, 1, 1), date(2021, 1, 2)).areas == ("Alpha",)


def test_change_compares_with_the_period_of_equal_length_just_before(wards):
    # The fixture's points are on 2021-03-01. Add 2 in Beta and 1 in Alpha the week before, and
    # 1 in Beta two weeks before (outside both periods).
    dated_points(
        wards,
        [
            ("2021-02-23 10:00", -79.37, 43.65),
            ("2021-02-28 10:00", -79.37, 43.655),
            ("2021-02-22 10:00", -79.399, 43.641),
            ("2021-02-15 10:00", -79.37, 43.65),
        ],
    )
    f = IncidentFilter(date(2021, 3, 1), date(2021, 3, 7))
    assert areas.previous_period(f).start == date(2021, 2, 22) and areas.previous_period(f).end == date(2021, 2, 28)
    table = areas.change(wards, "wards", f).set_index("name")
    assert table.loc["Alpha", ["incidents", "previous", "change"]].tolist() == [4, 1, 3]
    assert table.loc["Beta", ["incidents", "previous", "change"]].tolist() == [3, 2, 1]
    assert table.loc["Beta", "pct_change"] == pytest.approx(50.0)
    assert table.loc["Alpha", "per_km2"] == pytest.approx(4 / table.loc["Alpha", "area_km2"])


def test_compstat_per_area_windows_end_on_the_filter_end(wards):
    dated_points(wards, [("2021-02-20 10:00", -79.37, 43.65), ("2021-02-21 10:00", -79.37, 43.65)])
    table = areas.compstat(wards, "wards", IncidentFilter(date(2021, 1, 1), date(2021, 3, 1)), days=7)
    assert table.to_dict("records") == [
        {"area": "Alpha", "current": 4, "previous": 0, "change": 4, "pct_change": pytest.approx(np.nan, nan_ok=True)},
        {"area": "Beta", "current": 3, "previous": 2, "change": 1, "pct_change": 50.0},
    ]


def test_monthly_counts_per_area_leave_out_incidents_outside_every_area(wards):
    dated_points(wards, [("2021-04-02 10:00", -79.37, 43.65), ("2021-04-03 10:00", -79.30, 43.70)])
    monthly = areas.monthly(wards, "wards", EVERYTHING)
    got = {(m.month, a): n for m, a, n in monthly.itertuples(index=False)}
    assert got == {(3, "Alpha"): 4, (3, "Beta"): 3, (4, "Beta"): 1}


def test_study_cells_are_the_cells_of_the_areas_incidents(wards):
    cells = areas.study_cells(wards, "wards", ["Beta"], 9)
    beta = [(lat, lon) for lon, lat, area in POINTS if area == "Beta"]
    assert sorted(cells) == sorted({h3.str_to_int(h3.latlng_to_cell(lat, lon, 9)) for lat, lon in beta})
    assert areas.study_cells(wards, "wards", [], 9) == []


def test_a_cell_belongs_to_the_area_holding_its_centre_as_an_sjoin_of_centres_says(wards):
    cells = sorted(h3.grid_disk(h3.latlng_to_cell(43.65, -79.38, 9), 6))
    got = areas.cell_areas(wards, "wards", cells)
    centres = [h3.cell_to_latlng(c) for c in cells]
    reference, _ = sjoin_counts([(lon, lat) for lat, lon in centres], layer_frame())
    assert {a: got.count(a) for a in ("Alpha", "Beta")} == reference
    assert got.count(None) == len(cells) - sum(reference.values()) > 0
    assert areas.cell_areas(wards, "wards", [h3.str_to_int(c) for c in cells]) == got  # ints too


def test_area_features_are_geojson_in_name_order(wards):
    features = areas.features(wards, "wards")
    assert [f["properties"]["name"] for f in features] == ["Alpha", "Beta"]
    shapes = gpd.GeoDataFrame.from_features(features, crs=WGS84)
    assert shapes.geometry.iloc[0].interiors  # Alpha keeps its hole
    assert [round(g.area, 9) for g in shapes.geometry] == [round(g.area, 9) for g in layer_frame().geometry]


def table_of(counts: dict, previous: dict) -> pd.DataFrame:
    names = list(counts)
    out = pd.DataFrame({"name": names, "incidents": [counts[n] for n in names], "area_km2": 2.0})
    out["per_km2"] = out["incidents"] / 2.0
    out["previous"] = [previous[n] for n in names]
    out["change"] = out["incidents"] - out["previous"]
    out["pct_change"] = 100 * out["change"] / out["previous"].where(out["previous"] > 0)
    return out


def square(name: str, x: float) -> dict:
    ring = [[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {"name": name}}


def test_the_choropleth_colours_counts_by_quantile_classes_with_plain_text_tooltips():
    names = ["A", "B", "C", "D", "<b>E</b>"]
    table = table_of(dict(zip(names, [0, 1, 5, 9, 30])), dict(zip(names, [0, 2, 5, 3, 10])))
    layer, legend = area_maps.choropleth(
        [square(n, k) for k, n in enumerate(names)] + [square("F", 9)], table, "incidents"
    )
    props = [f["properties"] for f in layer.data["features"]]
    assert len({tuple(p["color"]) for p in props[:5]}) == 5  # five values, five classes
    assert props[5]["color"][3] == 0  # F has no row: outlined, not coloured
    assert (
        props[4]["tooltip"]
        == "Area: <b>E</b>\nIncidents: 30\nPer km²: 15.0\nPrevious period: 10\nChange: +20 (+200.0%)"
    )
    assert props[0]["tooltip"].endswith("Change: +0 (–)")  # no previous incident: no percentage
    assert [label for label, _ in legend] == ["0 incidents", "1 incident", "5 incidents", "9 incidents", "30 incidents"]


def test_the_change_map_diverges_around_no_change():
    names = list("ABCDEFG")
    table = table_of(dict(zip(names, [10, 10, 10, 10, 10, 10, 10])), dict(zip(names, [30, 12, 11, 10, 9, 5, 0])))
    layer, legend = area_maps.choropleth([square(n, k) for k, n in enumerate(names)], table, "change")
    colours = {
        f["properties"]["tooltip"].split("\n")[0][6:]: tuple(f["properties"]["color"][:3])
        for f in layer.data["features"]
    }
    assert colours["D"] == area_maps.NO_CHANGE
    assert all(colours[n] in area_maps.FALLS for n in "ABC") and all(colours[n] in area_maps.RISES for n in "EFG")
    assert colours["A"] == area_maps.FALLS[-1] and colours["G"] == area_maps.RISES[-1]  # the largest moves
    labels = [label for label, _ in legend]
    assert labels == ["fall of 20", "fall of 2", "fall of 1", "no change", "rise of 1", "rise of 5", "rise of 10"]


def test_an_unknown_measure_is_refused():
    with pytest.raises(ValueError, match="measure must be one of"):
        area_maps.choropleth([], table_of({}, {}), "median")


def test_the_area_series_chart_draws_the_busiest_areas_with_empty_months_as_zero():
    monthly = pd.DataFrame(
        {
            "month": pd.to_datetime(["2021-01-01", "2021-03-01", "2021-01-01", "2021-02-01"]),
            "area": ["<i>A</i>", "<i>A</i>", "B", "C"],
            "n": [5, 2, 1, 3],
        }
    )
    fig = area_maps.area_series_chart(monthly, top=2)
    assert [t.name for t in fig.data] == ["&lt;i&gt;A&lt;/i&gt;", "C"]
    assert fig.data[0].y.tolist() == [5, 0, 2] and "the 2 busiest of 3" in fig.layout.title.text


def test_a_forecast_within_areas_keeps_the_cells_whose_centre_they_hold_ranked_again(wards):
    from crimeviz.forecast import areas as forecast_areas

    cells = sorted(h3.grid_disk(h3.latlng_to_cell(43.65, -79.38, 9), 6))
    forecast = pd.DataFrame(
        {"cell": cells, "intensity": np.linspace(5, 0.1, len(cells)), "rank": range(1, len(cells) + 1)}
    )
    forecast.attrs["lead"] = 1
    beta = forecast_areas.within(wards, forecast, "wards", ["Beta"])
    centres = [h3.cell_to_latlng(c) for c in beta["cell"]]
    assert sjoin_counts([(lon, lat) for lat, lon in centres], layer_frame())[0]["Beta"] == len(beta) > 0
    assert set(beta["area"]) == {"Beta"} and beta["rank"].tolist() == list(range(1, len(beta) + 1))
    assert beta["intensity"].is_monotonic_decreasing and beta.attrs == {"lead": 1}
    both = forecast_areas.within(wards, forecast, "wards", ["Alpha", "Beta"])
    assert len(both) == len(beta) + len(forecast_areas.within(wards, forecast, "wards", ["Alpha"]))
    actual = pd.DataFrame({"cell": [beta["cell"][0], cells[0]], "n": [2, 3]})
    assert forecast_areas.actual_within(actual, beta).to_dict("list") == {"cell": [beta["cell"][0]], "n": [2]}
    with pytest.raises(ValueError, match="no cell of the forecast has its centre in Beta"):
        forecast_areas.within(wards, forecast.head(0), "wards", ["Beta"])


def test_the_cli_writes_the_change_table_of_the_choropleth(capsys, tmp_path, monkeypatch):
    from crimeviz.access import auth
    from crimeviz.cli.main import main
    from crimeviz.store import audit

    path = tmp_path / "cli.duckdb"
    con = point_store(db.connect(path))
    areas.import_layer(con, write(layer_frame(), tmp_path), "wards", "ward", "root")
    dated_points(con, [("2021-02-27 10:00", -79.37, 43.65), ("2021-02-28 10:00", -79.399, 43.641)])
    auth.add_user(con, "anna", "areas change password", "analyst")
    con.close()
    monkeypatch.setenv("CRIMEVIZ_PASSWORD", "areas change password")
    out = tmp_path / "change.json"
    argv = ["areas", "change", "wards", "--start", "2021-03-01", "--end", "2021-03-02", "--json", str(out)]
    assert main([*argv, "--db", str(path), "--user", "anna"]) == 0
    table = json.loads(out.read_text())
    assert (table["previous_start"], table["previous_end"]) == ("2021-02-27", "2021-02-28")
    got = {row["name"]: (row["incidents"], row["previous"], row["change"], row["pct_change"]) for row in table["areas"]}
    assert got == {"Alpha": (4, 1, 3, 300.0), "Beta": (3, 1, 2, 200.0)}
    con = db.connect(path)
    assert audit.entries(con, action="areas.export")["username"].tolist() == ["anna"]
    con.close()
    capsys.readouterr()
    assert main([*argv, "--db", str(path), "--user", "anna", "--offence", "Robbery"]) == 0
    assert {row["incidents"] for row in json.loads(out.read_text())["areas"]} == {0}
