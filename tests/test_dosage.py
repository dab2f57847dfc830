"""Patrol dosage: bad fixes, presence and gaps, visits and dwell times, dosage vs crime, plans,
AVL import with rejects, synthetic pings from an approved plan, and the CLI."""

import json
from datetime import datetime, timedelta

import h3
import numpy as np
import pandas as pd
import pytest

from crimeviz.access import auth
from crimeviz.cli.main import main
from crimeviz.patrol import dosage
from crimeviz.patrol import store as plans
from crimeviz.patrol.plan import PlanParams, plan_on_surface
from crimeviz.store import areas, audit, avl, db
from crimeviz.store.importer import ImportFailed
from tests.conftest import incident_rows
from tests.test_patrol_beats import DAY, random_surface

PASSWORD = "dosage test password"
T0 = datetime(2021, 6, 1, 16, 0)  # in the evening shift (15–23)
X = h3.latlng_to_cell(43.6532, -79.3832, 9)
Y = h3.grid_ring(X, 3)[0]


def fixes(unit: str, cell: str, minutes) -> list[dict]:
    lat, lon = h3.cell_to_latlng(cell)
    return [{"unit": unit, "seen_at": T0 + timedelta(minutes=m), "lat": lat, "lon": lon} for m in minutes]


def frame(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows)
    out["cell"] = [h3.str_to_int(h3.latlng_to_cell(a, b, 9)) for a, b in zip(out["lat"], out["lon"])]
    return out


def test_a_fix_implying_150_kmh_or_more_is_dropped_and_the_next_is_judged_from_the_last_good_one():
    rows = fixes("A", X, [0, 1])
    rows.append({"unit": "A", "seen_at": T0 + timedelta(minutes=2), "lat": 43.75, "lon": -79.3832})  # 10 km in 1 min
    rows += fixes("A", X, [3, 4])
    kept, dropped = dosage.drop_bad_fixes(frame(rows))
    assert dropped == 1 and len(kept) == 4
    assert kept["lat"].max() < 43.7
    # 10 km in 10 minutes is 60 km/h: kept
    slow = fixes("B", X, [0]) + [{"unit": "B", "seen_at": T0 + timedelta(minutes=10), "lat": 43.7432, "lon": -79.3832}]
    assert dosage.drop_bad_fixes(frame(slow))[1] == 0


def test_presence_credits_the_last_seen_cell_and_a_gap_over_five_minutes_counts_as_absent():
    # X at minutes 0..10 each minute, Y at 11..14, silence, Y again at 25..27 (a 11-minute gap)
    rows = fixes("A", X, range(0, 11)) + fixes("A", Y, range(11, 15)) + fixes("A", Y, range(25, 28))
    spans = dosage.intervals(frame(rows))
    per_cell = spans.groupby("cell")["minutes"].sum()
    assert per_cell[h3.str_to_int(X)] == pytest.approx(11)  # 0→11: eleven one-minute intervals
    assert per_cell[h3.str_to_int(Y)] == pytest.approx(3 + 2)  # 11→14 and 25→27; 14→25 is a gap
    assert set(spans["shift"]) == {"evening"} and set(spans["shift_day"]) == {DAY}
    stays = dosage.visits(spans)
    assert stays["minutes"].tolist() == pytest.approx([11, 3, 2])  # the gap splits Y into two visits
    koper = dosage.koper_table(stays).set_index("dwell")["visits"]
    assert koper["10–15 min"] == 1 and koper["1–5 min"] == 2 and koper.sum() == 3


def test_two_units_never_join_into_one_interval_and_night_shift_hours_date_from_the_evening_before():
    night = datetime(2021, 6, 2, 1, 0)
    rows = [
        {"unit": u, "seen_at": night + timedelta(minutes=m), "lat": 43.6532, "lon": -79.3832}
        for u in "AB"
        for m in (0, 1)
    ]
    spans = dosage.intervals(frame(rows))
    assert len(spans) == 2 and set(spans["unit"]) == {"A", "B"}
    assert set(spans["shift"]) == {"night"} and set(spans["shift_day"]) == {DAY}


