"""M0 training end to end on a tiny store: two stages, exact resume, the pipeline's text <-> motion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionbook_lib.data.store import MotionStore, build_store
from motionbook_lib.data.synthetic import SyntheticConfig
from motionbook_lib.lm import M0Config, M0Pipeline, M0TrainConfig, train_m0
from motionbook_lib.tokenizer import MotionTokenizer, TokenizerConfig


@pytest.fixture(scope="module")
def store_and_tokenizer(tmp_path_factory):
    root = tmp_path_factory.mktemp("m0")
    store = MotionStore(build_store(root / "store", 24, source="synthetic", config=SyntheticConfig(seed=0),
                                    workers=1, progress=False))  # fmt: skip
    torch.manual_seed(0)
    tok = MotionTokenizer(TokenizerConfig(quantizer="lfq2d", codebook_bits=4, width=16, depth=1, code_dim=8),
                          store.normalizer)  # fmt: skip
    tok.save_pretrained(root / "tokenizer")  # untrained: the LM only needs consistent codes
    return store, root / "tokenizer"


def _config(stage: int, **kw) -> M0TrainConfig:
    base = dict(batch_size=4, lr=2e-3, max_frames=48, ckpt_every=3, log_every=1, text_vocab_size=400, cpu_threads=1,
                model=M0Config(size="tiny", max_positions=1024))  # fmt: skip
    return M0TrainConfig(stage=stage, **{**base, **kw})


def test_two_stages_and_pipeline(store_and_tokenizer, tmp_path):
    store, tok_dir = store_and_tokenizer
    r1 = train_m0(_config(1), store, tok_dir, tmp_path / "stage1", steps=6, progress=False)
    assert r1.step == 6 and len(r1.losses) == 6 and all(np.isfinite(list(r1.losses.values())))
    assert r1.losses[6] < r1.losses[1], r1.losses
    r2 = train_m0(_config(2, init_from=str(r1.model_dir)), store, tok_dir, tmp_path / "stage2", steps=4, progress=False)
    assert r2.step == 4
    pipe = M0Pipeline.from_pretrained(r2.model_dir)
    out = pipe.generate_motion("a person walks forward", seconds=1.6, seed=0)
    assert out["codes"].shape == (8, 6)  # 1.6 s at 20 fps = 32 frames = 8 steps of 4 frames, 6 parts
    assert tuple(out["features"].shape) == (32, 135) and tuple(out["joints"].shape) == (32, 22, 3)
    text = pipe.describe_motion(store.features(0))
    assert isinstance(text, str) and "<motion_id" not in text
    with pytest.raises(ValueError, match="features must have shape"):
        pipe.describe_motion(np.zeros((2, 135), np.float32))


def test_killed_run_resumes_on_the_same_loss_curve(store_and_tokenizer, tmp_path):
    store, tok_dir = store_and_tokenizer
    full = train_m0(_config(2), store, tok_dir, tmp_path / "full", steps=8, progress=False)

    def crash(step: int, loss: float) -> None:
        if step == 5:
            raise KeyboardInterrupt("simulated kill")

    with pytest.raises(KeyboardInterrupt):
        train_m0(_config(2), store, tok_dir, tmp_path / "killed", steps=8, progress=False, callback=crash)
    resumed = train_m0(_config(2), store, tok_dir, tmp_path / "killed", steps=8, progress=False)
    assert resumed.resumed_from == 3  # the last checkpoint before the kill
    for s in range(4, 9):
        assert resumed.losses[s] == pytest.approx(full.losses[s], rel=1e-5, abs=1e-6), s
    a = M0Pipeline.from_pretrained(full.model_dir).model.state_dict()
    b = M0Pipeline.from_pretrained(resumed.model_dir).model.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_resume_with_other_settings_is_refused(store_and_tokenizer, tmp_path):
    store, tok_dir = store_and_tokenizer
    train_m0(_config(2), store, tok_dir, tmp_path / "run", steps=3, progress=False)
    with pytest.raises(ValueError, match="train_config"):
        train_m0(_config(2, lr=1e-3), store, tok_dir, tmp_path / "run", steps=3, progress=False)


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(store_and_tokenizer, tmp_path):
    """torchrun with 2 CPU processes (gloo) at the same global batch as 1 process: same data, same curve."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    store, tok_dir = store_and_tokenizer
    script = Path(__file__).with_name("_ddp_m0.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = [sys.executable, str(script), str(store.path), str(tok_dir), str(tmp_path / "one"), "4"]
    two = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           str(script), str(store.path), str(tok_dir), str(tmp_path / "two"), "2"]  # fmt: skip
    for cmd in (one, two):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    single = json.loads((tmp_path / "one" / "rank0.json").read_text())
    ranks = [json.loads((tmp_path / "two" / f"rank{r}.json").read_text()) for r in (0, 1)]
    # every rank saw the same reduced loss, and the losses follow the single-process curve
    assert ranks[0]["losses"] == ranks[1]["losses"]
    for step, loss in single["losses"].items():
        assert ranks[0]["losses"][step] == pytest.approx(loss, rel=2e-2), step
    # DDP keeps the replicas identical: both ranks end with the same weights
    assert ranks[0]["digest"] and ranks[0]["digest"] == ranks[1]["digest"]


