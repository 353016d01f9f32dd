"""Does the motion do what its caption says?  A kinematic claim checker.

:func:`parse_claims` reads a caption written in the synthetic corpus's own phrasing
(:mod:`motionbook_lib.data.synthetic`) and returns the *checkable claims* it makes ("walks forward",
"turns about 90 degrees to the left", "jumps twice", "waves the right hand", ...). :func:`check_claim`
decides from joint positions alone whether a motion makes a claim true, so it works on generated and
reconstructed motions as well as on corpus motions (no generator metadata is read).

Conventions (as in :mod:`motionbook_lib.skeleton`): joints ``(T, 22, 3)`` in metres, SMPL order, Y up,
a body at rest faces +Z with its left side at +X. The facing direction of each frame comes from the
hips and shoulders (left-to-right vector crossed with up), so "forward", "to the left" and "turns left"
(heading increases, counterclockwise seen from above) are measured in the body's own frame.

How a caption is checked
------------------------
A caption is split into *phrases* at "then", "and finally", "After that," (a new segment of the clip);
claims within one phrase ("walks forward while waving the right hand") happen together. Every detector
turns the joints into *events* (a frame span and a value: a stretch of forward walking and its
distance, a turn and its angle, a cluster of jumps and their count, ...). A claim holds when an event
that satisfies it starts no earlier than the earliest matched event of the previous phrase (with
``ordered=True``, the default), so "walks forward, then walks backwards" needs the forward walk first.
Counted claims ("jumps twice", "claps 3 times") need a cluster of exactly that many repetitions.

What is understood: see :data:`PATTERNS` (regular expressions over the lower-cased caption, most
specific first); :func:`understood` shows which words of a caption made claims. Phrases that match no
pattern make no claim (they are neither true nor false here). Part descriptions after "Upper body:"
are not parsed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from motionbook_lib.skeleton import DEFAULT_FPS

__all__ = [
    "CLAIM_KINDS",
    "PARAPHRASES",
    "PART_PROMPTS",
    "PATTERNS",
    "PROMPTS",
    "Claim",
    "ClaimResult",
    "Kinematics",
    "check_caption",
    "check_claim",
    "claim_rate",
    "parse_claims",
    "split_phrases",
    "understood",
]

#: Every claim kind with what must be seen in the joints for it to hold.
CLAIM_KINDS: dict[str, str] = {
    "forward": "the pelvis travels >= 0.8 m along the facing direction in one stretch",
    "backward": "the pelvis travels >= 0.5 m against the facing direction in one stretch",
    "side_step": "the pelvis travels >= 0.2 m toward the named side (body frame) in one stretch and stays "
    "there for 1 s",
    "pace": "the peak ground speed of one stretch of travel is in the walk [0.7, 1.75] / jog [1.75, 2.85] / "
    "run [2.85, 8] m/s band",
    "turn": "one turn (heading change) toward the named side of >= 40 deg (>= 130 for 'around'; within "
    "max(35, 25 %) of a stated number of degrees)",
    "circle": "a turn toward the named side while walking >= 2 m, of >= 45 / 140 / 270 deg (curve/half/full)",
    "jump": "flight phases where both feet are off the ground and the pelvis is above standing height "
    "(count = flights in one cluster); 'forward' moves >= 0.15 m per jump, 'in place' < 0.15 m",
    "squat": "the pelvis dips >= 0.15 m below standing with both feet down side by side (count = dips of "
    "about the same depth < 1 s apart)",
    "crouch": "the pelvis drops >= 0.3 m below standing",
    "sit": "the pelvis drops >= 0.28 m below standing for >= 0.3 s",
    "stand_up": "after the pelvis is >= 0.15 m low it comes back within 0.08 m of standing",
    "lunge": "the named foot's toe is >= 0.4 m ahead of the other along the facing while the pelvis is "
    ">= 0.1 m low and the body is slow",
    "kick": "the named ankle rises >= 0.25 m and reaches >= 0.12 m beyond its knee while the other foot "
    "is down (count = kicks in one cluster)",
    "knee_raise": "the named knee rises >= 0.25 m while the other foot is down (count = raises in a cluster)",
    "wave": "the named wrist is above its shoulder while swinging sideways (>= 2 reversals of >= 3 cm)",
    "raise_arm": "the named wrist is raised (above the head / >= 0.35 m forward / >= 0.35 m out to the side "
    "at shoulder height; without a direction: above shoulder - 0.15 m) for >= 0.25 s",
    "clap": "the wrists close to < 0.12 m after being > 0.15 m apart (count = closings in one cluster)",
    "punch": "the named wrist extends >= 0.38 m in front of its shoulder within 0.12 m of its height "
    "(count = extensions of <= 1 s, < 2 s apart, a new one after a 7 cm retraction; both: each hand punches)",
    "reach": "the named wrist goes >= 0.38 m forward / above the head / >= 0.38 m out to the side",
    "throw": "the named wrist goes above its shoulder and then moves >= 2.5 m/s relative to the pelvis",
    "bow": "the torso (pelvis -> neck) pitches >= 10 deg forward and comes back up",
    "bend_down": "the torso pitches >= 45 deg forward with the wrists below the knees",
    "lean_sideways": "the torso leans >= 5 deg (from its median) to one side and then to the other (named side first)",
    "sway": "the pelvis moves side to side: >= 1 reversal between moves of >= 0.1 m in the body's left-right direction",
    "stand_still": "for >= 1 s the pelvis stays at standing height and moves < 0.1 m/s, feet planted, no turning",
}

# joint indices (SMPL)
_PELVIS, _LHIP, _RHIP, _LKNEE, _RKNEE, _LANK, _RANK, _LFOOT, _RFOOT = 0, 1, 2, 4, 5, 7, 8, 10, 11
_NECK, _HEAD, _LSH, _RSH, _LWR, _RWR = 12, 15, 16, 17, 20, 21
_SIDES = ("left", "right")


# ---------------------------------------------------------------- claims and parsing


@dataclass(frozen=True)
class Claim:
    """One checkable statement of a caption.

    ``kind`` is a key of :data:`CLAIM_KINDS`; ``side`` is 'left', 'right' or 'both' where the kind
    names a side (for ``lean_sideways``: the side leaned to first); ``count`` a stated number of
    repetitions; ``degrees`` a stated turn angle; ``style`` a refinement (pace: walk/jog/run; turn:
    around; circle: full/half/curve; jump: forward/in_place; raise_arm and reach: overhead/up/forward/
    sideways/out). ``text`` is the caption words it came from, ``phrase`` the index of its phrase.
    """

    kind: str
    text: str
    side: str | None = None
    count: int | None = None
    degrees: float | None = None
    style: str | None = None
    phrase: int = 0

    def __post_init__(self) -> None:
        if self.kind not in CLAIM_KINDS:
            raise ValueError(f"unknown claim kind {self.kind!r}; known: {sorted(CLAIM_KINDS)}")


@dataclass(frozen=True)
class ClaimResult:
    """Whether ``claim`` holds on a motion: ``value`` is the measurement that decided it (metres,
    degrees, a count...; the best event found, or 0 if none), ``threshold`` says what was needed and
    ``frames`` is the [start, end) span of the event that made it hold (None if it does not)."""

    claim: Claim
    holds: bool
    value: float
    threshold: str
    frames: tuple[int, int] | None = None


_NUM = {
    "once": 1, "one": 1, "twice": 2, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_COUNT = r"(?: (?P<n>once|twice|(?:\d+|two|three|four|five|six|seven|eight|nine|ten) times))?"
_SIDE = r"(?P<side>left|right)"
_HAND = r"(?P<hand>the (?:left|right) (?:hand|arm|fist)|both (?:hands|arms|fists))"


def _count(m: re.Match) -> int | None:
    d = m.groupdict()
    n = d.get("n") or d.get("num")
    if not n:
        return None
    w = n.split()[0]
    return int(w) if w.isdigit() else _NUM.get(w)


def _hand(m: re.Match) -> str:
    h = m.group("hand")
    return "both" if h.startswith("both") else h.split()[1]


def _c(kind: str, **kw: object) -> Callable[[re.Match], list[dict]]:
    """A pattern action making one claim of ``kind``; 'side', 'count', 'hand' are read from groups."""

    def make(m: re.Match) -> list[dict]:
        d = m.groupdict()
        out: dict = {"kind": kind, **kw}
        if d.get("side"):
            out["side"] = d["side"]
        if "hand" in d and d["hand"]:
            out["side"] = _hand(m)
        n = _count(m)
        if n is not None:
            out["count"] = n
        if d.get("deg"):
            out["degrees"] = float(d["deg"])
        return [out]

    return make


def _and(*fs: Callable[[re.Match], list[dict]]) -> Callable[[re.Match], list[dict]]:
    return lambda m: [c for f in fs for c in f(m)]


_SHAPE = {"a full circle": "full", "a half circle": "half", "a curve": "curve"}
_WHERE = {
    "above the head": "overhead", "overhead": "overhead", "forward to shoulder height": "forward",
    "to the side": "sideways", "out to the side": "sideways", "forward": "forward", "up high": "up",
    "up": "up",
}  # fmt: skip


def _circle(m: re.Match) -> list[dict]:
    d = m.groupdict()
    side = d.get("side") or ("left" if d.get("rot") == "counterclockwise" else "right")
    return [{"kind": "circle", "side": side, "style": _SHAPE[d["shape"]]}]


def _jump(m: re.Match) -> list[dict]:
    d = m.groupdict()
    dirn = d.get("dir") or ""
    out: dict = {"kind": "jump", "style": "forward" if dirn in ("forward", "ahead") else "in_place" if dirn else None}
    n = _count(m)
    if n is not None:
        out["count"] = n
    return [out]


def _raise(m: re.Match) -> list[dict]:
    w = m.groupdict().get("where")
    return [{"kind": "raise_arm", "side": _hand(m), "style": _WHERE.get(w) if w else None}]


def _reach(m: re.Match) -> list[dict]:
    d = m.groupdict()
    side = d.get("side") or d.get("side2")
    where = d["where"]
    style = "out" if where.startswith("out") else _WHERE[where]
    return [{"kind": "reach", "side": side, "style": style}]


def _lean(m: re.Match) -> list[dict]:
    return [
        {"kind": "raise_arm", "side": "both", "style": "overhead"},
        {"kind": "lean_sideways", "side": m.groupdict().get("side")},
    ]


_WALK_ADV = r"(?: (?:slowly|at a relaxed pace|leisurely|at a normal pace|steadily|briskly|quickly|at a brisk pace))?"
_SHAPES = r"(?P<shape>a full circle|a half circle|a curve)"

#: (regex, action) pairs, most specific first; each match's words are consumed so that a later, more
#: general pattern cannot read them again. An action returns claim dicts (kind, side, count, ...).
PATTERNS: list[tuple[str, Callable[[re.Match], list[dict]]]] = [
    # whole-body poses that contain words of other patterns
    (r"\bstretches both arms overhead and leans to the " + _SIDE + r" and then to the (?:left|right)", _lean),
    (r"\braises both arms and stretches to the " + _SIDE + r", then to the (?:left|right)", _lean),
    (r"\breaches up high and bends from side to side|\bstretches the arms up and sways the body sideways", _lean),
    (
        r"\bbends down reaching toward the toes|\bstretches by reaching down toward the feet"
        r"|\bfolds forward and reaches for the toes|\bdoes a forward bend toward the floor|\btouches the toes",
        _c("bend_down"),
    ),
    (r"\bsquats down low(?: on the toes)?|\bcrouch(?:es)?(?: down| low)?|\bgets down into a crouch", _c("crouch")),
    (r"\bsits down(?: as if on a chair)?|\blowers into a sitting position|\btakes a seat|\bsits\b", _c("sit")),
    (r"\bstands (?:back )?up(?: again)?|\bgets up(?: again)?|\brises(?: again)?\b", _c("stand_up")),
    (
        r"\b(?:steps forward into a |does a forward )?lunge[s]?(?: forward)?(?: with| on)? the "
        + _SIDE
        + r" (?:leg|foot)(?: and steps back)?",
        _c("lunge"),
    ),
    # legs
    (
        r"\bkicks(?: forward with| with)? the "
        + _SIDE
        + r" (?:leg|foot)(?: out in front)?"
        + _COUNT
        + r"|\bdoes a (?:high )?front kick with the "
        + _SIDE.replace("side", "side2")
        + r" leg"
        + r"|\bthrows a "
        + _SIDE.replace("side", "side3")
        + r"-legged kick",
        lambda m: [
            {
                "kind": "kick",
                "side": m.group("side") or m.group("side2") or m.group("side3"),
                **({"count": _count(m)} if _count(m) else {}),
            }
        ],
    ),
    (
        r"\balternately raises each knee(?: up high)?|\bmarches in place with high knees"
        r"|\blifts the left and right knees in turn|\bdoes alternating knee raises",
        _c("knee_raise", side="both"),
    ),
    (
        r"\b(?:raises|lifts|brings|steps up with) the " + _SIDE + r" knee(?: up high| to hip height| up)?" + _COUNT,
        _c("knee_raise"),
    ),
    # locomotion
    (
        r"\b(?:walks|strolls|strides|takes several steps|takes a few steps|steps|moves) (?:forward|straight ahead)"
        + _WALK_ADV,
        _and(_c("forward"), _c("pace", style="walk")),
    ),
    (
        r"\bjogs (?:forward|ahead(?: at an easy pace)?|straight ahead)|\bruns forward at a comfortable jog",
        _and(_c("forward"), _c("pace", style="jog")),
    ),
    (
        r"\b(?:runs (?:forward|straight ahead)(?: quickly| at speed)?|sprints (?:ahead|forward)|dashes forward"
        r"|breaks into a run forward)",
        _and(_c("forward"), _c("pace", style="run")),
    ),
    (
        r"\b(?:walks backwards?|steps backwards?|backs up(?: slowly)?|moves backwards?(?: step by step)?)",
        _c("backward"),
    ),
    (
        r"\b(?:side-steps|shuffles sideways|steps sideways|moves) to the " + _SIDE + r"(?: with side steps)?",
        _c("side_step"),
    ),
    (r"\bwalks in " + _SHAPES + r" to the " + _SIDE, _circle),
    (r"\bwalks around in " + _SHAPES + r", turning " + _SIDE, _circle),
    (r"\bwalks (?P<rot>counterclockwise|clockwise) along " + _SHAPES, _circle),
    (r"\bfollows " + _SHAPES + r" to the " + _SIDE + r" on foot", _circle),
    (
        r"\b(?:turns|spins) around(?: in place)? (?:to|toward) the " + _SIDE + r"(?: on the spot)?",
        _c("turn", style="around"),
    ),
    (r"\bturns about (?P<deg>\d+) degrees to the " + _SIDE, _c("turn")),
    (r"\brotates to the " + _SIDE + r" by about (?P<deg>\d+) degrees", _c("turn")),
    (r"\b(?:turns|pivots|rotates) (?:to the )?" + _SIDE + r"(?: in place| on the spot)?", _c("turn")),
    # jumps, squats, bows
    (r"\b(?:jumps|leaps) (?P<dir>forward|ahead|in place|straight up|up)(?: with both feet)?" + _COUNT, _jump),
    (r"\bdoes (?P<num>\d+) (?P<dir>forward|vertical) jumps?", _jump),
    (r"\bjumps" + _COUNT, _jump),
    (r"\bsquats down(?: and stands back up)?" + _COUNT, _c("squat")),
    (r"\bsquats" + _COUNT + r" in a row", _c("squat")),
    (r"\bdoes (?P<num>\d+) squats?", _c("squat")),
    (r"\bbends the knees into a squat" + _COUNT, _c("squat")),
    (r"\bsquats" + _COUNT, _c("squat")),
    (
        r"\bbows(?: deeply)?(?: forward and straightens up again)?|\bbends forward at the waist in a bow"
        r"|\btakes a bow",
        _c("bow"),
    ),
    # dance
    (
        r"\bdances, stepping from side to side|\bdances with side steps|\bdances to a beat with step-touches"
        r"|\bgrooves from side to side|\bsways from side to side",
        _c("sway"),
    ),
    (r"\bpumping the arms overhead", _c("raise_arm", side="both", style="overhead")),
    # arms
    (r"\bwaves " + _HAND + r"(?: above the shoulder)?", _c("wave")),
    (r"\b(?:raises|holding up) " + _HAND + r" and wav(?:es|ing)", _c("wave")),
    (r"\bwaves hello with " + _HAND, _c("wave")),
    (r"\bwaving " + _HAND + r"(?: in the air)?", _c("wave")),
    (
        r"\bthrows alternating punches with both fists|\bboxes with left and right punches"
        r"|\bthrows quick punches with both hands|\bthrowing punches with both fists"
        r"|\bpunching with alternating hands|\bboxing",
        _c("punch", side="both"),
    ),
    (r"\bpunches forward (?P<num>\d+) times?, alternating hands", _c("punch", side="both")),
    (
        r"\b(?:punches forward with|punching with|strikes forward with) the " + _SIDE + r" fist" + _COUNT,
        _c("punch"),
    ),
    (r"\bthrows (?P<num>\d+) punch(?:es)? with the " + _SIDE + r" hand", _c("punch")),
    (
        r"\b(?:jabs forward with|jabbing with) the "
        + _SIDE
        + r" arm|\bthrowing "
        + _SIDE.replace("side", "side2")
        + r"-handed punches",
        lambda m: [{"kind": "punch", "side": m.group("side") or m.group("side2")}],
    ),
    (
        r"\b(?:raises|lifts|puts|holds|raising|holding|lifting) "
        + _HAND
        + r" (?:up |out )?(?P<where>above the head|forward to shoulder height|out to the side|to the side|overhead)"
        r"(?: and lowers (?:it|them) again)?",
        _raise,
    ),
    (
        r"\bclaps the hands|\bclaps (?P<num>\d+) times|\bclaps (?P<n>once|twice)|\bclaps in front of the chest"
        r"|\bapplauds(?: with both hands)?|\bclapping (?:the hands|in front of the chest|to the beat)|\bapplauding"
        r"|\bclaps\b",
        _c("clap"),
    ),
    (
        r"\b(?:reaches|reaching|stretches|stretching|extends|extending) (?:the " + _SIDE + r" (?:hand|arm) )?"
        r"(?P<where>forward|up high|out to the (?:left|right))(?: with the (?P<side2>left|right) hand)?",
        _reach,
    ),
    (
        r"\b(?:throws something overhand with|makes an overhand throw with|winds up and throws with|throws a ball with"
        r"|throwing with|making an overhand throw with|throws with) the " + _SIDE + r" (?:arm|hand)",
        _c("throw"),
    ),
    (r"\b(?:stands still|stands in place|remains standing|stands quietly|stands motionless)", _c("stand_still")),
    # general fallbacks for paraphrases
    (r"\b(?:walks|walking)\b", _c("pace", style="walk")),
    (r"\b(?:jogs|jogging)\b", _c("pace", style="jog")),
    (r"\b(?:runs|running|sprints)\b", _c("pace", style="run")),
    (r"\bwaves\b[^,]*?\b" + _HAND, lambda m: [{"kind": "wave", "side": _hand(m)}]),
    (r"\bkicks\b[^,]*?\b" + _SIDE + r" (?:leg|foot)", _c("kick")),
]


_COMPILED = [(re.compile(p), f) for p, f in PATTERNS]
_SPLIT = re.compile(
    r"\.\s+after that,\s+(?:the\s+)?(?:person|figure|body)\s+|,? and finally |,? and then (?!to the )"
    r"|, then (?!to the )|\.\s+"
)


def split_phrases(caption: str) -> list[str]:
    """The caption's phrases in order (lower case), one per segment of the clip (roughly: text after
    "Upper body:" is dropped; "first" is removed)."""
    text = caption.lower().strip()
    text = re.split(r"\.?\s*upper body:|\.?\s*lower body:", text)[0]
    text = re.sub(r"\s+", " ", text).rstrip(" .")
    parts = [p.strip(" ,.") for p in _SPLIT.split(text)]
    return [re.sub(r"^first ", "", p).replace(" first ", " ") for p in parts if p]


def _parse(caption: str) -> tuple[list[Claim], list[tuple[int, str, list[tuple[int, int]]]]]:
    claims: list[Claim] = []
    spans_out = []
    for k, phrase in enumerate(split_phrases(caption)):
        work = phrase
        spans: list[tuple[int, int]] = []
        for rx, act in _COMPILED:
            for m in rx.finditer(work):
                for d in act(m):
                    claims.append(Claim(text=phrase[m.start() : m.end()], phrase=k, **d))
                spans.append((m.start(), m.end()))
            if spans:
                work = "".join("#" if any(a <= i < b for a, b in spans) else ch for i, ch in enumerate(phrase))
        spans_out.append((k, phrase, sorted(spans)))
    return claims, spans_out


def parse_claims(caption: str) -> list[Claim]:
    """The checkable claims of a caption, in caption order (``Claim.phrase`` numbers its phrases)."""
    return _parse(caption)[0]


def understood(caption: str) -> list[tuple[str, str]]:
    """(phrase, the same phrase with the words that made claims in [brackets]) for every phrase."""
    out = []
    for _k, phrase, spans in _parse(caption)[1]:
        s, last = [], 0
        for a, b in spans:
            s.append(phrase[last:a] + "[" + phrase[a:b] + "]")
            last = b
        s.append(phrase[last:])
        out.append((phrase, "".join(s)))
    return out


# ---------------------------------------------------------------- kinematics


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    return gaussian_filter1d(x, sigma, axis=0, mode="nearest") if sigma > 0 and len(x) > 1 else x


def _runs(mask: np.ndarray, merge: int = 0, min_len: int = 1) -> list[tuple[int, int]]:
    """[start, end) spans where mask is true; gaps of at most ``merge`` frames are bridged."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return []
    d = np.diff(np.concatenate([[0], m.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    out: list[list[int]] = []
    for a, b in zip(starts, ends, strict=True):
        if out and a - out[-1][1] <= merge:
            out[-1][1] = int(b)
        else:
            out.append([int(a), int(b)])
    return [(a, b) for a, b in out if b - a >= min_len]


def _clusters(spans: list[tuple[int, int]], gap: int) -> list[list[tuple[int, int]]]:
    out: list[list[tuple[int, int]]] = []
    for s in spans:
        if out and s[0] - out[-1][-1][1] <= gap:
            out[-1].append(s)
        else:
            out.append([s])
    return out


@dataclass
class _Event:
    start: int
    end: int
    value: float
    count: int = 1
    extra: dict = field(default_factory=dict)


class Kinematics:
    """Per-frame body-frame quantities of one motion, computed once and shared by the detectors.

    ``fwd``/``left`` (T, 2) unit floor vectors (x, z); ``yaw`` (T,) unwrapped heading in radians (0 faces
    +Z, increasing = turning left); ``fprog``/``lprog`` (T,) cumulative pelvis travel along the facing
    direction / the body's left (m); ``speed`` (T,) smoothed ground speed of the pelvis (m/s); ``drop``
    (T,) how far the pelvis is below its standing height (m); ``foot_up`` (T, 2) height of the lowest
    point of each foot above where it stands (m); ``pitch``/``roll`` (T,) forward / leftward lean of the
    torso (pelvis -> neck) in degrees.
    """

    def __init__(self, joints: np.ndarray | torch.Tensor, fps: float = DEFAULT_FPS) -> None:
        J = joints.detach().cpu().double().numpy() if isinstance(joints, torch.Tensor) else np.asarray(joints, float)
        if J.ndim != 3 or J.shape[1:] != (22, 3) or J.shape[0] < 2:
            raise ValueError(f"joints must be (T >= 2, 22, 3), got {J.shape}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.J, self.fps, self.T = J, float(fps), J.shape[0]
        sig = 0.1 * fps  # 0.1 s
        across = (J[:, _LHIP] - J[:, _RHIP]) + (J[:, _LSH] - J[:, _RSH])
        lx, lz = across[:, 0], across[:, 2]
        yaw_raw = np.unwrap(np.arctan2(-lz, lx))  # forward = left x up = (-lz, lx) as (x, z) -> atan2(x, z)
        self.yaw = _smooth(yaw_raw, sig)
        self.fwd = np.stack([np.sin(self.yaw), np.cos(self.yaw)], -1)
        self.left = np.stack([np.cos(self.yaw), -np.sin(self.yaw)], -1)
        p = J[:, _PELVIS, [0, 2]]
        v = np.gradient(p, axis=0) * fps if self.T > 1 else np.zeros_like(p)
        v = _smooth(v, 2 * sig)
        self.vf = (v * self.fwd).sum(-1)
        self.vl = (v * self.left).sum(-1)
        self.fprog = np.concatenate([[0.0], np.cumsum(0.5 * (self.vf[1:] + self.vf[:-1]))]) / fps
        self.lprog = np.concatenate([[0.0], np.cumsum(0.5 * (self.vl[1:] + self.vl[:-1]))]) / fps
        self.speed = np.linalg.norm(_smooth(v, 0.5 * sig), axis=-1)
        # standing pelvis height: straight legs standing on the lowest ankle height of the clip
        leg = np.median(
            np.linalg.norm(J[:, [_LHIP, _RHIP]] - J[:, [_LKNEE, _RKNEE]], axis=-1)
            + np.linalg.norm(J[:, [_LKNEE, _RKNEE]] - J[:, [_LANK, _RANK]], axis=-1)
        )
        hip_off = np.median(J[:, _PELVIS, 1] - J[:, [_LHIP, _RHIP], 1].mean(1))
        self.ankle0 = np.percentile(J[:, [_LANK, _RANK], 1], 2, axis=0)
        self.toe0 = np.percentile(J[:, [_LFOOT, _RFOOT], 1], 2, axis=0)
        self.stand_h = float(leg + hip_off + self.ankle0.mean()) - 0.02  # knees never quite straight
        self.drop = self.stand_h - J[:, _PELVIS, 1]
        self.foot_up = np.minimum(J[:, [_LANK, _RANK], 1] - self.ankle0, J[:, [_LFOOT, _RFOOT], 1] - self.toe0)
        self.ankle_up = J[:, [_LANK, _RANK], 1] - self.ankle0
        shank = np.median(np.linalg.norm(J[:, [_LKNEE, _RKNEE]] - J[:, [_LANK, _RANK]], axis=-1), axis=0)
        self.knee_up = J[:, [_LKNEE, _RKNEE], 1] - (self.ankle0 + shank)  # above the knee of a straight leg
        torso = J[:, _NECK] - J[:, _PELVIS]
        self.pitch = np.degrees(np.arctan2((torso[:, [0, 2]] * self.fwd).sum(-1), torso[:, 1]))
        self.roll = np.degrees(np.arctan2((torso[:, [0, 2]] * self.left).sum(-1), torso[:, 1]))
        self._cache: dict = {}

    # -- helpers
    def s(self, seconds: float) -> int:
        """A duration in frames (at least 1)."""
        return max(1, int(round(seconds * self.fps)))

    def body_frame(self, j: int, ref: int) -> np.ndarray:
        """(T, 3) joint j relative to joint ref as (left, up, forward) in the heading frame."""
        d = self.J[:, j] - self.J[:, ref]
        return np.stack([(d[:, [0, 2]] * self.left).sum(-1), d[:, 1], (d[:, [0, 2]] * self.fwd).sum(-1)], -1)

    def cached(self, key: object, make: Callable[[], object]) -> object:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


# ---------------------------------------------------------------- detectors: joints -> events


def _travel_events(k: Kinematics, vel: np.ndarray, prog: np.ndarray, sign: float, vmin: float) -> list[_Event]:
    out = []
    for a, b in _runs(sign * vel > vmin, merge=k.s(0.3), min_len=k.s(0.3)):
        out.append(_Event(a, b, float(sign * (prog[b - 1] - prog[a]))))
    return out


def _ev_forward(k: Kinematics, c: Claim) -> list[_Event]:
    return _travel_events(k, k.vf, k.fprog, 1.0, 0.25)


def _ev_backward(k: Kinematics, c: Claim) -> list[_Event]:
    return _travel_events(k, k.vf, k.fprog, -1.0, 0.15)


def _ev_side_step(k: Kinematics, c: Claim) -> list[_Event]:
    vl = _smooth(k.vl, k.s(0.25))
    sign = 1.0 if c.side == "left" else -1.0
    out = []
    for e in _travel_events(k, vl, k.lprog, sign, 0.08):
        after = min(e.end - 1 + k.s(1.0), k.T - 1)  # a step out and back again (dancing) is no side-step
        out.append(_Event(e.start, e.end, min(e.value, sign * float(k.lprog[after] - k.lprog[e.start]))))
    return out


_PACE = {"walk": (0.7, 1.75), "jog": (1.75, 2.85), "run": (2.85, 8.0)}


def _ev_pace(k: Kinematics, c: Claim) -> list[_Event]:
    """Stretches of travel (ground speed > 0.25 m/s), valued by their peak speed."""
    sp = k.speed
    return [_Event(a, b, float(sp[a:b].max())) for a, b in _runs(sp > 0.25, merge=k.s(0.3), min_len=k.s(0.5))]


def _turn_episodes(k: Kinematics) -> list[_Event]:
    def make() -> list[_Event]:
        rate = np.degrees(np.gradient(_smooth(k.yaw, k.s(0.15)))) * k.fps  # deg/s
        out = []
        for sign in (1.0, -1.0):
            for a, b in _runs(sign * rate > 12.0, merge=k.s(0.5), min_len=k.s(0.2)):
                a0, b0 = max(a - 1, 0), min(b, k.T - 1)
                tot = float(np.degrees(k.yaw[b0] - k.yaw[a0]))
                path = float(np.abs(np.diff(k.J[a0 : b0 + 1, _PELVIS][:, [0, 2]], axis=0)).sum())
                out.append(_Event(a0, b0 + 1, tot, extra={"path": path}))
        return sorted(out, key=lambda e: e.start)

    return k.cached("turns", make)  # type: ignore[return-value]


def _ev_turn(k: Kinematics, c: Claim) -> list[_Event]:
    sign = 1.0 if c.side == "left" else -1.0
    return [_Event(e.start, e.end, sign * e.value, extra=e.extra) for e in _turn_episodes(k) if sign * e.value > 0]


def _ev_circle(k: Kinematics, c: Claim) -> list[_Event]:
    return [
        e
        for e in _ev_turn(k, c)
        if np.linalg.norm(k.J[e.end - 1, 0, [0, 2]] - k.J[e.start, 0, [0, 2]]) > 0.0 and _path(k, e.start, e.end) >= 2.0
    ]


def _path(k: Kinematics, a: int, b: int) -> float:
    p = k.J[a:b, _PELVIS][:, [0, 2]]
    return float(np.linalg.norm(np.diff(p, axis=0), axis=-1).sum()) if b - a > 1 else 0.0


def _flights(k: Kinematics) -> list[tuple[int, int]]:
    def make() -> list[tuple[int, int]]:
        air = (k.foot_up.min(1) > 0.03) & (np.abs(k.ankle_up[:, 0] - k.ankle_up[:, 1]) < 0.15)
        out = []
        for a, b in _runs(air, merge=1, min_len=1):
            if -k.drop[a:b].min() >= 0.04:  # the pelvis rises above standing height
                out.append((a, b))
        return out

    return k.cached("flights", make)  # type: ignore[return-value]


def _ev_jump(k: Kinematics, c: Claim) -> list[_Event]:
    out = []
    for cl in _clusters(_flights(k), gap=k.s(2.0)):
        a, b = max(cl[0][0] - k.s(0.6), 0), min(cl[-1][1] + k.s(0.5), k.T)
        out.append(
            _Event(
                a,
                b,
                float(len(cl)),
                count=len(cl),
                extra={"fwd_per_jump": float(k.fprog[b - 1] - k.fprog[a]) / len(cl)},
            )
        )
    return out


def _dips(k: Kinematics, depth: float, min_len: float = 0.0) -> list[tuple[int, int, float]]:
    out = []
    for a, b in _runs(k.drop > depth, merge=0, min_len=k.s(min_len) if min_len else 1):
        out.append((a, b, float(k.drop[a:b].max())))
    return out


def _ev_squat(k: Kinematics, c: Claim) -> list[_Event]:
    fl = _flights(k)
    toes = k.J[:, [_LFOOT, _RFOOT]][:, :, [0, 2]]
    split = ((toes[:, 0] - toes[:, 1]) * k.fwd).sum(-1)  # feet side by side, not a lunge
    dips = [
        (a, b, d) for a, b, d in _dips(k, 0.08)
        if d >= 0.15 and not any(fa < b + k.s(0.3) and fb > a - k.s(0.3) for fa, fb in fl)
        and k.foot_up[a:b].max() < 0.1 and abs(split[a + int(np.argmax(k.drop[a:b]))]) < 0.3
    ]  # fmt: skip
    out: list[_Event] = []
    for a, b, d in dips:  # repetitions: dips of about the same depth less than 1 s apart
        last = out[-1] if out else None
        if last is not None and a - last.end <= k.s(1.0) and abs(d - last.value) <= 0.2 * last.value:
            last.end, last.count = b, last.count + 1
        else:
            out.append(_Event(a, b, d))
    return out


def _ev_crouch(k: Kinematics, c: Claim) -> list[_Event]:
    return [_Event(a, b, d) for a, b, d in _dips(k, 0.15)]


def _ev_sit(k: Kinematics, c: Claim) -> list[_Event]:
    out = []
    for a, b, d in _dips(k, 0.15):
        held = int((k.drop[a:b] >= 0.28).sum())
        out.append(_Event(a, b, d, extra={"held_s": held / k.fps}))
    return out


def _ev_stand_up(k: Kinematics, c: Claim) -> list[_Event]:
    out = []
    for a, b, d in _dips(k, 0.08):
        if d >= 0.15 and b < k.T and (k.drop[b:] < 0.08).any():
            rise = a + int(np.flatnonzero(k.drop[a:b] >= d / 2)[-1])  # the way up starts here
            out.append(_Event(rise, b + int(np.argmax(k.drop[b:] < 0.08)) + 1, d))
    return out


def _ev_lunge(k: Kinematics, c: Claim) -> list[_Event]:
    s = _SIDES.index(c.side or "left")
    toes = k.J[:, [_LFOOT, _RFOOT]][:, :, [0, 2]]
    ahead = ((toes[:, s] - toes[:, 1 - s]) * k.fwd).sum(-1)
    ok = (ahead >= 0.4) & (k.drop >= 0.1) & (k.speed < 1.0)
    return [_Event(a, b, float(ahead[a:b].max())) for a, b in _runs(ok, merge=k.s(0.2))]


def _leg_events(k: Kinematics, mask: np.ndarray, value: np.ndarray) -> list[_Event]:
    spans = _runs(mask, merge=k.s(0.15), min_len=1)
    out = []
    for cl in _clusters(spans, gap=k.s(2.0)):
        a, b = cl[0][0], cl[-1][1]
        out.append(_Event(a, b, float(value[a:b].max()), count=len(cl)))
    return out


def _ev_kick(k: Kinematics, c: Claim) -> list[_Event]:
    s = _SIDES.index(c.side or "left")
    ank = k.body_frame([_LANK, _RANK][s], _PELVIS)[:, 2]
    knee = k.body_frame([_LKNEE, _RKNEE][s], _PELVIS)[:, 2]
    ext = ank - knee
    mask = (k.ankle_up[:, s] >= 0.25) & (ext >= 0.12) & (k.foot_up[:, 1 - s] < 0.05)
    return _leg_events(k, mask, k.ankle_up[:, s])


def _ev_knee_raise(k: Kinematics, c: Claim) -> list[_Event]:
    if c.side == "both":
        ev = [_ev_knee_raise(k, Claim("knee_raise", c.text, side=x)) for x in _SIDES]
        if not ev[0] or not ev[1]:
            return []
        # alternating raises: one event spanning the clusters of both legs that overlap in time
        out = []
        for e in ev[0]:
            for f in ev[1]:
                if e.start < f.end + k.s(2.0) and f.start < e.end + k.s(2.0):
                    out.append(
                        _Event(min(e.start, f.start), max(e.end, f.end), min(e.value, f.value), count=e.count + f.count)
                    )
        return out
    s = _SIDES.index(c.side or "left")
    mask = (k.knee_up[:, s] >= 0.25) & (k.foot_up[:, 1 - s] < 0.05) & (k.speed < 0.8)
    return _leg_events(k, mask, k.knee_up[:, s])


def _arm_sides(c: Claim) -> tuple[int, ...]:
    return (0, 1) if c.side == "both" else (_SIDES.index(c.side or "left"),)


def _both(k: Kinematics, c: Claim, per_side: Callable[[int], list[_Event]]) -> list[_Event]:
    """Events of each named arm; with both arms, spans where events of the two overlap."""
    ev = [per_side(s) for s in _arm_sides(c)]
    if len(ev) == 1:
        return ev[0]
    out = []
    for e in ev[0]:
        for f in ev[1]:
            a, b = max(e.start, f.start), min(e.end, f.end)
            if a < b:
                out.append(_Event(a, b, min(e.value, f.value), count=min(e.count, f.count)))
    return out


def _wrist(k: Kinematics, s: int) -> np.ndarray:
    """(T, 3) wrist s relative to its shoulder as (outward, up, forward) in the heading frame."""
    w = k.body_frame([_LWR, _RWR][s], [_LSH, _RSH][s])
    w[:, 0] *= 1.0 if s == 0 else -1.0
    return w


def _reversals(x: np.ndarray, min_swing: float) -> int:
    """How many times x turns back after moving at least ``min_swing`` one way (hysteresis)."""
    n, direction, lo, hi = 0, 0, float(x[0]), float(x[0])
    for v in map(float, x[1:]):
        if direction == 0:
            lo, hi = min(lo, v), max(hi, v)
            if hi - v >= min_swing:  # it went down; a reversal if it had first gone up as far
                n += hi - float(x[0]) >= min_swing
                direction, lo = -1, v
            elif v - lo >= min_swing:
                n += float(x[0]) - lo >= min_swing
                direction, hi = 1, v
        elif direction < 0:
            lo = min(lo, v)
            if v - lo >= min_swing:
                n, direction, hi = n + 1, 1, v
        else:
            hi = max(hi, v)
            if hi - v >= min_swing:
                n, direction, lo = n + 1, -1, v
    return n


def _ev_wave(k: Kinematics, c: Claim) -> list[_Event]:
    def side(s: int) -> list[_Event]:
        w = _wrist(k, s)
        out = []
        for a, b in _runs(w[:, 1] > 0.05, merge=k.s(0.1), min_len=k.s(0.4)):
            rev = _reversals(w[a:b, 0], 0.03)
            if rev >= 2:
                out.append(_Event(a, b, float(rev)))
        return out

    return _both(k, c, side)


def _ev_raise(k: Kinematics, c: Claim) -> list[_Event]:
    head_up = k.J[:, _HEAD, 1]

    def side(s: int) -> list[_Event]:
        w = _wrist(k, s)
        wy = k.J[:, [_LWR, _RWR][s], 1]
        if c.style == "overhead":
            val = wy - head_up
            ok = val > 0.0
        elif c.style == "forward":
            val = w[:, 2]
            ok = (w[:, 2] >= 0.35) & (np.abs(w[:, 1]) < 0.25)
        elif c.style == "sideways":
            val = w[:, 0]
            ok = (w[:, 0] >= 0.35) & (np.abs(w[:, 1]) < 0.25)
        else:
            val = w[:, 1]
            ok = w[:, 1] > -0.15
        return [_Event(a, b, float(val[a:b].max())) for a, b in _runs(ok, merge=k.s(0.1), min_len=k.s(0.25))]

    return _both(k, c, side)


def _ev_clap(k: Kinematics, c: Claim) -> list[_Event]:
    gap = np.linalg.norm(k.J[:, _LWR] - k.J[:, _RWR], axis=-1)
    closes, is_open = [], True
    for t, g in enumerate(gap):
        if is_open and g < 0.12:
            closes.append((t, t + 1))
            is_open = False
        elif not is_open and g > 0.15:
            is_open = True
    # a closing counts once the hands have been apart before it (not a clip that starts with hands together)
    closes = [x for x in closes if (gap[: x[0]] > 0.15).any()]
    return [_Event(cl[0][0], cl[-1][1] + 1, float(len(cl)), count=len(cl)) for cl in _clusters(closes, k.s(1.5))]


def _peak_spans(x: np.ndarray, thr: float, drop: float) -> list[tuple[int, int]]:
    """Spans of separate excursions of x above ``thr``: a new one starts only after x fell ``drop``
    below the previous peak (so two punches without a full retraction still count as two)."""
    out: list[list[int]] = []
    armed, peak = True, -np.inf
    for t, v in enumerate(map(float, x)):
        if armed and v >= thr:
            out.append([t, t + 1])
            armed, peak = False, v
        elif not armed:
            if v >= thr:
                out[-1][1] = t + 1
            peak = max(peak, v)
            if peak - v >= drop:
                armed = True
    return [(a, b) for a, b in out]


def _ev_punch(k: Kinematics, c: Claim) -> list[_Event]:
    spans = []
    for s in _arm_sides(c):
        w = _wrist(k, s)
        ext = np.where(np.abs(w[:, 1]) < 0.12, w[:, 2], 0.0)
        spans += [(a, b, s, float(ext[a:b].max())) for a, b in _peak_spans(ext, 0.38, 0.07) if b - a <= k.s(1.0)]
    spans.sort()
    out = []
    for cl in _clusters([(a, b) for a, b, _, _ in spans], gap=k.s(2.0)):
        mine = [x for x in spans if cl[0][0] <= x[0] < cl[-1][1]]
        if len({x[2] for x in mine}) == len(_arm_sides(c)):  # both: each hand punches
            out.append(_Event(cl[0][0], cl[-1][1], min(x[3] for x in mine), count=len(cl)))
    return out


def _ev_reach(k: Kinematics, c: Claim) -> list[_Event]:
    s = _SIDES.index(c.side or "left")
    w = _wrist(k, s)
    if c.style == "up":
        val = k.J[:, [_LWR, _RWR][s], 1] - k.J[:, _HEAD, 1]
        ok = val > 0.0
    elif c.style == "out":
        val = w[:, 0]
        ok = val >= 0.38
    else:
        val = w[:, 2]
        ok = val >= 0.38
    return [_Event(a, b, float(val[a:b].max())) for a, b in _runs(ok, merge=k.s(0.1), min_len=k.s(0.2))]


def _ev_throw(k: Kinematics, c: Claim) -> list[_Event]:
    s = _SIDES.index(c.side or "left")
    w = _wrist(k, s)
    rel = k.J[:, [_LWR, _RWR][s]] - k.J[:, _PELVIS]
    sp = np.linalg.norm(np.gradient(rel, axis=0), axis=-1) * k.fps
    out = []
    for a, b in _runs(w[:, 1] > 0.0, merge=k.s(0.1), min_len=1):
        e = min(b + k.s(0.6), k.T)
        peak = float(sp[a:e].max())
        out.append(_Event(a, e, peak))
    return out


def _ev_bow(k: Kinematics, c: Claim) -> list[_Event]:
    out = []
    for a, b in _runs(k.pitch > 8.0, merge=k.s(0.2), min_len=k.s(0.2)):
        if b < k.T:  # it comes back up
            out.append(_Event(a, b, float(k.pitch[a:b].max())))
    return out


def _ev_bend_down(k: Kinematics, c: Claim) -> list[_Event]:
    low = np.maximum(k.J[:, _LWR, 1] - k.J[:, _LKNEE, 1], k.J[:, _RWR, 1] - k.J[:, _RKNEE, 1])
    ok = (k.pitch >= 45.0) & (low < 0.0)
    return [_Event(a, b, float(k.pitch[a:b].max())) for a, b in _runs(ok, merge=k.s(0.1))]


def _ev_lean(k: Kinematics, c: Claim) -> list[_Event]:
    out = []
    roll = k.roll - np.median(k.roll)  # bodies are not quite symmetric
    spans = {1.0: _runs(roll > 5.0, merge=k.s(0.1)), -1.0: _runs(roll < -5.0, merge=k.s(0.1))}
    for first in (1.0, -1.0):
        if c.side is not None and first != (1.0 if c.side == "left" else -1.0):
            continue
        for a, b in spans[first]:
            later = [x for x in spans[-first] if b <= x[0] <= b + k.s(3.0)]
            if later:
                out.append(_Event(a, later[0][1], float(np.abs(roll[a : later[0][1]]).max())))
    return sorted(out, key=lambda e: e.start)


def _ev_sway(k: Kinematics, c: Claim) -> list[_Event]:
    moving = _smooth(np.abs(k.vl), k.s(0.2)) > 0.1
    out = []
    for a, b in _runs(moving, merge=k.s(0.3), min_len=k.s(0.8)):
        rev = _reversals(k.lprog[a:b], 0.1)
        if rev >= 1:
            out.append(_Event(a, b, float(rev)))
    return out


def _ev_stand_still(k: Kinematics, c: Claim) -> list[_Event]:
    rate = np.abs(np.degrees(np.gradient(k.yaw))) * k.fps
    ok = (k.speed < 0.1) & (np.abs(k.drop) < 0.08) & (k.foot_up.max(1) < 0.04) & (rate < 10.0)
    return [_Event(a, b, (b - a) / k.fps) for a, b in _runs(ok, merge=0, min_len=k.s(1.0))]


def _counted(c: Claim, e: _Event) -> bool:
    return c.count is None or e.count == c.count


def _judge(k: Kinematics, c: Claim, e: _Event) -> bool:
    """Does event e satisfy claim c?"""
    kind = c.kind
    if kind == "forward":
        return e.value >= 0.8
    if kind == "backward":
        return e.value >= 0.5
    if kind == "side_step":
        return e.value >= 0.2
    if kind == "pace":
        lo, hi = _PACE[c.style or "walk"]
        return lo <= e.value <= hi
    if kind == "turn":
        if c.degrees is not None:
            return abs(e.value - c.degrees) <= max(35.0, 0.25 * c.degrees)
        return e.value >= (130.0 if c.style == "around" else 40.0)
    if kind == "circle":
        return e.value >= {"full": 270.0, "half": 140.0}.get(c.style or "curve", 45.0)
    if kind == "jump":
        fpj = e.extra["fwd_per_jump"]
        direction = c.style is None or (fpj >= 0.15 if c.style == "forward" else fpj < 0.15)
        return direction and _counted(c, e)
    if kind == "squat":
        return _counted(c, e)
    if kind == "crouch":
        return e.value >= 0.3
    if kind == "sit":
        return e.extra["held_s"] >= 0.3
    if kind in ("kick", "knee_raise", "clap", "punch"):
        return _counted(c, e)
    if kind == "throw":
        return e.value >= 2.5
    if kind == "bow":
        return e.value >= 10.0
    return True  # the detector already required everything


_DETECTORS: dict[str, Callable[[Kinematics, Claim], list[_Event]]] = {
    "forward": _ev_forward, "backward": _ev_backward, "side_step": _ev_side_step, "pace": _ev_pace,
    "turn": _ev_turn, "circle": _ev_circle, "jump": _ev_jump, "squat": _ev_squat, "crouch": _ev_crouch,
    "sit": _ev_sit, "stand_up": _ev_stand_up, "lunge": _ev_lunge, "kick": _ev_kick, "knee_raise": _ev_knee_raise,
    "wave": _ev_wave, "raise_arm": _ev_raise, "clap": _ev_clap, "punch": _ev_punch, "reach": _ev_reach,
    "throw": _ev_throw, "bow": _ev_bow, "bend_down": _ev_bend_down, "lean_sideways": _ev_lean, "sway": _ev_sway,
    "stand_still": _ev_stand_still,
}  # fmt: skip
assert set(_DETECTORS) == set(CLAIM_KINDS)


def _threshold(c: Claim) -> str:
    t = CLAIM_KINDS[c.kind]
    extra = [f"{x}={getattr(c, x)}" for x in ("side", "count", "degrees", "style") if getattr(c, x) is not None]
    return t + (f" [{', '.join(extra)}]" if extra else "")


def check_claim(
    claim: Claim,
    joints: np.ndarray | torch.Tensor | Kinematics,
    fps: float = DEFAULT_FPS,
    start: int = 0,
    exclude: set[tuple] | None = None,
) -> ClaimResult:
    """Does the motion make ``claim`` true, with an event starting at frame ``start`` or later?

    ``joints`` is (T, 22, 3) in metres (Y up, rest facing +Z, left at +X) or a :class:`Kinematics` of it.
    ``value`` is the measurement of the first event that satisfies the claim, or of the best event seen
    (largest value) if none does (0 with no event at all).
    """
    k = joints if isinstance(joints, Kinematics) else Kinematics(joints, fps)
    events = [e for e in _DETECTORS[claim.kind](k, claim) if e.start >= start]
    if exclude:
        events = [e for e in events if (claim.kind, e.start, e.end) not in exclude]
    for e in events:
        if _judge(k, claim, e):
            val = float(e.count) if claim.count is not None else e.value
            return ClaimResult(claim, True, val, _threshold(claim), (e.start, e.end))
    best = max((float(e.count) if claim.count is not None else e.value for e in events), default=0.0)
    return ClaimResult(claim, False, best, _threshold(claim), None)


#: Kinds whose events are single actions: a later phrase cannot reuse one ("lunges, then lunges again"
#: needs two lunges). Travel, turns and arm poses can run on from one phrase into the next.
_DISCRETE = frozenset(
    {
        "jump",
        "squat",
        "crouch",
        "sit",
        "stand_up",
        "lunge",
        "kick",
        "knee_raise",
        "clap",
        "punch",
        "throw",
        "bow",
        "bend_down",
        "lean_sideways",
    }
)


def check_caption(
    caption: str, joints: np.ndarray | torch.Tensor | Kinematics, fps: float = DEFAULT_FPS, ordered: bool = True
) -> list[ClaimResult]:
    """Check every claim of ``caption`` on the motion; with ``ordered``, the claims of each phrase must be
    met by events starting no earlier than the earliest matched event of the phrase before (and a
    single action, e.g. a lunge or a bow, matched by an earlier phrase is not used again)."""
    k = joints if isinstance(joints, Kinematics) else Kinematics(joints, fps)
    claims = parse_claims(caption)
    out: list[ClaimResult] = []
    lb, phrase, phrase_lb = 0, -1, None
    used: set[tuple] = set()  # discrete events matched by earlier phrases
    this: set[tuple] = set()
    for c in claims:
        if c.phrase != phrase:
            lb = phrase_lb if ordered and phrase_lb is not None else lb
            phrase, phrase_lb = c.phrase, None
            used |= this
            this = set()
        r = check_claim(c, k, start=lb, exclude=used if ordered else None)
        if r.holds and r.frames is not None:
            phrase_lb = r.frames[0] if phrase_lb is None else min(phrase_lb, r.frames[0])
            if c.kind in _DISCRETE:
                this.add((c.kind, *r.frames))
        out.append(r)
    return out


def claim_rate(
    captions: Sequence[str | Sequence[str]],
    joints_list: Sequence[np.ndarray | torch.Tensor],
    fps: float = DEFAULT_FPS,
    ordered: bool = True,
) -> dict:
    """How many claims of the captions hold on their motions.

    ``captions[i]`` is one caption or several paraphrases of motion ``joints_list[i]`` (each is checked).
    Returns ``claims``, ``held``, ``rate`` (held / claims, NaN with no claims), ``captions`` (checked),
    ``parsed`` (captions with at least one claim), ``per_kind`` (kind -> {claims, held, rate}) and
    ``failures`` (up to 50 (motion index, caption, claim kind, claim text, value) tuples).
    """
    if len(captions) != len(joints_list):
        raise ValueError(f"{len(captions)} captions but {len(joints_list)} motions")
    n_claims = n_held = n_caps = n_parsed = 0
    per: dict[str, list[int]] = {}
    failures = []
    for i, (caps, J) in enumerate(zip(captions, joints_list, strict=True)):
        k = Kinematics(J, fps)
        for cap in [caps] if isinstance(caps, str) else caps:
            n_caps += 1
            res = check_caption(cap, k, ordered=ordered)
            n_parsed += bool(res)
            for r in res:
                n_claims += 1
                n_held += r.holds
                pk = per.setdefault(r.claim.kind, [0, 0])
                pk[0] += 1
                pk[1] += r.holds
                if not r.holds and len(failures) < 500:
                    failures.append((i, cap, r.claim.kind, r.claim.text, r.value))
    return {
        "claims": n_claims,
        "held": n_held,
        "rate": n_held / n_claims if n_claims else float("nan"),
        "captions": n_caps,
        "parsed": n_parsed,
        "per_kind": {kk: {"claims": v[0], "held": v[1], "rate": v[1] / v[0]} for kk, v in sorted(per.items())},
        "failures": failures,
    }


#: Fixed prompts in the corpus's own phrasing, each with at least one checkable claim.
PROMPTS: list[str] = [
    "A person walks forward.",
    "A person walks forward slowly.",
    "A person walks straight ahead quickly.",
    "A person jogs forward.",
    "A person runs forward.",
    "A person walks backwards.",
    "A person side-steps to the left.",
    "A person side-steps to the right.",
    "A person turns to the left in place.",
    "A person turns right on the spot.",
    "A person turns around to the left.",
    "A person rotates to the right by about 90 degrees.",
    "A person turns about 180 degrees to the left.",
    "A person walks in a full circle to the left.",
    "A person walks in a half circle to the right.",
    "A person jumps in place.",
    "A person jumps forward twice.",
    "A person does 3 vertical jumps.",
    "A person squats down.",
    "A person does 2 squats.",
    "A person crouches down and stands back up.",
    "A person sits down and then stands back up.",
    "A person lunges forward with the left leg.",
    "A person lunges forward with the right leg.",
    "A person kicks forward with the left leg.",
    "A person kicks forward with the right leg twice.",
    "A person raises the left knee up high.",
    "A person marches in place with high knees.",
    "A person bows.",
    "A person bends down reaching toward the toes.",
    "A person stretches both arms overhead and leans to the left and then to the right.",
    "A person dances, stepping from side to side and clapping to the beat.",
    "A person waves the right hand.",
    "A person waves the left hand.",
    "A person waves both hands.",
    "A person raises the left arm above the head.",
    "A person raises both arms out to the side.",
    "A person claps 4 times.",
    "A person punches forward with the right fist.",
    "A person throws alternating punches with both fists.",
    "A person reaches forward with the left hand.",
    "A person throws a ball with the right hand.",
    "A person stands still.",
    "A person walks forward while waving the right hand.",
    "A person walks forward, then turns around to the right.",
    "A person jumps in place, then squats down.",
]

#: Prompts in words the corpus does not use (report them separately: they test the text side, not only
#: the motion side). Each still has at least one claim the parser understands.
PARAPHRASES: list[str] = [
    "Someone strolls forward slowly.",
    "A person sprints forward.",
    "A person walks backward.",
    "A person turns left.",
    "A person jumps three times.",
    "A person squats twice.",
    "A person kicks with the left foot.",
    "A person greets someone by waving the left hand.",
    "A person stands motionless.",
    "A person touches the toes.",
]


def _part_prompt(caption: str, legs: dict[str, str], arm: str, line: str, claim: str, other: str) -> dict:
    side = arm.split("_")[0]
    rest = "right_arm" if side == "left" else "left_arm"
    return {"caption": caption, "parts": {**legs, arm: line, rest: other}, "part": claim, "whole": caption}


_WALK = {
    "torso": "The upper body remains upright while walking.",
    "left_leg": "The left leg swings through and plants the heel with each stride.",
    "right_leg": "The right leg steps forward in a steady walking rhythm.",
}
_BACK = {
    "torso": "The upper body faces forward as the body retreats.",
    "left_leg": "The left foot steps backward, toes first.",
    "right_leg": "The right foot steps backward, toes first.",
}
_SIDE = {
    "torso": "The upper body stays upright and faces ahead.",
    "left_leg": "The left foot leads each side step.",
    "right_leg": "The right leg follows and closes the stance.",
}
_SWING = "The {} arm swings loosely in time with the steps."

#: Body-part instructions (the part_t2m task) in the corpus's part phrasing: the whole-body line and the legs and
#: torso move the body (forward, backward, sideways), one arm's line asks for something else (a wave, a raised arm,
#: a punch). ``part`` is the claim of that arm's line, ``whole`` the whole-body line's: a model that follows the
#: instructions makes both hold on one motion.
PART_PROMPTS: list[dict] = [
    _part_prompt("A person walks forward.", _WALK, "right_arm",
                 "The right arm is raised above the shoulder and the hand waves side to side.",
                 "A person waves the right hand.", _SWING.format("left")),
    _part_prompt("A person walks forward.", _WALK, "left_arm", "The left hand waves high in the air.",
                 "A person waves the left hand.", _SWING.format("right")),
    _part_prompt("A person walks forward.", _WALK, "right_arm", "The right arm is raised above the head.",
                 "A person raises the right arm above the head.", _SWING.format("left")),
    _part_prompt("A person walks forward.", _WALK, "right_arm", "The right fist punches out in front.",
                 "A person punches forward with the right fist.", _SWING.format("left")),
    _part_prompt("A person walks backward.", _BACK, "right_arm",
                 "The right arm is raised above the shoulder and the hand waves side to side.",
                 "A person waves the right hand.", "The left arm swings slightly."),
    _part_prompt("A person walks backward.", _BACK, "left_arm", "The left arm is raised out to the side.",
                 "A person raises the left arm out to the side.", "The right arm hangs and sways a little."),
    _part_prompt("A person steps sideways to the left.", _SIDE, "left_arm", "The left hand waves high in the air.",
                 "A person waves the left hand.", "The right arm hangs relaxed at the side."),
    _part_prompt("A person steps sideways to the left.", _SIDE, "right_arm", "The right arm is raised above the head.",
                 "A person raises the right arm above the head.", "The left arm hangs relaxed at the side."),
]  # fmt: skip
