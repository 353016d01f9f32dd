"""Train M0 with ``accelerate``: the same script on a CPU, one GPU, or several GPUs and nodes (DDP).

Two stages, as in the Being-M0 paper:

1. **text-motion alignment**: plain ``caption <mot>...</mot>`` and ``<mot>...</mot> caption`` pairs
   over the whole corpus (``stage=1``);
2. **instruction tuning** on the template library (``stage=2``), started from stage 1's model
   (``init_from``).

Layout of a training folder::

    out_dir/
      corpus/train.safetensors       motion codes of every training motion (tokenized once, reused); its
                                     metadata names the motion tokenizer that made them (its identity)
      text_tokenizer/                the BPE text tokenizer with the motion tokens
      metrics.jsonl                  loss, lr, grad norm, tokens/s (motionbook_lib.runs.log_metric records)
      checkpoints/step-XXXXXXXX/     model (safetensors), optimizer, RNG per process, trainer_state.json
      final/                         M0Pipeline.from_pretrained(final) loads the trained model

Checkpoints are written to a temp folder and renamed; a run started again with the same ``out_dir``
resumes from the newest one on the same loss curve (the data order and template choices depend only
on ``(seed, epoch, position)``). The loss covers the whole sequence unless ``target_only``.

The motion tokenizer's identity (:func:`motionbook_lib.tokenizer.identity.tokenizer_identity`, a hash of
its config, weights and normalizer) is recorded in the corpus cache, every checkpoint and ``final/``;
a run started again with another tokenizer (or ``init_from`` a model of another one) is refused with
an error naming both, since its codes would decode into wrong motions without any other error.

``max_length`` (None by default: the model's context) is the longest example the run accepts. Before
the first step the trainer computes the longest example its corpus can produce (:func:`longest_example`:
the motions cropped to ``max_frames`` in every template with their longest captions and body-part
lines); a ``max_length`` or a model context shorter than that is an error naming the settings, never
a crash many steps later. ``max_length`` changes no example, so a run may be resumed with another one.

``train_subset=k`` trains on k motions of the train split only: the first k of a permutation drawn from
``subset_seed`` (independent of ``seed``), so the subsets of a data-scaling sweep are nested.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save

from motionbook_lib import atomic
from motionbook_lib.data.store import MotionStore, open_store
from motionbook_lib.lm.dataset import answer_mask, collate_examples, corrupt_motion_inputs, encode_example
from motionbook_lib.lm.modeling_m0 import M0Config, build_m0
from motionbook_lib.lm.templates import _lc, build_example, templates_for
from motionbook_lib.lm.text_tokenizer import add_motion_tokens, load_text_tokenizer, train_text_tokenizer
from motionbook_lib.lm.vocab import MotionVocab
from motionbook_lib.metrics_log import append_metrics, truncate_metrics
from motionbook_lib.tokenizer.identity import IDENTITY_KEY, tokenizer_identity
from motionbook_lib.tokenizer.modeling_tokenizer import MotionTokenizer
from motionbook_lib.training import (
    STATE_FILE,
    EpochBatchSampler,
    latest_checkpoint,
    lr_factor,
    optimizer_from_files,
    read_json,
    set_rng_state,
    write_checkpoint,
    write_json,
)

FINAL_DIR = "final"
PIPELINE_FILE = "m0_pipeline.json"
CORPUS_FORMAT = "motionbook.m0-corpus"
#: Settings a run may change when it resumes: they change no example and no step.
RESUMABLE_FIELDS: tuple[str, ...] = ("max_length", "gap_every")


@dataclass
class M0TrainConfig:
    """Optimisation and data settings of one M0 training stage."""

    stage: int = 2
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 5e-4
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_ratio: float = 0.05
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    max_length: int | None = None  # longest example accepted; None: the model's context (checked at start)
    max_frames: int = 196
    target_only: bool = False
    # probability that a text-to-motion example shows an empty caption, so the same model also learns the
    # unconditional motion distribution that classifier-free guidance at generation (guidance_scale) needs
    caption_dropout: float = 0.0
    # share of the motion tokens in each answer that the model reads replaced by random motion tokens (the labels
    # stay true): the history no longer predicts the next token by itself, so the model must read the caption
    code_corruption: float = 0.0
    # task -> weight of the template draw (e.g. {"t2m": 4, "m2t": 2, ...}); None: uniform over templates
    task_weights: dict[str, float] | None = None
    # every k steps, log the conditioning gap (motion-token loss with another motion's caption minus with its
    # own, lm.evaluate.conditioning_gap) on up to gap_examples motions of gap_split; 0 = off
    gap_every: int = 0
    gap_split: str = "val"
    gap_examples: int = 64
    seed: int = 0
    mixed_precision: str = "no"
    log_every: int = 10
    ckpt_every: int = 100
    keep_checkpoints: int = 2
    cpu_threads: int = 0
    text_vocab_size: int = 2000
    init_from: str | None = None
    lora_r: int = 0  # > 0: train LoRA adapters (peft) of this rank plus the motion-token embeddings only
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    # train on the first k motions of a fixed permutation of the train split (drawn with subset_seed, not seed),
    # so smaller subsets are nested in larger ones; None = the whole split
    train_subset: int | None = None
    subset_seed: int = 1234
    model: M0Config = field(default_factory=M0Config)

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = M0Config(**self.model)
        self.betas = tuple(self.betas)  # type: ignore[assignment]
        if self.stage not in (1, 2):
            raise ValueError(f"stage must be 1 (alignment) or 2 (instruction tuning), got {self.stage}")
        if self.lora_r < 0:
            raise ValueError(f"lora_r must be >= 0, got {self.lora_r}")
        if not 0.0 <= self.caption_dropout < 1.0:
            raise ValueError(f"caption_dropout must be in [0, 1), got {self.caption_dropout}")
        if self.task_weights is not None:
            from motionbook_lib.lm.templates import TASKS

            bad = sorted(set(self.task_weights) - set(TASKS))
            if bad or any(not float(w) >= 0 for w in self.task_weights.values()) or not sum(self.task_weights.values()):
                raise ValueError(f"task_weights must map tasks {TASKS} to weights >= 0 (not all 0), "
                                 f"got {self.task_weights}")  # fmt: skip
            self.task_weights = {k: float(v) for k, v in sorted(self.task_weights.items())}
        if not 0.0 <= self.code_corruption < 1.0:
            raise ValueError(f"code_corruption must be in [0, 1), got {self.code_corruption}")
        if self.gap_every < 0 or self.gap_examples < 2:
            raise ValueError(f"gap_every must be >= 0 and gap_examples >= 2, got {self.gap_every}, {self.gap_examples}")
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise ValueError(f"mixed_precision must be 'no', 'bf16' or 'fp16', got {self.mixed_precision!r}")
        if self.train_subset is not None and (isinstance(self.train_subset, bool) or int(self.train_subset) < 1):
            raise ValueError(f"train_subset must be a positive number of motions or None, got {self.train_subset!r}")
        if self.max_length is not None and (isinstance(self.max_length, bool) or int(self.max_length) < 1):
            raise ValueError(f"max_length must be a positive number of tokens or None, got {self.max_length!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d


@dataclass
class MotionCorpus:
    """Motion codes of a store split: motion i has codes ``codes[offsets[i]:offsets[i + 1]]``."""

    codes: np.ndarray  # (N_steps, P) int64
    offsets: np.ndarray  # (N + 1,)
    index: np.ndarray  # (N,) store row of each motion

    def __len__(self) -> int:
        return len(self.index)

    def motion_codes(self, i: int) -> np.ndarray:
        return self.codes[self.offsets[i] : self.offsets[i + 1]]


def _cached_corpus(cache: Path, expected: dict[str, str]) -> MotionCorpus | None:
    """The corpus in ``cache`` if it was made with ``expected`` settings; None for a cache of an older version
    (it records no tokenizer, so it is made again); a ValueError naming the file and both values otherwise."""
    from safetensors import safe_open

    try:
        with safe_open(str(cache), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as err:  # a truncated or foreign file: a cache, so made again
        print(f"[m0] {cache}: unreadable corpus cache ({err}); tokenizing again", file=sys.stderr)
        return None
    if IDENTITY_KEY not in meta:
        print(f"[m0] {cache}: corpus cache records no motion tokenizer; tokenizing again", file=sys.stderr)
        return None
    if meta[IDENTITY_KEY] != expected[IDENTITY_KEY]:
        raise ValueError(
            f"{cache}: holds the codes of motion tokenizer {meta[IDENTITY_KEY]}, but this run's motion tokenizer is "
            f"{expected[IDENTITY_KEY]}; its codes would decode into wrong motions. Use the same tokenizer, or another "
            "out_dir for the new one"
        )
    for key in ("split", "max_frames"):
        if meta.get(key) != expected[key]:
            raise ValueError(f"{cache}: field {key!r} is {meta.get(key)!r}, this run has {expected[key]!r}; "
                             "use another out_dir or the same settings")  # fmt: skip
    t = load_file(str(cache))
    return MotionCorpus(t["codes"].numpy(), t["offsets"].numpy(), t["index"].numpy())


def tokenize_corpus(
    store: MotionStore,
    motion_tokenizer: MotionTokenizer,
    split: str,
    max_frames: int,
    cache: Path | None = None,
    identity: str | None = None,
) -> MotionCorpus:
    """Encode every motion of ``split`` (cropped to ``max_frames``, whole token steps) once; cached as safetensors.

    The cache records the tokenizer's identity (``identity``, computed when not given), the split and
    ``max_frames``; a cache made with other ones is a ValueError naming the file and both values.
    """
    expected = {"format": CORPUS_FORMAT, "split": split, "max_frames": str(int(max_frames)),
                IDENTITY_KEY: identity or tokenizer_identity(motion_tokenizer)}  # fmt: skip
    if cache is not None and cache.exists():
        cached = _cached_corpus(cache, expected)
        if cached is not None:
            return cached
    alpha = motion_tokenizer.config.alpha
    rows = store.split(split)
    chunks, offsets, index = [], [0], []
    with torch.no_grad():
        for i in rows:
            feat = store.features(int(i))[:max_frames]
            T = (feat.shape[0] // alpha) * alpha
            if T < alpha:
                continue
            codes = motion_tokenizer.encode(np.ascontiguousarray(feat[:T]))  # (S, P) or (S,)
            codes = codes.reshape(codes.shape[0], -1).cpu().numpy().astype(np.int64)
            chunks.append(codes)
            offsets.append(offsets[-1] + len(codes))
            index.append(int(i))
    if not chunks:
        raise ValueError(f"split {split!r} of {store.path} has no motion long enough to tokenize")
    corpus = MotionCorpus(np.concatenate(chunks), np.asarray(offsets), np.asarray(index))
    if cache is not None:  # atomically: a temp file beside it, then renamed
        atomic.write_bytes(cache, save({"codes": torch.from_numpy(corpus.codes),
                                        "offsets": torch.from_numpy(corpus.offsets),
                                        "index": torch.from_numpy(corpus.index)}, metadata=expected))  # fmt: skip
    return corpus


def subset_corpus(corpus: MotionCorpus, k: int, seed: int = 1234) -> MotionCorpus:
    """The first ``k`` motions of a permutation of ``corpus`` drawn from ``seed`` (kept in corpus order).

    For a fixed corpus and seed, the subset of size k is contained in the subset of any size > k.
    """
    if not 1 <= k <= len(corpus):
        raise ValueError(f"train_subset={k} motions: the train split has {len(corpus)} tokenizable motions")
    keep = np.sort(np.random.default_rng(seed).permutation(len(corpus))[:k])
    chunks = [corpus.motion_codes(int(i)) for i in keep]
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in chunks])])
    return MotionCorpus(np.concatenate(chunks), offsets, corpus.index[keep])


def make_example(
    corpus: MotionCorpus, store: MotionStore, vocab: MotionVocab, i: int, stage: int, seed: int, epoch: int,
    seconds_per_step: float, caption_dropout: float = 0.0, task_weights: dict[str, float] | None = None,
) -> tuple[str, str]:
    """(prompt, answer) for motion ``i``; the template and paraphrases depend only on (seed, epoch, i).

    With ``caption_dropout`` > 0 a text-to-motion example's caption is empty with that probability (drawn from
    the same stream after the caption, so 0 gives exactly the examples of a run without dropout).
    ``task_weights`` (task -> weight) draws the task first, then one of its templates; None draws uniformly over
    the stage's templates (so each task weighs as many templates as it has).
    """
    rng = np.random.default_rng([seed, epoch, i, 7])
    codes = corpus.motion_codes(i)  # (S, P)
    row = int(corpus.index[i])
    captions = store.captions(row) or [""]
    parts = store.part_captions(row)
    candidates = [
        t for t in templates_for(stage=stage)
        if not (t.task in ("continuation", "inbetween") and len(codes) < 3) and not (t.task == "part_t2m" and not parts)
    ]  # fmt: skip
    if task_weights:
        tasks = sorted({t.task for t in candidates if task_weights.get(t.task, 0) > 0})
        if not tasks:
            raise ValueError(f"task_weights {task_weights} gives no weight to a task that motion {row} can make")
        w = np.array([task_weights[t] for t in tasks], dtype=np.float64)
        task = tasks[int(rng.choice(len(tasks), p=w / w.sum()))]
        candidates = [t for t in candidates if t.task == task]
    template = candidates[int(rng.integers(len(candidates)))]
    caption = captions[int(rng.integers(len(captions)))]
    if caption_dropout > 0 and template.task == "t2m" and rng.random() < caption_dropout:
        caption = ""
    return build_example(template, codes, vocab, caption, parts, len(codes) * seconds_per_step, rng)


def _gap_metrics(model: Any, tok: Any, mtok: Any, vocab: MotionVocab, fps: float, store: MotionStore,
                 config: M0TrainConfig) -> dict[str, float]:
    """``val/conditioning_gap*`` of the model in training (:func:`motionbook_lib.lm.evaluate.conditioning_gap`)."""
    from motionbook_lib.lm.evaluate import conditioning_gap  # evaluate imports this module
    from motionbook_lib.lm.pipeline import M0Pipeline

    pipe = M0Pipeline(model, tok, mtok, vocab, fps, config.stage)
    g = conditioning_gap(pipe, store, config.gap_split, config.max_frames, seed=config.seed,
                         max_examples=config.gap_examples)  # fmt: skip
    return {
        "val/conditioning_gap": g["gap"],
        "val/conditioning_gap_per_motion": g["gap_per_motion"],
        "val/conditioning_gap_per_motion_ci95": g["gap_per_motion_ci95"],
        "val/motion_loss": g["motion_loss_own"],
    }


def longest_example(
    corpus: MotionCorpus,
    store: MotionStore,
    vocab: MotionVocab,
    tok: Any,
    stage: int,
    seconds_per_step: float,
    margin: int = 8,
    max_candidates: int = 64,
) -> tuple[int, str]:
    """(tokens, description) of the longest example :func:`make_example` can build from ``corpus``.

    Every motion token is one token, and text adds up almost exactly (BPE never merges across the spaces
    around a placeholder), so for each template the motions whose motion, caption and longest body-part
    lines add up to within ``margin`` tokens of the longest are rendered exactly, with each of their
    captions and the longest paraphrase of each body part.
    """
    sizes = lambda texts: [len(ids) for ids in tok(list(texts), add_special_tokens=False).input_ids]  # noqa: E731
    steps = np.diff(corpus.offsets).astype(np.int64)  # (N,)
    captions = [store.captions(int(row)) or [""] for row in corpus.index]
    parts = [{p: lines for p, lines in store.part_captions(int(row)).items() if lines} for row in corpus.index]
    unique = sorted({c for cs in captions for c in cs})
    caption_size = dict(zip(unique, (max(a, b) for a, b in zip(sizes(unique), sizes(map(_lc, unique)), strict=True)),
                            strict=True))  # fmt: skip
    lines = sorted({line for ps in parts for options in ps.values() for line in options})
    line_size = dict(zip(lines, sizes(lines), strict=True))
    longest_parts = [{p: [max(options, key=lambda t: (line_size[t], t))] for p, options in ps.items()} for ps in parts]
    caption_score = np.array([max(caption_size[c] for c in cs) for cs in captions])
    parts_score = np.array([sum(line_size[v[0]] for v in ps.values()) for ps in longest_parts])
    best, what = 0, ""
    for template in templates_for(stage=stage):
        ok = np.ones(len(corpus), bool)
        if template.task in ("continuation", "inbetween"):
            ok &= steps >= 3
        if template.task == "part_t2m":
            ok &= np.array([bool(ps) for ps in parts])
        if not ok.any():
            continue
        score = steps * vocab.tokens_per_step
        if template.fields & {"caption", "caption_lc"}:
            score = score + caption_score
        if "parts" in template.fields:
            score = score + parts_score
        score = np.where(ok, score, -1)
        near = np.flatnonzero(score >= score.max() - margin)
        for i in near[np.argsort(-score[near], kind="stable")][:max_candidates]:
            codes = np.zeros((int(steps[i]), vocab.tokens_per_step), np.int64)
            for caption in captions[i]:
                prompt, answer = build_example(template, codes, vocab, caption, longest_parts[i],
                                               int(steps[i]) * seconds_per_step, np.random.default_rng(0))  # fmt: skip
                n = len(encode_example(tok, prompt, answer, max_length=sys.maxsize)["input_ids"])
                if n > best:
                    best = n
                    what = (f"motion {store.ids[int(corpus.index[i])]!r} ({int(steps[i])} token steps) in template "
                            f"{template.name!r}")  # fmt: skip
    return best, what


def _text_tokenizer(cfg: M0TrainConfig, store: MotionStore, vocab: MotionVocab, out: Path):
    folder = out / "text_tokenizer"
    if (folder / "tokenizer.json").exists():
        return load_text_tokenizer(folder)
    if cfg.init_from:
        tok = load_text_tokenizer(Path(cfg.init_from))
    elif cfg.model.size == "pretrained":
        tok = load_text_tokenizer(Path(cfg.model.pretrained_path))  # type: ignore[arg-type]
    else:
        texts = []
        for i in store.split("train"):
            texts += store.captions(int(i))
            texts += [line for lines in store.part_captions(int(i)).values() for line in lines]
        texts += [t.prompt + " " + t.answer for t in templates_for(stage=2)]
        tok = train_text_tokenizer(texts, vocab_size=cfg.text_vocab_size)
    add_motion_tokens(tok, vocab)
    tmp = folder.with_name(".text_tokenizer.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tok.save_pretrained(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return tok


def _with_lora(model, config: M0TrainConfig, tok, vocab: MotionVocab, adapter: Path | None):
    """Wrap ``model`` in LoRA adapters (attention and MLP projections) + trainable motion-token rows."""
    from peft import LoraConfig, PeftModel, get_peft_model

    from motionbook_lib.lm.text_tokenizer import motion_token_ids

    if adapter is not None:  # resume: the same base, then the saved adapters
        return PeftModel.from_pretrained(model, adapter, is_trainable=True)
    kind = model.config.model_type
    targets = {"gpt2": ["c_attn", "c_proj", "c_fc"], "llama": ["q_proj", "k_proj", "v_proj", "o_proj"]}.get(kind)
    if targets is None:
        raise ValueError(f"LoRA targets are known for gpt2 and llama models, not {kind!r}")
    embedding = {"gpt2": "wte", "llama": "embed_tokens"}[kind]
    mot, end, ids = motion_token_ids(tok, vocab)
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=targets, trainable_token_indices={embedding: [mot, end, *ids]},
                      fan_in_fan_out=kind == "gpt2",  # GPT-2 stores its projections as Conv1D (in, out)
                      task_type="CAUSAL_LM")  # fmt: skip
    return get_peft_model(model, lora)


def _check_checkpoint_tokenizer(state_file: Path, recorded: str | None, identity: str) -> None:
    """A checkpoint resumes only with the motion tokenizer whose codes it was trained on."""
    if recorded is None:
        raise ValueError(
            f"{state_file}: this checkpoint does not record its motion tokenizer (it predates tokenizer identities), "
            f"so resuming it with motion tokenizer {identity} cannot be checked; use another out_dir"
        )
    if recorded != identity:
        raise ValueError(
            f"{state_file}: the run was trained on the codes of motion tokenizer {recorded}, but this call passes "
            f"motion tokenizer {identity}; its codes would decode into wrong motions. Use the same tokenizer, or "
            "another out_dir for the new one"
        )


def _check_init_from(folder: Path, identity: str) -> None:
    """``init_from`` a pipeline folder of another motion tokenizer is refused (its motion tokens mean other codes)."""
    info_file = folder / PIPELINE_FILE
    if not info_file.is_file():
        return  # a plain language model folder: nothing recorded to check
    recorded = read_json(info_file).get(IDENTITY_KEY)
    if recorded is not None and recorded != identity:
        raise ValueError(
            f"{info_file}: init_from was trained on the codes of motion tokenizer {recorded}, but this run's motion "
            f"tokenizer is {identity}; train both stages with the same tokenizer"
        )


@dataclass
class M0TrainResult:
    out_dir: Path
    model_dir: Path
    step: int
    resumed_from: int | None
    losses: dict[int, float]
    tokens_per_second: float
    weights_digest: str = ""  # sha256 of this process's final weights (equal on every DDP rank)


def train_m0(
    config: M0TrainConfig,
    store_path: str | os.PathLike | MotionStore,
    motion_tokenizer: str | os.PathLike | MotionTokenizer,
    out_dir: str | os.PathLike,
    steps: int,
    *,
    progress: bool = True,
    callback: Callable[[int, float], None] | None = None,
) -> M0TrainResult:
    """Train (or resume) one M0 stage for ``steps`` optimizer steps on a store's train split."""
    from accelerate import Accelerator
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM

    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    store = open_store(store_path)
    mtok = motion_tokenizer if isinstance(motion_tokenizer, MotionTokenizer) else MotionTokenizer.from_pretrained(
        motion_tokenizer)  # fmt: skip
    mtok.eval()
    identity = tokenizer_identity(mtok)
    out = Path(out_dir)
    if config.init_from:
        _check_init_from(Path(config.init_from), identity)
    if config.cpu_threads:
        torch.set_num_threads(config.cpu_threads)
    # cpu=True without CUDA: accelerate then runs several processes (torchrun / accelerate launch) as DDP over gloo
    accelerator = Accelerator(
        mixed_precision=config.mixed_precision,
        gradient_accumulation_steps=config.grad_accum,
        cpu=not torch.cuda.is_available(),
    )
    main, world, rank = accelerator.is_main_process, accelerator.num_processes, accelerator.process_index
    vocab = MotionVocab(mtok.config.codebook_size, mtok.config.tokens_per_step)
    fps = store.fps()

    corpus_file = out / "corpus" / "train.safetensors"
    if main:
        out.mkdir(parents=True, exist_ok=True)
        tokenize_corpus(store, mtok, "train", config.max_frames, corpus_file, identity)
        _text_tokenizer(config, store, vocab, out)
    accelerator.wait_for_everyone()
    corpus = tokenize_corpus(store, mtok, "train", config.max_frames, corpus_file, identity)
    fingerprint = config.to_dict()
    for key in ("code_corruption", "task_weights"):  # runs without these keep the fingerprint they had before
        if not fingerprint[key]:
            del fingerprint[key]
    if config.train_subset is None:  # runs without a subset keep the fingerprint they had before the option
        del fingerprint["train_subset"], fingerprint["subset_seed"]
    else:
        corpus = subset_corpus(corpus, int(config.train_subset), config.subset_seed)
    tok = load_text_tokenizer(out / "text_tokenizer")
    seconds_per_step = mtok.config.alpha / fps
    need, longest = longest_example(corpus, store, vocab, tok, config.stage, seconds_per_step)
    if config.max_length is not None and need > config.max_length:
        raise ValueError(
            f"max_length={config.max_length} is too short for max_frames={config.max_frames}: {longest} makes an "
            f"example of {need} tokens; set max_length >= {need} (or None: the model's context) or lower max_frames"
        )

    expected = {"train_config": fingerprint, "steps": steps, "num_processes": world,
                "store": str(store.path), "motions": len(corpus), IDENTITY_KEY: identity}  # fmt: skip
    sampler = EpochBatchSampler(len(corpus), config.batch_size, world, rank, seed=config.seed)
    if sampler.batches_per_epoch < config.grad_accum:
        raise ValueError(
            f"{len(corpus)} training motions give {sampler.batches_per_epoch} batches of "
            f"{config.batch_size * world} per epoch, fewer than grad_accum={config.grad_accum}"
        )

    ckpt = latest_checkpoint(out)
    torch.manual_seed(config.seed)
    if ckpt is not None:
        state = read_json(ckpt / STATE_FILE)
        _check_checkpoint_tokenizer(ckpt / STATE_FILE, state.get(IDENTITY_KEY), identity)
        for key, want in expected.items():
            have = state.get(key)
            if key == "train_config" and isinstance(have, dict):
                have = {k: v for k, v in have.items() if k not in RESUMABLE_FIELDS}
                want = {k: v for k, v in want.items() if k not in RESUMABLE_FIELDS}
            if have != want:
                raise ValueError(f"{ckpt / STATE_FILE}: field {key!r} is {have!r}, this run has {want!r}; "
                                 "use another out_dir or the same settings")  # fmt: skip
        step, epoch, batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        resumed_from: int | None = step
    else:
        step, epoch, batch_in_epoch, resumed_from = 0, 0, 0, None
    if ckpt is not None and not config.lora_r:
        model = AutoModelForCausalLM.from_pretrained(ckpt / "model", local_files_only=True)
    elif config.init_from:
        model = AutoModelForCausalLM.from_pretrained(Path(config.init_from), local_files_only=True)
    else:
        model = build_m0(config.model, tok, seed=config.seed)
    context = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", None)
    if context is not None and need > context:
        raise ValueError(
            f"max_frames={config.max_frames}: {longest} makes an example of {need} tokens, more than the model's "
            f"context of {context} positions; lower max_frames or raise model.max_positions"
        )
    max_length = config.max_length or context or need
    if config.lora_r:
        model = _with_lora(model, config, tok, vocab, ckpt / "model" if ckpt is not None else None)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.lr,
        betas=config.betas,
        weight_decay=config.weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, steps, config.warmup_ratio, config.min_lr_ratio)
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    if ckpt is not None:
        optimizer.load_state_dict(optimizer_from_files(load_file(str(ckpt / "optimizer.safetensors")),
                                                       read_json(ckpt / "optimizer.json")))  # fmt: skip
        scheduler.load_state_dict(state["scheduler"])
        rng_file = ckpt / f"rng-rank{rank}.safetensors"
        set_rng_state(load_file(str(rng_file)), read_json(rng_file.with_suffix(".json")))
    if main:
        truncate_metrics(out / "metrics.jsonl", step)
        write_json(out / "train_config.json", expected)

    def save_checkpoint() -> None:
        state = {**expected, "epoch": epoch, "batch_in_epoch": batch_in_epoch, "scheduler": scheduler.state_dict()}

        def save_model(folder: Path) -> None:
            accelerator.unwrap_model(model).save_pretrained(folder / "model", safe_serialization=True)

        write_checkpoint(out, step, accelerator, save_model, optimizer, state, config.keep_checkpoints)

    from motionbook_lib.lm.text_tokenizer import motion_token_ids

    motion_ids = torch.tensor(motion_token_ids(tok, vocab)[2])
    losses: dict[int, float] = {}
    n_tokens, t0 = 0, time.perf_counter()
    bar = tqdm(total=steps, initial=step, disable=not (progress and main), desc=f"M0 stage {config.stage}")
    while step < steps:
        sampler.set_position(epoch, batch_in_epoch)
        batches = iter(sampler)
        # one optimizer step = grad_accum micro-batches; an epoch's leftover micro-batches are dropped
        while step < steps and sampler.batches_per_epoch - batch_in_epoch >= config.grad_accum:
            step_loss = 0.0
            for _ in range(config.grad_accum):
                idx = next(batches)
                examples = [
                    encode_example(tok, *make_example(corpus, store, vocab, i, config.stage, config.seed, epoch,
                                                      seconds_per_step, config.caption_dropout,
                                                      config.task_weights),
                                   target_only=config.target_only, max_length=max_length)
                    for i in idx
                ]  # fmt: skip
                batch = collate_examples(examples, tok.pad_token_id)
                if config.code_corruption:  # drawn from (seed, rank, step, micro-batch): the same after a resume
                    seq = np.random.SeedSequence([config.seed, rank, step, batch_in_epoch, 11])
                    g = torch.Generator().manual_seed(int(seq.generate_state(1, np.uint64)[0] >> 1))
                    batch["input_ids"] = corrupt_motion_inputs(batch["input_ids"], answer_mask(examples), motion_ids,
                                                               config.code_corruption, g)  # fmt: skip
                batch = {k: v.to(accelerator.device) for k, v in batch.items()}
                n_tokens += int(batch["attention_mask"].sum()) * world
                with accelerator.accumulate(model):
                    loss = model(**batch).loss
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and config.grad_clip:
                        accelerator.clip_grad_norm_(model.parameters(), config.grad_clip)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                step_loss += float(accelerator.reduce(loss.detach(), "mean")) / config.grad_accum
                batch_in_epoch += 1
            scheduler.step()
            step += 1
            losses[step] = step_loss
            bar.update(1)
            if main and (step % config.log_every == 0 or step == steps):
                rate = n_tokens / max(time.perf_counter() - t0, 1e-9)
                append_metrics(out, {"train/loss": step_loss, "train/lr": scheduler.get_last_lr()[0],
                                     "train/tokens_per_s": rate}, step)  # fmt: skip
                bar.set_postfix(loss=f"{step_loss:.3f}")
            if main and config.gap_every and (step % config.gap_every == 0 or step == steps):
                append_metrics(out, _gap_metrics(accelerator.unwrap_model(model), tok, mtok, vocab, fps, store,
                                                 config), step)  # fmt: skip
            if (config.ckpt_every and step % config.ckpt_every == 0) or step == steps:
                save_checkpoint()
            if callback is not None:
                callback(step, step_loss)
        if step < steps:
            epoch, batch_in_epoch = epoch + 1, 0
    bar.close()
    digest = hashlib.sha256()
    for name, value in sorted(accelerator.unwrap_model(model).state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().float().cpu().numpy().tobytes())
    final = out / FINAL_DIR
    if main:
        tmp = out / f".{FINAL_DIR}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        net = accelerator.unwrap_model(model)
        if config.lora_r:  # the final model is a plain one: adapters merged into the weights
            net = net.merge_and_unload()
        net.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        mtok.save_pretrained(tmp / "motion_tokenizer")
        write_json(tmp / PIPELINE_FILE, {"codebook_size": vocab.codebook_size, "tokens_per_step": vocab.tokens_per_step,
                                         "fps": fps, "stage": config.stage, "step": step,
                                         IDENTITY_KEY: identity})  # fmt: skip
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    accelerator.wait_for_everyone()
    elapsed = time.perf_counter() - t0
    return M0TrainResult(
        out, final, step, resumed_from, losses, n_tokens / elapsed if elapsed > 0 else 0.0, digest.hexdigest()
    )