def test_lora_trains_adapters_only_resumes_and_merges(store_and_tokenizer, tmp_path):
    store, tok_dir = store_and_tokenizer
    cfg = _config(2, lora_r=4, lr=5e-3)
    full = train_m0(cfg, store, tok_dir, tmp_path / "full", steps=6, progress=False)
    assert full.losses[6] < full.losses[1]

    def crash(step: int, loss: float) -> None:
        if step == 4:
            raise KeyboardInterrupt("simulated kill")

    with pytest.raises(KeyboardInterrupt):
        train_m0(cfg, store, tok_dir, tmp_path / "killed", steps=6, progress=False, callback=crash)
    resumed = train_m0(cfg, store, tok_dir, tmp_path / "killed", steps=6, progress=False)
    assert resumed.resumed_from == 3
    for s in (4, 5, 6):
        assert resumed.losses[s] == pytest.approx(full.losses[s], rel=1e-5, abs=1e-6), s
    assert resumed.weights_digest == full.weights_digest
    # the final folder holds a plain model with the adapters merged in
    pipe = M0Pipeline.from_pretrained(full.model_dir)
    assert "lora" not in " ".join(pipe.model.state_dict())
    assert pipe.generate_motion("a person walks", seconds=0.8, seed=0)["codes"].shape == (4, 6)


def test_starts_from_a_local_pretrained_folder(store_and_tokenizer, tmp_path):
    """size='pretrained': a local HF checkpoint + its tokenizer, extended with the motion vocabulary."""
    from motionbook_lib.lm import build_m0, train_text_tokenizer

    store, tok_dir = store_and_tokenizer
    text_tok = train_text_tokenizer(["a person walks forward", "someone jumps"] * 30, vocab_size=300)
    # this byte-level tokenizer knows few caption words: the longest example takes over 1024 tokens
    base = build_m0(M0Config(size="tiny", max_positions=2048), text_tok)
    base.save_pretrained(tmp_path / "base")
    text_tok.save_pretrained(tmp_path / "base")
    n_text = len(text_tok)
    cfg = _config(2, max_length=2048, model=M0Config(size="pretrained", pretrained_path=str(tmp_path / "base")))
    result = train_m0(cfg, store, tok_dir, tmp_path / "run", steps=2, progress=False)
    pipe = M0Pipeline.from_pretrained(result.model_dir)
    assert len(pipe.tokenizer) == n_text + 2 + 16  # <mot>, </mot> and 2^4 motion codes
    assert pipe.model.get_input_embeddings().weight.shape[0] == len(pipe.tokenizer)
    with pytest.raises(FileNotFoundError, match="config.json"):
        build_m0(M0Config(size="pretrained", pretrained_path=str(tmp_path / "nothing")), text_tok)
