"""CDNA checkpoints (weights + metadata) and the forecaster that runs one on a history."""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from crimeviz import config
from crimeviz.forecast.frames import GridMapping, History, grid_mapping
from crimeviz.forecast.inputs import MAX_LEAD, ModelInputs
from crimeviz.store import grid
from models.cdna import CDNA
from models.checkpoint import load_weights, read_checkpoint

DEFAULT_CHECKPOINT = config.DATA_DIR / "models" / "cdna" / "toronto_h3r8.pt"


def app_checkpoint() -> Path:
    """The checkpoint the app forecasts with: ``$CRIMEVIZ_CDNA_CHECKPOINT``, else the committed one."""
    return Path(os.environ.get("CRIMEVIZ_CDNA_CHECKPOINT") or DEFAULT_CHECKPOINT)


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass(eq=False)
class CDNAForecaster:
    """A trained CDNA with the grid, offences and input windows it was trained on.

    ``meta`` holds at least ``res``, ``cells`` (hex), ``offences``, ``rate_windows``,
    ``context`` and ``model`` (the constructor arguments).
    """

    model: CDNA
    meta: dict
    device: str = "cpu"

    @property
    def mapping(self) -> GridMapping:
        return grid_mapping([grid.to_int(c) for c in self.meta["cells"]], self.meta["res"])

    @torch.no_grad()
    def intensities(
        self, history: History, targets, lead: int = 1, batch: int = 64, inputs: ModelInputs | None = None
    ) -> np.ndarray:
        """``(len(targets), offences, cells)`` intensities for target rows of ``history``.

        Each target ``d`` is forecast from the ``context`` days ending ``lead`` days
        before it (``lead = 1``: next day), rolling the model forward ``lead`` steps.
        """
        if not 1 <= lead <= MAX_LEAD:
            raise ValueError(f"lead must be 1..{MAX_LEAD} days, got {lead}")
        same_grid = history.mapping.res == self.meta["res"] and np.array_equal(
            history.mapping.cells, self.mapping.cells
        )
        if history.offences != self.meta["offences"] or not same_grid:
            raise ValueError("the history must use the checkpoint's offences and grid mapping")
        context = self.meta["context"]
        starts = np.asarray(targets) - lead - context + 1
        if len(starts) and starts.min() < 0:
            raise ValueError(f"a forecast needs {context + lead - 1} earlier days of history")
        if inputs is None:  # only the rows the longest rate window reaches back to
            first = max(0, int(starts.min(initial=0)) - max(self.meta["rate_windows"]))
            inputs = ModelInputs(history.since(first), tuple(self.meta["rate_windows"]), self.device)
            starts = starts - first
        self.model.eval()
        out = []
        for chunk in np.array_split(starts, max(1, -(-len(starts) // batch))):
            counts, rates, cal = inputs.window(chunk, context, context, context + lead - 1)
            pred = self.model(counts, rates, cal, inputs.city, context)[:, -1]
            out.append(inputs.cells(pred).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(history.offences), history.mapping.n_cells))


def save(path: Path | str, model: CDNA, meta: dict) -> None:
    """Weights (float32) and plain-type metadata in one file that loads with ``weights_only``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().float() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "meta": meta}, path)


def load(path: Path | str = DEFAULT_CHECKPOINT, on: str | None = None) -> CDNAForecaster:
    """A forecaster from a checkpoint written by :func:`save` (strict key match)."""
    blob = read_checkpoint(path)
    meta = blob["meta"]
    spec = dict(meta["model"])
    spec["frame_shape"] = tuple(spec["frame_shape"])
    spec["widths"] = tuple(spec["widths"])
    model = CDNA(**spec)
    load_weights(model, blob["state_dict"], source=Path(path).name)
    on = on or device()
    return CDNAForecaster(model.to(on).eval(), meta, on)


def to_mapping(values: np.ndarray, source: GridMapping, target: GridMapping) -> np.ndarray:
    """Re-index ``(..., source cells)`` values onto ``target`` cells (0 where absent)."""
    pos = source.index_of(target.cells)
    return np.where(pos >= 0, np.take(values, np.maximum(pos, 0), axis=-1), 0.0)
