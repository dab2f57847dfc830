"""Street view checkpoints, scores table, end-to-end scoring and training of the light model.

The light model runs in a small configuration (2 frames of 64 px) to keep these fast;
the full DevianceNet is only built, never run (its numbers are pinned by test_deviancenet).
"""

from pathlib import Path

import h3
import pandas as pd
import pytest
import torch
from torch import nn

from crimeviz.access.auth import User
from crimeviz.streetview import checkpoints, scoring, sequences, store, training
from crimeviz.streetview.checkpoints import Score, ScoringModel
from models.deviancenet import DevianceNetLite
from tests.test_streetview_sequences import frame_bytes, sequence_files, write_sequence  # noqa: F401

RECORD = {"source": "test fixture", "labels": "made up", "sequences": 0}


def small_lite() -> DevianceNetLite:
    torch.manual_seed(0)
    return DevianceNetLite(frames=2, image_size=64).eval()


@pytest.fixture
def lite_path(tmp_path) -> Path:
    path = tmp_path / "lite.pth"
    checkpoints.save_lite(small_lite(), path, RECORD)
    return path


@pytest.fixture
def lite(lite_path) -> ScoringModel:
    return checkpoints.load(lite_path)


def test_score_gives_the_most_likely_and_the_expected_class():
    score = Score((0.1, 0.2, 0.3, 0.25, 0.15), 0.4)
    assert score.sea_class == 3
    assert score.expected_class == pytest.approx(0.1 + 0.4 + 0.9 + 1.0 + 0.75)


# --- checkpoints -------------------------------------------------------------------------


def test_lite_checkpoint_round_trips_strictly_with_its_record(lite_path, lite):
    original = small_lite()
    features = torch.randn(3, 2, 1280)
    with torch.no_grad():
        for a, b in zip(original.classify(features), lite.model.classify(features)):
            assert torch.equal(a, b)
    assert (lite.variant, lite.name, lite.trained_on) == ("lite", "DevianceNet-Lite", RECORD)
    assert lite.sha256 == checkpoints.file_sha256(lite_path)
    assert "trained on 0 sequences from test fixture (made up); no held-out check" in lite.describe()
    assert lite_path.stat().st_size < 10 << 20  # the frozen backbone is not stored


def test_lite_checkpoint_with_a_missing_tensor_is_refused(lite_path):
    payload = torch.load(lite_path, weights_only=True)
    del payload["state_dict"]["fc1.bias"]
    torch.save(payload, lite_path)
    with pytest.raises(ValueError, match="not a DevianceNet-Lite checkpoint.*fc1.bias"):
        checkpoints.load(lite_path)


def test_a_foreign_state_dict_is_refused_as_an_official_checkpoint(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"module.fc1.weight": torch.zeros(64, 512)}, path)
    with pytest.raises(ValueError, match=r"other.pth: not a DevianceNet \(con\) checkpoint.*missing"):
        checkpoints.load(path)


