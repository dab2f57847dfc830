"""Training the demo MGFN: sample footage, injected anomalies, video-level labels only.

Data (all from Debian's ``opencv-doc``, Apache-2.0/BSD-3-Clause):

- ``vtest.avi`` (768×576, 10 fps, 795 frames of pedestrians, fixed camera): frames
  0–514 are the training footage, frames 515–794 (28 s) are held out.
- ``tree.avi``: a different camera, 68 decodable frames; a real hand covers the lens
  from frame 53 on. Held out, used only to check one real occlusion.

Training videos are 16-snippet (256-frame) windows of the training footage, flipped,
reversed or dimmed at random; half carry one injected anomaly of a training type
(:data:`synthetic.TRAIN_TYPES`). MGFN learns from the window's label alone (weak
supervision, Sec. 3.5), with the official objective and optimiser settings (Adam,
lr 1e-3, weight decay 5e-4; batches of as many normal as abnormal videos).
Frame labels are used only for the held-out frame-level ROC-AUC, per anomaly type,
including the types never seen in training (:data:`synthetic.HELDOUT_TYPES`).
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from crimeviz.cctv import synthetic, video
from crimeviz.cctv.evaluation import roc_auc
from crimeviz.cctv.features import FEATURE_DIM, Featurizer, FeatureSpec, backbone_embedder, load_backbone
from crimeviz.cctv.model import Scorer, save_checkpoint, standardise_motion
from crimeviz.cctv.scoring import frame_scores, score_clip, score_frames
from models.mgfn import MGFN, append_magnitude, mgfn_loss

SOURCE_DIR = Path("/usr/share/doc/opencv-doc/examples/data")
TRAIN_CLIP, REAL_CLIP = "vtest.avi", "tree.avi"
HELDOUT_START = 515  # vtest.avi frames before this train, the rest is held out
REAL_EVENT_START = 53  # tree.avi: first frame with the hand on the lens
WINDOW_SNIPPETS = 16
DEMO_SIZE = (384, 288)
_DIM_TABLE = (np.linspace(0, 1, 256) ** 1.6 * 255 * 0.8).astype(np.uint8)
DEMO_EVENTS = (synthetic.Event("fast_entry", 60, 30), synthetic.Event("occlusion", 170, 40))
MODEL_NAME = "mgfn-small-synthetic-demo-1"
TRAINED_ON = (
    "Demo model: MGFN trained with video-level labels only on synthetic anomalies (sudden fast motion, "
    "lens occlusion, blackout, scene change) injected into 51 s of OpenCV's sample pedestrian clip "
    "vtest.avi. It has never seen a real incident; real deployments need training on real labelled footage.")
ATTRIBUTION = ("Frames 515–794 of vtest.avi from OpenCV's sample data (Debian package opencv-doc, "
               "licence Apache-2.0 AND BSD-3-Clause), downscaled to 384×288, VP8; anomalies injected by "
               "crimeviz.cctv.synthetic.")


@dataclass(frozen=True)
class TrainConfig:
    """Sizes and settings of a training run; the defaults made the committed weights."""

    windows: int = 320  # per class
    iterations: int = 1200
    batch: int = 8  # per class
    lr: float = 1e-3
    weight_decay: float = 5e-4
    eval_videos: int = 4  # per anomaly type, and normal
    seed: int = 0


def read_clip(path: Path, size: tuple[int, int], start: int = 0, stop: int | None = None) -> tuple[np.ndarray, float]:
    """Frames [start, stop) of a trusted sample clip resized to ``size``, and its fps.

    Reads until the decoder stops: tree.avi declares 444 frames but 68 decode, which
    :func:`video.iter_frames` would rightly reject as truncated.
    """
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise video.VideoError(f"{path}: cannot open (install Debian's opencv-doc for the sample clips)")
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while stop is None or len(frames) < stop:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    capture.release()
    return np.stack(frames[start:]), fps


class MemoEmbedder:
    """Backbone features cached by frame content: unmodified frames are embedded once."""

    def __init__(self, embed: Callable[[np.ndarray], np.ndarray]):
        self.embed = embed
        self.cache: dict[bytes, np.ndarray] = {}

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        keys = [hashlib.blake2b(f.tobytes(), digest_size=16).digest() for f in frames]
        missing: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            if key not in self.cache:
                missing.setdefault(key, i)
        if missing:
            for key, feature in zip(missing, self.embed(frames[list(missing.values())])):
                self.cache[key] = feature
        return np.stack([self.cache[k] for k in keys])


def dim(frames: np.ndarray) -> np.ndarray:
    """Evening light: gamma 1.6, contrast 0.8."""
    return cv2.LUT(np.ascontiguousarray(frames), _DIM_TABLE)


def augment(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random horizontal flip, time reversal and :func:`dim`."""
    if rng.random() < 0.5:
        frames = frames[:, :, ::-1]
    if rng.random() < 0.5:
        frames = frames[::-1]
    if rng.random() < 0.3:
        frames = dim(frames)
    return np.ascontiguousarray(frames)


