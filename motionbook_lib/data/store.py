"""An on-disk sharded motion store for millions of clips (the MotionLib scale), and its torch Dataset.

Layout of a store folder::

    store/
      store.json               format name + version, feature, dim, fps, counts, build info, the
                               manifest's sha256; written last and atomically: a folder without it
                               is an unfinished build
      manifest.parquet         one row per motion (see ``MANIFEST_COLUMNS``), row i = motion i, with
                               its shard, frame offset and CRC-32 of its float32 bytes
      shards/shard-00000.npy   float32 (frames, 135) SMPL-D135 features of consecutive motions;
                               a motion never straddles two shards
      normalizer.safetensors   per-channel mean / std over the train split (:class:`Normalizer`)

While a build runs the folder also holds ``manifest/writer.json`` (the writer's settings) and one
``manifest/part-00000.parquet`` per completed shard. A part is written only after its shard file is
in place (both through a temp file + ``os.replace``), so the part files are the commit log: a re-run
after a crash keeps every shard that has a part, discards the rest and continues from there. The
per-shard train statistics live in each part's Parquet metadata, so the normalizer is rebuilt
without reading the shards again. ``close()`` streams the parts into ``manifest.parquet``, writes
the normalizer and finally ``store.json``, then removes ``manifest/``. A write that fails (a full
disk) raises an OSError naming the file and what it held and leaves no temp file; the build then
resumes from its completed shards. Build workers exit by themselves when the build process dies.

Splits are a pure function of the motion id (blake2b, see :func:`split_for_id`): 85 / 5 / 10 %
train / val / test, identical on every machine and for every way of building or merging a store.

Parallel builds: ``build_store(..., part=(i, n_parts))`` builds the *contiguous* index range
``part_range(n, i, n_parts)``; :func:`merge_stores` orders parts by their range, so a merged store
lists motions in the same order as a single build. Merging hard-links (or copies) the part shards
under new numbers and streams the manifests; nothing is decoded.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import hashlib
import json
import os
import shutil
import sys
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from torch.utils.data import Dataset, Sampler

from motionbook_lib.atomic import write_json
from motionbook_lib.features.d135 import D135_DIM
from motionbook_lib.features.normalizer import Normalizer, chan_merge
from motionbook_lib.motion import Motion
from motionbook_lib.skeleton import DEFAULT_FPS, NUM_BETAS

__all__ = [
    "DEFAULT_SHARD_FRAMES",
    "FEATURE_NAME",
    "MANIFEST_COLUMNS",
    "SPLITS",
    "STORE_FORMAT",
    "STORE_VERSION",
    "LengthBucketSampler",
    "MotionDataset",
    "MotionStore",
    "StoreLocked",
    "StoreWriter",
    "build_store",
    "collate_motions",
    "compute_normalizer",
    "merge_normalizers",
    "merge_stores",
    "motion_id",
    "open_or_build_store",
    "open_store",
    "part_range",
    "split_for_id",
]

STORE_FORMAT = "motionbook.store"
STORE_VERSION = 1
FEATURE_NAME = "smpl-d135"
#: Frames per shard: 2**18 frames x 135 x 4 bytes = 135 MiB, the writer's memory bound.
DEFAULT_SHARD_FRAMES = 1 << 18
SPLITS: tuple[str, ...] = ("train", "val", "test")
#: Split boundaries on ``blake2b(id) % 10000``: [0, 8500) train, [8500, 9000) val, [9000, 10000) test.
SPLIT_BOUNDS: tuple[int, int] = (8500, 9000)
CHECKSUM_NAME = "crc32"
HASH_SPLIT_RULE = f"blake2b-64(id) % 10000: <{SPLIT_BOUNDS[0]} train, <{SPLIT_BOUNDS[1]} val, else test"

STORE_JSON = "store.json"
MANIFEST_FILE = "manifest.parquet"
NORMALIZER_FILE = "normalizer.safetensors"
SHARD_DIR = "shards"
PARTS_DIR = "manifest"
WRITER_JSON = "writer.json"
LOCK_FILE = "writer.lock"

MANIFEST_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("split", pa.string()),
        ("n_frames", pa.int32()),
        ("fps", pa.float32()),
        ("caption", pa.list_(pa.string())),
        ("part_captions", pa.string()),  # JSON: {part: [str, ...]}
        ("labels", pa.list_(pa.string())),
        ("part_labels", pa.string()),  # JSON: {part: str}
        ("betas", pa.list_(pa.float32())),  # 10 values
        ("shard", pa.int32()),
        ("offset", pa.int64()),  # first frame of the motion in its shard
        ("checksum", pa.string()),  # CRC-32 (8 hex digits) of the motion's float32 bytes
        ("meta", pa.string()),  # JSON: every other meta key (e.g. the generator's params)
    ],
    metadata={b"motionbook.format": b"motionbook.manifest", b"motionbook.version": str(STORE_VERSION).encode()},
)
MANIFEST_COLUMNS: tuple[str, ...] = tuple(MANIFEST_SCHEMA.names)
_META_COLUMNS = ("caption", "part_captions", "labels", "part_labels")


# ----------------------------------------------------------------------------------------------
# small helpers


def split_for_id(motion_id: str) -> str:
    """Deterministic 85/5/10 train/val/test split from the blake2b hash of the id (machine independent)."""
    h = int.from_bytes(hashlib.blake2b(motion_id.encode("utf-8"), digest_size=8).digest(), "big") % 10000
    return "train" if h < SPLIT_BOUNDS[0] else "val" if h < SPLIT_BOUNDS[1] else "test"


def motion_id(source: str, index: int) -> str:
    """Id of generated motion ``index`` of ``source`` (``synthetic-00000042``)."""
    return f"{source}-{index:08d}"


def part_range(n: int, i: int, n_parts: int) -> range:
    """The contiguous slice of ``range(n)`` built by part ``i`` of ``n_parts`` (sizes differ by <= 1)."""
    if n_parts < 1 or not 0 <= i < n_parts:
        raise ValueError(f"part must be i/n with 0 <= i < n, got {i}/{n_parts}")
    return range(i * n // n_parts, (i + 1) * n // n_parts)


def _checksum(feat: np.ndarray) -> str:
    """CRC-32 (zlib, hardware accelerated: ~4 GB/s) of a C-contiguous float32 array, 8 hex digits.

    It detects corruption on disk; it is not a content hash (use the features for deduplication).
    """
    return f"{zlib.crc32(memoryview(feat).cast('B')):08x}"


def _jsonable(x: Any) -> Any:
    """JSON fallback for numpy / torch values in meta."""
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray | torch.Tensor):
        return x.tolist()
    if isinstance(x, set | frozenset | tuple):
        return list(x)
    if is_dataclass(x) and not isinstance(x, type):
        return asdict(x)
    raise TypeError(f"meta value of type {type(x).__name__} is not JSON serialisable")


def _dumps(x: Any) -> str:
    return json.dumps(x, default=_jsonable, ensure_ascii=False, sort_keys=True)


def _str_list(x: Any) -> list[str]:
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return [str(s) for s in x]


@contextlib.contextmanager
def _writing(path: Path, what: str, remove: bool = True) -> Iterator[None]:
    """Turn an OSError while writing ``path`` (e.g. a full disk) into one naming the file and what it holds;
    the partly written ``path`` (a temp file) is removed unless ``remove=False`` (atomic writers clean up)."""
    try:
        yield
    except OSError as err:
        if remove:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        code = err.errno if err.errno is not None else errno.EIO
        reason = err.strerror or str(err) or type(err).__name__
        raise OSError(code, f"cannot write {what} to {path}: {reason}") from err


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _shard_name(k: int) -> str:
    return f"shard-{k:05d}.npy"


def _part_name(k: int) -> str:
    return f"part-{k:05d}.parquet"


def _read_npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data offset) of a .npy file; ValueError naming the file if it is not one."""
    try:
        with open(path, "rb") as f:
            major, _ = np.lib.format.read_magic(f)
            if major == 1:
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            offset = f.tell()
    except FileNotFoundError:
        raise
    except Exception as err:
        raise ValueError(f"{path}: corrupt shard, not a readable .npy file ({err})") from err
    if fortran:
        raise ValueError(f"{path}: corrupt shard, Fortran-ordered array")
    return tuple(shape), np.dtype(dtype), offset


