"""MODEL_CARD.md written from a reference run's ``results.json``: every number in the card comes from that file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from motionbook_lib.atomic import write_text

__all__ = ["render_card", "write_card"]


def _pct(x: float | None) -> str:
    return "–" if x is None or x != x else f"{100 * x:.1f}%"


def _kinds(own: dict[str, float], other: dict[str, float] | None = None) -> str:
    rows = ["| claim | holds |" + (" other-prompt baseline |" if other else ""),
            "| --- | --- |" + (" --- |" if other else "")]  # fmt: skip
    for kind, rate in own.items():
        rows.append(f"| {kind} | {_pct(rate)} |" + (f" {_pct(other.get(kind))} |" if other else ""))
    return "\n".join(rows)


def _m2t_lines(m: dict[str, Any]) -> list[str]:
    ret, claims = m["retrieval"], m["claims"]

    def ci(x: dict[str, float]) -> str:
        return f"{x['mean']:.3f} ± {x['ci95']:.3f}"

    ratio = ret["r1_ratio"]
    lines = [
        "## Motion-to-text (test split)",
        "",
        f"M0 captions {m['motions']} test motions (greedy decoding); BLEU-4 {m['BLEU-4']:.3f} and ROUGE-L "
        f"{m['ROUGE-L']:.3f} against their reference captions (lowercased words, torchmetrics).",
        "",
        "| captions | R@1 | R@3 | MM-Dist | kinematic claims that hold on the motion |",
        "| --- | --- | --- | --- | --- |",
        f"| real (first caption) | {ci(ret['real']['R@1'])} | {ci(ret['real']['R@3'])} | "
        f"{ci(ret['real']['MM-Dist'])} | {_pct(claims['real']['rate'])} |",
        f"| M0 | {ci(ret['generated']['R@1'])} | {ci(ret['generated']['R@3'])} | {ci(ret['generated']['MM-Dist'])} "
        f"| {_pct(claims['generated']['rate'])} |",
        f"| M0's caption of another motion | – | – | – | {_pct(claims['other_motion_baseline']['rate'])} |",
        "",
        f"R@1 of M0's captions is {ratio:.2f} x that of the real captions (target >= 0.6); R-precision batches of "
        f"{ret['batch_size']}, {ret['repeats']} repeats." if ratio is not None else "",
        "",
    ]
    return lines


def render_card(summary: dict[str, Any], command: str = "python -m motionbook_lib.reference train") -> str:
    """The card's markdown for one ``results.json`` summary."""
    cfg, res, corpus = summary["config"], summary["results"], summary["corpus"]
    tok = res["tokenizer"]
    t = summary["timings_s"]
    total_h = sum(t.values()) / 3600
    lines = [
        "# motionbook reference models",
        "",
        "Trained by the reference recipe on the built-in procedural corpus; every number below is read from "
        "`results.json` of the run (rendered by `motionbook_lib.reference.card`).",
        "",
        f"- Command: `{command}`",
        f"- Corpus: {corpus['motions']:,} motions (seed {cfg['corpus_seed']}; splits {corpus['splits']}), "
        f"generator fingerprint `{corpus['generator_fingerprint']}`",
        f"- Machine: {summary['machine']['platform']}, {summary['machine']['cores']} cores, torch "
        f"{summary['machine']['torch']} ({summary['machine']['device']}, {summary['machine']['threads']} threads)",
        f"- Wall time: {total_h:.2f} h in all ("
        + ", ".join(f"{k} {v / 60:.1f} min" for k, v in t.items() if v >= 30) + ")",
        f"- M0 training throughput: stage 1 {summary['m0_tokens_per_s']['stage1']:,.0f} tokens/s, stage 2 "
        f"{summary['m0_tokens_per_s']['stage2']:,.0f} tokens/s",
        "",
        "## Models",
        "",
        f"- Motion tokenizer: 2D-LFQ, 2^{cfg['tok_bits']} codes per body part, width {cfg['tok_width']}, depth "
        f"{cfg['tok_depth']}, {cfg['tok_steps']} steps of batch {cfg['tok_batch']} x {cfg['tok_window']} frames.",
        f"- Evaluator: frozen all-MiniLM-L6-v2 text side, {cfg['eval_steps']} steps of batch {cfg['eval_batch']}.",
        f"- M0: `{cfg['m0_size']}` preset, stage 1 {cfg['stage1_steps']} + stage 2 {cfg['stage2_steps']} steps of "
        f"batch {cfg['m0_batch']}, motions cropped to {cfg['max_frames']} frames, caption dropout "
        f"{cfg['caption_dropout']} (for classifier-free guidance; generation uses scale {cfg['guidance_scale']}).",
        f"- M0 text conditioning: {_pct(cfg.get('code_corruption', 0.0))} of the motion tokens it reads in each "
        "answer replaced by random ones while the labels stay true (T2M-GPT's code corruption: the history alone "
        "no longer predicts the next token, so the model must read the caption); stage 2 task mix "
        + (", ".join(f"{k} {v:g}" for k, v in cfg["stage2_task_weights"].items())
           if cfg.get("stage2_task_weights") else "uniform over the 52 templates")
        + ". The paper's plain M0 is the same with corruption 0 and a uniform mix (`M0TrainConfig` defaults).",
        "- Decoding: M0's motions go through foot locking (`motionbook_lib.tokenizer.foot_lock`: the root path "
        "moved by the planted feet's shared slide, each stance held by two-bone leg IK; `M0Pipeline.foot_lock`); "
        "the tokenizer table gives its skating with and without it.",
        "",
        "## Tokenizer (test split)",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    for key, value in sorted(tok["metrics"].items()):
        if isinstance(value, int | float):
            lines.append(f"| {key} | {value:.4g} |")
    c = tok["claims"]
    lines += [
        "",
        f"Kinematic claims of the captions of {c['motions']} test motions: ground truth "
        f"{_pct(c['ground_truth']['rate'])} (the checker's ceiling), tokenizer reconstructions "
        f"{_pct(c['reconstruction']['rate'])} (the tokenizer's ceiling for M0).",
        "",
        _kinds(c["reconstruction"]["per_kind"]),
        "",
        "## Does M0 do what it is told?",
        "",
    ]
    for key in sorted(k for k in res if k.startswith("prompt_check_g")):
        p = res[key]
        lines.append(
            f"- {p['prompts']} prompts x {p['seeds']} seeds, {p['seconds']:g} s, guidance scale "
            f"{p['guidance_scale']:g}: {_pct(p['own']['rate'])} of {p['own']['claims']} claims hold; checked on "
            f"the motions made for the next prompt instead: {_pct(p['other_prompt_baseline']['rate'])}."
        )
    para = res["paraphrase_check"]
    lines.append(
        f"- Paraphrases not in the templates ({para['prompts']} prompts, scale {para['guidance_scale']:g}): "
        f"{_pct(para['own']['rate'])} (other-prompt baseline {_pct(para['other_prompt_baseline']['rate'])})."
    )
    if "part_check" in res:
        pc = res["part_check"]
        lines.append(
            f"- Body-part instructions ({pc['prompts']} prompts x {pc['seeds']} seeds, part_t2m: the legs and the "
            f"whole-body line move the body, one arm's line asks for a wave, a raised arm or a punch): the arm's "
            f"claim holds on {_pct(pc['part']['rate'])} (on another prompt's motion "
            f"{_pct(pc['part_other_prompt_baseline']['rate'])}), the whole-body claim on {_pct(pc['whole']['rate'])} "
            f"({_pct(pc['whole_other_prompt_baseline']['rate'])}); both on one motion {_pct(pc['both_hold'])}."
        )
    best = max((k for k in res if k.startswith("prompt_check_g")), key=lambda k: res[k]["own"]["rate"])
    lines += ["", f"Per claim kind ({best.replace('prompt_check_g', 'guidance scale ')}):", "",
              _kinds(res[best]["own"]["per_kind"], res[best]["other_prompt_baseline"]["per_kind"]), ""]  # fmt: skip
    for stage in (1, 2):
        g = res[f"conditioning_gap_stage{stage}"]
        lines.append(
            f"- Conditioning gap after stage {stage} (val, motion-token loss with another motion's caption minus "
            f"with its own): {g['gap']:.4f} ± {g['gap_ci95']:.4f} nats per token, {g['gap_per_motion']:.2f} ± "
            f"{g['gap_per_motion_ci95']:.2f} nats per motion."
        )
    table = res["t2m_table"]
    cols = ["R@1", "R@3", "FID", "MM-Dist", "Diversity", "MPJPE", "foot skating", "jitter"]
    lines += ["", "## Text-to-motion table (test split, the reference evaluator)", "",
              "| row | " + " | ".join(cols) + " |", "| --- |" + " --- |" * len(cols)]  # fmt: skip
    for row, metrics in table["metrics"].items():
        cells = [f"{metrics[c]['mean']:.3f} ± {metrics[c]['ci95']:.3f}" if c in metrics else "–" for c in cols]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    meta = table["meta"]
    lines += ["", f"{meta['motions']} motions, batches of {meta['batch_size']}, {meta['repeats']} repeats; "
              f"M0 generations at guidance scale {meta.get('guidance_scale', 1.0):g}; "
              f"MultiModality {meta.get('multimodality', '–')}.", ""]  # fmt: skip
    if "m2t" in res:
        lines += _m2t_lines(res["m2t"])
    return "\n".join(lines)


def write_card(run_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write ``MODEL_CARD.md`` (into ``run_dir`` unless ``out`` is given) from ``run_dir/results.json``."""
    run_dir = Path(run_dir)
    summary = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    scale = summary.get("scale")
    default = "python -m motionbook_lib.reference train" + (f" --scale {scale}" if scale else "")
    command = summary.get("command") or default
    return write_text(Path(out) if out else run_dir / "MODEL_CARD.md", render_card(summary, command))
