"""The kinematic claim checker: captions of the synthetic corpus hold on their own motions, much less
often on other motions; hand-made motions (walking backwards, mirrored clips, a still pose) are judged
right; the parser understands the corpus's phrasing."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from motionbook_lib.data.synthetic import generate_motion
from motionbook_lib.eval.claims import (
    CLAIM_KINDS,
    PARAPHRASES,
    PROMPTS,
    Claim,
    Kinematics,
    check_caption,
    check_claim,
    claim_rate,
    parse_claims,
    split_phrases,
    understood,
)

torch.set_num_threads(1)
N = 200
_SWAP = [0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20]


@pytest.fixture(scope="module")
def corpus() -> tuple[list[list[str]], list[np.ndarray]]:
    caps, joints = [], []
    for i in range(N):
        m = generate_motion(i)
        caps.append(list(m.meta["caption"]))
        joints.append(m.joints().double().numpy())
    return caps, joints


@pytest.fixture(scope="module")
def truth(corpus: tuple[list[list[str]], list[np.ndarray]]) -> dict:
    return claim_rate(*corpus)


def _mirror(J: np.ndarray) -> np.ndarray:
    """Left <-> right: reflect X and swap the left/right joints (a left turn becomes a right turn)."""
    M = J[:, _SWAP].copy()
    M[..., 0] *= -1
    return M


def _swap_words(text: str) -> str:
    return re.sub(r"\b(left|right|clockwise|counterclockwise)\b",
                  lambda m: {"left": "right", "right": "left", "clockwise": "counterclockwise",
                             "counterclockwise": "clockwise"}[m.group(1)], text)  # fmt: skip


def _rot_y(a: float) -> np.ndarray:
    """Rotation about +Y by a: +Z turns toward +X (the heading increases: a left turn)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _still(frames: int = 60) -> np.ndarray:
    """A standing pose (the first frame of a corpus clip) facing +Z at the origin, held still."""
    J = generate_motion(1).joints().double().numpy()[:2]
    yaw = Kinematics(J).yaw[0]
    J0 = (J[0] - J[0, 0] * [1, 0, 1]) @ _rot_y(-yaw).T
    return np.repeat(J0[None], frames, axis=0)


def _translated(speed: float, yaw: float, seconds: float = 3.0, fps: float = 20.0) -> np.ndarray:
    """A standing pose turned to face ``yaw`` and slid along its facing at ``speed`` m/s."""
    J = _still(int(seconds * fps)) @ _rot_y(yaw).T
    fwd = np.array([np.sin(yaw), 0.0, np.cos(yaw)])
    t = np.arange(len(J)) / fps
    return J + (speed * t)[:, None, None] * fwd


# ---------------------------------------------------------------- the corpus


def test_captions_hold_on_their_own_motions(truth: dict) -> None:
    assert truth["captions"] == 4 * N
    assert truth["claims"] > 6 * N
    assert truth["rate"] >= 0.95, truth["failures"][:10]
    for kind, v in truth["per_kind"].items():
        assert v["rate"] >= 0.8, (kind, v)
    # the common kinds are all present
    assert {"forward", "backward", "side_step", "turn", "circle", "jump", "squat", "sit", "lunge", "kick",
            "knee_raise", "wave", "raise_arm", "clap", "punch", "throw", "bow"} <= set(truth["per_kind"])  # fmt: skip


def test_captions_mostly_fail_on_other_motions(corpus: tuple[list[list[str]], list[np.ndarray]], truth: dict) -> None:
    caps, joints = corpus
    other = claim_rate(caps, [joints[(i + 1) % N] for i in range(N)])
    assert other["claims"] == truth["claims"]
    assert other["rate"] <= 0.3
    assert truth["rate"] - other["rate"] >= 0.6
    for kind in ("backward", "circle", "jump", "side_step", "turn", "wave", "lunge"):
        assert other["per_kind"][kind]["rate"] <= 0.15, (kind, other["per_kind"][kind])


def test_order_matters(corpus: tuple[list[list[str]], list[np.ndarray]]) -> None:
    """Swapping the phrases of two-segment captions breaks them (the claims are found, in the wrong order)."""
    caps, joints = corpus
    swapped_fail = checked = 0
    for c, J in zip(caps, joints, strict=True):
        ph = split_phrases(c[0])
        if len(ph) != 2 or len({x.kind for x in parse_claims(ph[0])} & {x.kind for x in parse_claims(ph[1])}):
            continue
        rev = f"{ph[1]}, then {ph[0]}."
        if not all(r.holds for r in check_caption(c[0], J)):
            continue
        checked += 1
        swapped_fail += not all(r.holds for r in check_caption(rev, J))
    assert checked >= 20
    assert swapped_fail / checked >= 0.6, (swapped_fail, checked)


def test_parser_understands_the_corpus(corpus: tuple[list[list[str]], list[np.ndarray]]) -> None:
    caps, _ = corpus
    flat = [c for cs in caps for c in cs]
    with_claims = sum(bool(parse_claims(c)) for c in flat)
    assert with_claims / len(flat) > 0.95
    phrases = [u for c in flat for _, u in understood(c)]
    assert sum("[" in u for u in phrases) / len(phrases) > 0.95
    assert all(c.kind in CLAIM_KINDS for cap in flat[:50] for c in parse_claims(cap))


