"""Failure modes of M0 and the tokenizer trainer found by a fault probe (issue 24): each one is refused with an
error naming the thing at fault, or behaves as documented."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from motionbook_lib.data.store import MotionStore, build_store
from motionbook_lib.data.synthetic import SyntheticConfig
from motionbook_lib.lm import M0Config, M0Pipeline, M0TrainConfig, train_m0
from motionbook_lib.lm.dataset import encode_example
from motionbook_lib.lm.templates import build_example, templates_for
from motionbook_lib.lm.text_tokenizer import load_text_tokenizer
from motionbook_lib.lm.train import longest_example, make_example, tokenize_corpus
from motionbook_lib.lm.vocab import MotionVocab
from motionbook_lib.tokenizer import MotionTokenizer, TokenizerConfig, TrainConfig, train_tokenizer
from motionbook_lib.tokenizer.identity import tokenizer_identity

pytestmark = pytest.mark.usefixtures("one_thread")

TOK_CONFIG = TokenizerConfig(quantizer="lfq2d", codebook_bits=4, width=16, depth=1, code_dim=8)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny store and two untrained tokenizers of the same shape (same codebook size, other weights)."""
    root = tmp_path_factory.mktemp("m0faults")
    store = MotionStore(build_store(root / "store", 24, source="synthetic", config=SyntheticConfig(seed=0),
                                    workers=1, progress=False))  # fmt: skip
    for name, seed in (("tok_a", 0), ("tok_b", 1)):
        torch.manual_seed(seed)
        MotionTokenizer(TOK_CONFIG, store.normalizer).save_pretrained(root / name)
    return store, root / "tok_a", root / "tok_b"


def _config(**kw) -> M0TrainConfig:
    base = dict(stage=2, batch_size=4, lr=2e-3, max_frames=48, ckpt_every=1, log_every=1, text_vocab_size=400,
                cpu_threads=1, model=M0Config(size="tiny", max_positions=1024))  # fmt: skip
    return M0TrainConfig(**{**base, **kw})


def _stop_at(at: int):
    def callback(step: int, loss: float) -> None:
        if step == at:
            raise KeyboardInterrupt("simulated kill")

    return callback


# ---------------------------------------------------------------------------------------------- tokenizer identity


def test_identity_survives_a_round_trip_and_changes_with_any_weight(setup, tmp_path):
    store, tok_a, tok_b = setup
    a, b = MotionTokenizer.from_pretrained(tok_a), MotionTokenizer.from_pretrained(tok_b)
    assert tokenizer_identity(a).startswith("sha256:")
    a.save_pretrained(tmp_path / "again")
    assert tokenizer_identity(MotionTokenizer.from_pretrained(tmp_path / "again")) == tokenizer_identity(a)
    assert tokenizer_identity(a) != tokenizer_identity(b)
    with torch.no_grad():
        next(a.parameters()).view(-1)[0] += 1e-3
    assert tokenizer_identity(a) != tokenizer_identity(MotionTokenizer.from_pretrained(tok_a))
    c = MotionTokenizer.from_pretrained(tok_a)
    c.feat_std.mul_(2)  # same weights, another normalizer: other codes
    assert tokenizer_identity(c) != tokenizer_identity(MotionTokenizer.from_pretrained(tok_a))


def test_resume_with_another_tokenizer_is_refused_everywhere(setup, tmp_path):
    store, tok_a, tok_b = setup
    id_a = tokenizer_identity(MotionTokenizer.from_pretrained(tok_a))
    id_b = tokenizer_identity(MotionTokenizer.from_pretrained(tok_b))
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train_m0(_config(), store, tok_a, run, steps=3, progress=False, callback=_stop_at(2))
    # 1. the corpus cache holds tok_a's codes
    with pytest.raises(ValueError, match=rf"train\.safetensors.*{id_a}.*{id_b}"):
        train_m0(_config(), store, tok_b, run, steps=3, progress=False)
    # 2. the checkpoint was trained on tok_a's codes (even once the cache is gone and made again with tok_b)
    (run / "corpus" / "train.safetensors").unlink()
    with pytest.raises(ValueError, match=rf"trainer_state\.json.*{id_a}.*{id_b}"):
        train_m0(_config(), store, tok_b, run, steps=3, progress=False)
    assert not (run / "final").exists()
    # the right tokenizer still resumes (the cache made with tok_b is refused, not silently used)
    with pytest.raises(ValueError, match=rf"train\.safetensors.*{id_b}.*{id_a}"):
        train_m0(_config(), store, tok_a, run, steps=3, progress=False)
    (run / "corpus" / "train.safetensors").unlink()
    done = train_m0(_config(), store, tok_a, run, steps=3, progress=False)
    assert done.resumed_from == 2
    # 3. the pipeline folder records the identity and checks it on load
    info = json.loads((done.model_dir / "m0_pipeline.json").read_text())
    assert info["motion_tokenizer_identity"] == id_a
    shutil.rmtree(done.model_dir / "motion_tokenizer")
    shutil.copytree(tok_b, done.model_dir / "motion_tokenizer")
    with pytest.raises(ValueError, match=rf"m0_pipeline\.json.*{id_a}.*motion_tokenizer is motion tokenizer {id_b}"):
        M0Pipeline.from_pretrained(done.model_dir)
    # 4. stage 2 from a stage-1 model of another tokenizer
    with pytest.raises(ValueError, match=rf"init_from.*{id_a}.*{id_b}"):
        train_m0(_config(init_from=str(done.model_dir)), store, tok_b, tmp_path / "s2", steps=1, progress=False)