def _check_shard_file(path: Path, min_rows: int = 0) -> int:
    """Validate header, dtype, dim and size of a shard; returns its number of frames."""
    if not path.exists():
        raise FileNotFoundError(f"missing shard file {path}")
    shape, dtype, offset = _read_npy_header(path)
    if dtype != np.dtype("<f4") or len(shape) != 2 or shape[1] != D135_DIM:
        raise ValueError(f"{path}: corrupt shard, expected float32 (frames, {D135_DIM}), got {dtype} {shape}")
    expected = offset + shape[0] * D135_DIM * 4
    size = path.stat().st_size
    if size != expected:
        what = "truncated" if size < expected else "oversized"
        raise ValueError(f"{path}: {what} shard, {size} bytes on disk, header says {expected}")
    if shape[0] < min_rows:
        raise ValueError(f"{path}: truncated shard, {shape[0]} frames but the manifest needs {min_rows}")
    return int(shape[0])


@dataclass
class _Encoded:
    """A motion ready for a shard: features, its manifest row (without shard / offset), its stats."""

    feat: np.ndarray  # (T, 135) float32
    row: dict
    mean: np.ndarray | None  # (135,) float64, train motions only
    m2: np.ndarray | None  # (135,) float64


def _encode(
    motion_id: str,
    features: np.ndarray,
    betas: np.ndarray | None,
    fps: float,
    meta: dict | None,
    source: str,
) -> _Encoded:
    """Validate a motion and compute everything the writer stores (runs in build workers)."""
    feat = np.ascontiguousarray(features, dtype="<f4")  # (T, 135)
    if feat.ndim != 2 or feat.shape[1] != D135_DIM or feat.shape[0] < 1:
        raise ValueError(f"motion {motion_id!r}: features must be (T>=1, {D135_DIM}), got {feat.shape}")
    if not np.isfinite(feat).all():
        raise ValueError(f"motion {motion_id!r}: features contain NaN or inf")
    betas_arr = np.zeros(NUM_BETAS, np.float32) if betas is None else np.asarray(betas, np.float32)
    if betas_arr.shape != (NUM_BETAS,):
        raise ValueError(f"motion {motion_id!r}: betas must have shape ({NUM_BETAS},), got {betas_arr.shape}")
    if not fps > 0:
        raise ValueError(f"motion {motion_id!r}: fps must be positive, got {fps}")
    meta = dict(meta or {})
    split = str(meta["split"]) if meta.get("split") is not None else split_for_id(motion_id)  # explicit override
    if split not in SPLITS:
        raise ValueError(f"motion {motion_id!r}: meta['split'] must be one of {SPLITS}, got {split!r}")
    extra = {k: v for k, v in meta.items() if k not in _META_COLUMNS and k not in ("id", "split", "source")}
    row = {
        "id": motion_id,
        "source": str(meta.get("source") or source),
        "split": split,
        "n_frames": feat.shape[0],
        "fps": float(np.float32(fps)),
        "caption": _str_list(meta.get("caption")),
        "part_captions": _dumps({k: _str_list(v) for k, v in (meta.get("part_captions") or {}).items()}),
        "labels": _str_list(meta.get("labels")),
        "part_labels": _dumps(meta.get("part_labels") or {}),
        "betas": betas_arr.tolist(),
        "checksum": _checksum(feat),
        "meta": _dumps(extra),
    }
    mean = m2 = None
    if split == "train":
        x = feat.astype(np.float64)  # (T, 135)
        mean = x.mean(0)
        m2 = ((x - mean) ** 2).sum(0)
    return _Encoded(feat, row, mean, m2)


def merge_normalizers(parts: Iterable[Normalizer], dim: int = D135_DIM) -> Normalizer:
    """Combine statistics of disjoint data (Chan et al.), in the given order."""
    out = Normalizer(dim)
    for s in parts:
        out.merge(s)
    return out


def _stats_to_meta(norm: Normalizer) -> dict[bytes, bytes]:
    # Python float repr round-trips float64 exactly through JSON.
    data = {"count": norm.count, "mean": norm.mean.tolist(), "m2": norm.m2.tolist()}
    return {b"motionbook.train_stats": json.dumps(data).encode()}


def _stats_from_meta(meta: dict[bytes, bytes], dim: int = D135_DIM) -> Normalizer:
    data = json.loads(meta[b"motionbook.train_stats"])
    return Normalizer(
        dim,
        count=int(data["count"]),
        mean=torch.tensor(data["mean"], dtype=torch.float64),
        m2=torch.tensor(data["m2"], dtype=torch.float64),
    )


def _check_manifest_schema(path: Path, schema: pa.Schema) -> None:
    meta = schema.metadata or {}
    fmt = meta.get(b"motionbook.format", b"").decode()
    version = meta.get(b"motionbook.version", b"").decode()
    if fmt != "motionbook.manifest" or version != str(STORE_VERSION):
        raise ValueError(
            f"{path}: manifest format '{fmt or '?'}' version '{version or '?'}', this library reads "
            f"'motionbook.manifest' version {STORE_VERSION} (rebuild the store or use a matching motionbook)"
        )
    missing = [c for c in MANIFEST_COLUMNS if c not in schema.names]
    if missing:
        raise ValueError(f"{path}: manifest is missing column(s) {', '.join(repr(c) for c in missing)}")


def _remove_store_dir(path: Path) -> None:
    """rmtree a folder only if it looks like a (partial) store, never an arbitrary directory."""
    if not path.exists():
        return
    if not ((path / STORE_JSON).exists() or (path / PARTS_DIR).exists() or (path / SHARD_DIR).exists()):
        raise ValueError(f"{path} does not look like a motion store; refusing to delete it")
    shutil.rmtree(path)


# ----------------------------------------------------------------------------------------------
# writer