def test_files_that_are_not_checkpoints_and_wrong_variants_are_refused(tmp_path, lite_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth: not a PyTorch checkpoint"):
        checkpoints.load(junk)
    with pytest.raises(ValueError, match="missing.pth: no such checkpoint file"):
        checkpoints.load(tmp_path / "missing.pth")
    with pytest.raises(ValueError, match=r"is a DevianceNet-Lite checkpoint, not DevianceNet \(con\)"):
        checkpoints.load(lite_path, "con")


def test_install_keeps_a_checked_checkpoint_and_refuses_junk(lite_path, tmp_path, monkeypatch, empty_store):
    monkeypatch.setenv("CRIMEVIZ_STREETVIEW_WEIGHTS", str(tmp_path / "weights"))
    admin = User("chief", "Chief", "admin")
    assert checkpoints.installed() == []
    with pytest.raises(ValueError, match="mine.pth: not a PyTorch checkpoint"):
        checkpoints.install(empty_store, admin, "mine.pth", b"junk")
    assert list((tmp_path / "weights").iterdir()) == []
    added = checkpoints.install(empty_store, admin, "../[AAAI2022-DevianceNet]lite.pth", lite_path.read_bytes())
    assert added.path == tmp_path / "weights" / "[AAAI2022-DevianceNet]lite.pth"
    assert checkpoints.installed() == [added.path]
    logged = empty_store.execute("SELECT username, action, object_id FROM audit_log").fetchall()
    assert logged == [("chief", "streetview.install", added.path.name)]


# --- scores table --------------------------------------------------------------------------

FAKE = ScoringModel(nn.Identity(), "lite", Path("fake.pth"), "ab" * 32)


def test_scores_are_stored_with_cell_model_and_checkpoint_and_shown_on_the_map(empty_store):
    saved = store.save_scores(
        empty_store,
        [
            ("a", 43.65, -79.38, Score((0.1, 0.2, 0.3, 0.25, 0.15), 0.4)),
            ("b", 43.70, -79.40, Score((0, 0, 0, 0, 1.0), 0.9)),
        ],
        FAKE,
        "ana",
    )
    assert saved == 2
    assert empty_store.execute("SELECT username, action, detail FROM audit_log").fetchall() == [
        (
            "ana",
            "streetview.score",
            '{"sequences": 2, "model": "DevianceNet-Lite", "checkpoint_sha256": "' + "ab" * 32 + '"}',
        )
    ]
    rows = empty_store.execute(
        "SELECT sequence, p_class3, sea_class, model, checkpoint_sha256 FROM deviance_scores ORDER BY score_id"
    ).fetchall()
    assert rows == [("a", 0.3, 3, "DevianceNet-Lite", "ab" * 32), ("b", 0.0, 5, "DevianceNet-Lite", "ab" * 32)]
    frame = store.scores_for_map(empty_store)
    assert list(frame.columns) == [
        "lat",
        "lon",
        "cell",
        "sea_class",
        "expected_class",
        "dia_prob",
        "model",
        "created_at",
        "tooltip",
    ]
    assert frame["cell"][0] == h3.latlng_to_cell(43.65, -79.38, 9)
    assert frame["expected_class"][0] == pytest.approx(3.15)
    assert "P(deviance): 40%" in frame["tooltip"][0] and "abababababab" in frame["tooltip"][0]


def test_the_map_frame_of_an_empty_table_is_empty(empty_store):
    assert store.scores_for_map(empty_store).empty


@pytest.mark.parametrize(
    "lat, lon, message",
    [(None, -79.4, "no location"), (95.0, -79.4, "not a valid"), (float("nan"), 0.0, "not a valid")],
)
def test_a_bad_location_stores_nothing(empty_store, lat, lon, message):
    good = ("a", 43.65, -79.38, Score((0.2,) * 5, 0.1))
    with pytest.raises(ValueError, match=message):
        store.save_scores(empty_store, [good, ("b", lat, lon, Score((0.2,) * 5, 0.1))], FAKE, "ana")
    store.ensure_tables(empty_store)
    assert empty_store.execute("SELECT count(*) FROM deviance_scores").fetchall() == [(0,)]
    assert empty_store.execute("SELECT count(*) FROM audit_log").fetchall() == [(0,)]


# --- scoring --------------------------------------------------------------------------------


def test_an_upload_is_scored_and_saved_at_its_exif_position(empty_store, lite):
    result = scoring.score_upload(empty_store, lite, sequence_files(gps=(43.65, -79.38)), "ana", use_exif=True)
    assert result.name == "frame000000.jpg + 15 more"
    assert (result.lat, result.lon) == pytest.approx((43.65, -79.38), abs=1e-5)
    assert sum(result.score.sea_probs) == pytest.approx(1.0) and 0 <= result.score.dia_prob <= 1
    assert len(result.frames.images) == 16
    assert empty_store.execute("SELECT count(*), any_value(checkpoint_sha256) FROM deviance_scores").fetchall() == [
        (1, lite.sha256)
    ]


@pytest.mark.parametrize(
    "files, where, message",
    [
        (sequence_files(15), {"lat": 43.65, "lon": -79.38}, "15 frame"),
        (sequence_files(), {}, "no location"),
        (sequence_files(), {"use_exif": True}, "no EXIF GPS"),
        (sequence_files()[:15] + [("notes.txt", b"hello")], {"lat": 43.65, "lon": -79.38}, "notes.txt: not an image"),
        (sequence_files()[:15] + [("big.jpg", frame_bytes(size=(96, 72)))], {"lat": 43.65, "lon": -79.38}, "differ"),
    ],
)
def test_bad_uploads_store_nothing(empty_store, lite, files, where, message):
    with pytest.raises(ValueError, match=message):
        scoring.score_upload(empty_store, lite, files, "ana", **where)
    store.ensure_tables(empty_store)
    assert empty_store.execute("SELECT count(*) FROM deviance_scores").fetchall() == [(0,)]


# --- training ---------------------------------------------------------------------------------


@pytest.fixture
def labelled(tmp_path) -> list[sequences.Sequence]:
    """Ten official-layout sequences: dark ones of class 1, bright ones of class 5."""
    for i in range(10):
        cls = 1 if i % 2 else 5
        write_sequence(
            tmp_path / "Toronto_train_SEA" / f"v_class{cls}_g43.65,-79.38_c{i}",
            colour=(40, 40, 40) if cls == 1 else (230, 230, 230),
        )
    return sequences.find_sequences(tmp_path / "Toronto_train_SEA")


def test_training_writes_a_checkpoint_that_loads_and_says_what_it_was_trained_on(labelled, tmp_path):
    classes = training.classes_from_names(labelled)
    record = training.train(
        labelled,
        classes,
        tmp_path / "out.pth",
        source="Toronto_train_SEA",
        labels="folder names",
        epochs=60,
        lr=1e-2,
        frames=2,
        image_size=64,
    )
    loaded = checkpoints.load(tmp_path / "out.pth", "lite")
    assert loaded.sha256 == record["sha256"]
    assert loaded.trained_on["class_counts"] == {"1": 5, "5": 5}
    assert loaded.trained_on["source"] == "Toronto_train_SEA" and loaded.trained_on["sequences"] == 10
    assert record["validation"]["sequences"] == 2 and record["validation"]["sea_accuracy"] == 1.0
    assert "held out 2: SEA accuracy 100%" in loaded.describe()


def test_training_needs_classes_for_every_sequence_and_two_kinds(labelled, tmp_path):
    write_sequence(tmp_path / "Toronto_train_SEA" / "unnamed")
    unnamed = sequences.find_sequences(tmp_path / "Toronto_train_SEA")
    with pytest.raises(ValueError, match="no class in their folder name.*unnamed"):
        training.classes_from_names(unnamed)
    table = pd.DataFrame({"sequence": [s.name for s in labelled], "sea_class": 3})
    assert training.classes_from_table(labelled, table) == [3] * 10
    with pytest.raises(ValueError, match="1 sequence.*no label.*unnamed"):
        training.classes_from_table(unnamed, table)
    with pytest.raises(ValueError, match="at least two different classes"):
        training.train(labelled, [3] * 10, tmp_path / "x.pth", source="s", labels="l")
