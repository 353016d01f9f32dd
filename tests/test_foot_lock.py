"""Foot locking at decode: sliding planted feet are held, everything else stays as decoded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionbook_lib.data.quality import foot_skating
from motionbook_lib.data.synthetic import generate_motion
from motionbook_lib.features.d135 import D135_ROOT_VEL, d135_to_joints
from motionbook_lib.tokenizer.foot_lock import _leg_channels, lock_feet


def _walk() -> torch.Tensor:
    """A built-in walking clip's D135 (T, 135)."""
    for i in range(200):
        m = generate_motion(i)
        if m.meta["labels"] == ["walk"]:
            return m.to_d135().double()
    raise AssertionError("no plain walk in the first 200 built-in motions")


def _skate(feat: torch.Tensor) -> float:
    return foot_skating(d135_to_joints(feat).numpy(), 20.0)["mean_speed"]


def test_sliding_feet_are_held_and_the_rest_is_untouched():
    clean = _walk()
    drift = clean.clone()
    rng = np.random.default_rng(0)
    drift[:, D135_ROOT_VEL] += torch.from_numpy(rng.normal(0.0, 0.01, (len(drift), 2)))  # the decoder's root wobble
    base, slid = _skate(clean), _skate(drift)
    assert slid > 4 * base  # the wobble makes the planted feet slide
    locked = lock_feet(drift)
    assert _skate(locked) < 1.5 * base  # back to the clean motion's level
    others = [c for c in range(135) if not 6 <= c < 8 and c not in _leg_channels()]
    assert torch.equal(locked[:, others], drift[:, others])  # root heading, height, spine, arms: bit for bit
    path = d135_to_joints(locked)[:, 0, [0, 2]] - d135_to_joints(clean)[:, 0, [0, 2]]
    assert float(path.norm(dim=-1).mean()) < float(
        (d135_to_joints(drift)[:, 0, [0, 2]] - d135_to_joints(clean)[:, 0, [0, 2]]).norm(dim=-1).mean()
    )  # the held feet pull the root path back towards the clean one


def test_strength_zero_and_bad_input():
    clean = _walk().float()
    assert torch.equal(lock_feet(clean, strength=0.0), clean)
    assert lock_feet(clean).dtype == torch.float32
    with pytest.raises(ValueError, match=r"features must have shape \(T, 135\)"):
        lock_feet(clean[:, :134])
    with pytest.raises(ValueError, match="strength must be in"):
        lock_feet(clean, strength=1.5)