def test_corpus_cache_of_other_settings_is_refused_and_a_legacy_one_remade(setup, tmp_path):
    store, tok_a, _ = setup
    mtok = MotionTokenizer.from_pretrained(tok_a)
    cache = tmp_path / "corpus.safetensors"
    first = tokenize_corpus(store, mtok, "train", 48, cache)
    with pytest.raises(ValueError, match=r"corpus\.safetensors: field 'max_frames' is '48', this run has '96'"):
        tokenize_corpus(store, mtok, "train", 96, cache)
    from safetensors.torch import load_file, save_file

    save_file(load_file(str(cache)), str(cache))  # a cache written before identities: no metadata
    again = tokenize_corpus(store, mtok, "train", 48, cache)
    assert np.array_equal(first.codes, again.codes)
    from safetensors import safe_open

    with safe_open(str(cache), framework="pt") as f:
        assert f.metadata()["motion_tokenizer_identity"] == tokenizer_identity(mtok)


def test_checkpoint_without_identity_is_refused(setup, tmp_path):
    store, tok_a, _ = setup
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train_m0(_config(), store, tok_a, run, steps=3, progress=False, callback=_stop_at(1))
    state_file = next((run / "checkpoints").glob("step-*")) / "trainer_state.json"
    state = json.loads(state_file.read_text())
    del state["motion_tokenizer_identity"]
    state_file.write_text(json.dumps(state))
    with pytest.raises(ValueError, match=r"trainer_state\.json: this checkpoint does not record its motion tokenizer"):
        train_m0(_config(), store, tok_a, run, steps=3, progress=False)


# ---------------------------------------------------------------------------------------------- max_length


def test_longest_example_bounds_every_example(setup, tmp_path):
    """The start-up bound is never exceeded by an example the trainer makes (3 epochs of every motion)."""
    store, tok_a, _ = setup
    train_m0(_config(max_frames=196), store, tok_a, tmp_path / "run", steps=1, progress=False)
    mtok = MotionTokenizer.from_pretrained(tok_a)
    corpus = tokenize_corpus(store, mtok, "train", 196)
    tok = load_text_tokenizer(tmp_path / "run" / "text_tokenizer")
    vocab = MotionVocab(mtok.config.codebook_size, mtok.config.tokens_per_step)
    for stage in (1, 2):
        need, what = longest_example(corpus, store, vocab, tok, stage, 0.2)
        assert "template" in what
        sizes = [len(encode_example(tok, *make_example(corpus, store, vocab, i, stage, 0, epoch, 0.2),
                                    max_length=need)["input_ids"])  # raises if the bound were exceeded
                 for epoch in range(5) for i in range(len(corpus))]  # fmt: skip
        for i in range(len(corpus)):  # and every template with every caption of every motion
            codes, row = corpus.motion_codes(i), int(corpus.index[i])
            parts = store.part_captions(row)
            for template in templates_for(stage=stage):
                if (template.task in ("continuation", "inbetween") and len(codes) < 3) or (
                    template.task == "part_t2m" and not parts
                ):
                    continue
                for caption in store.captions(row) or [""]:
                    example = build_example(template, codes, vocab, caption, parts, len(codes) * 0.2,
                                            np.random.default_rng(i))  # fmt: skip
                    sizes.append(len(encode_example(tok, *example, max_length=need)["input_ids"]))
        assert max(sizes) <= need


