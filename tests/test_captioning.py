"""Motion-to-text scores: BLEU-4 and ROUGE-L worked by hand, and m2t_scores telling an oracle captioner (the real
captions) from one that says the same thing for every motion."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from motionbook_lib.eval.captioning import bleu_rouge, m2t_scores, normalize_caption

pytestmark = pytest.mark.usefixtures("one_thread")


def test_normalize_caption() -> None:
    assert normalize_caption("The person WAVES, twice.") == "the person waves twice"


def test_bleu_and_rouge_by_hand() -> None:
    same = bleu_rouge(["A person walks forward slowly."], [["a person walks forward slowly"]])
    assert same == {"BLEU-4": pytest.approx(1.0), "ROUGE-L": pytest.approx(1.0)}
    # ROUGE-L: longest common subsequence 4 words of 5 generated / 4 reference: P 4/5, R 1, F = 2PR / (P + R) = 8/9;
    # against two references the better one counts
    r = bleu_rouge(["a person walks forward slowly"], [["a person walks forward", "someone sits down"]])
    assert r["ROUGE-L"] == pytest.approx(8 / 9)
    # BLEU-4 with no shared 4-gram is 0; an empty caption scores 0 on both
    assert bleu_rouge(["sits down on a chair now"], [["a person walks forward slowly"]])["BLEU-4"] == 0.0
    assert bleu_rouge([""], [["a person walks"]]) == {"BLEU-4": 0.0, "ROUGE-L": 0.0}
    with pytest.raises(ValueError, match="reference"):
        bleu_rouge(["a"], [[]])


def _key(features: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(features, dtype=np.float32).tobytes()).hexdigest()


def test_m2t_scores_tell_the_real_captions_from_a_constant_caption() -> None:
    from motionbook_lib.data.store import open_or_build_store
    from motionbook_lib.reference import load

    ref = load()
    store = open_or_build_store(None, n=300, seed=0)
    rows = [int(r) for r in store.split("test") if store.captions(int(r))]
    truth = {_key(store.features(r)): store.captions(r)[0] for r in rows}
    oracle = m2t_scores(lambda f: truth[_key(f)], store, ref.evaluator, repeats=5)
    constant = m2t_scores(lambda f: "A person walks forward.", store, ref.evaluator, repeats=5)
    assert oracle["motions"] == constant["motions"] == len(rows) >= 32
    # the oracle says exactly the first real caption: the same retrieval and claims as the real row
    assert oracle["retrieval"]["r1_ratio"] == pytest.approx(1.0)
    assert oracle["claims"]["generated"]["rate"] == oracle["claims"]["real"]["rate"] > 0.9
    assert oracle["BLEU-4"] > 0.5 and oracle["ROUGE-L"] > 0.7
    # one caption for all: R@1 at chance among 32 (ties broken at random), claims hold only where motions walk
    assert constant["retrieval"]["r1_ratio"] < 0.2
    assert constant["claims"]["generated"]["rate"] < 0.5 * constant["claims"]["real"]["rate"]
    assert constant["ROUGE-L"] < oracle["ROUGE-L"] - 0.3
