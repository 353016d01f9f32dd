"""What each M0 stage trains on and what LoRA may change: stage 1 samples only the alignment templates,
stage 2 only instruction templates, and LoRA leaves every base weight as it was except by a low-rank delta."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import motionbook_lib.lm.train as lm_train
from motionbook_lib.data.store import MotionStore, build_store
from motionbook_lib.data.synthetic import SyntheticConfig
from motionbook_lib.lm import M0Config, M0TrainConfig, MotionVocab, train_m0
from motionbook_lib.lm.templates import TASKS, TEMPLATES
from motionbook_lib.lm.text_tokenizer import motion_token_ids
from motionbook_lib.lm.train import MotionCorpus, make_example
from motionbook_lib.tokenizer import MotionTokenizer, TokenizerConfig

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def store_and_tokenizer(tmp_path_factory):
    root = tmp_path_factory.mktemp("m0-stages")
    store = MotionStore(build_store(root / "store", 24, source="synthetic", config=SyntheticConfig(seed=0),
                                    workers=1, progress=False))  # fmt: skip
    torch.manual_seed(0)
    tok = MotionTokenizer(TokenizerConfig(quantizer="lfq2d", codebook_bits=4, width=16, depth=1), store.normalizer)
    tok.save_pretrained(root / "tokenizer")
    return store, root / "tokenizer"


def _record_examples(monkeypatch) -> list[tuple]:
    """(template, caption) of every example make_example builds from now on in this test."""
    seen: list[tuple] = []
    real = lm_train.build_example

    def spy(template, codes, vocab, caption, *args, **kwargs):
        seen.append((template, caption))
        return real(template, codes, vocab, caption, *args, **kwargs)

    monkeypatch.setattr(lm_train, "build_example", spy)
    return seen


def _zero_corpus(store: MotionStore, steps: int) -> MotionCorpus:
    """Every training motion of ``store`` as ``steps`` token steps of code 0 (6 parts)."""
    rows = store.split("train")
    offsets = np.arange(len(rows) + 1) * steps
    return MotionCorpus(np.zeros((int(offsets[-1]), 6), dtype=np.int64), offsets, rows)


def _sampled_templates(store: MotionStore, stage: int, monkeypatch) -> list[str]:
    """Template names that make_example picks for every training motion over 30 epochs."""
    seen = _record_examples(monkeypatch)
    rows = store.split("train")
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 8, size=len(rows))  # token steps per motion, some too short for continuation
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    corpus = MotionCorpus(rng.integers(0, 16, size=(int(offsets[-1]), 6)), offsets, rows)
    vocab = MotionVocab(16, 6)
    for epoch in range(30):
        for i in range(len(corpus)):
            make_example(corpus, store, vocab, i, stage, seed=0, epoch=epoch, seconds_per_step=0.2)
    return [t.name for t, _ in seen]


def test_stage_one_samples_only_alignment_templates(store_and_tokenizer, monkeypatch):
    store, _ = store_and_tokenizer
    seen = _sampled_templates(store, 1, monkeypatch)
    assert set(seen) == {t.name for t in TEMPLATES if t.stage == 1} == {"align_t2m", "align_m2t"}


def test_stage_two_samples_only_instruction_templates_of_every_task(store_and_tokenizer, monkeypatch):
    store, _ = store_and_tokenizer
    seen = _sampled_templates(store, 2, monkeypatch)
    by_name = {t.name: t for t in TEMPLATES}
    assert {by_name[n].stage for n in seen} == {2}
    assert {by_name[n].task for n in seen} == set(TASKS)
    stage2 = [t.name for t in TEMPLATES if t.stage == 2]
    assert len(stage2) == 52 and len(set(seen)) > 0.8 * len(stage2)  # the library is sampled broadly


def _config(stage: int, **kw) -> M0TrainConfig:
    base = dict(batch_size=4, lr=2e-3, max_frames=48, ckpt_every=0, log_every=1, text_vocab_size=400, cpu_threads=1,
                model=M0Config(size="tiny", max_positions=1024))  # fmt: skip
    return M0TrainConfig(stage=stage, **{**base, **kw})


def test_lora_changes_base_weights_only_by_low_rank_deltas(store_and_tokenizer, tmp_path):
    store, tok_dir = store_and_tokenizer
    base = train_m0(_config(1), store, tok_dir, tmp_path / "stage1", steps=2, progress=False)
    r = 4
    lora = train_m0(_config(2, lora_r=r, lr=5e-3, init_from=str(base.model_dir)), store, tok_dir,
                    tmp_path / "lora", steps=4, progress=False)  # fmt: skip
    before = AutoModelForCausalLM.from_pretrained(base.model_dir, local_files_only=True).state_dict()
    after = AutoModelForCausalLM.from_pretrained(lora.model_dir, local_files_only=True).state_dict()
    assert set(before) == set(after)
    tok = AutoTokenizer.from_pretrained(lora.model_dir)
    mot, end, ids = motion_token_ids(tok, MotionVocab(16, 6))
    motion_rows = torch.tensor(sorted({mot, end, *ids}))
    changed_targets = 0
    for name, w0 in before.items():
        w1 = after[name]
        if name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")):  # LoRA targets: low-rank updates
            delta = (w1 - w0).double()
            if delta.abs().max() > 0:
                changed_targets += 1
                assert torch.linalg.matrix_rank(delta, atol=1e-6 * float(w0.abs().max())) <= r, name
        elif name.endswith(("wte.weight", "lm_head.weight")):  # only the motion-token rows train (head tied to wte)
            rows_changed = torch.nonzero((w1 - w0).abs().amax(1) > 0).flatten()
            assert len(rows_changed) > 0 and set(rows_changed.tolist()) <= set(motion_rows.tolist()), name
        else:  # layer norms, biases, position embeddings: frozen
            assert torch.equal(w0, w1), name
    assert changed_targets > 0


def test_derangement_has_no_fixed_point() -> None:
    from motionbook_lib.lm.evaluate import _derangement

    for n in (2, 3, 7, 50):
        for seed in range(5):
            perm = _derangement(n, seed)
            assert sorted(perm.tolist()) == list(range(n)) and not (perm == np.arange(n)).any()


def test_conditioning_gap_is_positive_once_a_model_reads_its_captions(store_and_tokenizer, tmp_path):
    """Stage 1 trained hard on 19 training motions: a motion's own caption predicts its codes better than another
    motion's caption, by about the information that tells 19 motions apart. The untrained model shows no gap."""
    from motionbook_lib.lm.evaluate import conditioning_gap

    store, tok_dir = store_and_tokenizer
    untrained = train_m0(_config(1), store, tok_dir, tmp_path / "s0", steps=1, progress=False)
    trained = train_m0(_config(1, lr=3e-3), store, tok_dir, tmp_path / "s1", steps=120, progress=False)
    before = conditioning_gap(untrained.model_dir, store, "train", max_frames=48)
    after = conditioning_gap(trained.model_dir, store, "train", max_frames=48)
    assert after["examples"] == before["examples"] == len(store.split("train"))
    assert after["gap"] == pytest.approx(after["motion_loss_other"] - after["motion_loss_own"])
    tokens_per_motion = after["motion_tokens"] / after["examples"]
    assert after["gap_per_motion"] == pytest.approx(after["gap"] * tokens_per_motion)
    # untrained: no information from the caption; trained: about a nat or more per motion (20 motions: log 20 = 3
    # nats identify one), concentrated on the first token step
    assert abs(before["gap_per_motion"]) < 0.3, before
    assert after["gap_per_motion"] > 1.0, after  # measured 3.1 (log 19 = 2.9 nats tell 19 motions apart)
    assert after["gap_per_motion_ci95"] > 0 and after["gap_first_step_ci95"] > 0


