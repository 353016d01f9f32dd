"""The checked-in reference models (models/reference): they load in one call, their card is exactly what their
results file says, they were trained on the corpus the generator makes today, and prompts do what they say."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionbook_lib.eval.claims import check_caption
from motionbook_lib.reference import corpus_fingerprint, load
from motionbook_lib.reference.card import render_card
from motionbook_lib.reference.models import DEFAULT_DIR, MAX_BYTES, reference_dir

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ref():
    return load()


def test_the_folder_is_small_enough_for_plain_git() -> None:
    folder = reference_dir()
    assert folder.name == DEFAULT_DIR.name and (folder / "m0" / "model.safetensors").is_file()
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size <= MAX_BYTES, size
    assert not list(folder.rglob("*.pt")) and not list(folder.rglob("*.bin"))  # safetensors only, no pickle


def test_card_is_rendered_from_the_results_file(ref) -> None:
    summary = json.loads((ref.folder / "results.json").read_text())
    assert ref.card == render_card(summary, summary["command"])


def test_trained_on_the_corpus_the_generator_makes_today(ref) -> None:
    """When the built-in generator changes, this fails: retrain the reference and re-measure its card."""
    recorded = ref.results["corpus"]["generator_fingerprint"]
    assert recorded == corpus_fingerprint(ref.results["config"]["corpus_seed"]), (
        "the built-in corpus changed since the reference models were trained: run "
        "`python -m motionbook_lib.reference train` and `... export`"
    )


@pytest.mark.parametrize(
    "prompt,kind", [("A person walks forward.", "forward"), ("A person turns to the left in place.", "turn")]
)
def test_prompts_do_what_they_say(ref, prompt: str, kind: str) -> None:
    """Fixed seeds 0-2 at the card's guidance scale; the prompt's claim checked on the generated joints holds for at
    least two of three. This is what the reference does reliably today: jumps, walking backwards and sitting
    do not yet hold (MODEL_CARD.md gives every claim kind's rate)."""
    held = []
    for seed in range(3):
        out = ref.m0.generate_motion(prompt, seconds=5.0, seed=seed, guidance_scale=ref.guidance_scale)
        results = {r.claim.kind: r for r in check_caption(prompt, np.asarray(out["joints"], dtype=np.float64))}
        assert kind in results, (prompt, sorted(results))
        held.append(results[kind].holds)
    assert sum(held) >= 2, (prompt, held)


def test_reference_tokenizer_meets_its_targets_on_held_out_motions(ref) -> None:
    """Re-measured here on the 300-motion corpus's test split (motions the reference never trained on: the split
    of a motion depends only on its id), not read from the card."""
    from motionbook_lib.data.explore import open_or_build_store
    from motionbook_lib.tokenizer import evaluate_tokenizer

    store = open_or_build_store(None, n=300, seed=0)
    m = evaluate_tokenizer(ref.tokenizer, store, "test", window=64)
    assert m["mpjpe_mm"] <= 30.0 and m["root_path_m"] <= 0.10, m  # issue 20's targets
    assert m["vel_sign_backward"] > 0.9, m  # backward walks decode moving backward
    recorded = ref.results["results"]["tokenizer"]["metrics"]
    assert m["mpjpe_mm"] == pytest.approx(recorded["mpjpe_mm"], rel=0.35)  # same model, another sample of clips
