"""The label form under a saved review on the CCTV page (Streamlit's AppTest)."""

import pytest

from crimeviz.cctv import store as cctv_store
from crimeviz.store import db
from tests.test_cctv_page import clip_bytes, page  # noqa: F401 (fixture)


@pytest.fixture
def labelled_store(tmp_path, monkeypatch):
    path = tmp_path / "cctv.duckdb"
    con = db.connect(path)
    cctv_store.ensure_tables(con)
    cctv_store.add_camera(con, "Yard", 43.65, -79.38, "admin")
    con.close()
    monkeypatch.setenv("CRIMEVIZ_DB", str(path))
    monkeypatch.setenv("CRIMEVIZ_CCTV_REGISTRY", str(tmp_path / "registry"))
    return path


def _rows(path, sql):
    con = db.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_reviewer_labels_a_saved_review_and_a_bad_label_is_explained(labelled_store, clip_bytes):  # noqa: F811
    from crimeviz.cctv import calibration

    con = db.connect(labelled_store)
    calibration.ensure_tables(con)
    with db.transaction(con):  # as `cctv calibrate` leaves it
        con.execute("INSERT INTO cctv_camera_thresholds VALUES (1, 0.25, 0.5, 1.0, 2.0, 3, 'admin', current_timestamp)")
    con.close()
    at = page("reviewer").run()
    at.file_uploader(key="cctv_upload").set_value(("walk.avi", clip_bytes, "video/x-msvideo")).run()
    assert at.slider(key="cctv_threshold").value == 0.25  # the camera's calibrated threshold
    classes = at.dataframe[1].value  # the demo model has no classification heads: no guesses
    assert set(classes.iloc[0][["event type", "instrument", "severity"]]) == {"not enough labelled examples"}
    next(b for b in at.button if b.label == "Save report for Yard").click()
    at.run()
    assert not at.exception and "Saved report" in at.success[0].value
    assert _rows(labelled_store, "SELECT n_snippets FROM cctv_snippet_features")[0][0] == 3  # 48 frames
    at.radio(key="cctv_label_verdict").set_value("true")
    at.selectbox(key="cctv_label_type").set_value("robbery")
    at.selectbox(key="cctv_label_instrument").set_value("knife")
    at.selectbox(key="cctv_label_severity").set_value(7)
    at.checkbox(key="cctv_label_correct").check()
    at.number_input(key="cctv_label_start").set_value(1.0)
    at.number_input(key="cctv_label_end").set_value(0.5)
    next(b for b in at.button if b.label == "Save label").click()
    at.run()
    assert "must end after it starts" in at.error[0].value
    assert _rows(labelled_store, "SELECT count(*) FROM cctv_labels")[0][0] == 0
    at.number_input(key="cctv_label_end").set_value(3.0)
    next(b for b in at.button if b.label == "Save label").click()
    at.run()
    assert not at.exception and "Label saved" in at.success[-1].value
    row = _rows(labelled_store, "SELECT verdict, event_type, instrument, severity, start_s, end_s FROM cctv_labels")
    assert row == [("true", "robbery", "knife", 7, 1.0, 3.0)]
    assert not any(e.label.startswith("Incident types") for e in at.expander)  # administrators only


def test_an_administrator_promotes_and_rolls_back_model_versions_on_the_page(labelled_store, tmp_path):
    import numpy as np
    import torch

    from crimeviz.cctv import registry
    from crimeviz.cctv.features import MOTION_STATS, FeatureSpec
    from crimeviz.cctv.model import save_checkpoint
    from models.mgfn import MGFN

    spec, k = FeatureSpec(), len(MOTION_STATS)
    con = db.connect(labelled_store)
    ids = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        path = tmp_path / f"w{seed}.pt"
        save_checkpoint(path, MGFN.small(spec.dim), {}, spec, np.zeros(k), np.ones(k), f"w{seed}", "Random.", {})
        ids.append(registry.register(con, path, f"w{seed}", "admin", {}, {"frame_auc": 0.5 + seed / 10}, "# w\n"))
    registry.promote(con, ids[0], "admin")
    con.close()
    assert not page("reviewer").run().expander  # reviewers see no registry
    at = page("admin").run()
    assert not at.exception
    assert [e.label for e in at.expander][0] == "Model versions (administrators)"
    table = at.dataframe[0].value
    assert table["held-out frame AUC"].tolist() == [0.6, 0.5] and table["status"].tolist() == ["candidate", "promoted"]
    at.selectbox(key="cctv_model_pick").set_value(ids[1])
    at.button(key="cctv_model_promote").click()
    at.run()
    assert not at.exception and "Model w1+" in at.warning[0].value  # the page now scores with the promoted version
    at.button(key="cctv_model_rollback").click()
    at.run()
    assert "Model w0+" in at.warning[0].value
    assert _rows(labelled_store, "SELECT status FROM cctv_models ORDER BY version_id") == [("promoted",), ("retired",)]