def test_caption_dropout_empties_only_text_to_motion_captions(store_and_tokenizer, monkeypatch):
    store, _ = store_and_tokenizer
    seen = _record_examples(monkeypatch)
    corpus = _zero_corpus(store, steps=4)
    vocab = MotionVocab(16, 6)
    for stage in (1, 2):
        for epoch in range(40):
            for i in range(len(corpus)):
                make_example(corpus, store, vocab, i, stage, 0, epoch, 0.2, caption_dropout=0.3)
    captions = [(t.task, c) for t, c in seen]
    t2m = [c for task, c in captions if task == "t2m"]
    empty = sum(c == "" for c in t2m) / len(t2m)
    assert 0.25 < empty < 0.35, empty
    assert all(c for task, c in captions if task != "t2m")  # captions of the other tasks are never dropped
    # no dropout: the very examples of a run without the option
    a = make_example(corpus, store, vocab, 3, 2, 0, 5, 0.2)
    b = make_example(corpus, store, vocab, 3, 2, 0, 5, 0.2, caption_dropout=0.0)
    assert a == b
    with pytest.raises(ValueError, match="caption_dropout"):
        M0TrainConfig(caption_dropout=1.0)


def test_guidance_scale_one_is_plain_sampling_and_guidance_changes_the_motion(store_and_tokenizer, tmp_path):
    store, tok_dir = store_and_tokenizer
    r = train_m0(_config(1, caption_dropout=0.3), store, tok_dir, tmp_path / "cfg", steps=20, progress=False)
    from motionbook_lib.lm import M0Pipeline

    pipe = M0Pipeline.from_pretrained(r.model_dir)
    assert pipe.stage == 1
    plain = pipe.generate_motion("a person walks forward", seconds=2.0, seed=3)["codes"]
    same = pipe.generate_motion("a person walks forward", seconds=2.0, seed=3, guidance_scale=1.0)["codes"]
    guided = pipe.generate_motion("a person walks forward", seconds=2.0, seed=3, guidance_scale=4.0)
    assert np.array_equal(plain, same)
    assert guided["codes"].shape == plain.shape == (10, 6) and not np.array_equal(guided["codes"], plain)
    assert tuple(guided["joints"].shape) == (40, 22, 3)
    from motionbook_lib.lm.modeling_m0 import generate_codes

    with pytest.raises(ValueError, match="unconditional_prompt"):
        generate_codes(pipe.model, pipe.tokenizer, pipe.vocab, "a person walks ", 2, 2, guidance_scale=2.0)


