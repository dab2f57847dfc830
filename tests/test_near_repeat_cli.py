"""``python -m crimeviz analyze near-repeat`` and ``bench analyze``: JSON out, one-line errors, audited export."""

import argparse
import json

import pytest

from crimeviz.access import auth
from crimeviz.cli import main as cli
from crimeviz.store import audit, db
from tests.conftest import incident_rows

PASSWORD = "near repeat cli password"


@pytest.fixture
def store(tmp_path):
    """Burglaries around one corner: three within 60 m and 4 days, one 2 km off; an analyst and a reviewer."""
    path = tmp_path / "store.duckdb"
    con = db.connect(path)
    rows = incident_rows(
        [
            ("2021-05-01 10:00", "Break and Enter", 43.6500, -79.3800),
            ("2021-05-03 22:00", "Break and Enter", 43.6503, -79.3801),
            ("2021-05-05 01:00", "Break and Enter", 43.6500, -79.3806),
            ("2021-05-20 12:00", "Break and Enter", 43.6680, -79.3800),
            ("2021-05-02 12:00", "Assault", 43.6500, -79.3800),
        ]
    )
    db.insert_incidents(con, db.with_cells(rows, "hand"))
    auth.add_user(con, "anna", PASSWORD, "analyst")
    auth.add_user(con, "rita", PASSWORD, "reviewer")
    con.close()
    return path


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv("CRIMEVIZ_PASSWORD", PASSWORD)
    monkeypatch.delenv("CRIMEVIZ_USER", raising=False)


def near_repeat(capsys, store, *extra) -> tuple[int, str, str]:
    argv = ["analyze", "near-repeat", "--offence", "Break and Enter", "--start", "2021-05-01", "--end", "2021-05-31"]
    code = cli.main([*argv, "--distance-bands", "0,100,1000", "--time-bands", "0,7,30", "--db", str(store), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_near_repeat_writes_the_table_and_chains(capsys, store, tmp_path):
    out_file = tmp_path / "out" / "nr.json"
    code, out, err = near_repeat(capsys, store, "--seed", "3", "--json", str(out_file), "--user", "anna")
    assert (code, err) == (0, "")
    report = json.loads(out_file.read_text())
    assert report["incidents"] == 4 and report["permutations"] == 99 and report["seed"] == 3
    first = report["cells"][0]
    assert first["distance"] == [0, 100] and first["days"] == [0, 7] and first["observed"] == 3
    assert {c["observed"] for c in report["cells"][1:]} == {0}
    assert len(report["chains"]) == 1 and len(report["chains"][0]) == 3
    summary = json.loads(out)
    assert summary["chains"] == 1 and summary["out"] == str(out_file) and "seconds" in summary


def test_near_repeat_export_is_audited(capsys, store, tmp_path):
    near_repeat(capsys, store, "--seed", "1", "--json", str(tmp_path / "nr.json"), "--user", "anna")
    con = db.connect(store)
    entry = audit.entries(con, action="near_repeat.export").iloc[0]
    con.close()
    assert entry["username"] == "anna" and entry["object_id"] == "Break and Enter"
    assert json.loads(entry["detail"])["chains"] == 1


def test_near_repeat_prints_the_table_without_signing_in(capsys, store):
    code, out, _ = near_repeat(capsys, store, "--seed", "1")
    assert code == 0
    summary = json.loads(out)
    assert summary["cells"][0]["observed"] == 3 and summary["chains"] == 1 and "out" not in summary


def test_export_needs_a_role_that_may_see_incidents(capsys, store, tmp_path):
    out_file = tmp_path / "nr.json"
    code, _, err = near_repeat(capsys, store, "--json", str(out_file), "--user", "rita")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    code, _, err = near_repeat(capsys, store, "--json", str(out_file))
    assert code == 2 and "--user" in err and err.count("\n") == 1
    assert not out_file.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--distance-bands", "0,200,100"], "error: distance band edges must increase strictly (got 0,200,100)\n"),
        (["--time-bands=-7,7"], "error: time band edges must be finite and not negative (got -7,7)\n"),
        (["--offence", "Arson"], "error: unknown offence 'Arson': the store holds no incidents of it\n"),
        (["--start", "2021-13-01"], "error: --start must be a date as YYYY-MM-DD, not '2021-13-01'\n"),
        (["--end", "2021-04-01"], "error: the end date 2021-04-01 is before the start date 2021-05-01\n"),
        (["--end", "2021-05-01"], "error: near-repeat analysis needs at least 2 incidents; found 1\n"),
        (["--permutations", "0"], "error: permutations must lie between 1 and 9999 (got 0)\n"),
    ],
)
def test_bad_input_gives_one_line(capsys, store, extra, message):
    code, out, err = near_repeat(capsys, store, *extra)
    assert (code, out, err) == (2, "", message)


def test_bench_compares_with_brute_force_on_the_same_permutations(store):
    from crimeviz.bench.analyze import bench_near_repeat

    args = argparse.Namespace(
        year=2021,
        distance_bands="0,100,1000",
        time_bands="0,7,30",
        permutations=19,
        baseline_permutations=3,
        seed=None,
        repeats=1,
    )
    con = db.connect(store)
    result = bench_near_repeat(con, args)
    con.close()
    assert result["offence"] == "Break and Enter" and result["incidents"] == 4 and result["store_rows"] == 5
    assert result["comparison"]["same_table"] is True
    assert result["near_repeat"]["permutations"] == 19 and result["near_repeat"]["chains"] == 1
