"""I3D ResNet-50 features: parity with the official extractor, weight loading, the crop modes."""

import argparse
import json
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from crimeviz.cctv import store
from crimeviz.cctv.i3d_features import (
    CROP,
    I3DFeatureExtractor,
    LiveI3DFeatures,
    crop_views,
    load_i3d,
    scale_frame,
    to_clips,
)
from crimeviz.cctv.model import Scorer, WeightsError
from crimeviz.cli import cctv as cli
from crimeviz.cli.common import CommandError
from crimeviz.store import db
from models.checkpoint import CheckpointError
from models.i3d import I3DResNet50, caffe2_name, load_official_weights
from models.mgfn import MGFN
from tests.parity_fill import fill_state_dict, seeded_input
from tests.test_cctv_cli import store_path  # noqa: F401 (fixture)
from tests.test_cctv_pipeline import random_weights  # noqa: F401 (fixture)
from tests.test_cctv_video import make_clip

FIXTURE = json.loads((Path(__file__).parent / "fixtures/parity/i3d_r50.json").read_text())
PIPELINE = FIXTURE["pipeline"]


@pytest.fixture(scope="module")
def official_filled():
    """I3D ResNet-50 with the fixture's key-seeded weights (not trained), eval mode."""
    model = I3DResNet50().eval()
    state = model.state_dict()
    fill_state_dict(state, FIXTURE["salt"])
    model.load_state_dict(state, strict=True)
    return model


@pytest.fixture(scope="module")
def blank():
    """An I3D ResNet-50 with PyTorch's initial weights, for the refusals."""
    return I3DResNet50().eval()


def fixture_frames(count: int) -> np.ndarray:
    """The first ``count`` RGB frames the official extractor read (the fixture's recipe)."""
    spec = PIPELINE["frames"]
    generator = torch.Generator().manual_seed(spec["seed"])
    return torch.randint(0, 256, tuple(spec["shape"]), generator=generator, dtype=torch.uint8).numpy()[:count]


def test_state_dict_has_the_official_keys_and_shapes_in_order():
    ours = [(key, list(t.shape)) for key, t in I3DResNet50().state_dict().items()]
    assert ours == [(key, shape) for key, shape in FIXTURE["state_dict"].items()]
    assert len(ours) == 320 and ours[0][0] == "conv1.weight" and ours[-1] == ("fc.bias", [400])


def test_features_match_the_official_network(official_filled):
    spec = FIXTURE["network"]["input"]
    clip = seeded_input(spec["shape"], spec["seed"], spec["kind"])
    with torch.no_grad():
        features = official_filled(clip)
    assert features.shape == (1, 2048)
    expected = torch.tensor(FIXTURE["network"]["expected"]["features"])
    torch.testing.assert_close(features[0], expected, atol=1e-4, rtol=0)


def test_ten_crops_match_the_official_oversampling_order_and_values():
    scaled = np.stack([scale_frame(frame) for frame in fixture_frames(16)])
    assert scaled.shape == (16, 256, 340, 3) and scaled.min() >= -1 and scaled.max() <= 1
    views = crop_views(scaled, 10)
    assert views.shape == (10, 16, CROP, CROP, 3)
    for view, expected in zip(views, PIPELINE["crops_of_first_snippet"], strict=True):
        assert view.astype(np.float64).sum() == pytest.approx(expected["sum"], abs=1e-3)
        np.testing.assert_allclose(view[0, 0, :4], expected["frame0_row0_first4"], atol=1e-6)
        np.testing.assert_allclose(view[15, 223, -4:], expected["frame15_row223_last4"], atol=1e-6)
        np.testing.assert_allclose(view[7, 112, 112], expected["frame7_center"], atol=1e-6)
    np.testing.assert_array_equal(crop_views(scaled, 1)[0], views[2])  # the live mode is the official centre crop


