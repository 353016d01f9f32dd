"""read_state: a weights file must hold exactly the tensors a model expects, and every failure names the file."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from motionbook_lib.weights import read_state

SHAPES = {"a.weight": (3, 4), "a.bias": (3,)}


@pytest.fixture()
def weights(tmp_path):
    file = tmp_path / "model.safetensors"
    save_file({"a.weight": torch.arange(12.0).reshape(3, 4), "a.bias": torch.ones(3)}, str(file))
    return file


def test_reads_back_exactly_what_was_written(weights):
    state = read_state(weights, SHAPES)
    assert set(state) == set(SHAPES)
    assert torch.equal(state["a.weight"], torch.arange(12.0).reshape(3, 4))


def test_missing_and_truncated_files_name_the_file(tmp_path, weights):
    with pytest.raises(FileNotFoundError, match="weights file not found: .*nothing.safetensors"):
        read_state(tmp_path / "nothing.safetensors", SHAPES)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"cut\.safetensors: not a readable safetensors file"):
        read_state(cut, SHAPES)


def test_other_keys_and_shapes_are_each_reported(weights):
    with pytest.raises(ValueError, match=r"model\.safetensors: weights come from elsewhere: missing b\.weight$"):
        read_state(weights, {**SHAPES, "b.weight": (2,)}, "come from elsewhere")
    with pytest.raises(ValueError, match="unexpected a.bias"):
        read_state(weights, {"a.weight": (3, 4)})
    mismatch = r"shape mismatch for a\.weight \(e\.g\. a\.weight: file \(3, 4\), model \(4, 3\)\)"
    with pytest.raises(ValueError, match=mismatch):
        read_state(weights, {"a.weight": (4, 3), "a.bias": (3,)})
