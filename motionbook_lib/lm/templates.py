"""Instruction templates: how a motion and its text become one training sequence.

Each :class:`Template` has a task, a prompt and an answer with ``{placeholders}``:

- ``caption``: a whole-body caption; ``parts``: the body-part lines ("left arm: ...");
- ``motion``: the whole motion as ``<mot>...</mot>``; ``prefix`` / ``suffix`` / ``middle``:
  pieces of it (continuation and in-betweening);
- ``seconds``: the motion's duration.

Stage 1 (text-motion alignment) uses the plain ``align_*`` templates; stage 2
(instruction tuning) samples from all the others. The paper used 250+ templates; this
library has over 50 across five tasks and is easy to extend.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from motionbook_lib.lm.vocab import MotionVocab

TASKS: tuple[str, ...] = ("t2m", "m2t", "part_t2m", "continuation", "inbetween")
PART_ORDER: tuple[str, ...] = ("torso", "left_arm", "right_arm", "left_leg", "right_leg")


@dataclass(frozen=True)
class Template:
    name: str
    task: str
    prompt: str
    answer: str
    stage: int = 2

    @property
    def fields(self) -> set[str]:
        f = string.Formatter()
        return {name for text in (self.prompt, self.answer) for _, name, _, _ in f.parse(text) if name}

    def render(self, **values: str) -> tuple[str, str]:
        """Fill the placeholders; a missing one is a ``ValueError`` naming it and the template."""
        missing = sorted(self.fields - set(values))
        if missing:
            raise ValueError(f"template {self.name!r} needs {missing}")
        return self.prompt.format(**values), self.answer.format(**values)


def _make(task: str, prefix: str, pairs: Sequence[tuple[str, str]], stage: int = 2) -> list[Template]:
    return [Template(f"{prefix}_{i:02d}", task, p, a, stage) for i, (p, a) in enumerate(pairs)]


_T2M = [
    ("Generate a motion: {caption}", "{motion}"),
    ("Show me a person who {caption_lc}", "{motion}"),
    ("Create a {seconds}-second motion where {caption_lc}", "{motion}"),
    ("Animate this description: {caption}", "{motion}"),
    ("Please produce the movement described here: {caption}", "{motion}"),
    ("Text: {caption}\nMotion:", "{motion}"),
    ("Can you demonstrate the following? {caption}", "Sure, here it is: {motion}"),
    ("Make a character perform this action: {caption}", "{motion}"),
    ("I need motion tokens for: {caption}", "{motion}"),
    ("Translate the sentence into body movement: {caption}", "{motion}"),
    ("Describe with motion, not words, what it looks like when {caption_lc}", "{motion}"),
    ("Write the motion for a clip of about {seconds} seconds: {caption}", "{motion}"),
    ("Choreograph this: {caption}", "{motion}"),
    ("Given the caption \"{caption}\", generate the corresponding human motion.", "{motion}"),
    ("Perform: {caption}", "{motion}"),
]
_M2T = [
    ("Describe this motion: {motion}", "{caption}"),
    ("What is the person doing in {motion}?", "{caption}"),
    ("Caption the movement {motion}", "{caption}"),
    ("{motion} Explain the motion above in one sentence.", "{caption}"),
    ("Motion: {motion}\nText:", "{caption}"),
    ("Give a short description of {motion}", "{caption}"),
    ("Watch this {seconds}-second clip and say what happens: {motion}", "{caption}"),
    ("Summarize the action in {motion}", "{caption}"),
    ("Here are motion tokens: {motion}. What movement do they show?", "{caption}"),
    ("Tell me what this body is doing: {motion}", "{caption}"),
    ("Write a caption for the animation {motion}", "{caption}"),
    ("Describe each body part, then the whole motion: {motion}", "{parts}\nOverall: {caption}"),
]
_PART = [
    ("Generate a motion from body-part instructions.\n{parts}", "{motion}"),
    ("Body parts:\n{parts}\nWhole body: {caption}\nMotion:", "{motion}"),
    ("Make a motion in which:\n{parts}", "{motion}"),
    ("Follow these per-limb directions and animate them:\n{parts}", "{motion}"),
    ("{caption} In detail:\n{parts}\nGenerate it.", "{motion}"),
    ("Compose a movement where each part does the following.\n{parts}", "{motion}"),
    ("Use the hierarchical description to create the motion.\nSummary: {caption}\nParts:\n{parts}", "{motion}"),
    ("Here is what the torso, arms and legs do:\n{parts}\nShow it.", "{motion}"),
    ("Animate part by part:\n{parts}", "{motion}"),
    ("Instructions for the body:\n{parts}\nProduce the motion tokens.", "{motion}"),
]
_CONT = [
    ("Continue this motion: {prefix}", "{suffix}"),
    ("Here is the start of a motion: {prefix} What comes next?", "{suffix}"),
    ("Predict the rest of the movement after {prefix}", "{suffix}"),
    ("The person begins like this: {prefix} Finish the motion so that {caption_lc}", "{suffix}"),
    ("Motion so far: {prefix}\nContinuation:", "{suffix}"),
    ("Extend {prefix} into a complete motion.", "{suffix}"),
    ("Given the first part {prefix}, generate the following frames.", "{suffix}"),
    ("Complete the action ({caption}) that starts with {prefix}", "{suffix}"),
]
_INBETWEEN = [
    ("Fill in the middle between {prefix} and {suffix}", "{middle}"),
    ("Start: {prefix}\nEnd: {suffix}\nMiddle:", "{middle}"),
    ("Generate the transition from {prefix} to {suffix}", "{middle}"),
    ("In-between: the motion begins with {prefix} and ends with {suffix}. What happens in between?", "{middle}"),
    ("Connect these two clips smoothly: {prefix} ... {suffix}", "{middle}"),
    ("Complete the gap so that {caption_lc}: {prefix} [gap] {suffix}", "{middle}"),
    ("Bridge {prefix} and {suffix} with a natural motion.", "{middle}"),
]
_ALIGN = [
    ("{caption}", "{motion}"),
    ("{motion}", "{caption}"),
]

TEMPLATES: tuple[Template, ...] = tuple(
    _make("t2m", "t2m", _T2M)
    + _make("m2t", "m2t", _M2T)
    + _make("part_t2m", "part_t2m", _PART)
    + _make("continuation", "continuation", _CONT)
    + _make("inbetween", "inbetween", _INBETWEEN)
    + [Template("align_t2m", "t2m", *_ALIGN[0], stage=1), Template("align_m2t", "m2t", *_ALIGN[1], stage=1)]
)
_BY_NAME = {t.name: t for t in TEMPLATES}


def get_template(name: str) -> Template:
    """The template called ``name``; an unknown name is a ``ValueError`` listing the tasks and a few names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown template {name!r}; templates are named <task>_<nn> for tasks {TASKS} "
            f"(e.g. {', '.join(list(_BY_NAME)[:3])}) or align_t2m / align_m2t"
        ) from None


