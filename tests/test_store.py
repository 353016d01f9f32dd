"""The sharded motion store: round trip, splits, resume, corruption errors, Dataset / sampler, merge, CLI."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from torch.utils.data import DataLoader

from motionbook_lib.data.__main__ import main as cli_main
from motionbook_lib.data.store import (
    MANIFEST_COLUMNS,
    LengthBucketSampler,
    MotionDataset,
    MotionStore,
    StoreWriter,
    build_store,
    collate_motions,
    compute_normalizer,
    merge_stores,
    motion_id,
    open_or_build_store,
    open_store,
    part_range,
    split_for_id,
)
from motionbook_lib.motion import Motion
from motionbook_lib.rotations import axis_angle_to_matrix

PARTS = ("torso", "left_arm", "right_arm", "left_leg", "right_leg")
SHARD_FRAMES = 600  # a few motions per shard, so tiny stores have many shards


# ----------------------------------------------------------------------------------------------
# a tiny stand-in for motionbook_lib.data.synthetic (module level: sent to worker processes)


@dataclass
class FakeConfig:
    seed: int = 0
    min_frames: int = 20
    max_frames: int = 120


def fake_generate(index: int, config: FakeConfig) -> Motion:
    """Random smooth rotations and a walking root, deterministic per (seed, index)."""
    rng = np.random.default_rng([config.seed, index])
    t = int(rng.integers(config.min_frames, config.max_frames + 1))
    time = np.arange(t)[:, None, None] / 20.0  # (T, 1, 1)
    amp = rng.normal(0, 0.4, (1, 22, 3))
    freq = rng.uniform(0.2, 1.5, (1, 22, 3))
    phase = rng.uniform(0, 2 * np.pi, (1, 22, 3))
    aa = amp * np.sin(2 * np.pi * freq * time + phase)  # (T, 22, 3) axis-angle
    root = np.zeros((t, 3))
    root[:, 0] = np.cumsum(rng.normal(0, 0.02, t))
    root[:, 1] = 0.9 + 0.02 * np.sin(time[:, 0, 0] * 3)
    root[:, 2] = np.cumsum(np.full(t, rng.uniform(0, 0.05)))
    verb = ["walks", "runs", "waves", "jumps"][index % 4]
    meta = {
        "caption": [f"a person {verb} #{index}", f"someone {verb} forward ({index})"][: 1 + index % 2],
        "part_captions": {p: [f"{p} moves {index}", f"{p} swings"] for p in PARTS},
        "labels": [verb, "fake"],
        "part_labels": {p: verb for p in PARTS},
        "params": {"index": index, "seed": config.seed, "speed": float(rng.uniform(0, 1))},
    }
    local_rot = axis_angle_to_matrix(torch.as_tensor(aa, dtype=torch.float32))
    return Motion(local_rot, torch.as_tensor(root, dtype=torch.float32), rng.normal(0, 1, 10), 20.0, meta)


FAIL_AT: dict[str, int] = {"at": 10**9, "below": 0}


def flaky_generate(index: int, config: FakeConfig) -> Motion:
    """``fake_generate`` that dies at index FAIL_AT["at"] (a crashed build) or below FAIL_AT["below"]."""
    if index >= FAIL_AT["at"]:
        raise RuntimeError(f"simulated crash at motion {index}")
    if index < FAIL_AT["below"]:
        raise AssertionError(f"motion {index} was already stored and must not be generated again")
    return fake_generate(index, config)


def _build(path: Path, n: int, **kw) -> Path:
    kw = {
        "source": "fake",
        "config": FakeConfig(),
        "generator": fake_generate,
        "workers": 1,
        "shard_frames": SHARD_FRAMES,
        "chunk_size": 4,
        "progress": False,
        **kw,
    }
    return build_store(path, n, **kw)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("store") / "s", 48, workers=2)


def _copy(store_path: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(store_path, dst)
    return dst


def _shard_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((path / "shards").glob("*.npy"))}


# ----------------------------------------------------------------------------------------------
# round trip


def test_round_trip_features_and_meta(store_path: Path) -> None:
    store = MotionStore(store_path)
    assert len(store) == 48 and store.n_shards > 3
    assert list(store.manifest.columns) == list(MANIFEST_COLUMNS)
    info = json.loads((store_path / "store.json").read_text())
    assert info["format"] == "motionbook.store" and info["feature"] == "smpl-d135" and info["dim"] == 135
    assert info["counts"]["motions"] == 48 and sum(info["counts"]["splits"].values()) == 48
    assert not (store_path / "manifest").exists()
    for i in range(48):
        m = fake_generate(i, FakeConfig())
        ref = m.to_d135().numpy()
        mid = motion_id("fake", i)
        assert store.ids[i] == mid
        np.testing.assert_array_equal(store.features(i), ref)  # bit-identical
        np.testing.assert_array_equal(store.features(mid), ref)
        meta = store.meta(i)
        for key in ("caption", "part_captions", "labels", "part_labels", "params"):
            assert meta[key] == m.meta[key], key
        assert meta["split"] == split_for_id(mid) and meta["source"] == "fake"
        np.testing.assert_array_equal(store.betas(i), m.betas)
    back = store.motion(5)
    ref = fake_generate(5, FakeConfig())
    assert back.meta["caption"] == ref.meta["caption"] and back.fps == 20.0
    torch.testing.assert_close(back.local_rot, ref.local_rot, atol=1e-5, rtol=0)
    torch.testing.assert_close(back.root_pos[:, 1], ref.root_pos[:, 1], atol=1e-5, rtol=0)
    # the stored normalizer equals statistics recomputed from the train split
    norm, ref_norm = store.normalizer, compute_normalizer(store)
    assert norm.count == ref_norm.count == store.lengths[store.split("train")].sum()
    torch.testing.assert_close(norm.mean, ref_norm.mean, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(norm.m2, ref_norm.m2, rtol=1e-9, atol=1e-9)
    assert np.array_equal(np.sort(np.concatenate([store.split(s) for s in ("train", "val", "test")])), np.arange(48))


def test_writer_direct_and_duplicates(tmp_path: Path) -> None:
    with StoreWriter(tmp_path / "w", shard_frames=100, source="direct") as w:
        for i in range(5):
            assert w.add(f"m{i}", fake_generate(i, FakeConfig()))
        with pytest.raises(ValueError, match="duplicate motion id 'm3'"):
            w.add("m3", fake_generate(3, FakeConfig()))
        with pytest.raises(ValueError, match="features must be"):
            w.add_features("bad", np.zeros((4, 134), np.float32))
    store = MotionStore(tmp_path / "w")
    assert list(store.ids) == [f"m{i}" for i in range(5)]
    assert set(store.manifest["source"]) == {"direct"}


def test_frame_rate_is_one_value_or_a_named_error(tmp_path: Path) -> None:
    """MotionStore.fps: the store's one rate; a mixed-rate store is an error naming the store and the field where
    one rate is needed (it used to become 20 fps silently), and a selection of one rate is fine."""
    with StoreWriter(tmp_path / "w", shard_frames=100, source="direct") as w:
        for i in range(4):
            w.add_features(f"m{i}", fake_generate(i, FakeConfig()).to_d135().numpy(), fps=30.0 if i == 3 else 25.0)
    store = MotionStore(tmp_path / "w")
    assert store.fps([0, 1, 2]) == 25.0 and store.fps(np.array([3])) == 30.0
    with pytest.raises(ValueError, match=r"w: field 'fps': its motions have several frame rates \[25.0, 30.0\]"):
        store.fps()
    from motionbook_lib.data.cards import card_facts, render_card

    facts = card_facts(store)  # the data card lists both rates and counts each motion's seconds at its own rate
    assert facts["fps"] == [25.0, 30.0] and "| frame rate | 25, 30 fps (mixed) |" in render_card(store)
    seconds = np.concatenate([store.lengths[:3] / 25.0, store.lengths[3:] / 30.0])
    levels = [0.0, 0.1, 0.5, 0.9, 1.0]
    assert facts["length_seconds_quantiles"] == [round(float(x), 2) for x in np.quantile(seconds, levels)]
    one_rate = [round(float(x), 2) for x in np.quantile(store.lengths / 25.0, levels)]  # the old card's reading
    assert facts["length_seconds_quantiles"] != one_rate
    assert MotionStore(_build(tmp_path / "one", 3)).fps() == 20.0


def test_split_for_id_fractions_and_stability() -> None:
    ids = [motion_id("synthetic", i) for i in range(2000)]
    splits = [split_for_id(m) for m in ids]
    assert splits == [split_for_id(m) for m in ids]
    frac = {s: splits.count(s) / len(ids) for s in ("train", "val", "test")}
    assert abs(frac["train"] - 0.85) < 0.03 and abs(frac["val"] - 0.05) < 0.015 and abs(frac["test"] - 0.10) < 0.02
    # fixed values: the rule must never change (stores on other machines depend on it)
    assert [split_for_id(f"synthetic-{i:08d}") for i in range(6)] == EXPECTED_SPLITS


EXPECTED_SPLITS = ["train", "train", "test", "train", "train", "train"]


def test_part_range_tiles() -> None:
    rs = [part_range(10, i, 3) for i in range(3)]
    assert [list(r) for r in rs] == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    with pytest.raises(ValueError, match="part"):
        part_range(10, 3, 3)


# ----------------------------------------------------------------------------------------------
# resume


def test_resume_after_crash_equals_uninterrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    full = _build(tmp_path / "full", 30)
    crashed = tmp_path / "crashed"
    shard_of = MotionStore(full).manifest["shard"].to_numpy()
    monkeypatch.setitem(FAIL_AT, "at", int(np.flatnonzero(shard_of == 2)[0]) + 2)  # dies inside shard 2
    with pytest.raises(RuntimeError, match="simulated crash"):
        _build(crashed, 30, generator=flaky_generate)
    assert not (crashed / "store.json").exists()
    with pytest.raises(FileNotFoundError, match="unfinished build"):
        MotionStore(crashed)
    n_parts = len(list((crashed / "manifest").glob("part-*.parquet")))
    assert n_parts == 2
    # debris of the crash: a half-written shard and an orphan shard without its part
    (crashed / "shards" / f"shard-{n_parts:05d}.npy.tmp").write_bytes(b"partial")
    shutil.copy(crashed / "shards" / "shard-00000.npy", crashed / "shards" / f"shard-{n_parts:05d}.npy")
    # the rerun must not generate the motions of the two completed shards again
    monkeypatch.setitem(FAIL_AT, "at", 10**9)
    monkeypatch.setitem(FAIL_AT, "below", int(np.flatnonzero(shard_of == 2)[0]))
    _build(crashed, 30, generator=flaky_generate)
    a, b = MotionStore(full), MotionStore(crashed)
    assert len(b) == 30 and len(set(b.ids)) == 30
    pd.testing.assert_frame_equal(a.manifest, b.manifest)
    assert _shard_bytes(full) == _shard_bytes(crashed)
    # exactly the same statistics (the safetensors header orders its metadata at random, so not bytes)
    assert a.normalizer.count == b.normalizer.count
    assert torch.equal(a.normalizer.mean, b.normalizer.mean) and torch.equal(a.normalizer.m2, b.normalizer.m2)
    assert not list((crashed / "shards").glob("*.tmp"))
    # a finished build is returned as is; other settings are refused
    assert _build(crashed, 30, generator=flaky_generate) == crashed
    with pytest.raises(FileExistsError, match="other settings"):
        _build(crashed, 30)  # same motions, other generator


def test_resume_refuses_other_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FAIL_AT, "at", 12)
    with pytest.raises(RuntimeError):
        _build(tmp_path / "s", 20, generator=flaky_generate)
    with pytest.raises(ValueError, match="writer.json"):
        _build(tmp_path / "s", 20, config=FakeConfig(seed=1))


# ----------------------------------------------------------------------------------------------
# bad input


def test_wrong_version_names_file(store_path: Path, tmp_path: Path) -> None:
    path = _copy(store_path, tmp_path)
    info = json.loads((path / "store.json").read_text())
    info["version"] = 99
    (path / "store.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=r"store\.json.*version 99"):
        MotionStore(path)


def test_manifest_errors_name_file_and_field(store_path: Path, tmp_path: Path) -> None:
    path = _copy(store_path, tmp_path)
    table = pq.read_table(path / "manifest.parquet")
    pq.write_table(table.drop_columns(["checksum"]), path / "manifest.parquet")
    with pytest.raises(ValueError, match=r"manifest\.parquet.*'checksum'"):
        MotionStore(path)
    meta = dict(table.schema.metadata)
    meta[b"motionbook.version"] = b"0"
    pq.write_table(table.replace_schema_metadata(meta), path / "manifest.parquet")
    with pytest.raises(ValueError, match=r"manifest\.parquet.*version '0'"):
        MotionStore(path)
    (path / "manifest.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match=r"manifest\.parquet: unreadable"):
        MotionStore(path)
    (path / "manifest.parquet").unlink()
    with pytest.raises(FileNotFoundError, match=r"manifest\.parquet"):
        MotionStore(path)


def test_missing_truncated_corrupt_shards(store_path: Path, tmp_path: Path) -> None:
    path = _copy(store_path, tmp_path)
    shard = path / "shards" / "shard-00001.npy"
    data = shard.read_bytes()
    shard.write_bytes(data[:-1000])
    with pytest.raises(ValueError, match=r"shard-00001\.npy: truncated"):
        MotionStore(path)
    shard.write_bytes(b"garbage!" + data[8:])
    with pytest.raises(ValueError, match=r"shard-00001\.npy: corrupt"):
        MotionStore(path)
    shard.unlink()
    with pytest.raises(FileNotFoundError, match=r"shard-00001\.npy"):
        MotionStore(path)


def test_checksum_mismatch_names_shard_and_motion(store_path: Path, tmp_path: Path) -> None:
    path = _copy(store_path, tmp_path)
    store = MotionStore(path)
    in_shard = store.manifest["shard"].to_numpy() == 2
    i = int(np.flatnonzero(in_shard)[1])  # the second motion of shard 2
    shard = path / "shards" / "shard-00002.npy"
    raw = bytearray(shard.read_bytes())
    header = len(raw) - int(store.lengths[in_shard].sum()) * 135 * 4
    raw[header + int(store.manifest["offset"][i]) * 135 * 4 + 4 * 7] ^= 0x01  # lowest mantissa bit
    shard.write_bytes(bytes(raw))
    store = MotionStore(path)  # sizes still fine: caught on read
    with pytest.raises(ValueError, match=rf"shard-00002\.npy: checksum mismatch for motion '{store.ids[i]}'"):
        store.features(i)
    assert store.features(i, verify=False).shape == (store.lengths[i], 135)
    assert MotionStore(path, verify=False).features(i).shape == (store.lengths[i], 135)


# ----------------------------------------------------------------------------------------------
# Dataset, sampler, collate, DataLoader


def test_dataset_crops_and_padding(store_path: Path) -> None:
    store = MotionStore(store_path)
    mean, std = (t.numpy().astype(np.float32) for t in (store.normalizer.mean, store.normalizer.std))
    ds = MotionDataset(store, split="train", window=32, crop="start", seed=0)
    assert len(ds) == len(store.split("train"))
    for j in range(len(ds)):
        item = ds[j]
        raw = store.features(item["index"])
        n = min(32, raw.shape[0])
        assert item["features"].shape == (32, 135) and item["length"] == n
        np.testing.assert_allclose(item["features"][:n].numpy(), (raw[:n] - mean) / std, rtol=1e-6, atol=1e-6)
        assert (item["features"][n:] == 0).all()
        assert item["caption"] in store.captions(item["index"])
        assert set(item["part_captions"]) == set(PARTS)
    rand = MotionDataset(store, window=16, crop="random", normalize=False, seed=3)
    starts = set()
    for j in range(len(rand)):
        item = rand[j]
        raw = store.features(item["index"])
        if raw.shape[0] <= 16:
            continue
        wins = np.lib.stride_tricks.sliding_window_view(raw, (16, 135))[:, 0]  # (T-15, 16, 135)
        hit = np.flatnonzero((wins == item["features"].numpy()).all(axis=(1, 2)))
        assert len(hit) == 1
        starts.add(int(hit[0]))
        assert torch.equal(rand[j]["features"], item["features"])  # deterministic per (seed, epoch)
    assert len(starts) > 3
    whole = MotionDataset(store, split="val", window=None)
    for j in range(len(whole)):
        assert whole[j]["features"].shape[0] == store.lengths[whole.indices[j]]
    rand.set_epoch(1)
    assert any(
        not torch.equal(rand[j]["features"], MotionDataset(store, window=16, normalize=False, seed=3)[j]["features"])
        for j in range(len(rand))
    )


def test_length_bucket_sampler() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 200, 501)
    s = LengthBucketSampler(lengths, batch_size=16, bucket_width=8, seed=1)
    batches = list(s)
    assert len(batches) == len(s) == 32
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(501))
    spread = np.mean([np.ptp(lengths[b]) for b in batches if len(b) == 16])
    assert spread < 20  # random batches of 16 would spread ~170
    s2 = LengthBucketSampler(lengths, batch_size=16, bucket_width=8, seed=1)
    assert [b for b in s2] == batches
    assert [b for b in s2] != batches  # the next epoch reshuffles
    d = LengthBucketSampler(lengths, batch_size=16, drop_last=True, shuffle=False)
    assert len(list(d)) == len(d) == 31 and all(len(b) == 16 for b in d)


def test_collate_pads_with_mask() -> None:
    items = [
        {"features": torch.ones(t, 135), "length": t, "caption": str(t), "part_captions": {}, "index": t, "id": f"m{t}"}
        for t in (3, 5)
    ]
    out = collate_motions(items)
    assert out["features"].shape == (2, 5, 135) and out["mask"].tolist() == [[1, 1, 1, 0, 0], [1] * 5]
    assert out["features"][0, 3:].abs().sum() == 0 and out["length"].tolist() == [3, 5]
    assert out["caption"] == ["3", "5"] and out["index"].tolist() == [3, 5]


def test_dataloader_with_two_workers(store_path: Path) -> None:
    store = MotionStore(store_path)
    store.features(0)  # the parent holds open maps before the fork
    ds = MotionDataset(store, split="all", window=None, seed=5)
    sampler = LengthBucketSampler(ds.lengths, batch_size=8, bucket_width=16, seed=0)
    loader = DataLoader(ds, batch_sampler=sampler, collate_fn=collate_motions, num_workers=2)
    seen = []
    for batch in loader:
        assert batch["features"].shape[:2] == batch["mask"].shape
        for j, row in enumerate(batch["index"].tolist()):
            n = int(batch["length"][j])
            ref = ds[int(np.flatnonzero(ds.indices == row)[0])]
            torch.testing.assert_close(batch["features"][j, :n], ref["features"], rtol=0, atol=0)
            assert batch["caption"][j] == ref["caption"]
            seen.append(row)
    assert sorted(seen) == list(range(len(store)))
    # what a spawn / forkserver worker receives: the path only, maps reopened lazily there
    clone = copy.deepcopy(ds)
    assert clone.store is not store and not clone.store._maps
    assert torch.equal(clone[3]["features"], ds[3]["features"])


# ----------------------------------------------------------------------------------------------
# parallel parts + merge, CLI


def test_parts_and_merge_equal_single_build(store_path: Path, tmp_path: Path) -> None:
    parts = [_build(tmp_path / f"p{i}", 48, part=(i, 3), workers=2 if i == 1 else 1) for i in range(3)]
    merged = merge_stores([parts[2], parts[0], parts[1]], tmp_path / "merged")
    a, b = MotionStore(store_path), MotionStore(merged)
    cols = [c for c in MANIFEST_COLUMNS if c not in ("shard", "offset")]
    pd.testing.assert_frame_equal(a.manifest[cols], b.manifest[cols])
    for i in range(len(a)):
        np.testing.assert_array_equal(a.features(i), b.features(i))
    assert a.normalizer.count == b.normalizer.count
    torch.testing.assert_close(a.normalizer.mean, b.normalizer.mean, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(a.normalizer.std, b.normalizer.std, rtol=1e-9, atol=1e-12)
    assert b.info["counts"]["splits"] == a.info["counts"]["splits"]
    assert b.info["build"]["index_range"] == [0, 48]
    with pytest.raises(ValueError, match="missing part"):
        merge_stores([parts[0], parts[2]], tmp_path / "gap")
    with pytest.raises(ValueError, match="overlaps"):
        merge_stores([parts[0], parts[0], parts[1], parts[2]], tmp_path / "dup")
    with pytest.raises(FileExistsError):
        merge_stores(parts, merged)


def test_cli_info_merge_and_build(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli_main(["info", str(store_path)]) == 0
    out = capsys.readouterr().out
    assert "motions" in out and "train" in out and "shards" in out
    assert cli_main(["info", "--json", str(store_path)]) == 0
    assert json.loads(capsys.readouterr().out)["motions"] == 48
    assert cli_main(["merge", str(tmp_path / "m"), str(store_path)]) == 0
    assert len(MotionStore(tmp_path / "m")) == 48
    capsys.readouterr()
    assert cli_main(["info", str(tmp_path / "nope")]) == 1
    assert "store.json" in capsys.readouterr().err
    try:
        import motionbook_lib.data.synthetic  # noqa: F401
    except ImportError:  # until the real generator lands, the CLI runs the fake one under its name
        stub = types.ModuleType("motionbook_lib.data.synthetic")
        stub.SyntheticConfig, stub.generate_motion = FakeConfig, fake_generate
        monkeypatch.setitem(sys.modules, "motionbook_lib.data.synthetic", stub)
    out_dir = tmp_path / "syn"
    assert (
        cli_main(
            [
                "build",
                "--source",
                "synthetic",
                "--n",
                "6",
                "--out",
                str(out_dir),
                "--part",
                "1/2",
                "--workers",
                "1",
                "--seed",
                "3",
                "--no-progress",
            ]
        )
        == 0
    )
    store = MotionStore(out_dir)
    assert list(store.ids) == [motion_id("synthetic", i) for i in range(3, 6)]
    assert store.info["build"]["config"]["seed"] == 3


def test_built_in_corpus_is_rebuilt_when_the_generator_changed(tmp_path, monkeypatch, capsys):
    """A default store records the generator's fingerprint; one made by an older generator is rebuilt, never reused."""
    import motionbook_lib.data.explore as explore
    import motionbook_lib.paths
    from motionbook_lib.data.synthetic import generator_fingerprint

    monkeypatch.setattr(motionbook_lib.paths, "project_root", lambda: tmp_path)
    store = explore.open_or_build_store(None, n=6, seed=0, workers=1)  # the notebooks' name for it
    assert store.path == tmp_path / "data" / "synthetic-6-seed0"
    assert open_store(store) is store and open_store(store.path).path == store.path
    info_file = store.path / "store.json"
    info = json.loads(info_file.read_text())
    assert info["build"]["generator_fingerprint"] == generator_fingerprint(0)
    first = store.features(0).copy()
    info["build"]["generator_fingerprint"] = "sha256:0000000000000000"  # as if an older generator had built it
    info_file.write_text(json.dumps(info))
    again = open_or_build_store(None, n=6, seed=0, workers=1)
    assert "another version of the built-in generator (sha256:0000000000000000" in capsys.readouterr().err
    assert json.loads(info_file.read_text())["build"]["generator_fingerprint"] == generator_fingerprint(0)
    assert np.array_equal(again.features(0), first)
    # building into a folder that holds another generator's output names the field
    info = json.loads(info_file.read_text())
    info["build"]["generator_fingerprint"] = "sha256:0000000000000000"
    info_file.write_text(json.dumps(info))
    with pytest.raises(FileExistsError, match="generator_fingerprint.*output changed"):
        build_store(store.path, 6, source="synthetic", workers=1, progress=False)