def test_live_one_crop_features_and_score_match_the_official_extractor(official_filled, filled_mgfn):
    """The monitor's I3D stage on a window of 16 decoded frames: the centre-crop features of the official
    extractor, reused while nothing moves, and MGFN's score of them through the monitor's scorer."""
    from crimeviz.cctv.live.backend import ContextScorer
    from crimeviz.cctv.live.snippets import Window
    from crimeviz.cctv.live.source import Frame

    scorer = Scorer(filled_mgfn, "mgfn-ucf+test", "key-seeded weights for a test: the score means nothing")
    extractor = I3DFeatureExtractor(official_filled, crops=1)
    live = LiveI3DFeatures(extractor)
    frames = tuple(Frame(i, float(i), image) for i, image in enumerate(fixture_frames(16)[..., ::-1]))  # BGR
    features = live(Window(frames, None, moving=True))
    expected = PIPELINE["oversample"]["features_snippet0_crop2"]  # the centre crop of the 10
    assert features.shape == (2048,)
    np.testing.assert_allclose(features, expected, atol=1e-4, rtol=0)
    assert features.sum() == pytest.approx(PIPELINE["center_crop"]["per_snippet"][0]["sum"], abs=1e-2)
    score = ContextScorer(scorer).score_batch([("gate", features)])[0]
    official = np.array(expected, np.float32)[None, None]
    assert score == pytest.approx(float(scorer.snippet_scores(official)[0]), abs=1e-5)
    assert extractor.timings["i3d_s"] > 0 and extractor.timings["preprocess_s"] > 0
    still = live(Window(frames[::-1], None, moving=False))  # a still window keeps the last features
    assert still is features and (live.backbone_runs, live.reused) == (1, 1)
    with pytest.raises(ValueError, match="16 frames"):
        live(Window(frames[:8], None, moving=True))
    with pytest.raises(ValueError, match="1-crop"):
        LiveI3DFeatures(I3DFeatureExtractor(official_filled, crops=10))


def test_tiny_clip_gives_one_2048_vector_per_clip_and_kinetics_logits():
    model = I3DResNet50().eval()
    with torch.no_grad():
        features = model(torch.rand(2, 3, 8, 32, 32) * 2 - 1)
        logits = model.classify(features)
    assert features.shape == (2, 2048) and logits.shape == (2, 400)
    assert torch.isfinite(features).all() and (features >= 0).all()  # averaged after a ReLU


def test_crop_layout_and_refusals(blank):
    snippet = np.zeros((16, 256, 340, 3), np.float32)
    assert to_clips(crop_views(snippet, 10)).shape == (10, 3, 16, CROP, CROP)
    with pytest.raises(ValueError, match="crops must be 10 .* or 1"):
        crop_views(snippet, 5)
    with pytest.raises(ValueError, match="crops must be 10"):
        I3DFeatureExtractor(blank, crops=3)
    with pytest.raises(ValueError, match="the clip has 15 frames; I3D features need at least 16"):
        I3DFeatureExtractor(blank, crops=1).features(iter(np.zeros((15, 8, 8, 3), np.uint8)))