def window_features(featurizer: Featurizer, frames: np.ndarray) -> np.ndarray:
    """(n, h, w, 3) prepared frames of one video -> (S, F) raw snippet features."""
    featurizer.previous = None
    length = featurizer.spec.snippet_len
    return featurizer([frames[i:i + length] for i in range(0, len(frames), length)])


def training_set(frames: np.ndarray, fps: float, featurizer: Featurizer, cfg: TrainConfig,
                 rng: np.random.Generator, log: Callable[[str], None]) -> tuple[np.ndarray, np.ndarray]:
    """(windows, S, F) raw features of normal and of abnormal training windows."""
    span = WINDOW_SNIPPETS * featurizer.spec.snippet_len
    offsets = np.arange(0, len(frames) - span + 1, 8)  # multiples of 8 keep the embedding cache warm
    normal, abnormal = [], []
    for i in range(cfg.windows):
        start = int(rng.choice(offsets))
        window = augment(frames[start:start + span], rng)
        normal.append(window_features(featurizer, window))
        start = int(rng.choice(offsets))
        window = augment(frames[start:start + span], rng)
        event = synthetic.random_event(synthetic.TRAIN_TYPES[i % len(synthetic.TRAIN_TYPES)], span, fps, rng)
        abnormal.append(window_features(featurizer, synthetic.inject(window, event, rng)))
        if (i + 1) % 40 == 0:
            log(f"training windows: {i + 1}/{cfg.windows} per class")
    return np.stack(normal), np.stack(abnormal)


def fit(normal: np.ndarray, abnormal: np.ndarray, spec: FeatureSpec, cfg: TrainConfig,
        log: Callable[[str], None]) -> MGFN:
    """MGFN.small trained on standardised features with the official objective."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = MGFN.small(spec.dim).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    normal_t, abnormal_t = torch.from_numpy(normal), torch.from_numpy(abnormal)
    labels = torch.cat([torch.zeros(cfg.batch), torch.ones(cfg.batch)])
    for step in range(cfg.iterations):
        batch = torch.cat([normal_t[rng.choice(len(normal), cfg.batch, replace=False)],
                           abnormal_t[rng.choice(len(abnormal), cfg.batch, replace=False)]])
        losses = mgfn_loss(model(append_magnitude(batch)[:, None]), labels)
        optimiser.zero_grad()
        losses.total.backward()
        optimiser.step()
        if (step + 1) % 200 == 0:
            log(f"iteration {step + 1}/{cfg.iterations}: loss {losses.total.item():.4f} "
                f"(bce {losses.classification.item():.4f})")
    return model.eval()


def heldout_set(frames: np.ndarray, fps: float, featurizer: Featurizer, cfg: TrainConfig
                ) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Held-out videos as (kind, frame labels, raw features); kind "normal" has no event.

    ``eval_videos`` variants of the held-out clip (plain, flipped, dimmed, both) as
    they are, and the same variants each with one event of every anomaly type.
    """
    rng = np.random.default_rng(cfg.seed + 1)
    variants = [frames, frames[:, :, ::-1], dim(frames), dim(frames[:, :, ::-1])]
    variants = [np.ascontiguousarray(variants[i % 4]) for i in range(cfg.eval_videos)]
    videos = [("normal", np.zeros(len(frames), np.uint8), window_features(featurizer, clip)) for clip in variants]
    for kind in synthetic.ANOMALY_TYPES:
        for clip in variants:
            event = synthetic.random_event(kind, len(clip), fps, rng)
            videos.append((kind, event.labels(len(clip)),
                           window_features(featurizer, synthetic.inject(clip, event, rng))))
    return videos


