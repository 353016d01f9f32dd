"""M0 at inference: text -> motion and motion -> text, with the motion tokenizer attached."""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerFast

from motionbook_lib.features.d135 import d135_to_joints
from motionbook_lib.lm.modeling_m0 import generate_codes
from motionbook_lib.lm.templates import PART_ORDER, format_parts, get_template
from motionbook_lib.lm.text_tokenizer import load_text_tokenizer
from motionbook_lib.lm.vocab import MotionVocab
from motionbook_lib.skeleton import DEFAULT_FPS
from motionbook_lib.tokenizer.foot_lock import lock_feet
from motionbook_lib.tokenizer.identity import IDENTITY_KEY, tokenizer_identity
from motionbook_lib.tokenizer.modeling_tokenizer import MotionTokenizer
from motionbook_lib.training import read_json

PIPELINE_FILE = "m0_pipeline.json"


@dataclass
class M0Pipeline:
    """A trained M0 (language model + text tokenizer) and the motion tokenizer it speaks."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerFast
    motion_tokenizer: MotionTokenizer
    vocab: MotionVocab
    fps: float = DEFAULT_FPS
    stage: int = 2  # the training stage: 1 speaks the alignment templates, 2 the instruction templates
    #: hold planted feet in place when decoding (:func:`motionbook_lib.tokenizer.foot_lock.lock_feet`: root path
    #: and leg IK, pose otherwise as decoded); False gives the tokenizer's raw decode
    foot_lock: bool = True

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> M0Pipeline:
        """Load the ``final/`` folder written by :func:`motionbook_lib.lm.train.train_m0`.

        The motion tokenizer in ``motion_tokenizer/`` must be the one the model was trained with: the
        identity recorded in ``m0_pipeline.json`` is checked (a folder written before identities were
        recorded loads unchecked)."""
        folder = Path(folder)
        if not (folder / PIPELINE_FILE).exists():
            raise FileNotFoundError(f"no M0 pipeline in {folder}: expected {PIPELINE_FILE} there")
        info = read_json(folder / PIPELINE_FILE)
        mtok = MotionTokenizer.from_pretrained(folder / "motion_tokenizer").eval()
        vocab = MotionVocab(info["codebook_size"], info["tokens_per_step"])
        if (mtok.config.codebook_size, mtok.config.tokens_per_step) != (vocab.codebook_size, vocab.tokens_per_step):
            raise ValueError(f"{folder / PIPELINE_FILE}: vocabulary does not match the motion tokenizer's config")
        recorded = info.get(IDENTITY_KEY)
        if recorded is not None and recorded != tokenizer_identity(mtok):
            raise ValueError(
                f"{folder / PIPELINE_FILE}: the model was trained on the codes of motion tokenizer {recorded}, but "
                f"{folder / 'motion_tokenizer'} is motion tokenizer {tokenizer_identity(mtok)}; its motions would "
                "decode wrongly. Put back the tokenizer the model was trained with"
            )
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()
        return cls(model, load_text_tokenizer(folder), mtok, vocab, float(info.get("fps", DEFAULT_FPS)),
                   int(info.get("stage", 2)))  # fmt: skip

    def _steps(self, seconds: float | None, name: str = "seconds") -> tuple[int, int]:
        """(min_steps, max_steps) for ``seconds`` (rounded to whole token steps, at least one; None: up to 10 s)."""
        if seconds is not None:
            if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
                raise TypeError(f"{name} must be a number of seconds or None, got {type(seconds).__name__} "
                                f"{seconds!r}")  # fmt: skip
            if not math.isfinite(seconds) or seconds <= 0:
                raise ValueError(f"{name} must be a positive, finite number of seconds, got {seconds!r}")
        step_s = self.motion_tokenizer.config.alpha / self.fps
        if seconds is None:
            return 1, round(10.0 / step_s)
        n = max(1, round(seconds / step_s))
        return n, n

    def _decode(self, codes: np.ndarray) -> dict[str, object]:
        with torch.no_grad():
            tokens = torch.as_tensor(codes)[None]  # (1, S[, P])
            features = self.motion_tokenizer.decode(tokens)[0]  # (T, 135)
            if self.foot_lock:
                features = lock_feet(features, fps=self.fps).to(features)
            joints = d135_to_joints(features)  # (T, 22, 3) on the neutral body
        return {"codes": codes, "features": features, "joints": joints}

    def _sample(
        self, template: str, fields: dict[str, str], steps: tuple[int, int], guidance_scale: float, **sampling: Any
    ) -> np.ndarray:
        """Codes (S, P) answering ``template`` rendered with ``fields``; guidance blanks the caption."""
        values = dict(caption="", caption_lc="", motion="", seconds="4", parts="", prefix="", suffix="", middle="")
        values.update(fields)
        chosen = get_template(template)
        prompt, _ = chosen.render(**values)
        unconditional, _ = chosen.render(**{**values, "caption": "", "caption_lc": ""})
        # prompt + " " + <mot>: the tokens training saw (encode_example joins prompt and answer with a space)
        return generate_codes(self.model, self.tokenizer, self.vocab, prompt + " ", *steps,
                              guidance_scale=guidance_scale, unconditional_prompt=unconditional + " ",
                              **sampling)  # fmt: skip

    def generate_motion(
        self,
        text: str,
        seconds: float | None = None,
        template: str | None = None,
        temperature: float = 1.0,
        top_k: int | None = 50,
        top_p: float | None = None,
        do_sample: bool = True,
        seed: int | None = None,
        use_cache: bool = True,
        guidance_scale: float = 1.0,
    ) -> dict[str, object]:
        """A motion for ``text``: dict with ``codes`` (S, P), ``features`` (T, 135) and ``joints`` (T, 22, 3).

        ``template`` defaults to the one the model's stage trained on (``align_t2m`` after stage 1, ``t2m_00``
        after stage 2). ``guidance_scale`` > 1 applies classifier-free guidance against the same template with
        an empty caption (for a model trained with ``caption_dropout``); 1 is plain sampling.

        ``text`` must be a non-empty description (None, a non-string or blank text is refused).
        ``seconds`` fixes the length: a positive number, rounded to whole token steps (at least one);
        otherwise (None) the model chooses, up to about 10 s. A wrong type is a TypeError, zero, a negative
        or a non-finite number a ValueError, each naming the argument.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a string describing the motion, got {type(text).__name__} {text!r}")
        if not text.strip():
            raise ValueError(f"text is empty ({text!r}): M0 generates a motion from a description, "
                             "e.g. 'a person walks forward'")  # fmt: skip
        steps = self._steps(seconds)
        fields = dict(caption=text, caption_lc=text, seconds=f"{seconds or 4:.0f}")
        codes = self._sample(template or ("align_t2m" if self.stage == 1 else "t2m_00"), fields, steps,
                             guidance_scale, do_sample=do_sample, temperature=temperature, top_k=top_k, top_p=top_p,
                             use_cache=use_cache, seed=seed)  # fmt: skip
        return self._decode(codes)

    def generate_from_parts(
        self,
        parts: dict[str, str],
        caption: str = "",
        seconds: float | None = None,
        template: str = "part_t2m_01",
        seed: int | None = None,
        **sampling: Any,
    ) -> dict[str, object]:
        """A motion from body-part instructions (stage-2 models): ``parts`` maps ``torso``, ``left_arm``,
        ``right_arm``, ``left_leg``, ``right_leg`` to a line each; ``caption`` is the whole-body line of templates
        that have one. Returns the dict of :meth:`generate_motion`."""
        unknown = sorted(set(parts) - set(PART_ORDER))
        if unknown or not parts:
            raise ValueError(f"parts must map some of {', '.join(PART_ORDER)} to text, got {sorted(parts)}")
        text = format_parts({k: [v] for k, v in parts.items()})
        fields = dict(parts=text, caption=caption, caption_lc=caption)
        return self._decode(self._sample(template, fields, self._steps(seconds), 1.0, seed=seed, **sampling))

    def continue_motion(
        self, prefix_codes: np.ndarray, seconds: float, template: str = "continuation_00", seed: int | None = None,
        **sampling: Any,
    ) -> dict[str, object]:
        """The given start (codes (S, P), e.g. from ``motion_tokenizer.encode``) and ``seconds`` more: the whole
        motion's codes, features and joints (stage-2 models)."""
        prefix = np.asarray(prefix_codes)
        fields = dict(prefix=self.vocab.to_text(prefix))
        new = self._sample(template, fields, self._steps(seconds), 1.0, seed=seed, **sampling)
        return self._decode(np.concatenate([prefix, new]))

    def inbetween(
        self, prefix_codes: np.ndarray, suffix_codes: np.ndarray, seconds: float, template: str = "inbetween_00",
        seed: int | None = None, **sampling: Any,
    ) -> dict[str, object]:
        """``seconds`` of motion between a start and an end (codes (S, P) each): the whole motion (stage-2)."""
        prefix, suffix = np.asarray(prefix_codes), np.asarray(suffix_codes)
        fields = dict(prefix=self.vocab.to_text(prefix), suffix=self.vocab.to_text(suffix))
        middle = self._sample(template, fields, self._steps(seconds), 1.0, seed=seed, **sampling)
        return self._decode(np.concatenate([prefix, middle, suffix]))

    @torch.no_grad()
    def describe_motion(self, features: np.ndarray | torch.Tensor, max_new_tokens: int = 60) -> str:
        """A caption for a (T, 135) D135 motion (greedy decoding after an m2t template)."""
        feat = torch.as_tensor(np.asarray(features), dtype=torch.float32)
        alpha = self.motion_tokenizer.config.alpha
        T = (feat.shape[0] // alpha) * alpha
        if feat.ndim != 2 or T < alpha:
            raise ValueError(f"features must have shape (T >= {alpha}, 135), got {tuple(feat.shape)}")
        codes = self.motion_tokenizer.encode(feat[:T][None])[0].cpu().numpy()
        template = "align_m2t" if self.stage == 1 else "m2t_00"
        prompt, _ = get_template(template).render(motion=self.vocab.to_text(codes), caption="", parts="", seconds="4")
        ids = self.tokenizer(prompt + " ", return_tensors="pt").input_ids
        out = self.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                  do_sample=False, eos_token_id=self.tokenizer.eos_token_id,
                                  pad_token_id=self.tokenizer.pad_token_id, bad_words_ids=[[i] for i in
                                  self.tokenizer.convert_tokens_to_ids(self.vocab.special_tokens)])  # fmt: skip
        return self.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip()
