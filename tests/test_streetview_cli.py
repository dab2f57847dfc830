"""``python -m crimeviz streetview score | label | train | bench`` through :func:`add_subcommands`."""

import argparse
import json

import pandas as pd
import pytest
import torch
from torch import nn

from crimeviz.access import auth
from crimeviz.bench import streetview as bench
from crimeviz.cli.common import CommandError
from crimeviz.cli.streetview import add_subcommands
from crimeviz.store import db
from crimeviz.streetview import checkpoints, store
from tests.conftest import incident_rows
from tests.test_streetview_scoring import RECORD, small_lite
from tests.test_streetview_sequences import frame_bytes, write_sequence, zip_bytes  # noqa: F401

PLACES = [(43.65 + 0.004 * i, -79.38) for i in range(5)]
PASSWORD = "a long test password"


@pytest.fixture(autouse=True)
def default_store(tmp_path, monkeypatch):
    """Where ``--db`` points when a test leaves it out (never the app's own store); the password."""
    monkeypatch.setenv("CRIMEVIZ_DB", str(tmp_path / "default.duckdb"))
    monkeypatch.setenv("CRIMEVIZ_PASSWORD", PASSWORD)


def run(argv: list[str], capsys) -> tuple[int, dict | str]:
    """Like ``crimeviz.cli.main`` for ``streetview …``: JSON on success, the error line and 2 otherwise."""
    parser = argparse.ArgumentParser()
    add_subcommands(parser.add_subparsers(dest="streetview_command", required=True))
    args = parser.parse_args(argv)
    capsys.readouterr()
    try:
        code = args.func(args)
    except (auth.AccessDenied, CommandError, ValueError) as exc:
        return 2, str(exc)
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def store_path(tmp_path):
    """A store with 0, 2, 4, 6 and 8 incidents at five places about 450 m apart, an analyst
    ``ana`` and a reviewer ``rev``."""
    path = tmp_path / "store.duckdb"
    con = db.connect(path)
    auth.add_user(con, "ana", PASSWORD, "analyst")
    auth.add_user(con, "rev", PASSWORD, "reviewer")
    rows = [("2021-05-01 12:00", "Assault", lat, lon) for i, (lat, lon) in enumerate(PLACES) for _ in range(2 * i)]
    db.insert_incidents(con, db.with_cells(incident_rows(rows), "hand"))
    con.close()
    return path


@pytest.fixture
def walks(tmp_path):
    """One official-layout sequence per place, of class 1 (dark) or 5 (bright), two at the last place."""
    root = tmp_path / "Toronto_test_SEA"
    for i, (lat, lon) in enumerate(PLACES + PLACES[-1:]):
        cls = 5 if i >= 3 else 1
        write_sequence(
            root / f"v_class{cls}_g{lat},{lon}_c0{'+' * (i == 5)}", colour=(230, 230, 230) if cls == 5 else (30, 30, 30)
        )
    return root


@pytest.fixture
def lite_path(tmp_path):
    path = tmp_path / "lite.pth"
    checkpoints.save_lite(small_lite(), path, RECORD)
    return path


def scores(path) -> list[tuple]:
    con = db.connect(path)
    try:
        store.ensure_tables(con)
        return con.execute("SELECT sequence, model FROM deviance_scores ORDER BY sequence").fetchall()
    finally:
        con.close()


def test_score_stores_every_sequence_of_an_official_folder(walks, lite_path, store_path, capsys):
    code, out = run(
        [
            "score",
            str(walks),
            "--weights",
            str(lite_path),
            "--variant",
            "lite",
            "--user",
            "ana",
            "--db",
            str(store_path),
        ],
        capsys,
    )
    assert code == 0
    assert out["scored"] == 6 and out["model"] == "DevianceNet-Lite"
    assert out["checkpoint_sha256"] == checkpoints.file_sha256(lite_path)
    rows = scores(store_path)
    assert len(rows) == 6 and rows[0][0].startswith("v_class1_g43.65,-79.38")


def test_score_of_a_zip_with_a_bad_sequence_stores_nothing(walks, lite_path, store_path, tmp_path, capsys):
    files = {f"v_class1_g43.65,-79.38_c0/frame{i:06d}.jpg": frame_bytes() for i in range(16)}
    files.update({f"nowhere/frame{i:06d}.jpg": frame_bytes() for i in range(16)})
    archive = tmp_path / "walks.zip"
    archive.write_bytes(zip_bytes(files))
    score = ["--weights", str(lite_path), "--user", "ana", "--db", str(store_path)]
    code, message = run(["score", str(archive), *score], capsys)
    assert code == 2 and "no location" in message and "nowhere" in message
    (walks / "v_class1_g43.65,-79.38_c0" / "frame000003.jpg").unlink()
    code, message = run(["score", str(walks), *score], capsys)
    assert code == 2 and message.startswith("v_class1_g43.65,-79.38_c0: 15 frame")
    code, message = run(["score", str(walks), *score, "--variant", "con"], capsys)
    assert code == 2 and "not DevianceNet (con)" in message
    assert scores(store_path) == []


