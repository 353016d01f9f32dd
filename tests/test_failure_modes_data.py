"""Failure modes of motion stores found by a fault probe (issue 24): a full disk, manifest edits, ``info --verify``
and build workers orphaned by a killed build. Each error names the file at fault."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import motionbook_lib.data.store as store_mod
from motionbook_lib.data.__main__ import main as cli_main
from motionbook_lib.data.store import MotionStore, build_store
from motionbook_lib.data.synthetic import SyntheticConfig

BUILD = ["build", "--n", "12", "--workers", "1", "--shard-frames", "400", "--no-progress"]


@pytest.fixture(scope="module")
def clean_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store built without trouble, with the CLI's arguments of the full-disk tests (several shards)."""
    out = tmp_path_factory.mktemp("clean") / "store"
    assert cli_main([*BUILD, "--out", str(out)]) == 0
    assert MotionStore(out).n_shards >= 3
    return out


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


def _assert_same_store(a: Path, b: Path) -> None:
    sa, sb = MotionStore(a), MotionStore(b)
    pd.testing.assert_frame_equal(sa.manifest, sb.manifest)
    shards = lambda p: {f.name: f.read_bytes() for f in sorted((p / "shards").glob("*"))}  # noqa: E731
    assert shards(a) == shards(b)
    assert sa.normalizer.count == sb.normalizer.count and np.array_equal(sa.normalizer.mean, sb.normalizer.mean)


def _no_tmp_files(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if ".tmp" in p.name]


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# ---------------------------------------------------------------------------------------------- a full disk


