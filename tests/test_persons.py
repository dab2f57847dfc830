"""Victim and accused fields: optional import mapping, coarse categories, aggregate counts only."""

import ast
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from crimeviz.store import db, importer, persons
from crimeviz.store.filters import IncidentFilter
from tests.conftest import ROOT

MAPPING = {
    "lat": "Lat",
    "lon": "Lon",
    "occurred_at": "Date",
    "offence": "Offence",
    "case_id": "Case",
    "victim_age": "Victim Age",
    "victim_gender": "Victim Sex",
    "accused_age": "Suspect Age",
    "relation": "Relationship",
}
HEADER = "Case,Date,Offence,Lat,Lon,Victim Age,Victim Sex,Suspect Age,Relationship\n"


def rows(n: int, offence: str, age: str, sex: str, suspect: str, relation: str, first: int = 0) -> str:
    return "".join(
        f"C{first + k},2021-03-{1 + k % 28:02d} 10:00,{offence},43.65,-79.38,{age},{sex},{suspect},{relation}\n"
        for k in range(n)
    )


def cases_csv(folder: Path) -> Path:
    path = folder / "cases.csv"
    text = HEADER + rows(6, "Assault", "23", "F", "31", "Partner")
    text += rows(3, "Assault", "70", "male", "", "stranger", first=6)
    text += rows(7, "Robbery", "", "unknown", "19.5", "", first=9)
    path.write_text(text)
    return path


@pytest.fixture
def people_store(empty_store, tmp_path):
    path = cases_csv(tmp_path)
    importer.import_file(empty_store, path, MAPPING, "analyst")
    return empty_store, path


def test_person_fields_are_optional_mapping_fields_with_guesses():
    mapping = importer.parse_mapping("lat=Y,lon=X,occurred_at=D,offence=O,victim_age=Age,relation=Rel")
    assert mapping["victim_age"] == "Age" and mapping["relation"] == "Rel"
    guess = importer.guess_mapping(["Victim Age", "Suspect Sex", "Relationship", "Date"])
    assert (guess["victim_age"], guess["accused_gender"], guess["relation"]) == (
        "Victim Age",
        "Suspect Sex",
        "Relationship",
    )


def test_people_are_stored_apart_in_coarse_categories(people_store):
    con, _ = people_store
    assert "victim_age" not in db.INCIDENT_COLUMNS and con.execute("SELECT count(*) FROM incidents").fetchone()[0] == 16
    stored = con.execute(
        "SELECT role, age_band, gender, relation, count(*) AS n FROM incident_people "
        "GROUP BY role, age_band, gender, relation ORDER BY role, age_band, relation"
    ).df()
    assert stored.astype(object).where(stored.notna(), None).values.tolist() == [
        ["accused", "25-34", None, "partner", 6],
        ["accused", None, None, "stranger", 3],
        ["victim", "18-24", "female", None, 6],
        ["victim", "65+", "male", None, 3],
    ]  # 19.5 is no whole age, "unknown" no gender: the robberies record nobody


def test_counts_follow_the_filter_and_small_categories_are_withheld(people_store):
    con, _ = people_store
    march = IncidentFilter(date(2021, 3, 1), date(2021, 3, 31))
    table = persons.breakdown(con, march, "victim", "age_band")
    assert table.values.tolist() == [["18-24", 6, "6"], ["65+", None, "fewer than 5"]]
    assert persons.breakdown(con, march, "accused", "relation")["shown"].tolist() == ["6", "fewer than 5"]
    robbery = IncidentFilter(date(2021, 3, 1), date(2021, 3, 31), ("Robbery",))
    assert persons.breakdown(con, robbery, "victim", "gender").empty
    with pytest.raises(ValueError):
        persons.breakdown(con, march, "suspect", "age_band")


def test_a_case_imported_again_replaces_its_people_and_a_withdrawn_case_loses_them(people_store, tmp_path):
    con, _ = people_store
    again = tmp_path / "again.csv"
    again.write_text(HEADER + "C0,2021-03-01 10:00,Assault,43.65,-79.38,45,X,,family\n")
    importer.import_file(con, again, MAPPING, "analyst", source="cases")
    c0 = int(db.case_ids("cases", ["C0"])[0])
    first = con.execute(
        "SELECT role, age_band, gender, relation FROM incident_people WHERE incident_id = ? ORDER BY role", [c0]
    ).fetchall()
    assert first == [("accused", None, None, "family"), ("victim", "45-54", "other", None)]
    gone = tmp_path / "gone.csv"
    gone.write_text("Case\nC0\nC1\n")
    importer.import_deletions(con, gone, "Case", "cases", "analyst")
    left = con.execute("SELECT count(DISTINCT incident_id) FROM incident_people").fetchone()[0]
    assert left == 7  # 9 incidents recorded people; C0 and C1 withdrawn


def test_trends_page_shows_the_counts_only_when_people_are_recorded(monkeypatch, app_db, tmp_path):
    from tests.test_pages import page

    at = page("trends", "analyst").run()
    assert not at.exception and "Victims and accused: counts only" not in [s.value for s in at.subheader]
    path = tmp_path / "people.duckdb"
    con = db.connect(path)
    importer.import_file(con, cases_csv(tmp_path), MAPPING, "analyst")
    con.close()
    monkeypatch.setenv("CRIMEVIZ_DB", str(path))
    at = page("trends", "analyst")
    at.run()
    assert not at.exception
    assert "Victims and accused: counts only" in [s.value for s in at.subheader]
    tables = [d.value for d in at.dataframe if list(d.value.columns) == ["value", "shown"]]
    assert tables[0].values.tolist() == [["18-24", "6"], ["65+", "fewer than 5"]]
    at.radio(key="trend_people_role").set_value("accused").run()
    assert len([d for d in at.dataframe if list(d.value.columns) == ["value", "shown"]]) == 3


def test_no_model_or_plan_reads_the_person_fields():
    """Forecasts, patrol plans and models never import the person fields (aggregate counts only)."""
    readers = []
    for folder in ("crimeviz/forecast", "crimeviz/patrol", "crimeviz/cctv", "crimeviz/streetview", "models"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            names = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
            modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
            if "persons" in names or "crimeviz.store.persons" in modules or "incident_people" in path.read_text():
                readers.append(str(path.relative_to(ROOT)))
    assert readers == []


def test_person_values_outside_the_categories_become_unknown_not_rejects():
    frame = pd.DataFrame({"a": ["17", "-3", "abc", "120", "121"], "g": ["W", "Man", "nb", "", None]})
    people = persons.from_file(frame, {"victim_age": "a", "victim_gender": "g"})
    assert people["victim_age_band"].tolist() == ["0-17", None, None, "65+", None]
    assert people["victim_gender"].tolist() == ["female", "male", "other", None, None]
    assert people["accused_relation"].isna().all()