def test_parse_examples() -> None:
    cs = parse_claims("A man first turns about 180 degrees to the left while clapping the hands and then "
                      "kicks the right foot out in front twice.")  # fmt: skip
    assert [(c.kind, c.side, c.count, c.degrees, c.phrase) for c in cs] == [
        ("turn", "left", None, 180.0, 0),
        ("clap", None, None, None, 0),
        ("kick", "right", 2, None, 1),
    ]
    cs = parse_claims(
        "The person sits down and then stands back up. Upper body: the left arm rests; the right leg stands still."
    )
    assert [c.kind for c in cs] == ["sit", "stand_up"]  # part descriptions are not claims
    cs = parse_claims("A figure steps forward into a lunge on the right leg, then does 3 vertical jumps.")
    assert [(c.kind, c.side, c.count, c.style) for c in cs] == [("lunge", "right", None, None),
                                                               ("jump", None, 3, "in_place")]  # fmt: skip
    assert parse_claims("A person contemplates the meaning of life.") == []
    _, marked = understood("A person waves the left hand while humming.")[0]
    assert "[waves the left hand]" in marked and "humming" in marked
    with pytest.raises(ValueError, match="claim kind"):
        Claim("fly", "flies")


def test_prompts() -> None:
    assert len(PROMPTS) >= 30 and len(set(PROMPTS)) == len(PROMPTS)
    assert all(parse_claims(p) for p in PROMPTS)
    assert all(parse_claims(p) for p in PARAPHRASES)
    assert not set(PROMPTS) & set(PARAPHRASES)
    kinds = {c.kind for p in PROMPTS for c in parse_claims(p)}
    assert {"forward", "backward", "turn", "jump", "squat", "sit", "kick", "wave", "clap", "stand_still"} <= kinds


# ---------------------------------------------------------------- hand-made motions


@pytest.mark.parametrize("yaw", [0.0, 2.0, -2.5])
def test_sliding_backwards_is_not_walking_forward(yaw: float) -> None:
    back = _translated(-1.0, yaw)
    fwd = _translated(1.2, yaw)
    assert not check_claim(Claim("forward", "walks forward"), back).holds
    assert check_claim(Claim("backward", "walks backwards"), back).holds
    assert check_claim(Claim("forward", "walks forward"), fwd).holds
    assert not check_claim(Claim("backward", "walks backwards"), fwd).holds
    r = check_caption("A person walks forward.", fwd)
    assert [x.holds for x in r] == [True, True]  # forward, at a walking pace
    assert not check_caption("A person runs forward.", fwd)[1].holds  # 1.2 m/s is no run
    for side in ("left", "right"):
        assert not check_claim(Claim("side_step", "", side=side), fwd).holds


def test_a_still_pose() -> None:
    J = _still()
    assert abs(Kinematics(J).yaw).max() < 1e-4  # the helper really faces +Z
    assert check_caption("A person stands still.", J)[0].holds
    for text in ("A person jumps.", "A person walks forward.", "A person turns left.", "A person squats down.",
                 "A person waves the right hand.", "A person claps the hands.", "A person bows.",
                 "A person kicks forward with the left leg."):  # fmt: skip
        res = check_caption(text, J)
        assert res and not any(r.holds for r in res), text
    moving = _translated(1.0, 0.3)
    assert not check_caption("A person stands still.", moving)[0].holds


def test_mirrored_motions_swap_sides(corpus: tuple[list[list[str]], list[np.ndarray]]) -> None:
    caps, joints = corpus
    held_swapped = held_same = n = 0
    for cs, J in zip(caps[:80], joints[:80], strict=True):
        cap = cs[0]
        sided = [c for c in parse_claims(cap) if c.side in ("left", "right")]
        if not sided or not all(r.holds for r in check_caption(cap, J)):
            continue
        M = _mirror(J)
        swapped = check_caption(_swap_words(cap), M)
        assert all(r.holds for r in swapped), (cap, [(r.claim.kind, r.value) for r in swapped if not r.holds])
        same = [r for r in check_caption(cap, M) if r.claim.side in ("left", "right")]
        n += len(same)
        held_same += sum(r.holds for r in same)
        held_swapped += len(same)
    assert n >= 20
    assert held_same / n <= 0.15, (held_same, n)


def test_turn_direction_and_amount() -> None:
    fps, T = 20.0, 60
    base = _still(T)
    pel = base[0, 0]
    for deg, side in ((90.0, "left"), (-170.0, "right")):
        ang = np.radians(deg) * np.clip((np.arange(T) - 10) / 30, 0, 1)
        out = np.empty_like(base)
        for t, a in enumerate(ang):
            out[t] = (base[t] - pel) @ _rot_y(a).T + pel
        k = Kinematics(torch.from_numpy(out), fps)
        other = "right" if side == "left" else "left"
        assert check_claim(Claim("turn", "", side=side), k).holds
        assert not check_claim(Claim("turn", "", side=other), k).holds
        r = check_claim(Claim("turn", "", side=side, degrees=abs(deg)), k)
        assert r.holds and abs(r.value - abs(deg)) < 5
        assert not check_claim(Claim("turn", "", side=side, degrees=abs(deg) + 90), k).holds
        assert check_claim(Claim("turn", "", side=side, style="around"), k).holds == (abs(deg) > 150)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="joints"):
        Kinematics(np.zeros((10, 21, 3)))
    with pytest.raises(ValueError, match="fps"):
        Kinematics(np.zeros((10, 22, 3)), fps=0)
    with pytest.raises(ValueError, match="captions"):
        claim_rate(["a person walks forward"], [])