class StoreWriter:
    """Stream motions into a store folder with memory bounded by one shard; resumable.

    ``add`` buffers D135 features until ``shard_frames`` frames are reached, then writes the shard
    (temp file + ``os.replace``) and its manifest part. ``close`` finalises the store. Opening a
    folder that holds an interrupted build resumes it: motions of completed shards are kept
    (``resumed_ids``) and ``add`` skips them, so re-feeding the same sequence reproduces exactly the
    store an uninterrupted run would have written.

    Args:
        out_dir: store folder (created; must be empty or an unfinished build with the same settings).
        shard_frames: frames per shard (a shard is flushed once it holds at least this many).
        source: default ``source`` column.
        info: build description stored in ``store.json['build']``; a resume must pass the same one.
        fsync: fsync shards and parts before renaming them (durability against power loss).
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        shard_frames: int = DEFAULT_SHARD_FRAMES,
        source: str = "unknown",
        info: dict | None = None,
        fsync: bool = True,
    ) -> None:
        if shard_frames < 1:
            raise ValueError(f"shard_frames must be >= 1, got {shard_frames}")
        self.path = Path(out_dir)
        self.shard_frames = int(shard_frames)
        self.source = source
        self.info = json.loads(_dumps(info or {}))
        self.fsync = fsync
        self._closed = False
        if (self.path / STORE_JSON).exists():
            raise FileExistsError(f"{self.path / STORE_JSON} exists: the store is already complete")
        self.path.mkdir(parents=True, exist_ok=True)
        parts_dir = self.path / PARTS_DIR
        if not parts_dir.exists() and any(self.path.iterdir()):
            raise FileExistsError(f"{self.path} is not empty and holds no unfinished store build")
        parts_dir.mkdir(exist_ok=True)  # first: its presence marks the folder as an unfinished build
        self._lock = _lock_folder(self.path, parts_dir / LOCK_FILE)  # before anything reads or repairs the build
        try:
            (self.path / SHARD_DIR).mkdir(exist_ok=True)
            self._check_settings(parts_dir / WRITER_JSON)
            self._setup()
        except BaseException:
            self._release()
            raise

    def _setup(self) -> None:
        """Empty buffers and counters, then recover what an interrupted build committed."""
        self._buf: list[np.ndarray] = []  # (T_i, 135) float32 each
        self._rows: list[dict] = []
        self._buf_frames = 0
        self._new_shard_stats()
        self._stats = Normalizer(D135_DIM)  # merged over completed shards, in shard order
        self.n_shards = 0
        self.n_motions = 0
        self.n_frames = 0
        self.split_counts = {s: 0 for s in SPLITS}
        self.n_explicit_splits = 0  # motions whose split differs from the id-hash rule (given by the source)
        self.split_frames = {s: 0 for s in SPLITS}
        self.fps_values: set[float] = set()
        self.resumed_ids: set[str] = set()
        self._new_ids: set[str] = set()
        self._recover()

    # -- setup / resume ------------------------------------------------------------------------
    def _new_shard_stats(self) -> None:
        self._shard_count = 0
        self._shard_mean = np.zeros(D135_DIM)  # (135,) float64
        self._shard_m2 = np.zeros(D135_DIM)  # (135,) float64

    def _check_settings(self, path: Path) -> None:
        settings = {"shard_frames": self.shard_frames, "source": self.source, "info": self.info}
        if path.exists():
            try:
                old = json.loads(path.read_text())
            except ValueError as err:
                raise ValueError(f"{path}: unreadable writer settings ({err})") from err
            if old != settings:
                raise ValueError(
                    f"{path}: this unfinished store was started with other settings ({old}); "
                    f"cannot resume with {settings}. Use another folder or overwrite it."
                )
        else:
            with _writing(path, "the writer settings", remove=False):
                write_json(path, settings, default=_jsonable)

    def _recover(self) -> None:
        """Adopt completed shards (contiguous parts with a valid shard), drop everything else."""
        parts_dir, shard_dir = self.path / PARTS_DIR, self.path / SHARD_DIR
        for tmp in [*shard_dir.glob("*.tmp"), *parts_dir.glob("*.tmp")]:
            tmp.unlink()
        k = 0
        while (parts_dir / _part_name(k)).exists():
            part = parts_dir / _part_name(k)
            try:
                table = pq.read_table(part)
                _check_manifest_schema(part, table.schema)
                stats = _stats_from_meta(table.schema.metadata)
                frames = int(pc.sum(table.column("n_frames")).as_py() or 0)
                _check_shard_file(shard_dir / _shard_name(k))
                if _read_npy_header(shard_dir / _shard_name(k))[0][0] != frames:
                    raise ValueError("shard and part disagree on the number of frames")
            except (OSError, ValueError, KeyError, pa.ArrowException) as err:
                print(f"[StoreWriter] discarding incomplete shard {k} ({err})", file=sys.stderr)
                break
            ids = table.column("id").to_pylist()
            self.resumed_ids.update(ids)
            split_arr = np.asarray(table.column("split").to_pylist(), dtype=object)
            self.n_explicit_splits += sum(split_for_id(i) != s for i, s in zip(ids, split_arr, strict=True))
            nf = table.column("n_frames").to_numpy()
            for s in SPLITS:
                self.split_counts[s] += int((split_arr == s).sum())
                self.split_frames[s] += int(nf[split_arr == s].sum())
            self.fps_values.update(float(f) for f in np.unique(table.column("fps").to_numpy()))
            self.n_motions += len(ids)
            self.n_frames += frames
            self._stats = merge_normalizers([self._stats, stats])
            k += 1
        self.n_shards = k
        if len(self.resumed_ids) != self.n_motions:
            raise ValueError(f"{parts_dir}: completed parts hold duplicate motion ids; the build is corrupt")
        # Everything past the last completed shard is from the interrupted run.
        for f in parts_dir.glob("part-*.parquet"):
            if int(f.stem.split("-")[1]) >= k:
                f.unlink()
        for f in shard_dir.glob("shard-*.npy"):
            if int(f.stem.split("-")[1]) >= k:
                f.unlink()

    # -- adding --------------------------------------------------------------------------------
    def add(self, motion_id: str, motion: Motion, source: str | None = None) -> bool:
        """Add one motion; returns False if ``motion_id`` is already in a resumed shard."""
        feat = motion.to_d135().detach().cpu().numpy()
        return self.add_features(motion_id, feat, motion.betas, motion.fps, motion.meta, source)

    def add_features(
        self,
        motion_id: str,
        features: np.ndarray,
        betas: np.ndarray | None = None,
        fps: float = DEFAULT_FPS,
        meta: dict | None = None,
        source: str | None = None,
    ) -> bool:
        """Add precomputed (T, 135) D135 features; returns False if the id was resumed."""
        motion_id = str(motion_id)
        if self._skip(motion_id):
            return False
        return self._add_encoded(_encode(motion_id, features, betas, fps, meta, source or self.source))

    def _skip(self, motion_id: str) -> bool:
        if self._closed:
            raise RuntimeError(f"StoreWriter for {self.path} is closed")
        if motion_id in self._new_ids:
            raise ValueError(f"duplicate motion id {motion_id!r}")
        return motion_id in self.resumed_ids

    def _add_encoded(self, enc: _Encoded) -> bool:
        mid = enc.row["id"]
        if self._skip(mid):
            return False
        self._rows.append({**enc.row, "shard": self.n_shards, "offset": self._buf_frames})
        self._new_ids.add(mid)
        self._buf.append(enc.feat)
        t = enc.feat.shape[0]
        self._buf_frames += t
        if enc.mean is not None:  # Chan merge of this train motion into the shard statistics
            self._shard_count, self._shard_mean, self._shard_m2 = chan_merge(
                self._shard_count, self._shard_mean, self._shard_m2, t, enc.mean, enc.m2)  # fmt: skip
        if self._buf_frames >= self.shard_frames:
            self.flush()
        return True

    def flush(self) -> None:
        """Write the buffered motions as the next shard and commit its manifest part."""
        if not self._buf:
            return
        k = self.n_shards
        shard = self.path / SHARD_DIR / _shard_name(k)
        tmp = shard.with_name(shard.name + ".tmp")
        with _writing(tmp, f"shard {k} ({len(self._rows)} motions, {self._buf_frames} frames)"), open(tmp, "wb") as f:
            header = {"descr": "<f4", "fortran_order": False, "shape": (self._buf_frames, D135_DIM)}
            np.lib.format.write_array_header_1_0(f, header)
            for feat in self._buf:
                f.write(memoryview(feat).cast("B"))
            f.flush()
            if self.fsync:
                os.fsync(f.fileno())
        os.replace(tmp, shard)
        # The part file is the commit record of the shard.
        shard_stats = Normalizer(
            D135_DIM,
            count=self._shard_count,
            mean=torch.from_numpy(self._shard_mean),
            m2=torch.from_numpy(self._shard_m2),
        )
        schema = MANIFEST_SCHEMA.with_metadata({**MANIFEST_SCHEMA.metadata, **_stats_to_meta(shard_stats)})
        table = pa.Table.from_pylist(self._rows, schema=schema)
        part = self.path / PARTS_DIR / _part_name(k)
        ptmp = part.with_name(part.name + ".tmp")
        with _writing(ptmp, f"the manifest part of shard {k}"):
            pq.write_table(table, ptmp)
            if self.fsync:
                with open(ptmp, "rb+") as f:
                    os.fsync(f.fileno())
        os.replace(ptmp, part)
        if self.fsync:
            _fsync_dir(self.path / PARTS_DIR)
        for row in self._rows:
            self.n_explicit_splits += split_for_id(row["id"]) != row["split"]
            self.split_counts[row["split"]] += 1
            self.split_frames[row["split"]] += row["n_frames"]
            self.fps_values.add(row["fps"])
        self.n_motions += len(self._rows)
        self.n_frames += self._buf_frames
        self._stats = merge_normalizers([self._stats, shard_stats])
        self.n_shards += 1
        self._buf, self._rows, self._buf_frames = [], [], 0
        self._new_shard_stats()

    # -- finishing -----------------------------------------------------------------------------
    @property
    def count(self) -> int:
        """Motions in the store so far: resumed, flushed and buffered."""
        return self.n_motions + len(self._rows)

    def abort(self) -> None:
        """Drop the buffered (uncommitted) motions; completed shards stay for a later resume."""
        self._buf, self._rows, self._buf_frames = [], [], 0
        self._new_shard_stats()
        for tmp in [*(self.path / SHARD_DIR).glob("*.tmp"), *(self.path / PARTS_DIR).glob("*.tmp"),
                    self.path / (MANIFEST_FILE + ".tmp")]:  # fmt: skip
            tmp.unlink(missing_ok=True)
        self._closed = True
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the flock
            self._lock = None

    def close(self) -> Path:
        """Flush, consolidate the manifest, write the normalizer and finally ``store.json``."""
        if self._closed:
            raise RuntimeError(f"StoreWriter for {self.path} is closed")
        self.flush()
        parts_dir = self.path / PARTS_DIR
        manifest = self.path / MANIFEST_FILE
        tmp = manifest.with_name(manifest.name + ".tmp")
        with _writing(tmp, f"the manifest ({self.n_motions} motions)"):
            with pq.ParquetWriter(tmp, MANIFEST_SCHEMA) as pw:
                for k in range(self.n_shards):
                    pw.write_table(pq.read_table(parts_dir / _part_name(k)).cast(MANIFEST_SCHEMA))
            digest = _file_sha256(tmp)
            os.replace(tmp, manifest)
        with _writing(self.path / NORMALIZER_FILE, "the normalizer", remove=False):
            self._stats.save(self.path / NORMALIZER_FILE)
        split_rule = (
            HASH_SPLIT_RULE
            if self.n_explicit_splits == 0
            else f"given by the source ({self.n_explicit_splits} motions differ from the id-hash rule)"
        )
        counts = {
            "motions": self.n_motions,
            "frames": self.n_frames,
            "shards": self.n_shards,
            "splits": dict(self.split_counts),
            "split_frames": dict(self.split_frames),
        }
        store_info = _store_info(counts, self.fps_values, self.shard_frames, self.source, split_rule, self.info)
        store_info["manifest_sha256"] = digest
        with _writing(self.path / STORE_JSON, "the store description", remove=False):
            write_json(self.path / STORE_JSON, store_info, default=_jsonable)
        _fsync_dir(self.path)
        self._release()
        shutil.rmtree(parts_dir, ignore_errors=True)
        self._closed = True
        return self.path

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class StoreLocked(OSError):
    """Another process is writing the store folder."""


def _lock_folder(folder: Path, lock_path: Path) -> Any:
    """An exclusive, non-blocking advisory lock (POSIX ``flock``) on ``lock_path``, holding this process's id; the
    open file is returned (closing it releases the lock, and so does the process's death). A second writer gets
    :class:`StoreLocked` naming the folder and the process that holds it. No lock where ``fcntl`` is missing."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        return None
    import socket

    fh = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the writer's lifetime
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise StoreLocked(f"{folder}: another writer is building this store ({holder}); wait for it to finish or "
                          "write to another folder") from None  # fmt: skip
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()} on {socket.gethostname()}, since {datetime.now(UTC).isoformat(timespec='seconds')}")
    fh.flush()
    return fh


