"""Render the README's benchmark tables from ``results/benchmarks/*.json``.

    python benchmarks/readme_tables.py            # print every table
    python benchmarks/readme_tables.py --write    # put each between its <!-- bench:NAME --> markers in README.md
    python benchmarks/readme_tables.py --check    # exit 1 when README.md does not show one of them verbatim

Every benchmark number in the README comes from one of these files (each records its command, date and
machine); ``tests/test_benchmark_results.py`` runs the check.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "benchmarks"


def _load(name: str) -> dict[str, Any]:
    path = RESULTS / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{path}: missing; run the command its README section names") from err


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] * len(header)) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _source(data: dict[str, Any]) -> str:
    m = data["machine"]
    return (f"`{data['command']}` on {m['cores']} cores ({m['cpu']}), torch threads {data['torch_threads']}, "
            f"{data['date'][:10]} (results/benchmarks/{data['benchmark']}.json)")  # fmt: skip


def features() -> str:
    data = _load("features")
    n = data["numbers"]
    names = {
        "(a) D135 -> joints (FK)": "D135 -> joints (FK)",
        "(b) joints -> 263": "joints -> HumanML3D 263",
        "(c) rotations from D135": "rotations from D135",
    }
    rows = [
        [names[r["measurement"]], f"{r['batched_fps']:,}", f"{r['loop_fps']:,}", f"{r['ratio']:.1f}x"]
        for r in n["rows"]
        if r["measurement"] in names
    ]
    table = _table(["measurement", "batched fps", "per-sequence loop fps", "ratio"], rows)
    return f"{table}\n\nRotations from D135 (batched) run {n['d135_rotations_vs_263_ik']:.1f}x faster than the 263 " \
        f"feature's own IK from joints. Measured by {_source(data)}."  # fmt: skip


def lm() -> str:
    data = _load("lm")
    n = data["numbers"]
    rows = [
        [
            r["size"],
            f"{r['parameters']:,}",
            f"{r['matmul_parameters']:,}",
            f"{r['train_tokens_per_s']:,}",
            f"{r['share_of_matmul_rate']:.0%}",
            f"{r['gen_tokens_per_s_cache']:,} / {r['gen_tokens_per_s_no_cache']:,} ({r['kv_cache_ratio']:.1f}x)",
        ]
        for r in n["rows"]
    ]
    header = ["preset", "parameters", "matmul parameters", "train tokens/s", "of the achieved matmul rate",
              "generation tokens/s, KV cache / none"]  # fmt: skip
    rate = f"{n['matmul_rate_gflops']:.1f} GFLOP/s"
    return (
        f"{_table(header, rows)}\n\nAchieved float32 matmul rate in the same run: {rate}; "
        f"batch {n['batch']} x {n['seq']} tokens. Measured by {_source(data)}."
    )


def store() -> str:
    rows = []
    sources = []
    for name in ("store", "store-1m"):
        if not (RESULTS / f"{name}.json").is_file():
            continue
        data = _load(name)
        n = data["numbers"]
        for b in n["builds"]:
            kind = "synthetic" if b["source"] == "synthetic" else "short (fake)"
            result = (
                f"{b['motions_per_s']:,.0f} motions/s, peak RSS {b['rss_main_mb']:.0f} MiB main / "
                f"{b['rss_worker_mb']:.0f} MiB per worker, {b['disk_mb']:,.0f} MiB on disk"
            )
            rows.append([f"build, {b['motions']:,} {kind} motions", result])
        r = n["reads"]
        result = (
            f"{r['ratio_store_verify_vs_npy']:.2f}x faster with checksums on, "
            f"{r['ratio_store_noverify_vs_npy']:.1f}x with them off (store opens in {r['store_open_s']} s)"
        )
        rows.append([f"random reads vs one `.npy` per motion, {r['motions']:,}-motion store", result])
        sources.append(_source(data))
    return f"{_table(['measurement', 'result'], rows)}\n\nMeasured by " + "; and by ".join(sources) + "."


def motion_tokenizers() -> str:
    data = _load("motion_tokenizers")
    n = data["numbers"]
    rows = [
        [r["tokenizer"], str(r["tokens/step"]), r["codebook"] + (" per part" if r["tokenizer"] == "2D-LFQ" else ""),
         f"{r['params']:,}", f"{r['MPJPE mm']:.1f}",
         f"{r['feat MSE']:.3f}", f"{r['utilization']:.3f}", f"{r['perplexity']:.1f}"]
        for r in n["rows"]
    ]  # fmt: skip
    header = ["tokenizer", "tokens/step", "codebook", "params", "MPJPE mm", "feature MSE", "utilization", "perplexity"]
    ratio = n.get("mpjpe_ratio_2dlfq_vs_1dvq")
    tail = f"MPJPE(2D-LFQ) / MPJPE(1D-VQ) = {ratio:.2f}; " if ratio is not None else ""
    return f"{_table(header, rows)}\n\n{tail}the per-channel mean scores a feature MSE of " \
        f"{n['mse_mean_predictor']:.3f}. Measured by {_source(data)}."  # fmt: skip


def eval_notebook05() -> str:
    """The text-to-motion table of notebook 05's default run (results/eval-notebook05/)."""
    from motionbook_lib.eval.metrics import MetricCI
    from motionbook_lib.eval.table import format_ci

    folder = ROOT / "results" / "eval-notebook05"
    main, scratch = (json.loads((folder / f"t2m_table_{k}.json").read_text()) for k in ("main", "scratch"))
    cols = ["R@1", "R@3", "FID", "MM-Dist", "Diversity", "MPJPE", "feature FID", "foot skating", "jitter"]
    rows = []
    for name, metrics in main["metrics"].items():
        label = name
        if "MultiModality" in metrics:
            mm = metrics["MultiModality"]
            label = f"{name} (MultiModality {format_ci(MetricCI(mm['mean'], mm['ci95'], ()))})"
        cells = [format_ci(MetricCI(metrics[c]["mean"], metrics[c]["ci95"], ())) if c in metrics else "–" for c in cols]
        rows.append([label, *cells])
    r1 = ", ".join(f"{name.split(' (')[0].lower()} {m['R@1']['mean']:.3f}" for name, m in scratch["metrics"].items())
    meta = main["meta"]
    return (
        f"{_table(['row', *cols], rows)}\n\nEvaluator {meta['evaluator']}; {meta['motions']} motions of "
        f"{meta['split']!r}, batches of {meta['batch_size']}, {meta['repeats']} repeats, Diversity over "
        f"{meta['diversity_pairs']} pairs, MultiModality {meta.get('multimodality', '–')}. The scratch-text "
        f"evaluator's R@1 on the same motions: {r1}. Files: results/eval-notebook05/."
    )