def test_part_continuation_and_inbetween_generation(store_and_tokenizer, tmp_path):
    store, tok_dir = store_and_tokenizer
    s1 = train_m0(_config(1), store, tok_dir, tmp_path / "s1", steps=2, progress=False)
    s2 = train_m0(_config(2, init_from=str(s1.model_dir)), store, tok_dir, tmp_path / "s2", steps=2, progress=False)
    from motionbook_lib.lm import M0Pipeline

    pipe = M0Pipeline.from_pretrained(s2.model_dir)
    assert pipe.stage == 2
    parts = pipe.generate_from_parts({"right_arm": "waves", "left_leg": "kicks forward"}, seconds=1.0, seed=0)
    assert parts["codes"].shape == (5, 6) and tuple(parts["joints"].shape) == (20, 22, 3)
    start = pipe.motion_tokenizer.encode(store.features(0)[:16][None])[0].numpy()  # (4, 6)
    end = pipe.motion_tokenizer.encode(store.features(1)[:8][None])[0].numpy()  # (2, 6)
    cont = pipe.continue_motion(start, seconds=0.8, seed=0)
    assert cont["codes"].shape == (8, 6) and np.array_equal(cont["codes"][:4], start)
    mid = pipe.inbetween(start, end, seconds=0.4, seed=0)
    assert mid["codes"].shape == (8, 6) and np.array_equal(mid["codes"][:4], start)
    assert np.array_equal(mid["codes"][-2:], end) and tuple(mid["features"].shape) == (32, 135)
    with pytest.raises(ValueError, match="parts must map"):
        pipe.generate_from_parts({"tail": "wags"})
    assert isinstance(pipe.describe_motion(store.features(2)), str)


def test_conditioning_gap_is_logged_during_training_without_changing_it(store_and_tokenizer, tmp_path):
    from motionbook_lib.runs import read_metrics

    store, tok_dir = store_and_tokenizer
    plain = train_m0(_config(1), store, tok_dir, tmp_path / "plain", steps=4, progress=False)
    logged = train_m0(_config(1, gap_every=2, gap_split="train", gap_examples=8), store, tok_dir, tmp_path / "gap",
                      steps=4, progress=False)  # fmt: skip
    assert logged.losses == plain.losses and logged.weights_digest == plain.weights_digest  # training untouched
    m = read_metrics(tmp_path / "gap")
    gap = m[m["name"] == "val/conditioning_gap_per_motion"]
    assert gap["step"].tolist() == [2, 4] and gap["value"].notna().all()
    with pytest.raises(ValueError, match="gap_examples"):
        M0TrainConfig(gap_examples=1)