def _created_by() -> str:
    from motionbook_lib import __version__

    return f"motionbook {__version__} (motionbook_lib.data.store)"

def _store_info(
    counts: dict, fps_values: Iterable[float], shard_frames: int, source: str | None, split_rule: str | None, build: Any
) -> dict:
    """The body of ``store.json``, written last (atomically) to mark a store complete."""
    fps = sorted(fps_values)
    return {
        "format": STORE_FORMAT,
        "version": STORE_VERSION,
        "feature": FEATURE_NAME,
        "dim": D135_DIM,
        "dtype": "float32",
        "fps": fps[0] if len(fps) == 1 else None,
        "fps_values": fps,
        "counts": counts,
        "shard_frames": shard_frames,
        "source": source,
        "checksum": CHECKSUM_NAME,
        "split_rule": split_rule,
        "build": build,
        "created_by": _created_by(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }



# ----------------------------------------------------------------------------------------------
# reader


class MotionStore:
    """Read a store folder: manifest, features through cached memory maps, normalizer.

    Opening validates ``store.json`` (format / version), the manifest (version, columns, row
    count, and offsets and frame counts that tile every shard as its header says) and every shard's
    header and size, so a bad store fails at once with the file named. Checksums are checked as
    motions are read (:meth:`verify_all` reads them all); a mismatch names the manifest when it is not
    the one the store was built with (``store.json`` records its sha256), else the shard.
    Memory maps are opened lazily, per process, and never pickled: a store (or a Dataset holding
    one) can be sent to DataLoader workers.

    Args:
        path: the store folder.
        verify: check each motion's CRC-32 when reading it (~15 us per 100 frames).
        max_open_shards: memory maps kept open per process (least recently used are closed).
    """

    _NUMERIC = ("id", "split", "n_frames", "fps", "shard", "offset", "checksum")

    def __init__(self, path: str | os.PathLike, verify: bool = True, max_open_shards: int = 256) -> None:
        self.path = Path(path)
        self.verify = verify
        self.max_open_shards = max_open_shards
        self._open(validate=True)

    # -- opening -------------------------------------------------------------------------------
    def _open(self, validate: bool) -> None:
        info_path = self.path / STORE_JSON
        if not info_path.exists():
            hint = " (an unfinished build: run it again to resume)" if (self.path / PARTS_DIR).exists() else ""
            raise FileNotFoundError(f"{info_path} not found: not a complete motion store{hint}")
        try:
            info = json.loads(info_path.read_text())
        except ValueError as err:
            raise ValueError(f"{info_path}: not valid JSON ({err})") from err
        if not isinstance(info, dict) or info.get("format") != STORE_FORMAT or info.get("version") != STORE_VERSION:
            got = (info.get("format"), info.get("version")) if isinstance(info, dict) else (None, None)
            raise ValueError(
                f"{info_path}: store format {got[0]!r} version {got[1]!r}; this library reads "
                f"{STORE_FORMAT!r} version {STORE_VERSION}"
            )
        if info.get("feature") != FEATURE_NAME or info.get("dim") != D135_DIM:
            raise ValueError(
                f"{info_path}: feature {info.get('feature')!r} dim {info.get('dim')}, expected "
                f"{FEATURE_NAME!r} dim {D135_DIM}"
            )
        if info.get("checksum") != CHECKSUM_NAME:
            raise ValueError(f"{info_path}: checksum {info.get('checksum')!r}, expected {CHECKSUM_NAME!r}")
        self.info: dict = info
        manifest = self.path / MANIFEST_FILE
        if not manifest.exists():
            raise FileNotFoundError(f"missing manifest {manifest}")
        try:
            schema = pq.read_schema(manifest)
        except (OSError, pa.ArrowException) as err:
            raise ValueError(f"{manifest}: unreadable manifest ({err})") from err
        _check_manifest_schema(manifest, schema)
        table = pq.read_table(manifest, columns=list(self._NUMERIC))
        n = info["counts"]["motions"]
        if table.num_rows != n:
            raise ValueError(f"{manifest}: {table.num_rows} rows but {info_path} counts {n} motions")
        self._ids = np.asarray(table.column("id").to_pylist(), dtype=object)  # (N,) str
        split = np.asarray(table.column("split").to_pylist(), dtype=object)
        self._split = np.full(n, -1, np.int8)  # (N,) index into SPLITS
        for code, name in enumerate(SPLITS):
            self._split[split == name] = code
        self.lengths = table.column("n_frames").to_numpy().astype(np.int64)  # (N,)
        self._fps = table.column("fps").to_numpy()  # (N,)
        self._shard = table.column("shard").to_numpy().astype(np.int64)  # (N,)
        self._offset = table.column("offset").to_numpy().astype(np.int64)  # (N,)
        self._checksums = np.asarray(table.column("checksum").to_pylist(), dtype="S8")  # (N,)
        self.n_shards = int(info["counts"]["shards"])
        if validate:
            if (self._split < 0).any():
                bad = self._ids[np.flatnonzero(self._split < 0)[0]]
                raise ValueError(f"{manifest}: motion {bad!r} has an unknown split")
            if n and (self._shard.min() < 0 or self._shard.max() >= self.n_shards):
                raise ValueError(f"{manifest}: shard numbers outside 0..{self.n_shards - 1}")
            frames = np.asarray([_check_shard_file(self.path / SHARD_DIR / _shard_name(k))
                                 for k in range(self.n_shards)], dtype=np.int64)  # fmt: skip
            self._check_layout(manifest, frames)
            if not (self.path / NORMALIZER_FILE).exists():
                raise FileNotFoundError(f"missing normalizer file {self.path / NORMALIZER_FILE}")
        self._reset_process_state()

    def _check_layout(self, manifest: Path, frames: np.ndarray) -> None:
        """The manifest's motions must tile each shard: offsets from 0, each motion right after the one before, the
        last ending where the shard's own header ends. Otherwise the manifest is at fault (the shard's header and
        size agree, see ``_check_shard_file``): a ValueError naming the manifest, the motion and the shard."""
        if not len(self):
            return
        order = np.lexsort((self._offset, self._shard))
        shard, off, end = self._shard[order], self._offset[order], self._offset[order] + self.lengths[order]
        first = np.ones(len(order), bool)
        first[1:] = shard[1:] != shard[:-1]
        last = np.ones(len(order), bool)
        last[:-1] = first[1:]
        prev_end = np.zeros(len(order), np.int64)
        prev_end[1:] = end[:-1]
        expected = np.where(first, 0, prev_end)

        def fail(j: int, what: str) -> None:
            k = int(shard[j])
            raise ValueError(
                f"{manifest}: disagrees with the header of {self.path / SHARD_DIR / _shard_name(k)} ({frames[k]} "
                f"frames): motion {self._ids[order[j]]!r} (offset {off[j]}, n_frames {self.lengths[order[j]]}) "
                f"{what}; the manifest was edited or belongs to another store"
            )

        bad = np.flatnonzero((self.lengths[order] < 1) | (off != expected))
        if len(bad):
            j = int(bad[0])
            if self.lengths[order[j]] < 1:
                fail(j, "has no frames")
            where = "the shard starts at frame 0" if first[j] else f"the motion before it ends at frame {expected[j]}"
            fail(j, f"starts at frame {off[j]}, but {where}")
        bad = np.flatnonzero(last & (end != frames[shard]))
        if len(bad):
            j = int(bad[0])
            fail(j, f"is the last motion of the shard and ends at frame {end[j]}, not at its end")
        empty = np.setdiff1d(np.flatnonzero(frames > 0), shard)
        if len(empty):
            k = int(empty[0])
            raise ValueError(f"{manifest}: lists no motion of {self.path / SHARD_DIR / _shard_name(k)} ({frames[k]} "
                             "frames); the manifest was edited or belongs to another store")  # fmt: skip

    def _manifest_edited(self) -> bool | None:
        """Whether the manifest differs from the one the store was built with (None: the store records no hash)."""
        recorded = self.info.get("manifest_sha256")
        if not recorded:
            return None
        if self._manifest_digest is None:
            self._manifest_digest = _file_sha256(self.path / MANIFEST_FILE)
        return self._manifest_digest != recorded

    def _reset_process_state(self) -> None:
        self._pid = os.getpid()
        self._manifest_digest: str | None = None
        self._maps: OrderedDict[int, np.ndarray] = OrderedDict()  # LRU: each map holds a file descriptor
        self._table: pa.Table | None = None
        self._chunk_starts: dict[str, list[int]] = {}
        self._id_to_row: dict[str, int] | None = None
        self._manifest: pd.DataFrame | None = None
        self._normalizer: Normalizer | None = None

    def __getstate__(self) -> dict:
        # Only the path travels to other processes; maps and tables are reopened there.
        return {"path": str(self.path), "verify": self.verify, "max_open_shards": self.max_open_shards}

    def __setstate__(self, state: dict) -> None:
        self.path = Path(state["path"])
        self.verify = state["verify"]
        self.max_open_shards = state["max_open_shards"]
        self._open(validate=False)

    # -- sizes and tables ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return f"MotionStore({str(self.path)!r}, motions={len(self)}, shards={self.n_shards})"

    @property
    def ids(self) -> np.ndarray:
        """(N,) object array of motion ids, in manifest order."""
        return self._ids

    def fps(self, rows: Sequence[int] | np.ndarray | None = None) -> float:
        """The one frame rate of the store (or of ``rows``); a ValueError naming the store and the rates when
        they differ (resample on import, e.g. ``--fps 20``, or select motions of one rate)."""
        fps = self._fps if rows is None else self._fps[np.asarray(rows, dtype=np.int64)]
        values = np.unique(np.round(np.asarray(fps, dtype=np.float64), 6))
        if values.size > 1:
            what = "its motions" if rows is None else "the selected motions"
            raise ValueError(f"{self.path}: field 'fps': {what} have several frame rates {values.tolist()}; "
                             "this needs one (resample them to one rate when importing)")  # fmt: skip
        return float(values[0]) if values.size else DEFAULT_FPS

    @property
    def manifest(self) -> pd.DataFrame:
        """The full manifest as a DataFrame (loaded on first use)."""
        if self._manifest is None:
            self._manifest = pq.read_table(self.path / MANIFEST_FILE).to_pandas()
        return self._manifest

    @property
    def normalizer(self) -> Normalizer:
        """Per-channel statistics over the train split."""
        if self._normalizer is None:
            self._normalizer = Normalizer.load(self.path / NORMALIZER_FILE)
        return self._normalizer

    def index(self, key: int | str) -> int:
        """Row number of a row number or motion id."""
        if isinstance(key, str):
            if self._id_to_row is None:
                self._id_to_row = {m: i for i, m in enumerate(self._ids)}
            try:
                return self._id_to_row[key]
            except KeyError:
                raise KeyError(f"no motion with id {key!r} in {self.path}") from None
        i = int(key)
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"motion index {i} out of range for {n} motions")
        return i % n

    def split(self, name: str) -> np.ndarray:
        """(M,) int64 row numbers of a split ("train", "val", "test" or "all")."""
        if name == "all":
            return np.arange(len(self), dtype=np.int64)
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}, expected one of {SPLITS + ('all',)}")
        return np.flatnonzero(self._split == SPLITS.index(name)).astype(np.int64)

    # -- reading -------------------------------------------------------------------------------
    def _shard_map(self, k: int) -> np.ndarray:
        if self._pid != os.getpid():  # forked: do not use the parent's maps
            self._reset_process_state()
        mm = self._maps.get(k)
        if mm is not None:
            self._maps.move_to_end(k)
        else:
            path = self.path / SHARD_DIR / _shard_name(k)
            try:
                mm = np.load(path, mmap_mode="r", allow_pickle=False)  # (frames, 135)
            except FileNotFoundError:
                raise FileNotFoundError(f"missing shard file {path}") from None
            except (ValueError, OSError) as err:
                raise ValueError(f"{path}: corrupt shard ({err})") from err
            self._maps[k] = mm
            while len(self._maps) > self.max_open_shards:
                self._maps.popitem(last=False)
        return mm

    def features(self, key: int | str, verify: bool | None = None) -> np.ndarray:
        """(T, 135) float32 D135 features of a motion (a copy; checksum checked unless disabled)."""
        i = self.index(key)
        k, off, t = int(self._shard[i]), int(self._offset[i]), int(self.lengths[i])
        mm = self._shard_map(k)
        if off + t > mm.shape[0]:
            raise ValueError(
                f"{self.path / SHARD_DIR / _shard_name(k)}: truncated shard, motion "
                f"{self._ids[i]!r} needs frames {off}..{off + t}"
            )
        feat = np.array(mm[off : off + t], dtype=np.float32, copy=True)  # (T, 135)
        if self.verify if verify is None else verify:
            if _checksum(feat).encode() != self._checksums[i]:
                shard, manifest = self.path / SHARD_DIR / _shard_name(k), self.path / MANIFEST_FILE
                edited = self._manifest_edited()
                if edited:
                    raise ValueError(
                        f"{manifest}: the checksum of motion {self._ids[i]!r} disagrees with its frames "
                        f"{off}..{off + t} in {shard}, and the manifest is not the one the store was built with "
                        f"(its sha256 differs from the one in {self.path / STORE_JSON}): the manifest was edited"
                    )
                why = "the shard is corrupt (the manifest is as built)" if edited is False else (
                    "the shard is corrupt, or the manifest's checksum was edited (this store records no manifest "
                    "hash to tell which)")  # fmt: skip
                raise ValueError(f"{shard}: checksum mismatch for motion {self._ids[i]!r} (frames {off}..{off + t}); "
                                 f"{why}")  # fmt: skip
        return feat

    def verify_all(self, progress: bool = False) -> list[str]:
        """Problems found by reading every motion (checksums on) and loading the normalizer; [] when sound.

        Opening a store checks only ``store.json``, the manifest's schema, row count and layout, and each shard's
        header and size; this also catches flipped bytes in a shard and a truncated or unreadable normalizer.
        """
        from tqdm.auto import tqdm

        problems = []
        for i in tqdm(range(len(self)), desc="verify", unit="motion", disable=not progress):
            try:
                self.features(i, verify=True)
            except (ValueError, OSError) as err:
                problems.append(str(err))
        try:
            Normalizer.load(self.path / NORMALIZER_FILE)
        except (ValueError, OSError) as err:
            problems.append(str(err))
        return problems

    def _column(self, name: str, i: int) -> Any:
        if self._pid != os.getpid():
            self._reset_process_state()
        if self._table is None:
            cols = ["source", *_META_COLUMNS, "betas", "meta"]
            self._table = pq.read_table(self.path / MANIFEST_FILE, columns=cols)
        col = self._table.column(name)
        starts = self._chunk_starts.get(name)
        if starts is None:
            starts = list(np.cumsum([0] + [len(c) for c in col.chunks[:-1]]))
            self._chunk_starts[name] = starts
        c = bisect.bisect_right(starts, i) - 1
        return col.chunks[c][i - starts[c]].as_py()

    def captions(self, key: int | str) -> list[str]:
        return self._column("caption", self.index(key)) or []

    def part_captions(self, key: int | str) -> dict[str, list[str]]:
        return json.loads(self._column("part_captions", self.index(key)))

    def meta(self, key: int | str) -> dict:
        """All annotations of a motion (id, source, split, captions, labels, extra meta keys)."""
        i = self.index(key)
        out = json.loads(self._column("meta", i))
        out.update(
            id=str(self._ids[i]),
            source=self._column("source", i),
            split=SPLITS[self._split[i]],
            caption=self._column("caption", i) or [],
            part_captions=json.loads(self._column("part_captions", i)),
            labels=self._column("labels", i) or [],
            part_labels=json.loads(self._column("part_labels", i)),
        )
        return out

    def betas(self, key: int | str) -> np.ndarray:
        return np.asarray(self._column("betas", self.index(key)), dtype=np.float32)

    def motion(self, key: int | str) -> Motion:
        """Decode a motion (the root path starts at the origin; XZ start is not stored in D135)."""
        i = self.index(key)
        return Motion.from_d135(torch.from_numpy(self.features(i)), self.betas(i), float(self._fps[i]), **self.meta(i))

    def info_summary(self) -> dict:
        """Counts, splits, lengths and sizes on disk (what ``python -m motionbook_lib.data info`` prints)."""
        shard_bytes = sum((self.path / SHARD_DIR / _shard_name(k)).stat().st_size for k in range(self.n_shards))
        fps = self._fps.astype(np.float64)
        seconds = float((self.lengths / fps).sum()) if len(self) else 0.0
        splits = {
            s: {"motions": int((self._split == c).sum()), "frames": int(self.lengths[self._split == c].sum())}
            for c, s in enumerate(SPLITS)
        }
        return {
            "path": str(self.path),
            "format": f"{self.info['format']} v{self.info['version']}",
            "feature": f"{self.info['feature']} (dim {self.info['dim']})",
            "fps": self.info.get("fps"),
            "motions": len(self),
            "frames": int(self.lengths.sum()),
            "hours": round(seconds / 3600, 3),
            "length_frames": {
                "min": int(self.lengths.min()) if len(self) else 0,
                "mean": round(float(self.lengths.mean()), 1) if len(self) else 0.0,
                "max": int(self.lengths.max()) if len(self) else 0,
            },
            "splits": splits,
            "shards": self.n_shards,
            "bytes": {
                "shards": shard_bytes,
                "manifest": (self.path / MANIFEST_FILE).stat().st_size,
                "normalizer": (self.path / NORMALIZER_FILE).stat().st_size,
            },
            "source": self.info.get("source"),
            "build": self.info.get("build"),
            "created_by": self.info.get("created_by"),
            "created_at": self.info.get("created_at"),
        }


