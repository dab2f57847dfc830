"""Victim and accused characteristics, for aggregate counts only.

An import may map optional person fields: the victim's and the accused's age and gender, and the
accused's relation to the victim. They are stored apart from the incidents (``incident_people``,
one row per incident and role), in coarse categories only: ages as bands (:data:`AGE_BANDS`),
genders as ``female`` / ``male`` / ``other`` (anything else recorded) and relations as the source's
own category text, trimmed and lower-cased. The app reads them only as counts per category under
the analyst's filter (:func:`breakdown`), with counts below :data:`MIN_COUNT` withheld.

Nothing in CrimeViz predicts anything about a person from these fields, and nothing may: the EU AI
Act (Regulation (EU) 2024/1689, Art. 5(1)(d)) prohibits assessing the risk that a natural person
commits a crime based solely on profiling or on their personality traits and characteristics, and
recorded victim and suspect characteristics reflect who is reported, stopped and charged as much as
who offends (enforcement bias), so a model trained on them would learn that bias. Forecasts and
patrol plans use places and times only.
"""

import numpy as np
import pandas as pd

from crimeviz.store import db
from crimeviz.store.filters import IncidentFilter, where

SCHEMA = """
CREATE TABLE IF NOT EXISTS incident_people (
    incident_id BIGINT NOT NULL,
    role        VARCHAR NOT NULL,
    age_band    VARCHAR,
    gender      VARCHAR,
    relation    VARCHAR
);
"""
TABLES = ("incident_people",)
# mapping field -> (role, column)
FIELDS = {
    "victim_age": ("victim", "age_band"),
    "victim_gender": ("victim", "gender"),
    "accused_age": ("accused", "age_band"),
    "accused_gender": ("accused", "gender"),
    "relation": ("accused", "relation"),
}
ROLES = ("victim", "accused")
BREAKDOWNS = {"age_band": "Age band", "gender": "Gender", "relation": "Relation to the victim"}
AGE_BANDS = ((0, 17, "0-17"), (18, 24, "18-24"), (25, 34, "25-34"), (35, 44, "35-44"), (45, 54, "45-54"))
AGE_BANDS += ((55, 64, "55-64"), (65, 120, "65+"))
GENDERS = {
    "f": "female",
    "female": "female",
    "w": "female",
    "woman": "female",
    "m": "male",
    "male": "male",
    "man": "male",
}
UNKNOWN = {"", "u", "unknown", "unk", "n/a", "na", "none", "not recorded", "not known", "null"}
MIN_COUNT = 5  # a category with fewer people is shown as "fewer than 5", never exactly
MAX_RELATION = 60
GUESSES = {
    "victim_age": ("victim_age", "vic_age", "age_of_victim"),
    "victim_gender": ("victim_gender", "victim_sex", "vic_sex", "vic_gender", "sex_of_victim"),
    "accused_age": ("accused_age", "suspect_age", "offender_age", "susp_age"),
    "accused_gender": ("accused_gender", "accused_sex", "suspect_sex", "suspect_gender", "offender_sex"),
    "relation": ("relation", "relationship", "victim_relation", "relation_to_victim", "vic_relationship"),
}


def ensure(con) -> None:
    db.ensure_schema(con, SCHEMA, TABLES)


def age_band(values: pd.Series) -> pd.Series:
    """Ages (numbers or text) as bands; None where blank, not a whole number of years or outside 0–120."""
    age = pd.to_numeric(values, errors="coerce")
    ok = age.notna() & (age >= 0) & (age <= 120) & (age == np.floor(age.fillna(0)))
    out = pd.Series(None, index=values.index, dtype=object)
    for low, high, label in AGE_BANDS:
        out[ok & (age >= low) & (age <= high)] = label
    return _none(out)


def _none(values: pd.Series) -> pd.Series:
    """Missing values as None (not NaN or pd.NA), so the store gets NULL."""
    values = values.astype(object)
    return values.where(values.notna(), None)


def gender(values: pd.Series) -> pd.Series:
    """``female``, ``male``, ``other`` (anything else recorded) or None (blank or unknown)."""
    text = values.astype("string").str.strip().str.casefold()
    out = text.map(GENDERS, na_action="ignore").astype(object)
    known = text.notna() & ~text.isin(UNKNOWN)
    out[known & out.isna()] = "other"
    return _none(out.where(known))


def relation(values: pd.Series) -> pd.Series:
    """The relation category as recorded, trimmed and lower-cased; None when blank or unknown."""
    text = values.astype("string").str.strip().str.casefold().str.slice(0, MAX_RELATION)
    return _none(text.where(~text.isin(UNKNOWN)))


