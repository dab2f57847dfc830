"""``python -m crimeviz analyze emerging`` and ``analyze spikes``: JSON out, audited exports, one-line errors."""

import json

import pytest
from h3.api import basic_int as h3int

from crimeviz.access import auth
from crimeviz.cli import main as cli
from crimeviz.store import audit, db
from tests.test_spikes import HOT, spike_store

PASSWORD = "emerging spikes cli password"


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "store.duckdb"
    con = spike_store(db.connect(path))
    auth.add_user(con, "anna", PASSWORD, "analyst")
    auth.add_user(con, "rita", PASSWORD, "reviewer")
    con.close()
    return path


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv("CRIMEVIZ_PASSWORD", PASSWORD)
    monkeypatch.delenv("CRIMEVIZ_USER", raising=False)


def run(capsys, store, *argv) -> tuple[int, str, str]:
    code = cli.main(["analyze", *argv, "--db", str(store)])
    out, err = capsys.readouterr()
    return code, out, err


def test_emerging_writes_every_cell_and_audits_the_export(capsys, store, tmp_path):
    out_file = tmp_path / "out" / "emerging.json"
    argv = ["emerging", "--start", "2020-07-01", "--end", "2021-06-30", "--slice", "month"]
    code, out, err = run(capsys, store, *argv, "--json", str(out_file), "--user", "anna")
    assert (code, err) == (0, "")
    report = json.loads(out_file.read_text())
    assert report["slice"] == "month" and len(report["slices"]) == 12 and report["res"] == 8
    assert len(report["cells"]) == 21 == sum(report["summary"].values())
    summary = json.loads(out)
    assert summary["cells"] == 21 and summary["slices"] == 12 and summary["out"] == str(out_file)
    con = db.connect(store)
    entry = audit.entries(con, action="emerging.export").iloc[0]
    con.close()
    assert entry["username"] == "anna" and json.loads(entry["detail"])["cells"] == 21


def test_emerging_without_json_needs_no_sign_in(capsys, store):
    code, out, _ = run(capsys, store, "emerging", "--start", "2021-01-01", "--end", "2021-06-30")
    assert code == 0 and json.loads(out)["slices"] == 25 and "out" not in json.loads(out)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--start", "2021-05-01", "--end", "2021-06-30"], "at least 10 whole weeks in the period (found 8)"),
        (["--start", "2021-13-01", "--end", "2021-06-30"], "--start must be a date as YYYY-MM-DD"),
        (["--start", "2021-01-01", "--end", "2021-06-30", "--offence", "Arson"], "no offence 'Arson' in the store"),
    ],
)
def test_emerging_errors_are_one_line(capsys, store, argv, message):
    code, out, err = run(capsys, store, "emerging", *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err


def test_export_needs_a_role_that_may_see_incidents(capsys, store, tmp_path):
    argv = ["emerging", "--start", "2021-01-01", "--end", "2021-06-30", "--json", str(tmp_path / "e.json")]
    code, _, err = run(capsys, store, *argv, "--user", "rita")
    assert code == 2 and "error:" in err and not (tmp_path / "e.json").exists()
    code, _, err = run(capsys, store, "spikes", "--date", "2021-06-30", "--json", str(tmp_path / "s.json"))
    assert code == 2 and "--user" in err and not (tmp_path / "s.json").exists()


def test_spikes_find_the_burst_in_a_cell_and_its_area(capsys, store, tmp_path):
    out_file = tmp_path / "spikes.json"
    code, out, err = run(capsys, store, "spikes", "--date", "2021-06-30", "--json", str(out_file), "--user", "anna")
    assert (code, err) == (0, "")
    report = json.loads(out_file.read_text())
    assert [c["cell"] for c in report["cells"]] == [h3int.int_to_str(h3int.latlng_to_cell(*HOT, 8))]
    assert report["cells"][0]["recent"] == 8 and report["cells"][0]["baseline"] == 52
    assert [a["area"] for a in report["areas"]] == ["Downtown"] and report["layer"] == "neighbourhoods (derived)"
    summary = json.loads(out)
    assert summary["cell_spikes"] == 1 and summary["area_spikes"] == 1 and summary["cells_tested"] == 21
    con = db.connect(store)
    assert audit.entries(con, action="spikes.export").iloc[0]["object_id"] == "2021-06-30"
    con.close()


def test_a_week_earlier_there_is_no_spike(capsys, store):
    code, out, _ = run(capsys, store, "spikes", "--date", "2021-06-20")
    assert code == 0 and json.loads(out)["cell_spikes"] == 0