def test_task_weights_set_the_task_mix(store_and_tokenizer, monkeypatch):
    store, _ = store_and_tokenizer
    seen = _record_examples(monkeypatch)
    corpus = _zero_corpus(store, steps=6)
    vocab = MotionVocab(16, 6)
    weights = {"t2m": 6.0, "m2t": 2.0, "part_t2m": 1.0, "continuation": 1.0, "inbetween": 0.0}
    for epoch in range(60):
        for i in range(len(corpus)):
            make_example(corpus, store, vocab, i, 2, 0, epoch, 0.2, task_weights=weights)
    tasks = [t.task for t, _ in seen]
    share = {t: tasks.count(t) / len(tasks) for t in TASKS}
    n = len(tasks)
    for task, w in weights.items():  # every motion has part lines and >= 3 steps: all tasks are possible
        expected = w / sum(weights.values())
        assert abs(share[task] - expected) < 4 * np.sqrt(expected * (1 - expected) / n) + 1e-9, (task, share)
    assert share["inbetween"] == 0.0
    with pytest.raises(ValueError, match="task_weights"):
        M0TrainConfig(task_weights={"dance": 1.0})
    with pytest.raises(ValueError, match="task_weights"):
        M0TrainConfig(task_weights={"t2m": 0.0})


def _stop_at(step: int):
    def callback(s: int, loss: float) -> None:
        if s == step:
            raise KeyboardInterrupt

    return callback


def test_code_corruption_replaces_answer_motion_tokens_only_and_keeps_labels(store_and_tokenizer, tmp_path):
    from motionbook_lib.lm.dataset import answer_mask, collate_examples, corrupt_motion_inputs, encode_example

    store, tok_dir = store_and_tokenizer
    r = train_m0(_config(1), store, tok_dir, tmp_path / "plain", steps=1, progress=False)
    tok = AutoTokenizer.from_pretrained(r.model_dir)
    vocab = MotionVocab(16, 6)
    motion = vocab.to_text(np.arange(60).reshape(10, 6) % 16)
    examples = [encode_example(tok, f"Continue this motion: {motion}", motion),
                encode_example(tok, f"Describe this motion: {motion}", "A person waves.")]  # fmt: skip
    batch = collate_examples(examples, tok.pad_token_id)
    ids = torch.tensor(motion_token_ids(tok, vocab)[2])
    where = answer_mask(examples)
    out = corrupt_motion_inputs(batch["input_ids"], where, ids, 0.5, torch.Generator().manual_seed(0))
    changed = out != batch["input_ids"]
    assert not changed[~where].any()  # prompts (the motion shown to continue or caption) are never touched
    assert not changed[1].any()  # a text answer has no motion token to corrupt
    answer_motion = torch.isin(batch["input_ids"][0], ids) & where[0]
    assert answer_motion.sum() == 60 and changed[0][~answer_motion].sum() == 0
    assert 15 <= int(changed[0].sum()) <= 45  # about half of the 60 (a random code may equal the true one)
    assert torch.isin(out[0][changed[0]], ids).all()  # replaced by motion tokens, nothing else
    unchanged = corrupt_motion_inputs(batch["input_ids"], where, ids, 0.0, torch.Generator())
    assert torch.equal(unchanged, batch["input_ids"])
    # training with corruption reads other inputs, so it ends on other weights; the draws depend only on
    # (seed, step, batch), so a run stopped and resumed ends on the same weights as one run straight through
    cfg = _config(1, code_corruption=0.5, ckpt_every=1)
    c = train_m0(cfg, store, tok_dir, tmp_path / "corrupt", steps=3, progress=False)
    assert c.weights_digest != train_m0(_config(1), store, tok_dir, tmp_path / "plain3", steps=3,
                                        progress=False).weights_digest  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        train_m0(cfg, store, tok_dir, tmp_path / "resumed", steps=3, progress=False, callback=_stop_at(2))
    resumed = train_m0(cfg, store, tok_dir, tmp_path / "resumed", steps=3, progress=False)
    assert resumed.resumed_from == 2 and resumed.weights_digest == c.weights_digest
    with pytest.raises(ValueError, match="code_corruption"):
        M0TrainConfig(code_corruption=1.0)
