"""Code-to-motion explorer: which motion segments use a code, and what the code alone decodes to."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from motionbook_lib.analysis.codebook import TokenizedSplit
from motionbook_lib.data.store import MotionStore
from motionbook_lib.skeleton import DEFAULT_FPS
from motionbook_lib.tokenizer import PART_NAMES, MotionTokenizer, TokenizerConfig

__all__ = ["CodeView", "code_segments", "code_view", "code_view_figure", "repeated_code_joints", "repeated_code_tokens"]


def code_segments(tokenized: TokenizedSplit, code: int, part: int | None = None, top: int = 5) -> pd.DataFrame:
    """The runs of consecutive token steps holding ``code``, longest first (ties: motion order).

    ``part`` picks a token column (2D-LFQ body part / RVQ level); None matches ``code`` in any
    column. Columns: ``motion`` (position in ``tokenized``), ``row`` (store index), ``step`` (first
    token step), ``length`` (steps), ``frame_start``/``frame_end`` (frames ``[start, end)``),
    ``uses_in_motion`` (steps of that motion holding the code) and ``labels``.
    """
    rows = []
    for m, tok in enumerate(tokenized.tokens):
        hit = tok == code if tok.ndim == 1 else (tok[:, part] == code if part is not None else (tok == code).any(-1))
        if not hit.any():
            continue
        uses = int(hit.sum())
        padded = np.concatenate([[False], hit, [False]]).astype(np.int8)
        starts = np.flatnonzero(np.diff(padded) == 1)
        ends = np.flatnonzero(np.diff(padded) == -1)
        for s, e in zip(starts, ends, strict=True):
            rows.append(
                {
                    "motion": m,
                    "row": int(tokenized.rows[m]),
                    "step": int(s),
                    "length": int(e - s),
                    "frame_start": int(s) * tokenized.alpha,
                    "frame_end": int(e) * tokenized.alpha,
                    "uses_in_motion": uses,
                    "labels": ", ".join(tokenized.labels[m]),
                }
            )
    cols = ["motion", "row", "step", "length", "frame_start", "frame_end", "uses_in_motion", "labels"]
    df = pd.DataFrame(rows, columns=cols)
    if df.empty:
        return df
    df = df.sort_values(["length", "uses_in_motion", "motion", "step"], ascending=[False, False, True, True])
    return df.head(top).reset_index(drop=True)


def repeated_code_tokens(
    config: TokenizerConfig, code: int, steps: int = 16, part: int | None = None, background: int | None = None
) -> torch.Tensor:
    """A token sequence holding ``code`` at every step: ``(steps,)``, ``(steps, 6)`` or ``(steps, Q)``.

    With several columns (2D-LFQ parts, RVQ levels), ``part=None`` puts ``code`` in every column;
    otherwise column ``part`` holds ``code`` and the others ``background`` (default: ``code`` too).
    """
    if not 0 <= code < config.codebook_size:
        raise ValueError(f"code must be in [0, {config.codebook_size}), got {code}")
    shape = config.token_shape(steps * config.alpha)
    if len(shape) == 1:
        return torch.full(shape, code, dtype=torch.long)
    fill = code if (part is None or background is None) else background
    tok = torch.full(shape, fill, dtype=torch.long)  # (steps, P)
    if part is not None:
        tok[:, part] = code
    return tok


@torch.no_grad()
def repeated_code_joints(
    model: MotionTokenizer, code: int, steps: int = 16, part: int | None = None, background: int | None = None
) -> torch.Tensor:
    """Decode :func:`repeated_code_tokens` to joints ``(steps * alpha, 22, 3)`` (neutral body, metres)."""
    tok = repeated_code_tokens(model.config, code, steps, part, background)
    return model.tokens_to_joints(tok[None])[0].cpu()


@dataclass
class CodeView:
    """What :func:`code_view` found for one code: segments, their joints, and the repeated code."""

    code: int
    part: int | None
    segments: pd.DataFrame
    ground_truth: list[torch.Tensor] = field(default_factory=list)  # per segment (T, 22, 3)
    decoded: list[torch.Tensor] = field(default_factory=list)  # per segment (T, 22, 3) via the tokens
    repeated: torch.Tensor | None = None  # (steps * alpha, 22, 3)
    titles: list[str] = field(default_factory=list)

    @property
    def part_name(self) -> str:
        return "all parts" if self.part is None else (PART_NAMES[self.part] if self.part < 6 else str(self.part))


@torch.no_grad()
def code_view(
    model: MotionTokenizer,
    tokenized: TokenizedSplit,
    store: MotionStore,
    code: int,
    part: int | None = None,
    top: int = 3,
    context_steps: int = 2,
    repeat_steps: int = 16,
) -> CodeView:
    """The ``top`` segments using ``code`` (with ``context_steps`` token steps around them), each as
    ground truth and as decoded from its tokens, plus ``code`` repeated over ``repeat_steps`` steps."""
    seg = code_segments(tokenized, code, part, top)
    view = CodeView(code, part, seg)
    alpha = tokenized.alpha
    for r in seg.itertuples():
        tok = torch.as_tensor(tokenized.tokens[r.motion])
        s0 = max(0, r.step - context_steps)
        s1 = min(len(tok), r.step + r.length + context_steps)
        motion = store.motion(int(r.row))
        skel = motion.skeleton
        gt = torch.as_tensor(motion.joints()[s0 * alpha : s1 * alpha]).clone()  # (T, 22, 3)
        gt[..., [0, 2]] -= gt[:1, :1, [0, 2]].clone()  # start at the origin like the decoded one
        dec = model.tokens_to_joints(tok[None, s0:s1], skeleton=skel)[0].cpu()  # (T, 22, 3)
        view.ground_truth.append(gt)
        view.decoded.append(dec)
        view.titles.append(f"motion {r.row} frames {s0 * alpha}-{s1 * alpha}")
    view.repeated = repeated_code_joints(model, code, repeat_steps, part)
    return view


def code_view_figure(view: CodeView, fps: float = DEFAULT_FPS, max_segments: int = 2):
    """A synced skeleton figure: decoded segments (up to ``max_segments``) and the repeated code."""
    from motionbook_lib.viz import skeleton_figure

    joints, titles = [], []
    for gt, dec, title in list(zip(view.ground_truth, view.decoded, view.titles, strict=True))[:max_segments]:
        joints += [gt, dec]
        titles += [f"{title} (data)", "decoded"]
    joints.append(view.repeated)
    titles.append(f"code {view.code} repeated ({view.part_name})")
    n = max(len(j) for j in joints)  # shorter clips hold their last frame
    joints = [torch.cat([j, j[-1:].expand(n - len(j), -1, -1)]) if len(j) < n else j for j in joints]
    return skeleton_figure(
        joints, titles=titles, fps=fps, title=f"code {view.code}, {view.part_name}: {len(view.segments)} top segments"
    )
