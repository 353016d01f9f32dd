"""Settings of the built-in generator and the names it uses (action families, body parts, sides)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from motionbook_lib.skeleton import DEFAULT_FPS

#: Base actions of each family (labels add a side suffix where it matters).
ACTION_FAMILIES: dict[str, tuple[str, ...]] = {
    "locomotion": ("walk", "jog", "run", "walk_backward", "side_step", "turn", "walk_circle"),
    "whole_body": ("jump", "squat", "lunge", "bow", "sit_stand", "crouch", "stretch", "dance"),
    "arms": ("wave", "punch", "raise", "clap", "reach", "throw"),
    "legs": ("kick", "knee_raise"),
}
#: Body parts that get their own caption lines (MotionLib's hierarchical text).
PART_NAMES: tuple[str, ...] = ("torso", "left_arm", "right_arm", "left_leg", "right_leg")

LEFT, RIGHT = 0, 1
_SIDE = ("left", "right")
_SIGN = np.array([1.0, -1.0])  # +X is the body's left
_M = np.diag([-1.0, 1.0, 1.0])  # mirror left <-> right
_GRAV = 9.81
_BIG = 1e3
_BLEND = 0.5  # seconds over which an arm action blends in or out


def label_family(label: str) -> str:
    """Family ('locomotion', 'whole_body', 'arms', 'legs' or 'stand') of an action label."""
    if label == "stand":
        return "stand"
    for fam, actions in ACTION_FAMILIES.items():
        for a in actions:
            if label == a or label.startswith(a + "_"):
                if a == "walk" and label.startswith(("walk_backward", "walk_circle")):
                    continue
                return fam
    raise ValueError(f"unknown action label {label!r}")


@dataclass
class SyntheticConfig:
    """Settings of the synthetic corpus; every field is JSON-serialisable (recorded by motion stores).

    ``family_weights`` picks the family of each segment (``arms`` = standing with an arm action);
    ``action_weights`` optionally reweights base actions within a family (missing = 1).
    ``overlay_prob`` is the chance that a locomotion or standing segment also gets an arm action.
    """

    fps: float = DEFAULT_FPS
    min_seconds: float = 2.0
    max_seconds: float = 10.0
    betas_std: float = 1.0
    betas_clip: float = 2.5
    head_height: tuple[float, float] = (1.53, 1.76)
    family_weights: dict[str, float] = field(
        default_factory=lambda: {"locomotion": 0.36, "whole_body": 0.32, "arms": 0.2, "legs": 0.12}
    )
    action_weights: dict[str, float] = field(default_factory=dict)
    overlay_prob: float = 0.3
    segment_weights: tuple[float, float, float] = (0.45, 0.35, 0.2)
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if not 1.0 <= self.min_seconds <= self.max_seconds:
            raise ValueError(f"need 1 <= min_seconds <= max_seconds, got {self.min_seconds}, {self.max_seconds}")
        if self.max_seconds < 3.0:
            raise ValueError(f"max_seconds must be at least 3 (whole actions need room), got {self.max_seconds}")
        unknown = set(self.family_weights) - set(ACTION_FAMILIES)
        if unknown or not any(w > 0 for w in self.family_weights.values()):
            raise ValueError(
                f"family_weights needs positive weights over {sorted(ACTION_FAMILIES)}, got {self.family_weights}"
            )
        known = {a for acts in ACTION_FAMILIES.values() for a in acts}
        if set(self.action_weights) - known:
            raise ValueError(f"action_weights has unknown actions {sorted(set(self.action_weights) - known)}")
        if len(self.segment_weights) != 3 or min(self.segment_weights) < 0 or sum(self.segment_weights) <= 0:
            raise ValueError(f"segment_weights must be 3 non-negative weights, got {self.segment_weights}")
        lo, hi = self.head_height
        if not 1.2 <= lo <= hi <= 2.0:
            raise ValueError(f"head_height must be a range within [1.2, 2.0] m, got {self.head_height}")


