"""``python -m crimeviz cctv label | labels | models | calibrate``: sign-in, roles, one-line errors, round trips."""

import json

import numpy as np
import pytest

from crimeviz.access import auth
from crimeviz.cli import main as main_cli
from crimeviz.store import db
from tests.test_cctv_cli import PASSWORD, run, store_path  # noqa: F401 (fixture)
from tests.test_cctv_labels import add_review, clip_features


@pytest.fixture
def review_store(store_path, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CRIMEVIZ_CCTV_REGISTRY", str(tmp_path / "registry"))
    con = db.connect(store_path)
    auth.add_user(con, "boss", PASSWORD, "admin")
    rng = np.random.default_rng(0)
    ids = [add_review(con, "Gate", clip_features(rng, 20), [(2.0, 5.0, p)]) for p in (0.7, 0.9)]
    con.close()
    return store_path, ids


def test_label_export_and_import_from_the_command_line(capsys, tmp_path, review_store):
    path, (first, second) = review_store
    status, out = run(
        capsys,
        "label",
        first,
        "--verdict",
        "true",
        "--type",
        "robbery",
        "--severity",
        7,
        "--instrument",
        "gun",
        "--start-s",
        2,
        "--end-s",
        4.5,
        "--db",
        path,
        "--user",
        "rev",
    )
    assert status == 0 and out["verdict"] == "true" and out["source"] == "report"
    run(capsys, "label", f"report:{second}", "--verdict", "false", "--db", path, "--user", "rev")
    with pytest.raises(ValueError, match="true alarms only"):
        run(capsys, "label", second, "--verdict", "false", "--type", "robbery", "--db", path, "--user", "rev")
    with pytest.raises(main_cli.CommandError, match="give a review id"):
        run(capsys, "label", "camera:1", "--verdict", "false", "--db", path, "--user", "rev")
    _, out = run(capsys, "labels", "export", "--out", tmp_path / "l.json", "--db", path, "--user", "rev")
    assert out["rows"] == 2
    exported = json.loads((tmp_path / "l.json").read_text())["labels"]
    assert {(r["source_id"], r["verdict"], r["severity"]) for r in exported} == {
        (first, "true", 7),
        (second, "false", None),
    }
    _, out = run(capsys, "labels", "import", tmp_path / "l.json", "--db", path, "--user", "rev")
    assert out == {"imported": 2}
    _, out = run(capsys, "labels", "types", "--set", "assault,arson,robbery", "--db", path, "--user", "boss")
    assert out["types"] == ["assault", "arson", "robbery"]


def test_models_and_calibration_need_an_administrator(capsys, review_store):
    path, (first, second) = review_store
    run(capsys, "label", first, "--verdict", "true", "--db", path, "--user", "rev")
    run(capsys, "label", second, "--verdict", "false", "--db", path, "--user", "rev")
    with pytest.raises(auth.AccessDenied, match="reviewer role may not use models"):
        run(capsys, "models", "rollback", "--db", path, "--user", "rev")
    with pytest.raises(ValueError, match="no earlier promoted version"):
        run(capsys, "models", "rollback", "--db", path, "--user", "boss")
    _, out = run(capsys, "models", "list", "--db", path)
    assert out == {"promoted": None, "versions": []}
    _, out = run(capsys, "calibrate", "Gate", "--target-per-hour", 0, "--dry-run", "--db", path, "--user", "boss")
    assert out["false_alarms"] == 1 and out["threshold_after"] == pytest.approx(0.901) and not out["applied"]
    assert out["confirmed_missed_after"] == 1  # the true review's 0.7 peak falls below too
