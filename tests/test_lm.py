"""M0 building blocks: motion vocabulary, templates, text tokenizer, model, constrained generation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionbook_lib.lm import (
    TASKS,
    M0Config,
    MotionVocab,
    add_motion_tokens,
    build_example,
    build_m0,
    collate_examples,
    encode_example,
    generate_codes,
    get_template,
    motion_token_ids,
    templates_for,
    train_text_tokenizer,
)

CAPTIONS = [
    "a person walks forward",
    "someone waves the right hand",
    "the man jumps twice",
    "a figure squats down slowly",
]
PARTS = {"torso": ["the torso stays upright"], "left_arm": ["the left arm hangs"], "right_leg": ["the right leg steps"]}


@pytest.fixture(scope="module")
def tokenizer_and_vocab():
    vocab = MotionVocab(codebook_size=32, tokens_per_step=6)
    tok = train_text_tokenizer([c for c in CAPTIONS for _ in range(20)] + ["generate motion text"] * 5, vocab_size=300)
    assert add_motion_tokens(tok, vocab) == 34
    assert add_motion_tokens(tok, vocab) == 0  # idempotent
    return tok, vocab


def test_vocab_round_trip_and_order():
    v = MotionVocab(16, 6)
    codes = np.arange(18).reshape(3, 6) % 16
    text = v.to_text(codes)
    assert text.startswith("<mot><motion_id_0><motion_id_1>") and text.endswith("<motion_id_1></mot>")
    (back,) = v.from_text("describe " + text + " please")
    np.testing.assert_array_equal(back, codes)
    v1 = MotionVocab(8)
    np.testing.assert_array_equal(v1.from_text(v1.to_text(np.array([3, 1, 7])))[0], [3, 1, 7])


@pytest.mark.parametrize(
    "text,match",
    [
        ("walk <motion_id_3> <mot></mot>", "outside"),
        ("<mot><motion_id_99></mot>", "outside this codebook"),
        ("<mot><motion_id_1>hello</mot>", "non-motion"),
        ("<mot><motion_id_1><motion_id_2><motion_id_3></mot>", "whole number of steps"),
        ("<mot><motion_id_1>", "unbalanced"),
    ],
)
def test_vocab_rejects_bad_motion_text(text, match):
    with pytest.raises(ValueError, match=match):
        MotionVocab(16, 2).from_text(text)


def test_vocab_rejects_bad_codes():
    v = MotionVocab(16, 6)
    with pytest.raises(ValueError, match="out of range"):
        v.to_text(np.full((2, 6), 16))
    with pytest.raises(ValueError, match=r"\(S, 6\)"):
        v.to_text(np.zeros((2, 5), int))


def test_templates_cover_tasks_and_render(tokenizer_and_vocab):
    _, vocab = tokenizer_and_vocab
    stage2 = templates_for(stage=2)
    assert len(stage2) >= 50
    assert {t.task for t in stage2} == set(TASKS)
    codes = np.random.default_rng(0).integers(0, 32, (8, 6))
    for t in stage2 + templates_for(stage=1):
        prompt, answer = build_example(t, codes, vocab, "A person walks forward.", PARTS, seconds=3.2)
        assert "{" not in prompt + answer, t.name
        # the motion text inside stays decodable
        for piece in (prompt, answer):
            for c in vocab.from_text(piece):
                assert c.shape[1] == 6
    # continuation: prefix + suffix give the whole motion back
    prompt, answer = build_example(get_template("continuation_04"), codes, vocab, "x", rng=np.random.default_rng(1))
    joined = np.concatenate([*vocab.from_text(prompt), *vocab.from_text(answer)])
    np.testing.assert_array_equal(joined, codes)


def test_template_errors():
    with pytest.raises(ValueError, match="unknown template"):
        get_template("t2m_999")
    with pytest.raises(ValueError, match="unknown task"):
        templates_for("dance")
    with pytest.raises(ValueError, match="needs"):
        get_template("t2m_00").render(motion="<mot></mot>")
    with pytest.raises(ValueError, match="at least 3"):
        build_example(get_template("inbetween_00"), np.zeros((2, 1), int), MotionVocab(4), "x")
    with pytest.raises(ValueError, match="part captions"):
        build_example(get_template("part_t2m_00"), np.zeros((4, 1), int), MotionVocab(4), "x", {})


def test_motion_tokens_are_single_ids(tokenizer_and_vocab):
    tok, vocab = tokenizer_and_vocab
    mot, end, ids = motion_token_ids(tok, vocab)
    codes = np.random.default_rng(2).integers(0, 32, (3, 6))
    enc = tok(vocab.to_text(codes), add_special_tokens=False).input_ids
    assert enc == [mot, *[ids[k] for k in codes.reshape(-1)], end]


def test_encode_example_whole_and_target_only_loss(tokenizer_and_vocab):
    tok, vocab = tokenizer_and_vocab
    whole = encode_example(tok, "generate motion", "<mot><motion_id_1></mot>")
    target = encode_example(tok, "generate motion", "<mot><motion_id_1></mot>", target_only=True)
    assert torch.equal(whole["input_ids"], target["input_ids"])
    assert (whole["labels"] != -100).all()
    assert (target["labels"] == -100).sum() > 0
    with pytest.raises(ValueError, match="exceeds max_length"):
        encode_example(tok, "generate motion " * 20, "x", max_length=10)
    batch = collate_examples([whole, target], tok.pad_token_id)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape


@pytest.mark.parametrize("size", ["tiny", "llama-tiny"])
def test_build_and_resize(tokenizer_and_vocab, size):
    tok, _ = tokenizer_and_vocab
    model = build_m0(M0Config(size=size, max_positions=256), tok)
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
    with pytest.raises(ValueError, match="unknown size"):
        M0Config(size="huge")
    with pytest.raises(ValueError, match="pretrained_path"):
        M0Config(size="pretrained")


def test_constrained_generation_always_decodes(tokenizer_and_vocab):
    tok, vocab = tokenizer_and_vocab
    model = build_m0(M0Config(size="tiny", max_positions=256), tok, seed=1).eval()
    for seed in range(3):
        codes = generate_codes(model, tok, vocab, "a person walks forward", min_steps=2, max_steps=5, seed=seed)
        assert codes.ndim == 2 and codes.shape[1] == 6 and 2 <= codes.shape[0] <= 5
        assert codes.min() >= 0 and codes.max() < 32
    with pytest.raises(ValueError, match="context"):
        generate_codes(model, tok, vocab, "walk " * 300, max_steps=5)


def test_tiny_model_overfits_pairs_and_generates_their_tokens(tokenizer_and_vocab):
    tok, vocab = tokenizer_and_vocab
    rng = np.random.default_rng(0)
    pairs = [(c, rng.integers(0, 32, (3, 6))) for c in CAPTIONS]
    template = get_template("t2m_00")
    examples = [encode_example(tok, *build_example(template, codes, vocab, cap)) for cap, codes in pairs]
    batch = collate_examples(examples, tok.pad_token_id)
    torch.manual_seed(0)
    model = build_m0(M0Config(size="tiny", max_positions=256), tok, seed=0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(300):
        loss = model(**batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert loss.item() < 0.05, f"did not overfit: loss {loss.item():.3f}"
    for cap, codes in pairs:
        prompt, _ = template.render(caption=cap, motion="")
        out = generate_codes(model, tok, vocab, prompt.rstrip() + " ", max_steps=6, do_sample=False)
        np.testing.assert_array_equal(out, codes, err_msg=cap)
