"""Streaming normalizer: matches numpy, chunking-invariant, safetensors I/O, bad files."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from motionbook_lib.features import Normalizer


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=6), st.integers(0, 1000))
def test_streaming_matches_numpy_for_any_chunking(sizes, seed):
    rng = np.random.default_rng(seed)
    chunks = [rng.normal(loc=3.0, scale=rng.uniform(0.1, 5), size=(n, 7)) for n in sizes]
    data = np.concatenate(chunks)
    norm = Normalizer(7)
    for c in chunks:
        norm.update(torch.from_numpy(c))
    assert norm.count == len(data)
    if len(data) >= 2:
        np.testing.assert_allclose(norm.mean.numpy(), data.mean(0), atol=1e-9)
        np.testing.assert_allclose(norm.var.numpy(), data.var(0, ddof=1), rtol=1e-9, atol=1e-12)


def test_normalize_round_trip_and_constant_channel():
    x = torch.randn(100, 5) * torch.tensor([1.0, 2.0, 3.0, 4.0, 0.0]) + 1.0
    n = Normalizer(5).update(x)
    z = n.normalize(x)
    assert torch.allclose(z[:, :4].mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(z[:, :4].std(0), torch.ones(4), atol=1e-5)
    assert torch.isfinite(z).all()  # constant channel does not divide by zero
    torch.testing.assert_close(n.denormalize(z), x, atol=1e-5, rtol=0)


def test_block_average_std():
    x = torch.randn(500, 4) * torch.tensor([1.0, 3.0, 2.0, 2.0])
    n = Normalizer(4).update(x)
    before = n.std.clone()
    n.block_average_std([slice(0, 2), slice(2, 4)])
    assert torch.allclose(n.std[:2], before[:2].mean().expand(2), atol=1e-9)


def test_save_load(tmp_path):
    n = Normalizer(135).update(torch.randn(64, 135))
    path = n.save(tmp_path / "stats" / "norm.safetensors")
    m = Normalizer.load(path)
    assert m.count == 64 and torch.equal(m.mean, n.mean) and torch.equal(m.std, n.std)
    assert not list((tmp_path / "stats").glob("*.tmp"))


def test_bad_input_and_files(tmp_path):
    n = Normalizer(3)
    with pytest.raises(RuntimeError, match="no data"):
        n.normalize(torch.zeros(3))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        n.update(torch.zeros(4, 5))
    with pytest.raises(ValueError, match="NaN"):
        n.update(torch.tensor([[0.0, float("nan"), 1.0]]))
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        Normalizer.load(tmp_path / "missing.safetensors")
    trunc = tmp_path / "trunc.safetensors"
    Normalizer(3).update(torch.randn(5, 3)).save(trunc)
    trunc.write_bytes(trunc.read_bytes()[:40])
    with pytest.raises(ValueError, match="trunc.safetensors"):
        Normalizer.load(trunc)


def test_merge_of_disjoint_parts_equals_one_pass_and_numpy_arrays_merge_alike():
    """Normalizer.merge (the store's shard and part statistics) pools like one update over all the data;
    chan_merge gives the same numbers on numpy arrays (the store writer's per-motion merge)."""
    from motionbook_lib.features.normalizer import chan_merge

    rng = np.random.default_rng(3)
    a, b = rng.normal(2.0, 3.0, (50, 4)), rng.normal(-1.0, 0.5, (7, 4))
    merged = Normalizer(4).update(torch.from_numpy(a)).merge(Normalizer(4).update(torch.from_numpy(b)))
    whole = np.concatenate([a, b])
    assert merged.count == 57
    np.testing.assert_allclose(merged.mean.numpy(), whole.mean(0), rtol=1e-12)
    np.testing.assert_allclose(merged.var.numpy(), whole.var(0, ddof=1), rtol=1e-12)
    assert Normalizer(4).merge(Normalizer(4)).count == 0  # an empty part changes nothing
    n, mean, m2 = chan_merge(50, a.mean(0), ((a - a.mean(0)) ** 2).sum(0), 7, b.mean(0), ((b - b.mean(0)) ** 2).sum(0))
    assert n == 57 and isinstance(mean, np.ndarray)
    np.testing.assert_allclose(m2 / 56, whole.var(0, ddof=1), rtol=1e-12)
    with pytest.raises(ValueError, match="dim 3 into dim 4"):
        Normalizer(4).merge(Normalizer(3))