def reference(folder: Path | None = None) -> str:
    """The reference models' headline numbers (models/reference/results.json, written by the recipe)."""
    folder = folder or ROOT / "models" / "reference"
    summary = json.loads((folder / "results.json").read_text())
    r, cfg = summary["results"], summary["config"]
    tok, claims = r["tokenizer"]["metrics"], r["tokenizer"]["claims"]

    def pct(x: float) -> str:
        return f"{100 * x:.1f}%"

    rows = [
        ["tokenizer MPJPE (test, mm)", f"{tok['mpjpe_mm']:.1f}", "≤ 30"],
        ["tokenizer root-path error over 4 s (m)", f"{tok['root_path_m']:.3f}", "≤ 0.10"],
        ["tokenizer foot skating / ground truth", f"{tok['foot_skate_ratio']:.2f}x", "≤ 1.5x"],
    ]
    if "foot_skate_ratio_locked" in tok:
        rows += [["the same with foot locking at decode (root path error)",
                  f"{tok['foot_skate_ratio_locked']:.2f}x ({tok['root_path_m_locked']:.3f} m)", "≤ 1.5x"]]  # fmt: skip
    rows += [
        ["claims on ground truth (test captions)", pct(claims["ground_truth"]["rate"]), "the checker's ceiling"],
        ["claims on tokenizer reconstructions", pct(claims["reconstruction"]["rate"]), "≥ 90%"],
    ]
    for key in sorted(k for k in r if k.startswith("prompt_check_g")):
        p = r[key]
        rows.append([f"prompt check, guidance {p['guidance_scale']:g} ({p['prompts']} prompts x {p['seeds']} seeds)",
                     f"{pct(p['own']['rate'])} (other-prompt baseline {pct(p['other_prompt_baseline']['rate'])})",
                     "≥ 75%"])  # fmt: skip
    para = r["paraphrase_check"]
    para_rate = f"{pct(para['own']['rate'])} (baseline {pct(para['other_prompt_baseline']['rate'])})"
    rows.append([f"paraphrases not in the templates, guidance {para['guidance_scale']:g}", para_rate, "reported"])
    part = r.get("part_check")
    if part:
        rows.append([f"body-part instructions ({part['prompts']} prompts x {part['seeds']} seeds): the arm's claim",
                     f"{pct(part['part']['rate'])} (baseline {pct(part['part_other_prompt_baseline']['rate'])}); "
                     f"whole-body claim {pct(part['whole']['rate'])}", "reported"])  # fmt: skip
    for stage in (1, 2):
        gap = r[f"conditioning_gap_stage{stage}"]
        rows.append([f"conditioning gap after stage {stage} (val, nats per motion)",
                     f"{gap['gap_per_motion']:.2f} ± {gap['gap_per_motion_ci95']:.2f}", "> 0"])  # fmt: skip
    table = r["t2m_table"]["metrics"]
    g_table = r["t2m_table"]["meta"].get("guidance_scale", 1.0)
    real, m0 = table["Real (ground truth)"], table.get("M0", {})
    if m0:
        rows.append([f"M0 R@1 / Real R@1 (test, batches of 32, guidance {g_table:g})",
                     f"{m0['R@1']['mean']:.3f} / {real['R@1']['mean']:.3f}", "≥ 0.6 x Real"])  # fmt: skip
        if "foot skating" in m0 and "jitter" in m0:
            rows.append(["M0 foot skating / jitter, as multiples of Real's",
                         f"{m0['foot skating']['mean'] / real['foot skating']['mean']:.2f}x / "
                         f"{m0['jitter']['mean'] / real['jitter']['mean']:.2f}x", "≤ 1.5x"])  # fmt: skip
        rand = table.get("Random motions", {})
        if rand:
            rows.append(["M0 FID / random real motions' FID",
                         f"{m0['FID']['mean']:.3f} / {rand['FID']['mean']:.3f}", "≤ random"])  # fmt: skip
    m2t = r.get("m2t")
    if m2t:
        ret, mc = m2t["retrieval"], m2t["claims"]
        rows.append([f"captions: M0 R@1 / real captions' R@1 (test, batches of {ret['batch_size']})",
                     f"{ret['generated']['R@1']['mean']:.3f} / {ret['real']['R@1']['mean']:.3f}",
                     "≥ 0.6 x real"])  # fmt: skip
        rows.append(["captions: BLEU-4 / ROUGE-L", f"{m2t['BLEU-4']:.3f} / {m2t['ROUGE-L']:.3f}", "reported"])
        rows.append(["captions: claims that hold on their motions",
                     f"{pct(mc['generated']['rate'])} (real {pct(mc['real']['rate'])}, caption of another motion "
                     f"{pct(mc['other_motion_baseline']['rate'])})", "reported"])  # fmt: skip
    hours = sum(summary["timings_s"].values()) / 3600
    return (
        f"{_table(['measurement', 'value', 'target (issue 20)'], rows)}\n\n{summary['corpus']['motions']:,} "
        f"motions, 2D-LFQ 2^{cfg['tok_bits']} x 6, M0 `{cfg['m0_size']}` {cfg['stage1_steps']} + "
        f"{cfg['stage2_steps']} steps; {hours:.2f} h on {summary['machine']['cores']} cores. Command: "
        f"`{summary.get('command')}`; files: models/reference/ (results.json, MODEL_CARD.md)."
    )