def templates_for(task: str | None = None, stage: int = 2) -> list[Template]:
    """Templates of one task (or all) used at a training stage."""
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task {task!r}; tasks are {TASKS}")
    return [t for t in TEMPLATES if t.stage == stage and (task is None or t.task == task)]


def format_parts(part_captions: dict[str, Sequence[str]], rng: np.random.Generator | None = None) -> str:
    """One line per body part, "left arm: ...", in a fixed part order (a random paraphrase with ``rng``)."""
    lines = []
    for part in PART_ORDER:
        options = part_captions.get(part) or []
        if not options:
            continue
        text = options[int(rng.integers(len(options)))] if rng is not None else options[0]
        lines.append(f"{part.replace('_', ' ')}: {text}")
    return "\n".join(lines)


def _lc(caption: str) -> str:
    """"A person walks." -> "a person walks" for templates that embed the caption mid-sentence."""
    c = caption.strip().rstrip(".")
    return c[:1].lower() + c[1:]


def build_example(
    template: Template,
    codes: np.ndarray,
    vocab: MotionVocab,
    caption: str,
    part_captions: dict[str, Sequence[str]] | None = None,
    seconds: float | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[str, str]:
    """(prompt, answer) for one motion: its codes (S,) / (S, P) and text.

    Continuation keeps the first 20-50 % of steps as the prefix; in-betweening hides
    the middle 25-75 % (both cut on whole steps, so every piece stays decodable).
    """
    rng = rng or np.random.default_rng(0)
    codes = np.asarray(codes)
    S = codes.shape[0]
    values = {
        "caption": caption,
        "caption_lc": _lc(caption),
        "motion": vocab.to_text(codes),
        "parts": format_parts(part_captions or {}, rng),
        "seconds": f"{seconds:.0f}" if seconds is not None else "a few",
    }
    if template.task in ("continuation", "inbetween"):
        if S < 3:
            raise ValueError(f"template {template.name!r} needs a motion of at least 3 token steps, got {S}")
        if template.task == "continuation":
            cut = int(np.clip(round(S * rng.uniform(0.2, 0.5)), 1, S - 1))
            values.update(prefix=vocab.to_text(codes[:cut]), suffix=vocab.to_text(codes[cut:]))
        else:
            a = int(np.clip(round(S * 0.25), 1, S - 2))
            b = int(np.clip(round(S * 0.75), a + 1, S - 1))
            values.update(
                prefix=vocab.to_text(codes[:a]), middle=vocab.to_text(codes[a:b]), suffix=vocab.to_text(codes[b:])
            )
    if template.task == "part_t2m" and not values["parts"]:
        raise ValueError(f"template {template.name!r} needs part captions, and this motion has none")
    return template.render(**values)
