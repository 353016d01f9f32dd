"""Motion tokenizers: token shapes, index round trips, save/load, bad input, tiny training runs, exact resume."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from motionbook_lib.data.store import MotionStore, build_store
from motionbook_lib.data.synthetic import SyntheticConfig
from motionbook_lib.features.d135 import d135_part_channels
from motionbook_lib.tokenizer import (
    PART_NAMES,
    QUANTIZERS,
    EpochBatchSampler,
    MotionTokenizer,
    TokenizerConfig,
    TrainConfig,
    codebook_usage,
    evaluate_tokenizer,
    part_layout,
    part_sensitivity,
    train_tokenizer,
)
from motionbook_lib.tokenizer.train import lr_factor

ROOT = Path(__file__).resolve().parents[1]


def tiny_config(quantizer: str, **kw) -> TokenizerConfig:
    base = dict(
        quantizer=quantizer,
        codebook_bits=6,
        width=24,
        depth=1,
        code_dim=16,
        num_quantizers=2,
        entropy_max_elements=1 << 10,
    )
    base.update(kw)
    return TokenizerConfig(**base)


TINY_TRAIN = TrainConfig(batch_size=8, window=16, lr=3e-3, log_every=1, ckpt_every=3, eval_batches=2, warmup_ratio=0.1)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> MotionStore:
    path = tmp_path_factory.mktemp("tok") / "store"
    build_store(path, 48, source="synthetic", config=SyntheticConfig(seed=11), workers=1, progress=False)
    return MotionStore(path)


def _batch(store: MotionStore, n: int = 3, frames: int = 16) -> torch.Tensor:
    """(n, frames, 135) raw D135 windows from the store."""
    return torch.stack([torch.from_numpy(store.features(i)[:frames].copy()) for i in range(n)])


# ----------------------------------------------------------------------------------------------
# layout, shapes, round trips


def test_part_layout_covers_every_channel_once() -> None:
    gather, scatter = part_layout()
    assert gather.shape == (6, 30) and PART_NAMES == ("root", "torso", "left_arm", "right_arm", "left_leg", "right_leg")
    parts = d135_part_channels()
    for p, name in enumerate(PART_NAMES):
        real = gather[p][gather[p] < 135].tolist()
        assert real == parts[name]
    flat = gather.flatten()
    assert torch.equal(flat[scatter], torch.arange(135))  # scatter inverts gather


def test_part_kernel_decides_whether_body_parts_mix() -> None:
    """Default 3-part-wide 2D kernels: every part's latent responds to every part's input, neighbours strongly.
    part_kernel=1: each part's latent responds to its own channels only."""
    torch.manual_seed(0)
    x = torch.randn(2, 32, 135)  # (B, T, 135) normalized
    mixed = MotionTokenizer(tiny_config("lfq2d", width=32, depth=1)).eval()
    s = part_sensitivity(mixed, x)  # (P, P): [input part, latent part]
    own = s.diag()
    assert (own > 0).all()
    assert (s > 0).all()  # the receptive field over parts spans all six
    for q in range(5):  # neighbours in part order move each other by a sizeable share of their own response
        assert s[q, q + 1] > 0.1 * own[q + 1] and s[q + 1, q] > 0.1 * own[q]
    apart = MotionTokenizer(tiny_config("lfq2d", width=32, depth=1, part_kernel=1)).eval()
    s1 = part_sensitivity(apart, x)
    off = s1 - torch.diag(s1.diag())
    assert (s1.diag() > 0).all() and off.abs().max() < 1e-6 * s1.diag().min()
    with pytest.raises(ValueError, match="part_kernel must be an odd positive integer"):
        TokenizerConfig(part_kernel=2)
    with pytest.raises(ValueError, match="needs an lfq2d tokenizer"):
        part_sensitivity(MotionTokenizer(tiny_config("vq")), x)