def test_score_needs_a_user_allowed_to_use_street_view(walks, lite_path, store_path, capsys):
    score = ["score", str(walks), "--weights", str(lite_path), "--db", str(store_path)]
    code, message = run(score, capsys)
    assert code == 2 and "give --user NAME" in message
    code, message = run([*score, "--user", "rev"], capsys)
    assert code == 2 and "reviewer role may not use streetview" in message
    assert scores(store_path) == []


def test_label_writes_classes_from_nearby_incidents(walks, store_path, tmp_path, capsys):
    out_csv = tmp_path / "labels.csv"
    code, out = run(
        [
            "label",
            str(walks),
            "--out",
            str(out_csv),
            "--radius-m",
            "100",
            "--reference",
            "points",
            "--db",
            str(store_path),
        ],
        capsys,
    )
    assert code == 0 and out["sequences"] == 6
    table = pd.read_csv(out_csv)
    assert table["incidents"].tolist() == [0, 2, 4, 6, 8, 8]
    assert table["sea_class"].tolist() == [1, 1, 2, 3, 4, 4]  # quintiles 2, 4, 6, 8; ties go down
    assert table["rule"].str.contains("within 100 m").all()


def test_label_refuses_an_empty_store_and_a_missing_folder(walks, tmp_path, capsys):
    code, message = run(
        ["label", str(walks), "--out", str(tmp_path / "x.csv"), "--db", str(tmp_path / "e.duckdb")], capsys
    )
    assert code == 2 and "no incidents" in message
    code, message = run(["label", str(tmp_path / "absent"), "--out", str(tmp_path / "x.csv")], capsys)
    assert code == 2 and "no such folder" in message


def test_train_from_names_a_label_csv_or_incidents(walks, store_path, tmp_path, capsys):
    small = ["--epochs", "3", "--frames", "2", "--image-size", "64"]
    code, out = run(["train", str(walks), "--out", str(tmp_path / "names.pth"), *small], capsys)
    assert code == 0 and out["labels"] == "classes in the folder names"
    assert out["class_counts"] == {"1": 3, "5": 3} and out["validation"] is None
    assert checkpoints.load(tmp_path / "names.pth").trained_on["source"] == "Toronto_test_SEA"

    run(
        [
            "label",
            str(walks),
            "--out",
            str(tmp_path / "labels.csv"),
            "--radius-m",
            "100",
            "--reference",
            "points",
            "--db",
            str(store_path),
        ],
        capsys,
    )
    code, out = run(
        ["train", str(walks), "--out", str(tmp_path / "csv.pth"), "--labels", str(tmp_path / "labels.csv"), *small],
        capsys,
    )
    assert code == 0 and out["labels"].startswith("labels.csv: incidents within 100 m")
    assert out["class_counts"] == {"1": 2, "2": 1, "3": 1, "4": 2}

    code, out = run(
        [
            "train",
            str(walks),
            "--out",
            str(tmp_path / "inc.pth"),
            "--labels",
            "incidents",
            "--radius-m",
            "100",
            "--reference",
            "points",
            "--db",
            str(store_path),
            *small,
        ],
        capsys,
    )
    assert code == 0 and out["labels"].startswith("derived from incidents: incidents within 100 m")

    code, message = run(["train", str(walks), "--out", str(tmp_path / "x.pth"), "--labels", "nope.csv"], capsys)
    assert code == 2 and "no such labels file" in message


def test_bench_reports_seconds_for_the_full_and_the_light_model(monkeypatch, capsys):
    class Tiny(nn.Module):
        def __init__(self, *args):
            super().__init__()
            self.fc = nn.Linear(3, 5)

        def forward(self, clip):
            return self.fc(clip.mean(dim=(2, 3, 4))), torch.zeros(len(clip), 2)

    monkeypatch.setattr(bench, "DevianceNet", Tiny)
    monkeypatch.setattr(bench, "DevianceNetLite", Tiny)
    code, out = run(["bench", "--repeats", "1"], capsys)
    assert code == 0
    assert out["clip"] == [1, 3, 16, 224, 224] and out["weights"] == "untrained (timing only)"
    assert out["full"]["parameters"] == 20 and out["lite"]["seconds"] >= 0 and out["preprocess_s"] > 0