def _still_or_moving(index: int, config) -> Motion:
    """Motions 1 and 4 hold one pose; the others move (the fake generator's motions)."""
    m = fake_generate(index, config)
    if index in (1, 4):
        m = Motion(local_rot=m.local_rot[:1].repeat(m.n_frames, 1, 1, 1), root_pos=m.root_pos[:1].repeat(m.n_frames, 1),
                   betas=m.betas, fps=m.fps, meta=m.meta)  # fmt: skip
    return m


def test_build_drop_static_leaves_out_held_poses_and_says_how_many(tmp_path, capsys):
    from motionbook_lib.data.cards import card_facts
    from motionbook_lib.data.quality import is_held_pose, static_share

    still = _still_or_moving(1, FakeConfig())
    assert static_share(still.joints(), 20.0) == 1.0 and is_held_pose(still.joints(), 20.0)
    assert not is_held_pose(_still_or_moving(0, FakeConfig()).joints(), 20.0)
    kw = {"source": "fake", "config": FakeConfig(), "generator": _still_or_moving, "workers": 1, "progress": False}
    everything = MotionStore(build_store(tmp_path / "all", 6, **kw))
    assert len(everything) == 6 and card_facts(everything)["static"]["held_poses"] == 2
    out = build_store(tmp_path / "moving", 6, drop_static=True, **kw)
    assert "dropped 2 held pose(s) of 6 motions" in capsys.readouterr().err
    store = MotionStore(out)
    assert list(store.ids) == [motion_id("fake", i) for i in (0, 2, 3, 5)]
    assert store.info["build"]["dropped_static"] == 2 and store.info["build"]["drop_static"] is True
    assert card_facts(store)["static"]["held_poses"] == 0
    assert build_store(out, 6, drop_static=True, **kw) == out  # the same settings: the finished store
    with pytest.raises(FileExistsError, match="drop_static"):
        build_store(tmp_path / "all", 6, drop_static=True, **kw)


