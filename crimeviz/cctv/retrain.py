"""Retraining from reviewers' labels: MGFN fine-tuned with weak labels, classification heads, a promotion gate.

Data (:func:`labelled_items`): every labelled report or alert whose snippet features
were stored at scoring time (:mod:`crimeviz.cctv.snippet_store`; the live monitor stores
an alert's when it opens and again, complete, when it ends, with the segment's place in them);
a labelled alert without them (raised before the monitor stored features, or whose monitor
began watching after its clip began, e.g. after a restart) has its recorded clip decoded
once and its features stored (:func:`alert_clip_features`); ``unsure`` labels are left out. Items are split per verdict into training and held-out sets by a hash
of their id (:func:`split`), so a rerun holds out the same clips.

Detector (:func:`fine_tune`): the current MGFN, fine-tuned with video-level (weak)
labels only, as in training (Chen et al., "MGFN", AAAI 2023, Sec. 3.5; the MIL view of
Sultani et al., CVPR 2018): windows of :data:`WINDOW` snippets around confirmed
segments are abnormal bags, windows of dismissed clips are hard normal bags, and
windows of each camera's other stored footage (outside labelled or alerted segments)
are normal bags. Objective: the official one plus :func:`crimeviz.cctv.train.snippet_label_loss`.

Classification heads (:func:`fit_heads`): MGFN's final snippet features
(:func:`snippet_embeddings`, the D-dim features its ``fc`` scores) averaged over the
confirmed segment, standardised, then multinomial logistic regression for the type
and the instrument and ridge regression for the severity (scikit-learn; Hastie,
Tibshirani and Friedman, *ESL*, Secs. 4.4 and 3.4.1). A class with fewer than
``min_per_class`` training examples is left out and named as "not enough labelled
examples"; a head with fewer than two classes left is not trained.

Gate (:func:`compare`): candidate and current model on the held-out clips: frame-level
ROC-AUC, false alarms per camera-hour at each clip's operating threshold (alert
segments, :func:`crimeviz.cctv.scoring.alert_segments`, that touch no confirmed
frame), and for the heads accuracy, macro-F1 and severity MAE. The candidate is
promoted only if its AUC is higher, it raises no more false alarms per hour, and,
when the current model has heads, its type macro-F1 is not lower.

Live alerts (:func:`classify_alert`): the promoted version's heads classify each alert's
segment from the snippet features the monitor kept; with no heads promoted, the alert
says so (:data:`NO_MODEL`) rather than guess.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch

from crimeviz.cctv import registry, snippet_store
from crimeviz.cctv.evaluation import roc_auc
from crimeviz.cctv.model import Scorer, load_scorer
from crimeviz.cctv.scoring import alert_segments, frame_scores
from crimeviz.cctv.train import snippet_label_loss
from models.checkpoint import read_checkpoint
from models.mgfn import MGFN, append_magnitude, mgfn_loss

WINDOW = 16  # snippets per training bag, the demo model's training videos
NOT_ENOUGH = "not enough labelled examples"
NO_MODEL = "no classification model promoted"
HEADS = ("event_type", "instrument")


@dataclass(frozen=True)
class RetrainConfig:
    iterations: int = 300
    lr: float = 1e-4
    weight_decay: float = 5e-4
    batch: int = 4  # bags per class and step
    heldout_share: float = 0.3
    min_per_class: int = 3
    normal_windows_per_camera: int = 8
    min_auc_gain: float = 0.0
    seed: int = 0


@dataclass
class Item:
    """One labelled clip with its stored features and snippet labels."""

    source: str
    source_id: int
    camera_id: int
    camera: str
    verdict: str
    features: np.ndarray  # (S, F) raw
    snippet_s: float
    snippet_len: int
    threshold: float
    snippet_labels: np.ndarray  # (S,) 0/1
    event_type: str | None = None
    instrument: str | None = None
    severity: int | None = None
    label_id: int | None = None
    labelled_at: str | None = None

    @property
    def key(self) -> str:
        return f"{self.source}:{self.source_id}"

    @property
    def fps(self) -> float:
        return self.snippet_len / self.snippet_s

    @property
    def hours(self) -> float:
        return len(self.features) * self.snippet_s / 3600

    def frame_labels(self) -> np.ndarray:
        return np.repeat(self.snippet_labels, self.snippet_len)


def _snippet_mask(n: int, snippet_s: float, spans: list[tuple[float, float]]) -> np.ndarray:
    """(n,) 1 for snippets overlapping any [start, end) span in seconds."""
    starts = np.arange(n) * snippet_s
    mask = np.zeros(n, np.uint8)
    for a, b in spans:
        mask[(starts + snippet_s > a) & (starts < b)] = 1
    return mask


def _alerted_spans(con, source: str, source_id: int) -> tuple[float, list[tuple[float, float]]]:
    """(operating threshold, alert segments in seconds from the features' start) of a report or alert."""
    if source == "report":
        threshold, segments = con.execute(
            "SELECT threshold, segments FROM cctv_reports WHERE report_id = ?", [source_id]
        ).fetchall()[0]
        return threshold, [(s["start_s"], s["end_s"]) for s in json.loads(segments)]
    threshold, started, ended, seen, pre = con.execute(
        """SELECT a.threshold, a.started_at, a.ended_at, a.last_seen_at, coalesce(s.pre_capture_s, 0)
           FROM cctv_alerts a LEFT JOIN camera_streams s USING (camera_id) WHERE a.alert_id = ?""",
        [source_id],
    ).fetchall()[0]
    # an alert's clip starts pre_capture_s before the segment (crimeviz.cctv.live.monitor)
    return threshold, [(pre, pre + ((ended or seen) - started).total_seconds())]


def alert_clip_features(con, alert_id: int, scorer: Scorer) -> bool:
    """Decodes a labelled alert's recorded clip once and stores its snippet features; False without a clip."""
    from crimeviz.cctv.scoring import score_clip

    rows = con.execute("SELECT clip, camera_id FROM cctv_alerts WHERE alert_id = ?", [alert_id]).fetchall()
    if not rows or not rows[0][0] or not Path(rows[0][0]).is_file():
        return False
    result = score_clip(rows[0][0], scorer)
    snippet_s = scorer.spec.snippet_len / result.fps
    snippet_store.save(
        con, "alert", alert_id, rows[0][1], result.features, snippet_s, scorer.version, scorer.spec.to_dict()
    )
    return True


def _missing(value) -> bool:
    return value is None or bool(pd.isna(value))


def labelled_items(con, scorer: Scorer | None = None) -> tuple[list[Item], dict]:
    """Labelled clips with stored features (``unsure`` left out, and with ``scorer`` those whose features are
    another model's input), and counts of what was skipped.

    A labelled alert without stored features has its recorded clip decoded once (with ``scorer``'s
    feature recipe) and its features stored, so the next retraining decodes nothing.
    """
    from crimeviz.cctv import labels

    frame = labels.labels(con)
    items, skipped = [], {"unsure": 0, "no_stored_features": 0, "alert_clips_decoded": 0, "other_features": 0}
    for row in frame.itertuples(index=False):
        if row.verdict == "unsure":
            skipped["unsure"] += 1
            continue
        stored = snippet_store.load(con, row.source, row.source_id)
        alert = row.source == "alert" and scorer is not None
        if stored is None and alert and alert_clip_features(con, int(row.source_id), scorer):
            skipped["alert_clips_decoded"] += 1
            stored = snippet_store.load(con, row.source, row.source_id)
        if stored is None:
            skipped["no_stored_features"] += 1
            continue
        features, meta = stored
        if scorer is not None and features.shape[1] != scorer.model.feature_dim:  # e.g. I3D features of a monitor
            skipped["other_features"] += 1  # that ran the official detector: another model's input
            continue
        threshold, alerted = _alerted_spans(con, row.source, row.source_id)
        if "segment_s" in meta["feature_spec"]:  # the monitor stored where the segment lies in its snippets
            alerted = [tuple(meta["feature_spec"]["segment_s"])]
        if row.verdict == "true":
            bounds = alerted if _missing(row.start_s) else [(row.start_s, row.end_s)]
            mask = _snippet_mask(len(features), meta["snippet_s"], bounds)
        else:
            mask = np.zeros(len(features), np.uint8)
        severity = None if _missing(row.severity) else int(row.severity)
        items.append(
            Item(
                row.source,
                int(row.source_id),
                int(row.camera_id),
                row.camera,
                row.verdict,
                features,
                meta["snippet_s"],
                int(meta["feature_spec"].get("snippet_len", 16)),
                float(threshold),
                mask,
                row.event_type if isinstance(row.event_type, str) else None,
                row.instrument if isinstance(row.instrument, str) else None,
                severity,
                int(row.label_id),
                str(row.labelled_at),
            )
        )
    return items, skipped


def _rank(key: str, seed: int) -> str:
    return hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).hexdigest()


