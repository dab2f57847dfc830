"""The shared checkpoint helper: safe reading, prefix stripping, strict loading, one-line errors."""

import pytest
import torch
from torch import nn

from models.checkpoint import CheckpointError, load_weights, read_checkpoint, strip_prefix


class Tiny(nn.Module):
    def __init__(self, width: int = 3):
        super().__init__()
        self.fc = nn.Linear(2, width)


class Payload:
    """Not a tensor or plain value: a weights-only load must refuse it."""


def test_a_data_parallel_checkpoint_loads_strictly_after_stripping_module(tmp_path):
    source = Tiny()
    path = tmp_path / "wrapped.pt"
    torch.save({f"module.{k}": v for k, v in source.state_dict().items()}, path)
    model = load_weights(Tiny(), read_checkpoint(path))
    assert torch.equal(model.fc.weight, source.fc.weight) and torch.equal(model.fc.bias, source.fc.bias)
    assert strip_prefix({"module.a": 1, "b": 2}) == {"a": 1, "b": 2}


def test_missing_corrupt_and_foreign_files_are_one_line_errors_naming_only_the_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"^gone.pt: no such checkpoint file$"):
        read_checkpoint(tmp_path / "gone.pt")
    good = tmp_path / "good.pt"
    torch.save(Tiny().state_dict(), good)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(good.read_bytes()[:100])
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint\n")
    foreign = tmp_path / "pickled.pt"
    torch.save({"weights": Tiny().state_dict(), "extra": Payload()}, foreign)
    for path in (corrupt, text):
        with pytest.raises(CheckpointError, match=rf"^{path.name}: not a PyTorch checkpoint"):
            read_checkpoint(path)
    with pytest.raises(CheckpointError, match=r"^pickled.pt: holds Python objects besides weights"):
        read_checkpoint(foreign)
    for path in (tmp_path / "gone.pt", corrupt, text, foreign):
        with pytest.raises(CheckpointError) as caught:
            read_checkpoint(path)
        assert str(tmp_path) not in str(caught.value) and "\n" not in str(caught.value)


def test_wrong_keys_and_shapes_are_refused_with_what_did_not_fit():
    state = Tiny().state_dict()
    with pytest.raises(CheckpointError, match=r"^mine.pt: weights for another model \(missing fc.bias\)$"):
        load_weights(Tiny(), {"fc.weight": state["fc.weight"]}, source="mine.pt")
    with pytest.raises(CheckpointError, match=r"unexpected head.weight"):
        load_weights(Tiny(), {**state, "module.head.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match=r"size mismatch for fc.weight"):
        load_weights(Tiny(), Tiny(width=4).state_dict())
    with pytest.raises(CheckpointError, match=r"not a state dict \(holds a list\)"):
        load_weights(Tiny(), [1, 2])
    with pytest.raises(CheckpointError, match=r"missing fc.bias"):
        load_weights(Tiny(), {"module.fc.weight": state["fc.weight"], "module.fc.bias": state["fc.bias"]}, prefix=None)