def test_full_disk_writing_the_manifest_names_it_and_leaves_no_tmp(clean_store, tmp_path, monkeypatch, capsys):
    real = pq.ParquetWriter

    class FullDiskWriter(real):  # opens (creates) the temp file, then the disk is full
        def write_table(self, *args, **kwargs):
            _enospc()

    out = tmp_path / "store"
    monkeypatch.setattr(store_mod.pq, "ParquetWriter", FullDiskWriter)
    assert cli_main([*BUILD, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write the manifest (12 motions) to {out / 'manifest.parquet.tmp'}" in err, err
    assert "No space left on device" in err and "Traceback" not in err
    assert _no_tmp_files(out) == [] and not (out / "store.json").exists()
    monkeypatch.setattr(store_mod.pq, "ParquetWriter", real)
    assert cli_main([*BUILD, "--out", str(out)]) == 0  # with space again: resumes into the same store
    _assert_same_store(clean_store, out)


def test_full_disk_writing_a_shard_names_it_and_resumes_byte_identically(clean_store, tmp_path, monkeypatch, capsys):
    real = np.lib.format.write_array_header_1_0
    calls = {"n": 0}

    def header_then_full(f, header):
        calls["n"] += 1
        if calls["n"] == 2:  # the second shard: the first one is committed
            real(f, header)
            _enospc()
        return real(f, header)

    out = tmp_path / "store"
    monkeypatch.setattr(store_mod.np.lib.format, "write_array_header_1_0", header_then_full)
    assert cli_main([*BUILD, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "cannot write shard 1 (" in err and str(out / "shards" / "shard-00001.npy.tmp") in err, err
    assert "No space left on device" in err
    assert _no_tmp_files(out) == []
    assert len(list((out / "manifest").glob("part-*.parquet"))) == 1
    monkeypatch.setattr(store_mod.np.lib.format, "write_array_header_1_0", real)
    assert cli_main([*BUILD, "--out", str(out)]) == 0
    _assert_same_store(clean_store, out)


# ---------------------------------------------------------------------------------------------- manifest edits


def _edit_manifest(path: Path, column: str, row: int, value) -> str:
    """Set one cell of the manifest (keeping its schema and metadata); returns the motion's id."""
    table = pq.read_table(path / "manifest.parquet")
    values = table.column(column).to_pylist()
    values[row] = value
    i = table.schema.get_field_index(column)
    table = table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))
    pq.write_table(table, path / "manifest.parquet")
    return table.column("id")[row].as_py()


def _first_in_shard(store: MotionStore, k: int) -> int:
    return int(np.flatnonzero(store.manifest["shard"].to_numpy() == k)[0])


@pytest.mark.parametrize("column", ["n_frames", "offset"])
def test_manifest_frames_or_offset_edit_names_the_manifest(clean_store, tmp_path, column):
    path = _copy(clean_store, tmp_path)
    store = MotionStore(path)
    i = _first_in_shard(store, 1)
    old = int(store.manifest[column][i])
    mid = _edit_manifest(path, column, i, old + 3)
    with pytest.raises(ValueError, match=r"manifest\.parquet: disagrees with the header of .*shard-00001\.npy") as err:
        MotionStore(path)
    assert f"'{mid}'" in str(err.value) or f"'{store.ids[i + 1]}'" in str(err.value)
    assert "the manifest was edited" in str(err.value)


def test_last_motion_shorter_than_the_shard_names_the_manifest(clean_store, tmp_path):
    path = _copy(clean_store, tmp_path)
    store = MotionStore(path)
    i = _first_in_shard(store, 2) - 1  # the last motion of shard 1
    mid = _edit_manifest(path, "n_frames", i, int(store.lengths[i]) - 4)
    with pytest.raises(ValueError, match=rf"manifest\.parquet: .*shard-00001\.npy.*'{mid}'.*is the last motion"):
        MotionStore(path)


def test_manifest_checksum_edit_names_the_manifest(clean_store, tmp_path):
    path = _copy(clean_store, tmp_path)
    i = 3
    mid = _edit_manifest(path, "checksum", i, "00000000")
    store = MotionStore(path)  # the layout still agrees: found when the motion is read
    with pytest.raises(ValueError, match=rf"manifest\.parquet: the checksum of motion '{mid}' .*manifest was edited"):
        store.features(i)


def _flip_a_byte(path: Path, store: MotionStore, i: int) -> Path:
    k = int(store.manifest["shard"][i])
    shard = path / "shards" / f"shard-{k:05d}.npy"
    raw = bytearray(shard.read_bytes())
    in_shard = store.manifest["shard"].to_numpy() == k
    header = len(raw) - int(store.lengths[in_shard].sum()) * 135 * 4
    raw[header + int(store.manifest["offset"][i]) * 135 * 4 + 9] ^= 0x01
    shard.write_bytes(bytes(raw))
    return shard


def test_corrupt_shard_is_still_the_shard(clean_store, tmp_path):
    path = _copy(clean_store, tmp_path)
    store = MotionStore(path)
    shard = _flip_a_byte(path, store, 5)
    with pytest.raises(ValueError, match=rf"{shard.name}: checksum mismatch for motion '{store.ids[5]}'.*"
                                         r"the shard is corrupt \(the manifest is as built\)"):  # fmt: skip
        MotionStore(path).features(5)
    info = json.loads((path / "store.json").read_text())
    del info["manifest_sha256"]  # a store built before the hash was recorded cannot tell
    (path / "store.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=r"the shard is corrupt, or the manifest's checksum was edited"):
        MotionStore(path).features(5)


# ---------------------------------------------------------------------------------------------- info --verify


def test_info_verify_catches_what_info_does_not(clean_store, tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli_main(["info", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--verify" in help_text and "not the checksums nor the normalizer's contents" in help_text
    assert cli_main(["info", "--verify", str(clean_store)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "verified 12 motions: every checksum and the normalizer are sound" in out

    path = _copy(clean_store, tmp_path)
    store = MotionStore(path)
    shard = _flip_a_byte(path, store, 7)
    assert cli_main(["info", str(path)]) == 0  # the default check reads no motion
    capsys.readouterr()
    assert cli_main(["info", "--verify", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{shard}: checksum mismatch for motion '{store.ids[7]}'" in err
    assert cli_main(["info", "--verify", "--json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)["verified"]
    assert report["motions"] == 12 and len(report["problems"]) == 1

    normalizer = path / "normalizer.safetensors"
    shutil.copy(clean_store / "shards" / shard.name, shard)  # the shard is sound again
    normalizer.write_bytes(normalizer.read_bytes()[:-40])  # a truncated normalizer
    assert cli_main(["info", str(path)]) == 0
    capsys.readouterr()
    assert cli_main(["info", "--verify", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{normalizer}: not a readable safetensors normalizer" in err and "checksum" not in err


# ---------------------------------------------------------------------------------------------- orphaned workers


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and fork")
def test_workers_of_a_killed_build_exit(tmp_path):
    script = Path(__file__).with_name("_orphan_build.py")
    out, pids = tmp_path / "store", tmp_path / "pids"
    pids.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ORPHAN_SLOW": "1"}
    build = subprocess.Popen([sys.executable, str(script), str(out), str(pids), "400"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120  # generous: starting python and torch on a busy machine
        while len(workers) < 2 and time.monotonic() < deadline and build.poll() is None:
            time.sleep(0.2)
            workers = [int(p.name) for p in pids.iterdir()]
        assert len(workers) == 2, (workers, build.poll())
        assert all(_alive(pid) for pid in workers)
        os.kill(build.pid, signal.SIGKILL)
        build.wait(timeout=30)
        deadline = time.monotonic() + 30  # a bound for a loaded machine, not a timing assertion
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [pid for pid in workers if _alive(pid)] == [], "build workers outlived their killed parent"
    finally:
        for pid in workers:  # never leave a stray process behind, even when the test fails
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if build.poll() is None:
            build.kill()
    # the build resumes cleanly (no leftover worker is writing into it)
    env["ORPHAN_SLOW"] = "0"
    done = subprocess.run([sys.executable, str(script), str(out), str(pids), "400"], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(MotionStore(out)) == 400


def test_worker_initializer_keeps_a_live_parent(tmp_path):
    """The watcher thread does not end a worker whose build is alive (here: this process is the parent)."""
    store = MotionStore(build_store(tmp_path / "s", 6, source="synthetic", config=SyntheticConfig(seed=0), workers=2,
                                    chunk_size=1, progress=False))  # fmt: skip
    assert len(store) == 6