def test_high_crime_cells_with_little_presence_and_heavy_presence_with_little_crime_are_named():
    incidents = np.array([50, 40, 3, 2, 1, 0, 0, 30])
    minutes = np.array([0, 200, 100, 90, 300, 310, 5, 150])
    classes = dosage.classify(incidents, minutes)
    assert classes[0] == dosage.CRIME_GAP  # most crime, no presence
    assert classes[5] == dosage.PRESENCE_GAP  # most presence, no crime
    assert classes[4] == dosage.PRESENCE_GAP  # heavy presence, one incident
    assert classes[1] == dosage.BALANCED and classes[6] == dosage.BALANCED
    # one incident in every crime cell (a single day): no cell is "high crime"
    flat = dosage.classify(np.array([1, 1, 1, 1, 0]), np.array([0, 0, 10, 20, 30]))
    assert dosage.CRIME_GAP not in flat and flat[4] == dosage.PRESENCE_GAP


@pytest.fixture
def approved(empty_store):
    plan = plan_on_surface(PlanParams(DAY, units=3, max_cells=5), random_surface(5), created_by="insp.test")
    saved = plans.save_plan(empty_store, plan, "insp.test")
    return plans.set_status(empty_store, saved.plan_id, "approved", "supt.test", four_eyes=True)


def test_synthetic_pings_follow_the_plan_and_the_report_finds_its_cells_visited(empty_store, approved):
    pings = dosage.synthetic_pings(approved, seed=1)
    loaded = avl.save_synthetic(empty_store, pings, dosage.synthetic_source(approved.plan_id), "root", {})
    assert loaded == len(pings) and avl.ping_count(empty_store) == len(pings)
    report = dosage.report(empty_store, DAY, DAY)
    summary = report.summary()
    assert summary["synthetic"] and summary["synthetic_pings"] == len(pings)
    assert summary["bad_fixes_dropped"] == len(approved.beats)  # one GPS jump per unit
    [plan] = report.plans
    assert plan["plan_id"] == approved.plan_id and plan["share_visited"] >= 0.9
    assert plan["minutes_in_plan_cells"] > 5 * plan["minutes_elsewhere"]
    # once round each beat at the plan's time per cell (±30%), less one 10-minute radio gap per unit
    assert plan["minutes_in_plan_cells"] == pytest.approx(plan["planned_minutes"], rel=0.3)
    # the 10-minute radio gaps are not counted: presence stays below the patrol time
    assert summary["minutes_present"] < len(approved.beats) * approved.params.patrol_minutes
    assert report.to_json()["plans"][0]["cells"][0]["cell"] in approved.cell_list()


def test_a_ping_file_with_bad_rows_loads_the_good_ones_and_lists_the_rest(empty_store, tmp_path):
    path = tmp_path / "avl.csv"
    path.write_text(
        "vehicle,gps_time,latitude,longitude\n"
        "car 1,2021-06-01 16:00:00,43.6532,-79.3832\n"
        "car 1,2021-06-01 16:00:30,43.6533,-79.3833\n"
        "car 1,2021-06-01 16:00:30,43.6533,-79.3833\n"
        ",2021-06-01 16:01:00,43.6533,-79.3833\n"
        "car 2,2021-06-01 16:01:00,0,0\n"
        "car 2,2021-06-01 16:01:00,north,-79.38\n"
        "car 2,2999-01-01 00:00:00,43.65,-79.38\n",
        encoding="utf-8",
    )
    result = avl.import_file(empty_store, path, None, "root", reject_dir=tmp_path / "rejects")
    assert (result.loaded, result.duplicates, result.rejected, result.units) == (2, 1, 4, 1)
    assert set(result.reasons) == {
        "missing unit",
        "coordinates are 0,0 (no fix)",
        "coordinates are not numbers",
        "time in the future",
    }
    rejects = pd.read_csv(result.reject_file)
    assert rejects["source_row"].tolist() == [5, 6, 7, 8]
    assert audit.entries(empty_store, action="dosage.import")["object_id"].tolist() == ["avl.csv"]
    again = avl.import_file(empty_store, path, None, "root", reject_dir=tmp_path / "rejects")
    assert (again.loaded, again.duplicates) == (0, 3)