def heldout_metrics(scorer: Scorer, videos: list[tuple[str, np.ndarray, np.ndarray]]) -> dict:
    """Frame-level ROC-AUC per anomaly type (its videos pooled with the normal ones) and overall."""
    scored = {}
    for kind, labels, features in videos:
        scores = frame_scores(scorer.snippet_scores(features), len(labels), scorer.spec.snippet_len)
        scored.setdefault(kind, []).append((labels, scores))
    normal = scored.pop("normal")
    seen = [v for kind in synthetic.TRAIN_TYPES for v in scored[kind]]
    unseen = [v for kind in synthetic.HELDOUT_TYPES for v in scored[kind]]
    return {"per_type_auc": {kind: _pooled_auc(normal + v) for kind, v in scored.items()},
            "training_types_auc": _pooled_auc(normal + seen), "unseen_types_auc": _pooled_auc(normal + unseen),
            "overall_auc": _pooled_auc(normal + seen + unseen)}


def _pooled_auc(videos: list[tuple[np.ndarray, np.ndarray]]) -> float:
    labels, scores = zip(*videos)
    return round(roc_auc(np.concatenate(labels), np.concatenate(scores)), 4)


def write_demo_clip(source: Path, out: Path) -> dict:
    """The held-out footage at 384×288 with :data:`DEMO_EVENTS` injected, as VP8 WebM.

    Writes the ground truth and attribution beside it (same name, ``.json``).
    """
    frames, fps = read_clip(source, DEMO_SIZE, HELDOUT_START)
    rng = np.random.default_rng(2024)
    for event in DEMO_EVENTS:
        frames = synthetic.inject(frames, event, rng)
    video.write_clip(frames, out, fps)
    truth = {"clip": out.name, "fps": fps, "n_frames": len(frames), "attribution": ATTRIBUTION,
             "events": [{**asdict(e), "start_s": e.start / fps, "end_s": (e.start + e.length) / fps}
                        for e in DEMO_EVENTS]}
    out.with_suffix(".json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def train(source_dir: Path, out: Path, cfg: TrainConfig = TrainConfig(), demo_clip: Path | None = None,
          log: Callable[[str], None] = print) -> dict:
    """Builds the data, trains, evaluates on held-out footage and writes the checkpoint."""
    started = time.perf_counter()
    spec = FeatureSpec()
    rng = np.random.default_rng(cfg.seed)
    vtest, fps = read_clip(source_dir / TRAIN_CLIP, spec.frame_size)
    embed = MemoEmbedder(backbone_embedder(load_backbone()))
    featurizer = Featurizer(spec, embed)
    normal, abnormal = training_set(vtest[:HELDOUT_START], fps, featurizer, cfg, rng, log)
    motion = normal.reshape(-1, spec.dim)[:, FEATURE_DIM:]
    mean, std = motion.mean(axis=0), motion.std(axis=0) + 1e-3
    built = time.perf_counter()
    log(f"features of {2 * cfg.windows} windows in {built - started:.0f} s "
        f"({len(embed.cache)} distinct frames through the backbone)")
    model = fit(standardise_motion(normal, mean, std), standardise_motion(abnormal, mean, std), spec, cfg, log)
    scorer = Scorer(model, MODEL_NAME, TRAINED_ON, spec, mean, std, embed=embed)
    trained = time.perf_counter()
    metrics = {"heldout_footage": f"{TRAIN_CLIP} frames {HELDOUT_START}-{len(vtest) - 1}",
               **heldout_metrics(scorer, heldout_set(vtest[HELDOUT_START:], fps, featurizer, cfg))}
    real_path = source_dir / REAL_CLIP
    if real_path.is_file():
        tree, _ = read_clip(real_path, spec.frame_size)
        labels = (np.arange(len(tree)) >= REAL_EVENT_START).astype(np.uint8)
        metrics["real_hand_occlusion_auc"] = round(roc_auc(labels, score_frames(tree, scorer).frame_scores), 4)
    if demo_clip is not None:
        truth = write_demo_clip(source_dir / TRAIN_CLIP, demo_clip)
        result = score_clip(demo_clip, scorer)
        labels = np.zeros(result.n_frames, np.uint8)
        for event in DEMO_EVENTS:
            labels[event.start:event.start + event.length] = 1
        metrics["demo_clip_auc"] = round(roc_auc(labels, result.frame_scores), 4)
        log(f"demo clip: {demo_clip} ({len(truth['events'])} injected events)")
    metrics.update({"config": asdict(cfg), "feature_seconds": round(built - started, 1),
                    "train_seconds": round(trained - built, 1),
                    "total_seconds": round(time.perf_counter() - started, 1)})
    save_checkpoint(out, scorer.model, spec, mean, std, MODEL_NAME, TRAINED_ON, metrics)
    return metrics