def open_store(store: MotionStore | str | os.PathLike) -> MotionStore:
    """``store`` itself when it is an open :class:`MotionStore`, else the store at that path."""
    return store if isinstance(store, MotionStore) else MotionStore(store)


def open_or_build_store(
    path: str | os.PathLike | None, n: int = 300, seed: int = 0, workers: int | None = None
) -> MotionStore:
    """Open the store at ``path``; with no path, build (or reuse) the built-in corpus of ``n`` motions.

    The default store lives in ``data/synthetic-<n>-seed<seed>`` under the project root (the folder holding
    ``pyproject.toml``, else the current directory). One built by another version of the generator (its
    recorded ``generator_fingerprint`` differs) is rebuilt, with a line on stderr saying so.
    """
    if path:
        return MotionStore(path)
    from motionbook_lib.data.synthetic import SyntheticConfig, generator_fingerprint
    from motionbook_lib.paths import project_root

    out = project_root() / "data" / f"synthetic-{n}-seed{seed}"
    stale = False
    if (out / STORE_JSON).exists():
        built = (MotionStore(out, verify=False).info.get("build") or {}).get("generator_fingerprint")
        current = generator_fingerprint(seed)
        stale = built != current
        if stale:
            print(f"[motionbook] {out}: built by another version of the built-in generator ({built}, now "
                  f"{current}); rebuilding", file=sys.stderr)  # fmt: skip
    if stale or not (out / STORE_JSON).exists():
        build_store(out, n, source="synthetic", config=SyntheticConfig(seed=seed), workers=workers, progress=False,
                    overwrite=stale)  # fmt: skip
    return MotionStore(out)