def test_a_ping_file_without_a_valid_row_or_a_unit_column_stores_nothing(empty_store, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("unit,time,lat,lon\nA,yesterday,x,y\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="no valid pings"):
        avl.import_file(empty_store, path, None, "root", reject_dir=tmp_path)
    path.write_text("plate,time,lat,lon\nA,2021-06-01 16:00,43.65,-79.38\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="lacks required field.*unit"):
        avl.import_file(empty_store, path, None, "root")
    with pytest.raises(ImportFailed, match="not in the file"):
        avl.import_file(empty_store, path, avl.parse_mapping("unit=vehicle,time=time,lat=lat,lon=lon"), "root")
    assert avl.ping_count(empty_store) == 0
    assert audit.entries(empty_store, action="dosage.").empty


def test_cli_synth_report_and_roles(tmp_path, monkeypatch, capsys):
    path = tmp_path / "store.duckdb"
    con = db.connect(path)
    lat, lon = h3.cell_to_latlng(X)
    db.insert_incidents(con, db.with_cells(incident_rows([("2021-06-01 18:00", "Assault", lat, lon)]), "hand"))
    plan = plan_on_surface(PlanParams(DAY, units=2, max_cells=4), random_surface(3), created_by="insp.test")
    saved = plans.save_plan(con, plan, "insp.test")
    plans.set_status(con, saved.plan_id, "approved", "supt.test", four_eyes=True)
    auth.add_user(con, "root", PASSWORD, "admin")
    auth.add_user(con, "cmdr", PASSWORD, "commander")
    con.close()
    monkeypatch.setenv("CRIMEVIZ_PASSWORD", PASSWORD)
    common = ["--db", str(path)]

    assert main(["dosage", "synth", "--plan", str(saved.plan_id), "--user", "cmdr", *common]) == 2
    assert capsys.readouterr().err.startswith("error:")  # a commander may not write pings
    assert main(["dosage", "synth", "--plan", str(saved.plan_id), "--user", "root", *common]) == 0
    synth = json.loads(capsys.readouterr().out)
    assert synth["synthetic"] and synth["source"] == f"synthetic:plan-{saved.plan_id}" and synth["loaded"] > 0

    out = tmp_path / "report.json"
    argv = ["dosage", "report", "--start", "2021-06-01", "--end", "2021-06-02", "--json", str(out), *common]
    assert main([*argv, "--user", "cmdr", "--layer", "nope"]) == 2
    assert "no area layer 'nope'" in capsys.readouterr().err
    assert main([*argv, "--user", "cmdr"]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(out.read_text())
    assert printed["synthetic"] and written["synthetic"] and written["plans"][0]["plan_id"] == saved.plan_id
    assert sum(c["incidents"] for c in written["cells"]) == 1
    con = db.connect(path)
    assert audit.entries(con, action="dosage.")["action"].tolist() == ["dosage.export", "dosage.synth"]


def test_bad_fix_filter_matches_a_fix_by_fix_reading_on_noisy_tracks():
    rng = np.random.default_rng(7)
    n = 3_000
    frame_ = pd.DataFrame(
        {
            "unit": rng.choice(["A", "B", "C"], n),
            "seen_at": pd.Timestamp(T0) + pd.to_timedelta(rng.integers(0, 6 * 3600, n), unit="s"),
            "lat": 43.65 + rng.normal(0, 0.002, n) + (rng.random(n) < 0.05) * rng.choice([-0.3, 0.3], n),
            "lon": -79.38 + rng.normal(0, 0.002, n),
        }
    ).drop_duplicates(["unit", "seen_at"])
    kept, dropped = dosage.drop_bad_fixes(frame_)
    ordered = frame_.sort_values(["unit", "seen_at"], kind="stable").reset_index(drop=True)
    reference, last = [], None
    for row in ordered.itertuples():
        if last is not None and row.unit == last.unit:
            hours = max((row.seen_at - last.seen_at).total_seconds(), 1) / 3600
            if dosage.distance_km(last.lat, last.lon, row.lat, row.lon) / hours > dosage.MAX_SPEED_KMH:
                continue
        reference.append(row.Index)
        last = row
    assert kept[["unit", "seen_at"]].equals(ordered.loc[reference, ["unit", "seen_at"]].reset_index(drop=True))
    assert dropped == len(ordered) - len(reference) > 50


def test_minutes_and_incidents_per_area_and_shift(empty_store, tmp_path):
    from tests.test_areas import layer_frame, write

    rows = [("2021-06-01 16:00", "Assault", 43.65, -79.37), ("2021-06-01 18:00", "Robbery", 43.651, -79.371)]
    rows.append(("2021-06-01 10:00", "Assault", 43.641, -79.399))  # Alpha, day shift
    db.insert_incidents(empty_store, db.with_cells(incident_rows(rows), "hand"))
    areas.import_layer(empty_store, write(layer_frame(), tmp_path), "wards", "ward", "root")
    pings = pd.DataFrame(
        [{"unit": "A", "seen_at": T0 + timedelta(minutes=m), "lat": 43.65, "lon": -79.37} for m in range(11)]
        + [{"unit": "B", "seen_at": T0 + timedelta(minutes=m), "lat": 43.70, "lon": -79.30} for m in range(6)]
    )
    avl.insert(empty_store, avl.with_cells(pings, "hand", synthetic=False))
    table = dosage.report(empty_store, DAY, DAY, layer="wards").areas
    got = {(r.area, r.shift): (r.minutes, r.incidents) for r in table.itertuples()}
    assert got == {("Beta", "evening"): (10, 2), (None, "evening"): (5, 0), ("Alpha", "day"): (0, 1)}
    beta = table[table["area"] == "Beta"].iloc[0]
    assert beta["minutes_per_incident"] == pytest.approx(5) and beta["units"] == 1


def test_dosage_bench_keeps_the_same_fixes_as_the_fix_by_fix_baseline(capsys):
    assert main(["dosage", "bench", "--units", "3", "--pings-per-unit", "400", "--repeats", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pings"] == 1200 and result["bad_fixes"] > 0 and result["same_fixes_kept_as_baseline"]
    assert result["filter_s"] > 0 and result["report_s"] > 0


def test_the_dwell_table_says_how_often_an_incident_followed_a_visit_within_two_hours():
    rows = fixes("A", X, range(0, 11)) + fixes("A", Y, range(11, 15)) + fixes("A", Y, range(25, 28))
    stays = dosage.visits(dosage.intervals(frame(rows)))  # X 16:00-16:11, Y 16:11-16:14, Y 16:25-16:27
    incidents = pd.DataFrame(
        {
            "occurred_at": [T0 + timedelta(hours=2, minutes=10), T0 + timedelta(hours=2, minutes=20)],
            "cell": [h3.str_to_int(X), h3.str_to_int(Y)],
        }
    )
    after = dosage.incident_after(stays, incidents, until=T0 + timedelta(hours=4, minutes=20))
    # X: 18:10 is within 2 h of 16:11; Y: 18:20 is 2 h 09 min after 16:11, 1 h 53 min after 16:27
    assert after.tolist() == [True, False, True]
    late = dosage.incident_after(stays, incidents, until=T0 + timedelta(hours=2, minutes=12))
    assert late.tolist() == [True, None, None]  # the store does not reach two hours past 16:14 and 16:27
    table = dosage.koper_table(stays, after).set_index("dwell")
    assert table.loc["10–15 min", "incident_after_share"] == 1.0
    assert table.loc["1–5 min", "followed"] == 2 and table.loc["1–5 min", "incident_after_share"] == 0.5
    assert np.isnan(table.loc["30+ min", "incident_after_share"])