def test_converted_kinetics_file_loads_without_batch_counters(official_filled, tmp_path):
    """utils/convert_weights.py writes no num_batches_tracked (Caffe2 has none); a `module.` prefix is stripped."""
    state = {k: v for k, v in official_filled.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "i3d_r50_kinetics.pth"
    torch.save(state, path)
    loaded = load_i3d(path)
    assert not loaded.training
    assert torch.equal(loaded.layer3[5].conv1.weight, official_filled.layer3[5].conv1.weight)
    assert torch.equal(loaded.fc.bias, official_filled.fc.bias)
    again = load_official_weights(I3DResNet50(), {"module." + k: v for k, v in state.items()})
    assert torch.equal(again.bn1.running_var, official_filled.bn1.running_var)


def caffe2_pickle(state, path):
    """A weights pickle laid out as video-nonlocal-net's (Python 2 numpy names), optimiser blobs beside the weights."""
    blobs = {}
    for key, value in state.items():
        if name := caffe2_name(key):
            blobs[name] = value.numpy().copy()
            if key.startswith(("conv1.", "fc.")):  # a few optimiser blobs, as the real file has beside each weight
                blobs[name + "_momentum"] = np.zeros_like(blobs[name])
    raw = pickle.dumps({"blobs": blobs}, protocol=2)
    path.write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    return path


def test_caffe2_blob_names_are_those_of_the_official_converter():
    names = {key: caffe2_name(key) for key in I3DResNet50().state_dict()}
    assert {k: v for k, v in names.items() if v} == FIXTURE["caffe2_names"]
    assert [k for k, v in names.items() if v is None] == [k for k in names if k.endswith("num_batches_tracked")]


def test_caffe2_file_loads_as_its_converted_pth(official_filled, tmp_path):
    path = caffe2_pickle(official_filled.state_dict(), tmp_path / "i3d_baseline_32x2_IN_pretrain_400k.pkl")
    loaded = load_i3d(path)
    for (key, ours), theirs in zip(loaded.state_dict().items(), official_filled.state_dict().values(), strict=True):
        assert torch.equal(ours, theirs), key


def test_bad_weights_are_refused_in_one_line(official_filled, blank, tmp_path):
    state = official_filled.state_dict()
    cases = [
        ({**state, "layer2.1.nl.theta.weight": torch.zeros(256, 512, 1, 1, 1)}, "unexpected layer2.1.nl.theta.weight"),
        ({k: v for k, v in state.items() if not k.startswith("layer4.2.")}, "missing layer4.2.bn1.bias"),
        ({**state, "fc.weight": torch.zeros(101, 2048), "fc.bias": torch.zeros(101)}, "size mismatch for fc"),
    ]
    for bad, reason in cases:
        with pytest.raises(CheckpointError, match=reason) as caught:
            load_official_weights(blank, bad)
        assert "\n" not in str(caught.value)
    (tmp_path / "notes.pth").write_text("not weights\n")
    (tmp_path / "empty.pkl").write_bytes(pickle.dumps({}, protocol=2))
    (tmp_path / "objects.pkl").write_bytes(pickle.dumps({"blobs": OrderedDict()}, protocol=2))
    (tmp_path / "nl.pkl").write_bytes(pickle.dumps({"blobs": {"nonlocal_conv3_1_theta_w": np.zeros(1)}}))
    (tmp_path / "text.pkl").write_text("not weights\n")
    files = [
        ("notes.pth", "I3D weights notes.pth: not a PyTorch checkpoint"),
        ("missing.pth", "I3D weights missing.pth: no such checkpoint file"),
        ("empty.pkl", r"empty.pkl: not a Caffe2 weights file \(no 'blobs'\)"),
        ("objects.pkl", "objects.pkl: holds Python objects besides arrays"),
        ("nl.pkl", "nl.pkl: the non-local I3D; the feature extractor uses the baseline"),
        ("text.pkl", "text.pkl: not a Caffe2 weights file"),
    ]
    for name, reason in files:
        with pytest.raises(WeightsError, match=reason) as caught:
            load_i3d(tmp_path / name)
        assert "\n" not in str(caught.value) and str(tmp_path) not in str(caught.value)


@pytest.fixture(scope="module")
def filled_mgfn():
    """MGFN in the UCF-Crime configuration with key-seeded weights (not trained), eval mode."""
    mgfn = MGFN().eval()
    state = mgfn.state_dict()
    fill_state_dict(state, FIXTURE["salt"])
    mgfn.load_state_dict(state)
    return mgfn


@pytest.fixture(scope="module")
def weight_files(official_filled, filled_mgfn, tmp_path_factory):
    """(I3D .pth as convert_weights.py writes it, official-format MGFN state dict), both key-seeded, not trained."""
    folder = tmp_path_factory.mktemp("i3d")
    state = {k: v for k, v in official_filled.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, folder / "i3d_r50_kinetics.pth")
    torch.save(filled_mgfn.state_dict(), folder / "mgfn_ucf.pkl")
    return folder / "i3d_r50_kinetics.pth", folder / "mgfn_ucf.pkl"


def run_cctv(capsys, *argv):
    parser = argparse.ArgumentParser()
    cli.add_subcommands(parser.add_subparsers(dest="cctv_command", required=True))
    args = parser.parse_args([str(a) for a in argv] + ["--threads", "2"])
    status = args.func(args)
    return status, json.loads(capsys.readouterr().out)


def test_score_command_runs_the_official_detector_on_raw_video_and_saves_the_review(
    capsys, tmp_path, weight_files, store_path
):
    i3d, mgfn = weight_files
    clip = make_clip(tmp_path / "walk.avi", n_frames=20)
    out = tmp_path / "scores.json"
    argv = ["score", clip, "--features", "i3d", "--i3d-weights", i3d, "--weights", mgfn, "--crops", 1, "--json", out]
    status, summary = run_cctv(
        capsys, *argv, "--camera", "Gate", "--threshold", 0.01, "--db", store_path, "--user", "rev"
    )
    payload = json.loads(out.read_text())
    assert status == 0 and summary["n_frames"] == 20 and len(payload["frame_scores"]) == 20
    con = db.connect(store_path)
    record, _ = store.load_report(con, summary["report_id"])
    con.close()
    assert record["model"]["version"] == payload["model"]["version"] and record["camera"]["name"] == "Gate"
    assert len(payload["snippet_scores"]) == 1  # one full snippet; the last 4 frames take its score
    assert payload["model"]["version"].startswith("mgfn-ucf+") and "/i3d-r50-1crop+" in payload["model"]["version"]
    assert "I3D ResNet-50 features (1 crop)" in payload["model"]["label"]
    assert payload["timings"]["i3d_s"] > 0


def test_score_command_refuses_options_that_do_not_fit(capsys, tmp_path, weight_files, random_weights):
    i3d, mgfn = weight_files
    clip = make_clip(tmp_path / "walk.avi", n_frames=20)
    with pytest.raises(CommandError, match="--features i3d needs --i3d-weights FILE"):
        run_cctv(capsys, "score", clip, "--features", "i3d", "--weights", mgfn)
    with pytest.raises(CommandError, match="--i3d-weights and --device are used with --features i3d"):
        run_cctv(capsys, "score", clip, "--i3d-weights", i3d, "--weights", mgfn)
    if not torch.cuda.is_available():
        with pytest.raises(CommandError, match="--device cuda: no CUDA GPU is visible to PyTorch here"):
            run_cctv(capsys, "score", clip, "--features", "i3d", "--i3d-weights", i3d, "--device", "cuda")
    with pytest.raises(CommandError, match="--device tpu: give cpu or cuda"):
        run_cctv(capsys, "score", clip, "--features", "i3d", "--i3d-weights", i3d, "--device", "tpu")
    with pytest.raises(WeightsError, match="I3D features need MGFN weights for 2048-d I3D input"):
        run_cctv(capsys, "score", clip, "--features", "i3d", "--i3d-weights", i3d, "--weights", random_weights)
    with pytest.raises(WeightsError, match="I3D weights mgfn_ucf.pkl: weights for another model"):
        run_cctv(capsys, "score", clip, "--features", "i3d", "--i3d-weights", mgfn, "--weights", mgfn)


def test_bench_i3d_command_parses_its_options():
    parser = argparse.ArgumentParser()
    cli.add_subcommands(parser.add_subparsers(dest="cctv_command", required=True))
    args = parser.parse_args(["bench-i3d", "--snippets", "2", "--device", "cpu", "--i3d-weights", "w.pth"])
    assert args.func is cli.cmd_bench_i3d and args.snippets == 2 and str(args.i3d_weights) == "w.pth"
    assert parser.parse_args(["score", "x.mp4"]).features == "crimeviz"  # the default path is unchanged


def test_the_monitor_watches_a_camera_on_the_official_path(tmp_path, weight_files, store_path):
    """``monitor --features i3d``: a served MJPEG camera scored with live 1-crop I3D features and the official
    MGFN weights (key-seeded, not trained: the scores mean nothing; the path is what is tested)."""
    from crimeviz.cctv import cameras
    from crimeviz.cli import monitor as monitor_cli
    from tests.live_helpers import VTEST, MjpegServer, anomaly_clip

    if not VTEST.exists():
        pytest.skip("needs OpenCV's sample clip (Debian opencv-doc)")
    i3d, mgfn = weight_files
    parser = argparse.ArgumentParser()
    monitor_cli.add_arguments(parser)

    def run(*argv):
        args = parser.parse_args([str(a) for a in argv] + ["--db", str(store_path), "--user", "rev", "--threads", "2"])
        return args.func(args)

    with MjpegServer(anomaly_clip(tmp_path / "walk.avi", 6, 0, 6)) as server:
        con = db.connect(store_path)
        cameras.add(con, cameras.CameraConfig("Lobby", server.url, 43.65, -79.38, detect_fps=10.0), "rev")
        con.close()
        out = tmp_path / "monitor.json"
        official = ["--features", "i3d", "--i3d-weights", i3d, "--weights", mgfn]
        assert run("--camera", "lobby", "--for", 20, "--json", out, *official) == 0
    summary = json.loads(out.read_text())
    camera = summary["cameras"][0]
    assert camera["error"] is None and camera["frames"] > 30 and camera["snippets"] >= 2, summary
    assert camera["backbone_runs"] >= 1 and summary["latency_s"]["snippet_p50"] > 0
    assert summary["model"]["version"].startswith("mgfn-ucf+") and "/i3d-r50-1crop+" in summary["model"]["version"]
    with pytest.raises(CommandError, match="--features i3d runs in the monitor's process"):
        run(*official, "--backend", "ray")
    with pytest.raises(CommandError, match="--features i3d needs --weights"):
        run("--features", "i3d", "--i3d-weights", i3d)
    with pytest.raises(CommandError, match="--i3d-weights and --device are used with --features i3d"):
        run("--i3d-weights", i3d, "--weights", mgfn)
    with pytest.raises(ValueError, match="these MGFN weights take I3D features"):
        run("--weights", mgfn)