def compute_normalizer(store: MotionStore, split: str = "train") -> Normalizer:
    """Recompute the statistics of a split by reading its motions (slow; the store has them already)."""
    norm = Normalizer(D135_DIM)
    for i in store.split(split):
        norm.update(torch.from_numpy(store.features(int(i))))
    return norm


# ----------------------------------------------------------------------------------------------
# torch Dataset, sampler, collate


class MotionDataset(Dataset):
    """Windows of D135 features from one split of a store.

    Each item is ``dict(features=(W, 135) float32 tensor, length=int, caption=str,
    part_captions={part: str}, index=int, id=str)`` where ``W = window`` (clips shorter than the
    window are zero-padded after normalisation and ``length`` says how many frames are real) or the
    clip length when ``window`` is None. Crops and the paraphrase drawn depend only on
    ``(seed, epoch, index)``, so they do not change with the number of workers; call
    :meth:`set_epoch` before each epoch for new crops (with non-persistent workers).

    Args:
        store: a :class:`MotionStore` or its path.
        split: "train", "val", "test" or "all".
        window: frames per item, or None for whole clips.
        crop: "random" (uniform start) or "start" (first frames).
        normalize: apply the store's train normalizer.
        seed: seed of crops and caption choice.
    """

    def __init__(
        self,
        store: MotionStore | str | os.PathLike,
        split: str = "train",
        window: int | None = 64,
        crop: str = "random",
        normalize: bool = True,
        seed: int = 0,
    ) -> None:
        self.store = open_store(store)
        if crop not in ("random", "start"):
            raise ValueError(f"crop must be 'random' or 'start', got {crop!r}")
        if window is not None and window < 1:
            raise ValueError(f"window must be >= 1 or None, got {window}")
        self.split_name = split
        self.indices = self.store.split(split)  # (M,) store rows
        self.window = window
        self.crop = crop
        self.normalize = normalize
        self.seed = seed
        self.epoch = 0
        if normalize:
            norm = self.store.normalizer
            self._mean = norm.mean.numpy().astype(np.float32)  # (135,)
            self._std = norm.std.numpy().astype(np.float32)  # (135,)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @property
    def lengths(self) -> np.ndarray:
        """(M,) frames each item will hold (``min(T, window)``), for :class:`LengthBucketSampler`."""
        lengths = self.store.lengths[self.indices]
        return lengths if self.window is None else np.minimum(lengths, self.window)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = int(self.indices[i])
        rng = np.random.default_rng([self.seed, self.epoch, row])
        feat = self.store.features(row)  # (T, 135)
        t = feat.shape[0]
        if self.window is not None and t > self.window:
            start = int(rng.integers(0, t - self.window + 1)) if self.crop == "random" else 0
            feat = feat[start : start + self.window]
        length = feat.shape[0]
        if self.normalize:
            feat = (feat - self._mean) / self._std
        if self.window is not None and length < self.window:
            feat = np.concatenate([feat, np.zeros((self.window - length, D135_DIM), np.float32)])
        captions = self.store.captions(row)
        parts = self.store.part_captions(row)
        return {
            "features": torch.from_numpy(np.ascontiguousarray(feat, dtype=np.float32)),
            "length": length,
            "caption": captions[int(rng.integers(len(captions)))] if captions else "",
            "part_captions": {p: (c[int(rng.integers(len(c)))] if c else "") for p, c in parts.items()},
            "index": row,
            "id": str(self.store.ids[row]),
        }


