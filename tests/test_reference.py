"""The reference recipe end to end at its smoke scale: every step, results, card, resume, refusal of other settings."""

from __future__ import annotations

import json

import pytest

from motionbook_lib.reference import SCALES, corpus_fingerprint, run_reference, scaled
from motionbook_lib.reference.__main__ import main
from motionbook_lib.reference.card import write_card

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    summary = run_reference(out, SCALES["smoke"], scale="smoke", progress=False, log=lambda _: None)
    return out, summary


def test_every_step_leaves_its_results(smoke_run):
    out, summary = smoke_run
    results = summary["results"]
    assert set(results) == {"tokenizer", "conditioning_gap_stage1", "conditioning_gap_stage2", "prompt_check_g1",
                            "prompt_check_g3", "paraphrase_check", "part_check", "t2m_table", "m2t"}  # fmt: skip
    assert json.loads((out / "results.json").read_text()) == summary
    claims = results["tokenizer"]["claims"]
    assert claims["ground_truth"]["rate"] > 0.9  # the checker on real motions: its ceiling
    p = results["prompt_check_g1"]
    assert p["prompts"] == 46 and p["own"]["claims"] > 0 and p["other_prompt_baseline"]["claims"] > 0
    assert summary["corpus"]["generator_fingerprint"] == corpus_fingerprint(0)
    part = results["part_check"]  # 8 body-part prompts: one arm claim and one or two whole-body claims each
    assert part["prompts"] == 8 and part["part"]["claims"] == 8 and part["whole"]["claims"] == 12
    m2t = results["m2t"]
    assert m2t["motions"] == summary["corpus"]["splits"]["test"] and m2t["retrieval"]["batch_size"] == 4
    assert m2t["claims"]["real"]["rate"] > 0.9  # the real captions hold on their own motions
    assert m2t["retrieval"]["real"]["R@1"]["mean"] > 0.25  # the evaluator retrieves real captions above 1/4 chance
    for name in ("tokenizer", "evaluator", "m0_stage1", "m0_stage2"):
        assert (out / summary["models"][name].split(str(out) + "/")[-1]).is_dir()


def test_card_numbers_come_from_the_results(smoke_run):
    out, summary = smoke_run
    card = write_card(out).read_text()
    p = summary["results"]["prompt_check_g3"]
    assert f"guidance scale 3: {100 * p['own']['rate']:.1f}% of {p['own']['claims']} claims hold" in card
    assert summary["corpus"]["generator_fingerprint"] in card
    assert "--scale smoke" in card
    m2t = summary["results"]["m2t"]
    assert f"BLEU-4 {m2t['BLEU-4']:.3f} and ROUGE-L {m2t['ROUGE-L']:.3f}" in card
    assert f"{m2t['retrieval']['r1_ratio']:.2f} x that of the real captions" in card
    part = summary["results"]["part_check"]
    assert f"the arm's claim holds on {100 * part['part']['rate']:.1f}%" in card


def test_rerun_is_a_no_op_and_other_settings_are_refused(smoke_run, capsys):
    out, summary = smoke_run
    again = run_reference(out, SCALES["smoke"], scale="smoke", progress=False, log=lambda _: None)
    assert again["results"] == summary["results"]
    for stage in ("stage1", "stage2"):  # nothing trained now: the rate its training logged, not 0
        assert again["m0_tokens_per_s"][stage] > 0
    with pytest.raises(ValueError, match="other settings.*stage1_steps"):
        run_reference(out, scaled("smoke", stage1_steps=11), progress=False, log=lambda _: None)
    assert main(["train", "--out", str(out), "--scale", "smoke", "--set", "stage1_steps=12", "--no-progress"]) == 2
    assert "stage1_steps" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown scale"):
        scaled("huge")