def from_file(frame: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    """The person columns of ``frame`` under ``mapping``, row for row: ``victim_age_band``,
    ``victim_gender``, ``accused_age_band``, ``accused_gender``, ``accused_relation`` (absent fields
    give None). Empty (no column) when the mapping names no person field."""
    if not any(f in mapping for f in FIELDS):
        return pd.DataFrame(index=frame.index)
    convert = {"age_band": age_band, "gender": gender, "relation": relation}
    out = pd.DataFrame(index=frame.index)
    for field, (role, column) in FIELDS.items():
        values = frame[mapping[field]] if field in mapping else pd.Series(None, index=frame.index, dtype=object)
        out[f"{role}_{column}"] = convert[column](values)
    return out


def long_rows(ids: np.ndarray, people: pd.DataFrame) -> pd.DataFrame:
    """One row per incident and role with at least one value: ``incident_id``, ``role``, ``age_band``,
    ``gender``, ``relation``."""
    parts = []
    for role in ROLES:
        part = pd.DataFrame(
            {
                "incident_id": np.asarray(ids, dtype="int64"),
                "role": role,
                **{c: people.get(f"{role}_{c}", pd.Series(None, index=people.index)).to_numpy() for c in BREAKDOWNS},
            }
        )
        parts.append(part[part[list(BREAKDOWNS)].notna().any(axis=1)])
    out = pd.concat(parts, ignore_index=True)
    return out.astype({c: object for c in BREAKDOWNS})


def writer(ids: np.ndarray, people: pd.DataFrame, removed_ids: np.ndarray, then=None):
    """``also(con, batch)`` for :func:`crimeviz.store.batches.apply`: in the import's transaction,
    replace the person rows of the file's incidents (a case imported again brings its own) and
    delete those of withdrawn cases, then call ``then`` (the caller's own ``also``)."""
    rows = long_rows(ids, people) if len(people.columns) else None

    def write(con, batch):
        ensure(con)
        removed = np.asarray(removed_ids, dtype="int64")
        touched = removed if rows is None else np.concatenate([np.asarray(ids, dtype="int64"), removed])
        if len(touched):
            con.register("people_touched", pd.DataFrame({"incident_id": touched}))
            try:
                con.execute("DELETE FROM incident_people WHERE incident_id IN (SELECT incident_id FROM people_touched)")
            finally:
                con.unregister("people_touched")
        if rows is not None and len(rows):
            con.register("people_rows", rows)
            try:
                con.execute(
                    "INSERT INTO incident_people (incident_id, role, age_band, gender, relation) "
                    "SELECT incident_id, role, age_band, gender, relation FROM people_rows"
                )
            finally:
                con.unregister("people_rows")
        if then is not None:
            then(con, batch)

    return write


def recorded(con) -> bool:
    """Whether the store holds any person field (the pages show the aggregate tables only then)."""
    if "incident_people" not in db.table_names(con):
        return False
    return bool(con.execute("SELECT count(*) FROM incident_people").fetchall()[0][0])


def breakdown(con, f: IncidentFilter, role: str, column: str, min_count: int = MIN_COUNT) -> pd.DataFrame:
    """People of ``role`` in the incidents matching ``f``, counted per ``column`` category:
    ``value``, ``n`` (None when below ``min_count``) and ``shown`` (the count as text: "fewer than 5").
    Categories in band order for ages, largest first otherwise; unrecorded values form "not recorded"."""
    if role not in ROLES or column not in BREAKDOWNS:
        raise ValueError(f"role is one of {ROLES} and column one of {tuple(BREAKDOWNS)}")
    ensure(con)
    # Two reads joined here: on the server profile the incidents are read from the analytics
    # replica (crimeviz.store.replica), which does not hold the person fields.
    sql, params = where(f)
    ids = con.execute(f"SELECT id FROM incidents WHERE {sql}", params).df()["id"]
    people = con.execute(f"SELECT incident_id, {column} AS value FROM incident_people WHERE role = ?", [role]).df()
    values = people.loc[people["incident_id"].isin(ids), "value"].fillna("not recorded")
    frame = values.value_counts().rename_axis("value").reset_index(name="n")
    if column == "age_band":
        order = {label: k for k, (_, _, label) in enumerate(AGE_BANDS)}
        frame = frame.sort_values("value", key=lambda v: v.map(order).fillna(len(order)), ignore_index=True)
    else:
        frame = frame.sort_values(["n", "value"], ascending=[False, True], ignore_index=True)
    small = frame["n"] < min_count
    frame["shown"] = np.where(small, f"fewer than {min_count}", frame["n"].map("{:,}".format))
    frame["n"] = frame["n"].astype(object).where(~small, None)
    return frame[["value", "n", "shown"]]