TABLES: dict[str, Callable[[], str]] = {
    "features": features,
    "lm": lm,
    "store": store,
    "motion_tokenizers": motion_tokenizers,
    "eval_notebook05": eval_notebook05,
    "reference": reference,
}


def missing_from(readme: str) -> list[str]:
    """Names of the tables README.md does not show verbatim."""
    return [name for name, render in TABLES.items() if render() not in readme]


def write_into(readme: str) -> str:
    """``readme`` with each table between its ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` markers."""
    for name, render in TABLES.items():
        start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
        a, b = readme.find(start), readme.find(end)
        if a < 0 or b < a:
            raise ValueError(f"README.md: no {start} ... {end} markers for the {name} table")
        readme = readme[: a + len(start)] + "\n" + render() + "\n" + readme[b:]
    return readme


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="check README.md shows every table verbatim")
    ap.add_argument("--write", action="store_true", help="write every table between its markers in README.md")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md", help="the README to check or write")
    args = ap.parse_args(argv)
    if args.write:
        from motionbook_lib.atomic import write_text

        path = args.readme
        write_text(path, write_into(path.read_text(encoding="utf-8")))
        print(f"written: {path}")
        return 0
    if args.check:
        missing = missing_from(args.readme.read_text(encoding="utf-8"))
        for name in missing:
            print(f"{args.readme} does not show the {name} table of results/benchmarks; render it with this script")
        return 1 if missing else 0
    for name, render in TABLES.items():
        print(f"<!-- {name} -->\n{render()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