def test_a_second_writer_on_the_same_folder_is_refused(tmp_path):
    """Two builds into one folder: the second is refused at once, naming the folder and the first writer's
    process (it used to restart from zero and crash on the first one's temp files); the lock goes with the
    first writer, and a writer that dies releases it."""
    from motionbook_lib.data.store import StoreLocked

    first = StoreWriter(tmp_path / "s", shard_frames=100, source="direct")
    first.add("m0", fake_generate(0, FakeConfig()))
    with pytest.raises(StoreLocked, match=rf"s: another writer is building this store \(pid {os.getpid()} on "):
        StoreWriter(tmp_path / "s", shard_frames=100, source="direct")
    first.abort()  # an interrupted build: the folder stays resumable, the lock is gone
    with StoreWriter(tmp_path / "s", shard_frames=100, source="direct") as again:
        again.add("m1", fake_generate(1, FakeConfig()))
    # m0 filled a shard (committed): the resumed build keeps it
    assert list(MotionStore(tmp_path / "s").ids) == ["m0", "m1"] and not (tmp_path / "s" / "manifest").exists()
    script = (f"import os, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
              "from motionbook_lib.data.store import StoreWriter; "
              f"w = StoreWriter({str(tmp_path / 'k')!r}, source='direct'); os._exit(1)")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", script]).returncode == 1  # killed while holding the lock
    StoreWriter(tmp_path / "k", source="direct").abort()  # the lock died with it