@pytest.mark.parametrize("quantizer", QUANTIZERS)
def test_token_shapes_and_decode(store: MotionStore, quantizer: str) -> None:
    cfg = tiny_config(quantizer)
    model = MotionTokenizer(cfg, store.normalizer)
    x = _batch(store, 3, 16)
    tokens = model.encode(x)
    tail = {"lfq2d": (6,), "rvq": (2,)}.get(quantizer, ())
    assert tokens.shape == (3, 16 // cfg.alpha, *tail) == (3, *cfg.token_shape(16))
    assert tokens.dtype == torch.long and int(tokens.min()) >= 0 and int(tokens.max()) < cfg.codebook_size
    assert model.decode(tokens).shape == (3, 16, 135)
    assert model.tokens_to_joints(tokens).shape == (3, 16, 22, 3)
    assert model.encode(x[0]).shape == tokens.shape[1:]  # unbatched in, unbatched out
    assert cfg.bits_per_step == cfg.tokens_per_step * cfg.codebook_bits


@pytest.mark.parametrize("quantizer", QUANTIZERS)
def test_index_round_trip(store: MotionStore, quantizer: str) -> None:
    torch.manual_seed(0)
    cfg = tiny_config(quantizer, kmeans_init=False)
    model = MotionTokenizer(cfg, store.normalizer).eval()
    shape = (2, *cfg.token_shape(16))
    tokens = torch.randint(0, cfg.codebook_size, shape)
    codes = model.quantizer.codes(tokens)  # latent of the tokens
    if quantizer == "rvq":  # a residual code is a sum; check each level maps its own code back
        for level, vq in enumerate(model.quantizer.vq.layers):
            code = vq.get_codes_from_indices(tokens[..., level])
            assert torch.equal(vq(code)[1], tokens[..., level])
    else:
        assert torch.equal(model.quantizer(codes).tokens, tokens)
    # the token path and the forward path decode the same latent
    x = store.normalizer.normalize(_batch(store, 2, 16)).float()
    with torch.no_grad():
        recon = model(x).recon
    assert torch.allclose(model.decode(model.encode(x, normalized=True), normalized=True), recon, atol=1e-5)


def test_lfq_token_is_the_sign_pattern() -> None:
    model = MotionTokenizer(tiny_config("lfq2d", codebook_bits=3)).eval()
    z = torch.tensor([1.0, -2.0, 0.5]).reshape(1, 3, 1, 1).expand(1, 3, 1, 6)  # (B, d, T', P)
    assert model.quantizer(z).tokens.flatten().tolist() == [0b101] * 6  # first channel = most significant bit


def test_codebook_usage() -> None:
    u = codebook_usage(torch.tensor([0, 0, 1, 1]), 4)
    assert u["utilization"] == 0.5 and abs(u["perplexity"] - 2.0) < 1e-9
    u = codebook_usage(torch.tensor([[0, 1], [1, 1]]), 4, levels=True)  # level 0 uses 2 codes, level 1 one
    assert u["utilization"] == pytest.approx(0.375) and u["perplexity"] == pytest.approx(1.5)


# ----------------------------------------------------------------------------------------------
# save / load and bad input


@pytest.mark.parametrize("quantizer", ["lfq2d", "vq"])
def test_save_load_equality(store: MotionStore, quantizer: str, tmp_path: Path) -> None:
    model = MotionTokenizer(tiny_config(quantizer), store.normalizer)
    x = store.normalizer.normalize(_batch(store, 4, 16)).float()
    model(x)  # training-mode forward: k-means init / EMA buffers change
    path = model.save_pretrained(tmp_path / "tok")
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors", "normalizer.safetensors"]
    loaded = MotionTokenizer.from_pretrained(path)
    assert loaded.config == model.config
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(loaded.normalizer.mean, store.normalizer.mean)
    raw = _batch(store, 2, 16)
    assert torch.equal(model.encode(raw), loaded.encode(raw))
    assert torch.allclose(model.decode(model.encode(raw)), loaded.decode(loaded.encode(raw)))
    model.save_pretrained(path)  # overwriting is fine


def test_bad_input_errors(store: MotionStore, tmp_path: Path) -> None:
    model = MotionTokenizer(tiny_config("lfq2d"), store.normalizer)
    with pytest.raises(ValueError, match=r"features must have shape.*135.*got \(2, 16, 134\)"):
        model.encode(torch.zeros(2, 16, 134))
    with pytest.raises(ValueError, match="multiple of alpha=4"):
        model.encode(torch.zeros(2, 18, 135))
    with pytest.raises(ValueError, match="NaN"):
        model.encode(torch.full((1, 16, 135), float("nan")))
    with pytest.raises(ValueError, match=r"tokens out of range.*\[0, 64\)"):
        model.decode(torch.full((1, 4, 6), 64))
    with pytest.raises(ValueError, match="tokens out of range"):
        model.decode(torch.full((1, 4, 6), -1))
    with pytest.raises(ValueError, match=r"tokens must have shape \(B, T', 6\)"):
        model.decode(torch.zeros(1, 4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        model.decode(torch.zeros(1, 4, 6))
    with pytest.raises(ValueError, match="no normalizer"):
        MotionTokenizer(tiny_config("vq")).encode(torch.zeros(1, 16, 135))
    with pytest.raises(ValueError, match="quantizer must be one of"):
        TokenizerConfig(quantizer="fsq")
    with pytest.raises(ValueError, match="alpha"):
        TokenizerConfig(alpha=3)

    # a checkpoint from another config
    other = MotionTokenizer(tiny_config("lfq2d", codebook_bits=5), store.normalizer).save_pretrained(tmp_path / "b5")
    mine = model.save_pretrained(tmp_path / "b6")
    shutil.copy(other / "model.safetensors", mine / "model.safetensors")
    with pytest.raises(ValueError, match=r"b6/model\.safetensors: weights come from another tokenizer config"):
        MotionTokenizer.from_pretrained(mine)
    with pytest.raises(ValueError, match="shape mismatch"):
        model.load_weights(other / "model.safetensors")
    vq_dir = MotionTokenizer(tiny_config("vq"), store.normalizer).save_pretrained(tmp_path / "vq")
    with pytest.raises(ValueError, match="missing .*unexpected"):
        model.load_weights(vq_dir / "model.safetensors")
    cfg = json.loads((mine / "config.json").read_text())
    cfg["config"]["n_heads"] = 8
    (mine / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"b6/config\.json: unknown field\(s\) n_heads"):
        MotionTokenizer.from_pretrained(mine)
    (mine / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        model.load_weights(mine / "model.safetensors")


# ----------------------------------------------------------------------------------------------
# training


def test_sampler_shards_and_schedule() -> None:
    shards = [list(EpochBatchSampler(20, 3, num_replicas=2, rank=r, seed=5)) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 3  # 20 // (3 * 2)
    for b0, b1 in zip(*shards, strict=True):
        assert len(b0) == len(b1) == 3 and not set(b0) & set(b1)
    s = EpochBatchSampler(20, 3, seed=5)
    s.set_position(epoch=1, start=2)
    full = EpochBatchSampler(20, 3, seed=5)
    full.set_position(epoch=1)
    assert list(s) == list(full)[2:]
    assert lr_factor(0, 100, 0.1, 0.1) == pytest.approx(0.1) and lr_factor(9, 100, 0.1, 0.1) == 1.0
    assert lr_factor(99, 100, 0.1, 0.1) == pytest.approx(0.1, abs=1e-3)


@pytest.mark.parametrize("quantizer", QUANTIZERS)
def test_tiny_training_beats_the_mean(store: MotionStore, quantizer: str, tmp_path: Path) -> None:
    result = train_tokenizer(tiny_config(quantizer), store, tmp_path / "run", 60, TINY_TRAIN, progress=False)
    assert result.step == 60 and len(result.losses) == 60
    model = MotionTokenizer.from_pretrained(result.model_dir)
    for split in ("val", "test"):  # held-out clips; 0 = predicting the per-channel mean scores mse_mean
        m = evaluate_tokenizer(model, store, split, window=16)
        assert m["mse"] < 1.0 and m["mse"] < m["mse_mean"], (split, m)
        # utilization is a count of codes over the codebook; perplexity never exceeds the codes in use, and a
        # trained tokenizer spreads its tokens over more than one code
        cfg = model.config
        used = m["utilization"] * cfg.codebook_size
        assert 1.5 < m["perplexity"] <= used + 1e-9, (split, m)
        if quantizer != "rvq":  # rvq averages its levels' counts
            assert used == pytest.approx(round(used)), (split, m)
    names = {json.loads(line)["name"] for line in (result.out_dir / "metrics.jsonl").read_text().splitlines()}
    assert {
        "train/loss",
        "train/recon",
        "train/joints",
        "train/velocity",
        "train/commit",
        "train/entropy",
        "train/mpjpe_mm",
        "train/utilization",
        "train/perplexity",
        "train/lr",
        "val/mpjpe_mm",
    } <= names


class _Crash(Exception):
    pass


@pytest.mark.parametrize("quantizer", ["lfq2d", "vq"])
def test_resume_continues_the_same_loss_curve(store: MotionStore, quantizer: str, tmp_path: Path) -> None:
    cfg = tiny_config(quantizer)  # lfq2d samples tokens for its entropy term, vq resets dead codes: both use RNG
    steps = 10
    full = train_tokenizer(cfg, store, tmp_path / "full", steps, TINY_TRAIN, progress=False)

    def crash_at_8(step: int, terms: dict) -> None:
        if step == 8:
            raise _Crash

    with pytest.raises(_Crash):  # dies after step 8; the newest checkpoint is step 6 (mid-epoch)
        train_tokenizer(cfg, store, tmp_path / "cut", steps, TINY_TRAIN, progress=False, callback=crash_at_8)
    torch.manual_seed(1234)  # whatever the process did meanwhile must not matter
    resumed = train_tokenizer(cfg, store, tmp_path / "cut", steps, TINY_TRAIN, progress=False)
    assert resumed.resumed_from == 6 and sorted(resumed.losses) == [7, 8, 9, 10]
    assert [resumed.losses[s] for s in range(7, 11)] == [full.losses[s] for s in range(7, 11)]

    def curve(run: Path) -> list[tuple[int, float]]:
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        return [(r["step"], r["value"]) for r in rows if r["name"] == "train/loss"]

    assert curve(tmp_path / "cut") == curve(tmp_path / "full") and len(curve(tmp_path / "full")) == steps
    a, b = load_file(str(full.model_dir / "model.safetensors")), load_file(str(resumed.model_dir / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)

    with pytest.raises(ValueError, match=r"trainer_state\.json: checkpoint was made with other settings.*lr"):
        train_tokenizer(
            cfg, store, tmp_path / "cut", steps, TrainConfig(**{**TINY_TRAIN.to_dict(), "lr": 1e-2}), progress=False
        )


def test_cli_train_and_eval(store: MotionStore, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    cmd = [
        sys.executable,
        "-m",
        "motionbook_lib.tokenizer",
        "train",
        "--store",
        str(store.path),
        "--out",
        str(out),
        "--steps",
        "3",
        "--quantizer",
        "lfq",
        "--codebook-bits",
        "5",
        "--width",
        "16",
        "--depth",
        "1",
        "--batch-size",
        "8",
        "--window",
        "16",
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["step"] == 3
    assert MotionTokenizer.from_pretrained(out / "final").config.codebook_bits == 5
    # tensorboard is a dependency: accelerate's tracker writes event files next to metrics.jsonl
    assert list(out.rglob("events.out.tfevents*")), sorted(p.name for p in out.rglob("*"))
    bad = subprocess.run(cmd + ["--alpha", "3"], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode == 2 and "alpha must be a power of 2" in bad.stderr