def test_max_length_too_short_is_refused_at_start_and_none_derives_it(setup, tmp_path):
    store, tok_a, _ = setup
    assert M0TrainConfig().max_length is None  # the default derives it: the defaults never crash mid-run
    steps_run: list[int] = []
    with pytest.raises(ValueError, match=r"max_length=64 is too short for max_frames=196: .*of (\d+) tokens") as err:
        train_m0(_config(max_frames=196, max_length=64), store, tok_a, tmp_path / "short", steps=2, progress=False,
                 callback=lambda s, loss: steps_run.append(s))  # fmt: skip
    need = int(str(err.value).split(" tokens;")[0].rsplit(" ", 1)[1])
    assert need > 64 and steps_run == []  # refused before the first step
    assert not (tmp_path / "short" / "checkpoints").exists()
    # max_length only caps examples: a run resumes with another one
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train_m0(_config(max_frames=196, max_length=need), store, tok_a, run, steps=3, progress=False,
                 callback=_stop_at(1))  # fmt: skip
    resumed = train_m0(_config(max_frames=196, max_length=need + 200), store, tok_a, run, steps=3, progress=False)
    assert resumed.resumed_from == 1 and resumed.step == 3
    derived = train_m0(_config(max_frames=196), store, tok_a, tmp_path / "derived", steps=2, progress=False)
    assert derived.step == 2


def test_example_longer_than_the_model_context_is_refused_at_start(setup, tmp_path):
    store, tok_a, _ = setup
    cfg = _config(max_frames=196, model=M0Config(size="tiny", max_positions=128))
    with pytest.raises(ValueError, match=r"max_frames=196: .* tokens, more than the model's context of 128 positions"):
        train_m0(cfg, store, tok_a, tmp_path / "run", steps=2, progress=False)


# ---------------------------------------------------------------------------------------------- generate_motion


@pytest.fixture(scope="module")
def pipeline(setup, tmp_path_factory):
    store, tok_a, _ = setup
    result = train_m0(_config(), store, tok_a, tmp_path_factory.mktemp("pipe") / "run", steps=2, progress=False)
    return M0Pipeline.from_pretrained(result.model_dir)


@pytest.mark.parametrize("seconds", [0, -1, -0.5, math.nan, math.inf])
def test_generate_motion_refuses_non_positive_seconds(pipeline, seconds):
    with pytest.raises(ValueError, match=r"seconds must be a positive, finite number of seconds"):
        pipeline.generate_motion("a person walks", seconds=seconds, seed=0)


@pytest.mark.parametrize("seconds", ["4", True, [4]])
def test_generate_motion_refuses_seconds_of_another_type(pipeline, seconds):
    with pytest.raises(TypeError, match=r"seconds must be a number of seconds or None, got"):
        pipeline.generate_motion("a person walks", seconds=seconds, seed=0)


def test_generate_motion_refuses_missing_or_empty_text(pipeline):
    with pytest.raises(TypeError, match=r"text must be a string describing the motion, got NoneType"):
        pipeline.generate_motion(None, seconds=0.8, seed=0)
    for text in ("", "   "):
        with pytest.raises(ValueError, match=r"text is empty"):
            pipeline.generate_motion(text, seconds=0.8, seed=0)
    out = pipeline.generate_motion("a person walks", seconds=np.float32(0.8), seed=0)  # numpy numbers are fine
    assert out["codes"].shape == (4, 6)
    assert pipeline.generate_motion("a person walks", seconds=0.05, seed=0)["codes"].shape == (1, 6)  # >= 1 step


# ---------------------------------------------------------------------------------------------- tokenizer metrics


def test_rerunning_a_finished_tokenizer_run_adds_no_metric_lines(setup, tmp_path):
    store, _, _ = setup
    train = TrainConfig(batch_size=4, window=32, eval_batches=1, ckpt_every=2, log_every=1, cpu_threads=1)
    first = train_tokenizer(TOK_CONFIG, store, tmp_path / "tok", 2, train, progress=False)
    lines = (tmp_path / "tok" / "metrics.jsonl").read_text().splitlines()
    finals = [json.loads(ln) for ln in lines if json.loads(ln)["name"].startswith("val/")]
    assert finals and all(r["step"] == 2 for r in finals)
    again = train_tokenizer(TOK_CONFIG, store, tmp_path / "tok", 2, train, progress=False)
    assert again.resumed_from == 2
    after = (tmp_path / "tok" / "metrics.jsonl").read_text().splitlines()
    names = [(json.loads(ln)["name"], json.loads(ln)["step"]) for ln in after]
    assert len(names) == len(set(names)) == len(lines), [n for n in names if names.count(n) > 1]
    assert again.metrics == pytest.approx(first.metrics, nan_ok=True)  # no sideways frames: NaN sign agreement


def test_identity_ignores_training_only_config_fields(setup):
    """A loss weight (or a config field added later with its default) does not change which codes a tokenizer
    makes, so it must not change the identity M0 checks: old M0 folders keep loading."""
    _, tok_a, _ = setup
    a, b = MotionTokenizer.from_pretrained(tok_a), MotionTokenizer.from_pretrained(tok_a)
    b.config.w_recon, b.config.w_entropy, b.config.diversity_gamma = 3.0, 0.0, 0.5
    assert tokenizer_identity(a) == tokenizer_identity(b)
    b.config.codebook_bits += 1  # structure: another codebook
    assert tokenizer_identity(a) != tokenizer_identity(b)
