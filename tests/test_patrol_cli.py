"""``python -m crimeviz patrol …`` registered as the main CLI does: JSON out, one-line errors, exit 2."""

import argparse
import json
import shutil
import sys

import pytest

from crimeviz.access import auth
from crimeviz.access.auth import AccessDenied
from crimeviz.cli.common import CommandError
from crimeviz.cli.patrol import add_subcommands
from crimeviz.store import db

PASSWORD = "patrol cli test password"


def run(capsys, *argv) -> tuple[int, str, str]:
    """Parse and run like ``crimeviz.cli.main`` with ``patrol`` registered through ``add_subcommands``."""
    parser = argparse.ArgumentParser(prog="python -m crimeviz")
    sub = parser.add_subparsers(dest="command", required=True)
    patrol = sub.add_parser("patrol")
    add_subcommands(patrol.add_subparsers(dest="patrol_command", required=True))
    args = parser.parse_args(["patrol", *argv])
    try:
        code = args.func(args)
    except (AccessDenied, CommandError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def shared_store(toronto_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("patrol-cli") / "store.duckdb"
    shutil.copy(toronto_db, path)
    return path


@pytest.fixture
def store(shared_store):
    """A copy of the Toronto store (shared by the module) with commanders (cmdr, chief) and an analyst (anna)."""
    con = db.connect(shared_store)
    auth.add_user(con, "cmdr", PASSWORD, "commander")
    auth.add_user(con, "chief", PASSWORD, "commander")
    auth.add_user(con, "anna", PASSWORD, "analyst")
    con.close()
    return str(shared_store)


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv("CRIMEVIZ_PASSWORD", PASSWORD)
    monkeypatch.delenv("CRIMEVIZ_USER", raising=False)


def test_build_saves_a_plan_and_prints_it(capsys, store):
    code, out, _ = run(
        capsys,
        "build",
        "--db",
        store,
        "--date",
        "2021-10-05",
        "--shift",
        "night",
        "--res",
        "8",
        "--units",
        "3",
        "--weight",
        "Assault=2",
        "--user",
        "cmdr",
    )
    plan = json.loads(out)
    assert code == 0 and plan["status"] == "draft" and plan["created_by"] == "cmdr"
    assert plan["units"] == 3 and len(plan["beats"]) == 3 and plan["shift"] == "night 23:00–07:00"
    assert 0 < plan["share_of_shift"] < 1 and plan["beats"][0]["route"][0].startswith("88")
    code, out, _ = run(capsys, "list", "--db", store)
    assert code == 0 and json.loads(out)[0]["plan_id"] == plan["plan_id"]


def test_export_review_and_approve_a_saved_plan(capsys, store, tmp_path):
    _, out, _ = run(
        capsys, "build", "--db", store, "--date", "2021-10-06", "--res", "8", "--units", "2", "--user", "cmdr"
    )
    plan_id = str(json.loads(out)["plan_id"])
    for fmt in ("pdf", "csv"):
        code, out, _ = run(
            capsys, "export", plan_id, "--out", str(tmp_path / f"plan.{fmt}"), "--db", store, "--user", "cmdr"
        )
        assert code == 0 and json.loads(out)["bytes"] > 100
    assert (tmp_path / "plan.pdf").read_bytes().startswith(b"%PDF-")
    assert (tmp_path / "plan.csv").read_text().startswith("plan_id,date,shift")
    con = db.connect(store)
    exports = con.execute(
        "SELECT username, detail FROM audit_log WHERE action = 'patrol.export' AND object_id = ?", [plan_id]
    ).fetchall()
    con.close()
    assert [(name, json.loads(detail)["format"]) for name, detail in exports] == [("cmdr", "pdf"), ("cmdr", "csv")]
    code, out, _ = run(capsys, "review", "--plan", plan_id, "--db", store)
    rows = json.loads(out)["rows"]
    assert code == 0 and [r["method"] for r in rows] == ["plan", "top-k cells"] and rows[0]["day"] == "2021-10-06"
    code, _, err = run(capsys, "approve", plan_id, "--db", store, "--user", "cmdr")
    assert code == 2 and err == (
        f"error: plan {plan_id} needs a second commander's approval: cmdr created or saved it (four-eyes rule)\n"
    )
    code, out, _ = run(capsys, "approve", plan_id, "--db", store, "--user", "chief")
    assert code == 0 and (json.loads(out)["status"], json.loads(out)["approved_by"]) == ("approved", "chief")


def test_approval_by_the_author_when_four_eyes_is_off(capsys, store, monkeypatch):
    _, out, _ = run(
        capsys, "build", "--db", store, "--date", "2021-10-07", "--res", "8", "--units", "2", "--user", "cmdr"
    )
    monkeypatch.setenv("CRIMEVIZ_FOUR_EYES", "off")
    code, out, _ = run(capsys, "approve", str(json.loads(out)["plan_id"]), "--db", store, "--user", "cmdr")
    assert code == 0 and json.loads(out)["approved_by"] == "cmdr"


def test_review_over_a_period(capsys, store):
    code, out, _ = run(
        capsys,
        "review",
        "--start",
        "2021-09-01",
        "--end",
        "2021-09-02",
        "--res",
        "8",
        "--units",
        "2",
        "--daily",
        "--db",
        store,
    )
    result = json.loads(out)
    assert code == 0 and result["summary"][0]["days"] == 2 and len(result["days"]) == 4


def test_bench_reports_build_time_and_coverage(capsys, store):
    code, out, _ = run(capsys, "bench", "--repeats", "1", "--db", store)
    result = json.loads(out)
    assert code == 0 and result["units"] == 20 and result["res"] == 9 and result["cells_in_city"] > 4000
    shares = result["expected_share_of_shift"]
    assert shares["top_k_disks"] <= shares["plan"] <= shares["top_k_cells"]
    assert result["observed"]["plan"]["incidents"] > 0 and result["build_s"] > 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["build", "--units", "0", "--user", "cmdr"], "choose at least one unit"),
        (["build", "--units", "5000", "--user", "cmdr"], "5000 units but only"),
        (["build", "--date", "2030-01-01", "--user", "cmdr"], "no incidents of the prioritised offences are recorded"),
        (["build", "--weight", "Arson=1", "--user", "cmdr"], "unknown offence(s) Arson"),
        (["build"], "give --user NAME"),
        (["build", "--user", "anna"], "the analyst role may not use patrol"),
        (["approve", "1", "--user", "anna"], "the analyst role may not use patrol"),
        (["export", "999", "--out", "x.pdf", "--user", "cmdr"], "there is no saved plan 999"),
        (["export", "1", "--out", "x.docx", "--user", "cmdr"], "export writes pdf or csv"),
        (["export", "1", "--out", "x.csv"], "give --user NAME"),
        (["export", "1", "--out", "x.csv", "--user", "anna"], "the analyst role may not use patrol"),
        (["review"], "give --plan ID, or --start"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(capsys, store, argv, message):
    code, out, err = run(capsys, *argv, "--db", store)
    assert code == 2 and out == "" and err.startswith("error: ") and message in err and err.count("\n") == 1