class LengthBucketSampler(Sampler[list[int]]):
    """Batches of similar length: sort by (length // bucket_width, random), cut, shuffle batches.

    Every position appears once per epoch; only the last batch of the sorted order can be short
    (dropped with ``drop_last``). The order depends on ``(seed, epoch)``; the epoch advances by one
    after each full iteration unless :meth:`set_epoch` sets it.
    """

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray,
        batch_size: int,
        bucket_width: int = 16,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1 or bucket_width < 1:
            raise ValueError("batch_size and bucket_width must be >= 1")
        self.lengths = np.asarray(lengths, dtype=np.int64)  # (M,)
        self.batch_size = batch_size
        self.bucket_width = bucket_width
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        n = len(self.lengths)
        tie = rng.permutation(n) if self.shuffle else np.arange(n)
        order = np.lexsort((tie, self.lengths // self.bucket_width))
        batches = [order[s : s + self.batch_size] for s in range(0, n, self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        if self.shuffle:
            batches = [batches[j] for j in rng.permutation(len(batches))]
        self.epoch += 1
        for b in batches:
            yield b.tolist()


def collate_motions(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Pad items of :class:`MotionDataset` to the longest: features (B, L, 135), mask (B, L) bool."""
    lengths = torch.tensor([int(b["length"]) for b in batch], dtype=torch.int64)  # (B,)
    max_len = max(b["features"].shape[0] for b in batch) if batch else 0
    feats = torch.zeros(len(batch), max_len, D135_DIM, dtype=torch.float32)  # (B, L, 135)
    for j, b in enumerate(batch):
        feats[j, : b["features"].shape[0]] = b["features"]
    mask = torch.arange(max_len)[None, :] < lengths[:, None]  # (B, L)
    feats = feats * mask[..., None]
    return {
        "features": feats,
        "mask": mask,
        "length": lengths,
        "caption": [b["caption"] for b in batch],
        "part_captions": [b["part_captions"] for b in batch],
        "index": torch.tensor([int(b["index"]) for b in batch], dtype=torch.int64),
        "id": [b.get("id", "") for b in batch],
    }


# ----------------------------------------------------------------------------------------------
# building and merging

Generator = Callable[[int, Any], Motion]


def _exit_with_parent(parent: int) -> None:
    """Make this worker exit when the build process ``parent`` dies, even by SIGKILL, so no orphan keeps running
    (and a resumed build never races one). A forked or spawned worker asks Linux for SIGKILL on its parent's death
    (``PR_SET_PDEATHSIG``); every worker also runs a daemon thread that exits once ``parent`` is gone (re-parented,
    or, under a forkserver whose child it is, no longer running)."""
    import threading
    import time

    direct = os.getppid() == parent
    if direct and sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass  # the watcher thread below still ends the worker

    def gone() -> bool:
        if direct:
            return os.getppid() != parent
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    if gone():  # the parent died before the lines above took effect
        os._exit(1)

    def watch() -> None:
        while not gone():
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _init_worker(parent: int | None = None) -> None:
    torch.set_num_threads(1)
    if parent is not None:
        _exit_with_parent(parent)


def _generate_chunk(
    generator: Generator, config: Any, source: str, indices: list[int], drop_static: bool = False
) -> list[_Encoded]:
    """Generate, encode and checksum motions in a worker process (held poses left out with ``drop_static``)."""
    out = []
    for i in indices:
        m = generator(i, config)
        if drop_static:
            from motionbook_lib.data.quality import is_held_pose

            with torch.no_grad():
                if is_held_pose(m.joints(), float(m.fps)):
                    continue
        feat = m.to_d135().numpy()  # (T, 135)
        out.append(_encode(motion_id(source, i), feat, m.betas, float(m.fps), m.meta, source))
    return out


def _resolve_source(source: str, config: Any, generator: Generator | None) -> tuple[Generator, Any]:
    if generator is not None:
        return generator, config
    if source != "synthetic":
        raise ValueError(
            f"build_store can generate source 'synthetic' only, got {source!r} "
            "(import real datasets with their own importer)"
        )
    from motionbook_lib.data import synthetic  # lazy: heavy and optional

    return synthetic.generate_motion, (synthetic.SyntheticConfig() if config is None else config)


def _config_dict(config: Any) -> Any:
    if config is None:
        return None
    if is_dataclass(config) and not isinstance(config, type):
        return json.loads(_dumps(asdict(config)))
    return json.loads(_dumps(config))


def build_store(
    out_dir: str | os.PathLike,
    n: int,
    source: str = "synthetic",
    config: Any = None,
    part: tuple[int, int] = (0, 1),
    workers: int | None = None,
    shard_frames: int = DEFAULT_SHARD_FRAMES,
    chunk_size: int = 32,
    generator: Generator | None = None,
    progress: bool = True,
    overwrite: bool = False,
    mp_context: str | None = None,
    drop_static: bool = False,
) -> Path:
    """Generate motions ``part_range(n, *part)`` with ``generator(index, config)`` into a store.

    Motions are generated in a process pool, in chunks of ``chunk_size`` indices with at most
    ``2 * workers`` chunks in flight, and written in index order, so the result does not depend on
    ``workers``. Interrupted builds resume when called again with the same arguments; a complete
    store with the same build settings is returned as is (``overwrite=True`` rebuilds it).

    Args:
        out_dir: store folder.
        n: size of the whole index space (all parts together).
        source: "synthetic" (uses ``motionbook_lib.data.synthetic``) or any name with ``generator``.
        config: generator config (default ``SyntheticConfig()``); recorded in ``store.json``.
        part: (i, n_parts): build the contiguous slice ``part_range(n, i, n_parts)``.
        workers: processes (default ``os.cpu_count()``; <= 1 generates in this process).
        generator: ``f(index, config) -> Motion``, a module-level function (it is sent to workers).
        drop_static: leave out held poses (:func:`motionbook_lib.data.quality.is_held_pose`); their number is
            printed and recorded in ``store.json`` (``build.dropped_static``).
    """
    out = Path(out_dir)
    gen, config = _resolve_source(source, config, generator)
    i_part, n_parts = part
    indices = part_range(n, i_part, n_parts)
    info = {
        "source": source,
        "n": n,
        "part": [i_part, n_parts],
        "index_range": [indices.start, indices.stop],
        "config": _config_dict(config),
        "generator": f"{getattr(gen, '__module__', '?')}.{getattr(gen, '__qualname__', '?')}",
    }
    if drop_static:  # recorded only when set: stores built before the option compare equal
        info["drop_static"] = True
    if source == "synthetic" and generator is None:  # the built-in generator: which version of its output
        from motionbook_lib.data.synthetic import generator_fingerprint

        info["generator_fingerprint"] = generator_fingerprint(getattr(config, "seed", 0))
    if overwrite:
        _remove_store_dir(out)
    if (out / STORE_JSON).exists():
        existing = MotionStore(out, verify=False)
        build = existing.info.get("build") or {}
        want = {**info, "drop_static": bool(drop_static)}
        have = {**build, "drop_static": bool(build.get("drop_static", False))}
        changed = sorted(k for k, v in want.items() if have.get(k) != v)
        if changed:
            raise FileExistsError(
                f"{out / STORE_JSON}: a store built with other settings exists (field(s) {', '.join(changed)}"
                + ("; the built-in generator's output changed since" if "generator_fingerprint" in changed else "")
                + "); use overwrite=True (CLI --overwrite) or another folder"
            )
        return out
    writer = StoreWriter(out, shard_frames=shard_frames, source=source, info=info)
    todo = [i for i in indices if motion_id(source, i) not in writer.resumed_ids]
    chunks = [todo[s : s + chunk_size] for s in range(0, len(todo), chunk_size)]
    workers = (os.cpu_count() or 1) if workers is None else workers
    bar = _progress(len(indices), len(indices) - len(todo), progress, out.name)
    try:
        for chunk, results in zip(chunks, _run_chunks(gen, config, source, chunks, workers, mp_context, drop_static),
                                  strict=True):  # fmt: skip
            for enc in results:
                writer._add_encoded(enc)
            bar.update(len(chunk))
        dropped = len(indices) - writer.count  # every index of the part is a motion unless it was left out
        if drop_static:  # recorded in store.json's build field, which close() writes last
            writer.info = {**writer.info, "dropped_static": dropped}
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()
    if drop_static:
        print(f"[motionbook] {out}: dropped {dropped} held pose(s) of {len(indices)} motions (--drop-static)",
              file=sys.stderr)  # fmt: skip
    return out


def _progress(total: int, initial: int, enabled: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="motion", desc=desc, disable=not enabled, smoothing=0.05)


def _run_chunks(
    gen: Generator,
    config: Any,
    source: str,
    chunks: list[list[int]],
    workers: int,
    mp_context: str | None,
    drop_static: bool = False,
) -> Iterator[list]:
    """Results of ``_generate_chunk`` for each chunk, in order, with a bounded number in flight."""
    if workers <= 1 or len(chunks) <= 1:
        for c in chunks:
            yield _generate_chunk(gen, config, source, c, drop_static)
        return
    import multiprocessing as mp

    ctx = mp.get_context(mp_context) if mp_context else None
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(),))
    pending: deque[Future] = deque()
    todo = iter(chunks)
    try:
        for c in todo:
            pending.append(pool.submit(_generate_chunk, gen, config, source, c, drop_static))
            if len(pending) >= 2 * workers:
                break
        while pending:
            result = pending.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(_generate_chunk, gen, config, source, nxt, drop_static))
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def merge_stores(
    parts: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    link: bool = True,
    overwrite: bool = False,
) -> Path:
    """Join stores into one: shards hard-linked (or copied) under new numbers, manifests streamed.

    Parts built by ``build_store(part=(i, n_parts))`` are ordered by index range and must tile
    ``range(n)`` exactly (no missing or repeated part); other stores keep the given order. Motion
    ids must be unique across parts. The train normalizer is recomputed by merging the parts'
    statistics (exact up to float rounding; splits depend only on ids). Offsets stay as they are.
    Hard links share the part's bytes: do not modify the parts' shards afterwards (they are never
    written in place by this library).
    """
    if not parts:
        raise ValueError("merge_stores needs at least one part")
    out = Path(out_dir)
    stores = [MotionStore(p, verify=False) for p in parts]
    builds = [s.info.get("build") or {} for s in stores]
    key = lambda b: json.dumps([b.get(k) for k in ("source", "n", "config", "generator")], sort_keys=True)
    partitioned = all("index_range" in b for b in builds) and len({key(b) for b in builds}) == 1
    merged_build: dict = {"merged_from": [str(Path(p).resolve()) for p in parts]}
    if partitioned:
        order = sorted(range(len(stores)), key=lambda j: builds[j]["index_range"][0])
        stores = [stores[j] for j in order]
        builds = [builds[j] for j in order]
        ranges = [tuple(b["index_range"]) for b in builds]
        n = builds[0]["n"]
        pos = 0
        for (a, b), s in zip(ranges, stores, strict=True):
            if a != pos:
                what = "overlaps" if a < pos else f"leaves a gap before index {a}: missing part"
                raise ValueError(f"{s.path}: index range {a}..{b} {what} (parts must tile 0..{n})")
            pos = b
        if pos != n:
            raise ValueError(f"parts cover 0..{pos} of {n} motions: missing part(s) after {stores[-1].path}")
        merged_build.update({k: v for k, v in builds[0].items() if k not in ("part", "index_range")})
        merged_build.update(part=[0, 1], index_range=[0, n])
    feats = {(s.info["feature"], s.info["dim"]) for s in stores}
    if len(feats) != 1:
        raise ValueError(f"parts hold different features: {sorted(feats)}")

    if overwrite or ((out / SHARD_DIR).exists() and not (out / STORE_JSON).exists()):
        _remove_store_dir(out)  # an interrupted merge restarts from scratch (links are cheap)
    if (out / STORE_JSON).exists():
        raise FileExistsError(f"{out / STORE_JSON} exists; pass overwrite=True (CLI --overwrite)")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    (out / SHARD_DIR).mkdir(parents=True, exist_ok=True)

    seen: dict[str, Path] = {}
    base = 0
    manifest = out / MANIFEST_FILE
    tmp = manifest.with_name(manifest.name + ".tmp")
    counts = {"motions": 0, "frames": 0, "splits": dict.fromkeys(SPLITS, 0), "split_frames": dict.fromkeys(SPLITS, 0)}
    fps_values: set[float] = set()
    with pq.ParquetWriter(tmp, MANIFEST_SCHEMA) as pw:
        for s in stores:
            for mid in s.ids:
                if mid in seen:
                    raise ValueError(f"motion id {mid!r} is in both {seen[mid]} and {s.path}")
                seen[mid] = s.path
            for k in range(s.n_shards):
                src = s.path / SHARD_DIR / _shard_name(k)
                dst = out / SHARD_DIR / _shard_name(base + k)
                if link:
                    try:
                        os.link(src, dst)
                        continue
                    except OSError:
                        pass
                shutil.copyfile(src, dst.with_name(dst.name + ".tmp"))
                os.replace(dst.with_name(dst.name + ".tmp"), dst)
            for batch in pq.ParquetFile(s.path / MANIFEST_FILE).iter_batches(batch_size=65536):
                t = pa.Table.from_batches([batch]).select(list(MANIFEST_COLUMNS))
                shard = pc.add(t.column("shard"), pa.scalar(base, pa.int32()))
                t = t.set_column(MANIFEST_COLUMNS.index("shard"), "shard", shard)
                pw.write_table(t.cast(MANIFEST_SCHEMA))
            for sp in SPLITS:
                counts["splits"][sp] += s.info["counts"]["splits"][sp]
                counts["split_frames"][sp] += s.info["counts"]["split_frames"][sp]
            counts["motions"] += len(s)
            counts["frames"] += s.info["counts"]["frames"]
            fps_values.update(s.info.get("fps_values") or [])
            base += s.n_shards
    digest = _file_sha256(tmp)
    os.replace(tmp, manifest)
    merge_normalizers(s.normalizer for s in stores).save(out / NORMALIZER_FILE)
    counts["shards"] = base
    info = _store_info(
        counts,
        fps_values,
        max(s.info.get("shard_frames", 0) for s in stores),
        stores[0].info.get("source") if len({s.info.get("source") for s in stores}) == 1 else "mixed",
        stores[0].info.get("split_rule"),
        merged_build,
    )
    info["manifest_sha256"] = digest
    write_json(out / STORE_JSON, info, default=_jsonable)
    _fsync_dir(out)
    return out