def split(items: list[Item], share: float, seed: int = 0) -> tuple[list[Item], list[Item]]:
    """(training, held-out): per verdict, the ``share`` of items first in hash order are held out (at least
    one when a verdict has two or more items)."""
    train, heldout = [], []
    for verdict in ("true", "false"):
        group = sorted((i for i in items if i.verdict == verdict), key=lambda i: _rank(i.key, seed))
        n = 0 if len(group) < 2 else max(1, round(len(group) * share))
        heldout += group[:n]
        train += group[n:]
    return train, heldout


def _window(features: np.ndarray, start: int) -> np.ndarray:
    """``WINDOW`` snippets from ``start``; a shorter clip is padded by repeating its last snippet."""
    out = features[start : start + WINDOW]
    if len(out) < WINDOW:
        out = np.concatenate([out, np.repeat(out[-1:], WINDOW - len(out), axis=0)])
    return out


def bags(
    train: list[Item], other_footage: dict[int, list[np.ndarray]], cfg: RetrainConfig, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray], dict]:
    """(normal bags, abnormal bags, counts): each bag (WINDOW, F) raw features."""
    normal, abnormal = [], []
    counts = {"abnormal": 0, "hard_normal": 0, "camera_normal": 0}
    for item in train:
        n = len(item.features)
        starts = list(range(0, max(1, n - WINDOW + 1), WINDOW // 2))
        if item.verdict == "true":
            hit = np.flatnonzero(item.snippet_labels)
            if len(hit) == 0:
                continue
            centre = int((hit[0] + hit[-1]) // 2)
            start = int(np.clip(centre - WINDOW // 2, 0, max(0, n - WINDOW)))
            abnormal.append(_window(item.features, start))
            counts["abnormal"] += 1
            clean = [s for s in starts if not item.snippet_labels[s : s + WINDOW].any()]
            for s in clean[:2]:  # the rest of a confirmed clip is that camera's normal footage
                normal.append(_window(item.features, s))
                counts["camera_normal"] += 1
        else:
            for s in starts:
                normal.append(_window(item.features, s))
                counts["hard_normal"] += 1
    for windows in other_footage.values():
        if not windows:
            continue
        picked = rng.choice(len(windows), min(cfg.normal_windows_per_camera, len(windows)), replace=False)
        normal += [windows[i] for i in picked]
        counts["camera_normal"] += len(picked)
    return normal, abnormal, counts


def camera_footage(con, exclude: set[str], cameras: set[int]) -> dict[int, list[np.ndarray]]:
    """Windows of each camera's stored, unlabelled footage outside its alert segments."""
    out: dict[int, list[np.ndarray]] = {c: [] for c in cameras}
    listing = snippet_store.listing(con)
    for row in listing.itertuples(index=False):
        key = f"{row.source}:{row.source_id}"
        if key in exclude or row.camera_id not in cameras:
            continue
        features, meta = snippet_store.load(con, row.source, row.source_id)
        _, alerted = _alerted_spans(con, row.source, row.source_id)
        mask = _snippet_mask(len(features), meta["snippet_s"], alerted)
        for s in range(0, max(1, len(features) - WINDOW + 1), WINDOW // 2):
            if not mask[s : s + WINDOW].any():
                out[row.camera_id].append(_window(features, s))
    return out


def fine_tune(
    scorer: Scorer,
    overrides: dict,
    normal: list[np.ndarray],
    abnormal: list[np.ndarray],
    cfg: RetrainConfig,
    log: Callable[[str], None],
) -> MGFN:
    """A copy of ``scorer.model`` fine-tuned on the bags (official objective + snippet_label_loss)."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = MGFN.small(scorer.model.feature_dim, **overrides)
    model.load_state_dict(scorer.model.state_dict())
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    normal_t = torch.from_numpy(np.stack([scorer.normalise(b) for b in normal]))
    abnormal_t = torch.from_numpy(np.stack([scorer.normalise(b) for b in abnormal]))
    labels = torch.cat([torch.zeros(cfg.batch), torch.ones(cfg.batch)])
    every = max(1, cfg.iterations // 10)
    for step in range(cfg.iterations):
        batch = torch.cat(
            [
                normal_t[rng.choice(len(normal_t), cfg.batch, replace=len(normal_t) < cfg.batch)],
                abnormal_t[rng.choice(len(abnormal_t), cfg.batch, replace=len(abnormal_t) < cfg.batch)],
            ]
        )
        output = model(append_magnitude(batch)[:, None])
        loss = mgfn_loss(output, labels).total + snippet_label_loss(output.snippet_scores, labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if (step + 1) % every == 0:
            log(f"fine-tuning MGFN: iteration {step + 1}/{cfg.iterations}, loss {loss.item():.4f}")
    return model.eval()


def snippet_embeddings(model: MGFN, features: np.ndarray) -> np.ndarray:
    """(T, F) model-input features -> (T, D) MGFN's final snippet features (what its ``fc`` scores).

    The first lines of :meth:`MGFN.forward`, one crop.
    """
    x = torch.from_numpy(np.asarray(features, np.float32))
    if len(x) < model.k:
        x = torch.cat([x, x[-1:].expand(model.k - len(x), -1)])
    with torch.inference_mode():
        x = append_magnitude(x)[None].transpose(1, 2)
        x = model.to_tokens(x[:, :-1]) + model.mag_ratio * model.to_mag(x[:, -1:])
        feats = model.to_logits(model.stages(x).transpose(1, 2))
    return feats[0, : len(features)].numpy()


def segment_embedding(scorer: Scorer, item: Item) -> np.ndarray:
    """(D,) mean MGFN feature over the item's confirmed snippets."""
    emb = snippet_embeddings(scorer.model, scorer.normalise(item.features))
    return emb[item.snippet_labels.astype(bool)].mean(axis=0)


def fit_heads(scorer: Scorer, train: list[Item], cfg: RetrainConfig) -> tuple[dict, dict]:
    """(heads as arrays for the checkpoint, what was trained and what had too few examples)."""
    from sklearn.linear_model import LogisticRegression, Ridge

    confirmed = [i for i in train if i.verdict == "true" and i.snippet_labels.any()]
    summary: dict = {}
    if not confirmed:
        return {}, {name: NOT_ENOUGH for name in (*HEADS, "severity")}
    x = np.stack([segment_embedding(scorer, i) for i in confirmed])
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / std
    heads: dict = {"mean": torch.from_numpy(mean.astype(np.float32)), "std": torch.from_numpy(std.astype(np.float32))}
    for name in HEADS:
        values = [getattr(i, name) for i in confirmed]
        counts = {v: values.count(v) for v in set(values) if v is not None}
        enough = sorted(v for v, c in counts.items() if c >= cfg.min_per_class)
        short = sorted(v for v, c in counts.items() if c < cfg.min_per_class)
        summary[name] = {"classes": enough, NOT_ENOUGH: short, "examples": counts}
        if len(enough) < 2:
            summary[name]["trained"] = False
            continue
        rows = [k for k, v in enumerate(values) if v in enough]
        model = LogisticRegression(C=1.0, max_iter=2000).fit(z[rows], [values[k] for k in rows])
        coef = model.coef_ if len(enough) > 2 else np.concatenate([-model.coef_, model.coef_]) / 2
        intercept = model.intercept_ if len(enough) > 2 else np.concatenate([-model.intercept_, model.intercept_]) / 2
        heads[name] = {
            "classes": [str(c) for c in model.classes_],
            "coef": torch.from_numpy(coef.astype(np.float32)),
            "intercept": torch.from_numpy(intercept.astype(np.float32)),
        }
        summary[name]["trained"] = True
    rated = [k for k, i in enumerate(confirmed) if i.severity is not None]
    summary["severity"] = {"examples": len(rated)}
    if len(rated) >= cfg.min_per_class:
        ridge = Ridge(alpha=1.0).fit(z[rated], [confirmed[k].severity for k in rated])
        heads["severity"] = {
            "coef": torch.from_numpy(ridge.coef_.astype(np.float32)),
            "intercept": float(ridge.intercept_),
        }
        summary["severity"]["trained"] = True
    else:
        summary["severity"].update(trained=False, note=NOT_ENOUGH)
    return heads, summary


def classify(scorer: Scorer, heads: dict, item: Item) -> dict:
    """The heads' type, instrument and severity (1–10) for a confirmed item; NOT_ENOUGH where no head exists."""
    if not heads:
        return {name: NOT_ENOUGH for name in (*HEADS, "severity")}
    z = (segment_embedding(scorer, item) - heads["mean"].numpy()) / heads["std"].numpy()
    out: dict = {}
    for name in HEADS:
        head = heads.get(name)
        if head is None:
            out[name] = NOT_ENOUGH
            continue
        logits = head["coef"].numpy() @ z + head["intercept"].numpy()
        out[name] = head["classes"][int(np.argmax(logits))]
    head = heads.get("severity")
    out["severity"] = (
        NOT_ENOUGH if head is None else int(np.clip(np.rint(head["coef"].numpy() @ z + head["intercept"]), 1, 10))
    )
    return out


def classify_segments(scorer: Scorer, heads: dict, features: np.ndarray, snippet_s: float, segments) -> pd.DataFrame:
    """One row per alert segment (objects with ``start_s``/``end_s``) of a scored clip: the heads' type,
    instrument and severity, or "not enough labelled examples" where no head could be trained."""
    rows = []
    for number, segment in enumerate(segments, 1):
        mask = _snippet_mask(len(features), snippet_s, [(segment.start_s, segment.end_s)])
        guess = classify(scorer, heads, SimpleNamespace(features=features, snippet_labels=mask))
        rows.append({"#": number, **{k.replace("_", " "): v for k, v in guess.items()}})
    return pd.DataFrame(rows, columns=["#", "event type", "instrument", "severity"]).astype(str)


def read_heads(path: Path) -> dict:
    checkpoint = read_checkpoint(path)
    return checkpoint.get("heads", {}) if isinstance(checkpoint, dict) else {}


class PromotedHeads:
    """The promoted registry version's scorer and classification heads, loaded again only when the promoted
    file changes (a promotion or rollback reaches the monitor without a restart)."""

    def __init__(self):
        self._key: str | None = None
        self._value: tuple[dict, Scorer, dict] | None = None
        self._lock = threading.Lock()

    def get(self) -> tuple[dict, Scorer, dict] | None:
        """(registry pointer, scorer, heads), or None when no promoted version has heads."""
        pointer = registry.promoted_pointer()
        if pointer is None or not Path(pointer["path"]).is_file():
            return None
        with self._lock:
            if pointer["path"] != self._key:
                heads = read_heads(Path(pointer["path"]))
                self._value = (pointer, load_scorer(pointer["path"]), heads) if heads else None
                self._key = pointer["path"]
            return self._value


def classify_alert(promoted: PromotedHeads, features: np.ndarray, snippet_s: float, span: tuple[float, float]) -> dict:
    """An alert's type, instrument and severity from the promoted heads over ``span`` (seconds from the first
    snippet's start), with the version that said so; :data:`NO_MODEL` when no promoted version has heads."""
    current = promoted.get()
    if current is None:
        return {"note": NO_MODEL}
    pointer, scorer, heads = current
    if features.shape[1] != scorer.model.feature_dim:
        return {"note": "the promoted classification model takes other features than this monitor computes"}
    mask = _snippet_mask(len(features), snippet_s, [span])
    if not mask.any():
        return {"note": "no snippet of the segment was kept"}
    guess = classify(scorer, heads, SimpleNamespace(features=features, snippet_labels=mask))
    return {"model_version": pointer["version_id"], "model": pointer["name"], **guess}


def evaluate(scorer: Scorer, heads: dict, heldout: list[Item], threshold: float | None = None) -> dict:
    """Held-out metrics of one model (see the module docstring); ``threshold`` overrides each clip's own."""
    from sklearn.metrics import accuracy_score, f1_score

    labels, scores = [], []
    false_alarms: dict[str, int] = {}
    hours: dict[str, float] = {}
    for item in heldout:
        frames = frame_scores(
            scorer.snippet_scores(item.features), len(item.features) * item.snippet_len, item.snippet_len
        )
        truth = item.frame_labels()
        labels.append(truth)
        scores.append(frames)
        segments = alert_segments(frames, item.fps, item.threshold if threshold is None else threshold)
        false = sum(1 for s in segments if not truth[s.start_frame : s.end_frame].any())
        false_alarms[item.camera] = false_alarms.get(item.camera, 0) + false
        hours[item.camera] = hours.get(item.camera, 0.0) + item.hours
    out: dict = {"clips": len(heldout)}
    try:
        out["frame_auc"] = round(roc_auc(np.concatenate(labels), np.concatenate(scores)), 4)
    except ValueError:
        out["frame_auc"] = None
    total_hours = sum(hours.values())
    out["false_alarms"] = sum(false_alarms.values())
    out["hours"] = round(total_hours, 4)
    out["false_alarms_per_hour"] = round(out["false_alarms"] / total_hours, 2) if total_hours else None
    out["per_camera"] = {
        c: {
            "false_alarms": false_alarms[c],
            "hours": round(hours[c], 4),
            "per_hour": round(false_alarms[c] / hours[c], 2),
        }
        for c in sorted(hours)
    }
    confirmed = [i for i in heldout if i.verdict == "true" and i.snippet_labels.any()]
    if not heads:
        for name in (*HEADS, "severity"):
            out[name] = {"note": "this version has no classification heads"}
        return out
    for name in HEADS:
        head = heads.get(name)
        if head is None:
            out[name] = {"note": NOT_ENOUGH}
            continue
        judged = [i for i in confirmed if getattr(i, name) in head["classes"]]
        unjudged = sorted({getattr(i, name) for i in confirmed if getattr(i, name) not in head["classes"]} - {None})
        if not judged:
            out[name] = {"note": "no held-out clip of a trained class", NOT_ENOUGH: unjudged}
            continue
        truth = [getattr(i, name) for i in judged]
        guess = [classify(scorer, heads, i)[name] for i in judged]
        out[name] = {
            "accuracy": round(float(accuracy_score(truth, guess)), 4),
            "macro_f1": round(
                float(f1_score(truth, guess, average="macro", labels=head["classes"], zero_division=0)), 4
            ),
            "clips": len(judged),
            NOT_ENOUGH: unjudged,
        }
    rated = [i for i in confirmed if i.severity is not None]
    if heads.get("severity") is None or not rated:
        out["severity"] = {"note": NOT_ENOUGH if heads.get("severity") is None else "no held-out severity"}
    else:
        errors = [abs(classify(scorer, heads, i)["severity"] - i.severity) for i in rated]
        out["severity"] = {"mae": round(float(np.mean(errors)), 3), "clips": len(rated)}
    return out


def compare(current: dict, candidate: dict, min_auc_gain: float = 0.0) -> tuple[bool, list[str]]:
    """Whether the candidate beats the current model on the held-out clips, and why (or why not)."""
    reasons = []
    if candidate["frame_auc"] is None or current["frame_auc"] is None:
        return False, ["the held-out clips need confirmed and normal frames to compare AUC"]
    better_auc = candidate["frame_auc"] > current["frame_auc"] + min_auc_gain
    reasons.append(
        f"frame AUC {current['frame_auc']:.4f} -> {candidate['frame_auc']:.4f} ({'higher' if better_auc else 'not higher'})"
    )
    fewer = candidate["false_alarms_per_hour"] <= current["false_alarms_per_hour"]
    reasons.append(
        f"false alarms per camera-hour {current['false_alarms_per_hour']} -> {candidate['false_alarms_per_hour']} "
        f"({'no more' if fewer else 'more'})"
    )
    ok = better_auc and fewer
    cur_f1 = current.get("event_type", {}).get("macro_f1")
    cand_f1 = candidate.get("event_type", {}).get("macro_f1")
    if cur_f1 is not None:
        keeps = cand_f1 is not None and cand_f1 >= cur_f1
        reasons.append(f"type macro-F1 {cur_f1} -> {cand_f1} ({'kept' if keeps else 'lower'})")
        ok = ok and keeps
    return ok, reasons


def _cell(metrics: dict | None) -> str:
    """One head's held-out result as words for the model card."""
    metrics = metrics or {}
    if "note" in metrics:
        return metrics["note"]
    if "mae" in metrics:
        return f"MAE {metrics['mae']} on {metrics['clips']} clips"
    text = f"accuracy {metrics.get('accuracy')}, macro-F1 {metrics.get('macro_f1')} on {metrics.get('clips')} clips"
    short = metrics.get(NOT_ENOUGH)
    return text + (f"; {NOT_ENOUGH}: {', '.join(short)}" if short else "")


def model_card(
    name: str, parent: dict, training: dict, current: dict, candidate: dict, promoted: bool, why: list
) -> str:
    bags = training["bags"]
    lines = [
        f"# {name}",
        "",
        f"Fine-tuned from model version {parent['version_id']} ({parent['name']}) on reviewers' labels "
        "stored in CrimeViz, with video-level labels only (crimeviz/cctv/retrain.py). It has seen only the "
        "labelled footage named here and what its parent saw (see the parent's card).",
        "",
        f"- labelled clips used for training: {training['train_clips']} ({bags['abnormal']} abnormal, "
        f"{bags['hard_normal']} hard normal and {bags['camera_normal']} normal bags)",
        f"- cameras: {', '.join(training['cameras'])}",
        f"- labels dated {training['labels_from'][:19]} to {training['labels_to'][:19]}",
        f"- held-out labelled clips: {candidate['clips']}",
        "",
        "| held-out metric | current | candidate |",
        "| --- | --- | --- |",
        f"| frame AUC | {current['frame_auc']} | {candidate['frame_auc']} |",
        f"| false alarms per camera-hour | {current['false_alarms_per_hour']} | {candidate['false_alarms_per_hour']} |",
    ]
    for head in (*HEADS, "severity"):
        lines.append(f"| {head.replace('_', ' ')} | {_cell(current.get(head))} | {_cell(candidate.get(head))} |")
    lines += ["", f"Promoted: {'yes' if promoted else 'no'} — " + "; ".join(why), ""]
    return "\n".join(lines)


@dataclass
class RetrainResult:
    report: dict
    version_id: int | None = None
    promoted: bool = False
    timings: dict = field(default_factory=dict)


def current_version(con, by: str) -> dict:
    """The promoted registry version; the app's weights are registered and promoted as the first one if none is."""
    from crimeviz.cctv import app_weights

    vid = registry.promoted_id(con)
    if vid is None:
        weights = app_weights()
        scorer = load_scorer(weights)
        vid = registry.register(
            con,
            weights,
            "baseline",
            by,
            {"source": str(weights), "note": "the weights in use before the first retraining"},
            scorer.metrics,
            f"# baseline\n\nThe weights in use before the first retraining: {weights.name}.\n\n{scorer.label}\n",
            status="candidate",
        )
        registry.promote(con, vid, by, "first registry version")
    return registry.version(con, vid)


def retrain(
    con, by: str, cfg: RetrainConfig = RetrainConfig(), log: Callable[[str], None] = print, promote: bool = True
) -> RetrainResult:
    """Fine-tunes a candidate from the labels, compares it with the promoted version, registers it, promotes it
    only if it is better (and ``promote``)."""
    started = time.perf_counter()
    parent = current_version(con, by)
    scorer = load_scorer(parent["path"])
    if scorer.spec is None:
        raise ValueError("the promoted weights score I3D features only; retraining needs CrimeViz weights")
    checkpoint = read_checkpoint(parent["path"])
    overrides = dict(checkpoint["mgfn_overrides"])
    items, skipped = labelled_items(con, scorer)
    train, heldout = split(items, cfg.heldout_share, cfg.seed)
    report: dict = {
        "current": {"version_id": parent["version_id"], "name": parent["name"]},
        "labels": {
            "usable": len(items),
            "true": sum(i.verdict == "true" for i in items),
            "false": sum(i.verdict == "false" for i in items),
            **skipped,
        },
        "train_clips": len(train),
        "heldout_clips": len(heldout),
    }
    log(f"{len(items)} labelled clips with stored features: {len(train)} to train on, {len(heldout)} held out")
    n_true = sum(i.verdict == "true" for i in train)
    if n_true < 1 or sum(i.verdict == "false" for i in train) + n_true < 2 or not heldout:
        report.update(
            promoted=False,
            reason=f"{NOT_ENOUGH}: the detector needs confirmed and dismissed clips "
            "to train on and held-out ones to compare",
        )
        return RetrainResult(report)
    rng = np.random.default_rng(cfg.seed)
    cameras = {i.camera_id for i in items}
    footage = camera_footage(con, {i.key for i in items}, cameras)
    normal, abnormal, counts = bags(train, footage, cfg, rng)
    report["bags"] = counts
    log(f"bags: {counts['abnormal']} abnormal, {counts['hard_normal']} hard normal, {counts['camera_normal']} normal")
    model = fine_tune(scorer, overrides, normal, abnormal, cfg, log)
    candidate = Scorer(model, "candidate", scorer.label, scorer.spec, scorer.motion_mean, scorer.motion_std)
    log("training the classification heads (type, instrument, severity)")
    heads, heads_summary = fit_heads(candidate, train, cfg)
    report["heads"] = heads_summary
    log("comparing candidate and current model on the held-out clips")
    current_metrics = evaluate(scorer, read_heads(Path(parent["path"])), heldout)
    candidate_metrics = evaluate(candidate, heads, heldout)
    better, why = compare(current_metrics, candidate_metrics, cfg.min_auc_gain)
    report.update(current_metrics=current_metrics, candidate_metrics=candidate_metrics, better=better, why=why)
    dates = sorted(i.labelled_at for i in items)
    training = {
        "label_ids": sorted(i.label_id for i in train),
        "heldout_label_ids": sorted(i.label_id for i in heldout),
        "cameras": sorted({i.camera for i in items}),
        "labels_from": dates[0],
        "labels_to": dates[-1],
        "train_clips": len(train),
        "bags": counts,
        "config": asdict(cfg),
        "parent": parent["version_id"],
    }
    name = f"mgfn-retrained-{datetime.now():%Y%m%d%H%M%S}"
    trained_on = (
        f"MGFN fine-tuned from version {parent['version_id']} ({parent['name']}) on {len(train)} reviewer-labelled "
        f"clips of {len(training['cameras'])} camera(s); held-out frame AUC {candidate_metrics['frame_auc']}. "
        + scorer.label
    )
    promoted = better and promote
    card = model_card(name, parent, training, current_metrics, candidate_metrics, promoted, why)
    with tempfile.TemporaryDirectory(prefix="crimeviz-retrain-") as folder:
        path = Path(folder) / "candidate.pt"
        torch.save(
            {
                **checkpoint,
                "name": name,
                "trained_on": trained_on,
                "metrics": {"heldout": candidate_metrics, "current_heldout": current_metrics},
                "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
                "heads": heads,
            },
            path,
        )
        status = "candidate" if better else "rejected"
        version_id = registry.register(
            con, path, name, by, training, report["candidate_metrics"], card, parent["version_id"], status
        )
    if promoted:
        registry.promote(con, version_id, by, "; ".join(why))
    report.update(version_id=version_id, promoted=promoted, seconds=round(time.perf_counter() - started, 1))
    log(f"version {version_id}: {'promoted' if promoted else 'not promoted'} ({'; '.join(why)})")
    return RetrainResult(report, version_id, promoted)
