"""Read BVH files and import them into a motion store by retargeting onto the 22-joint skeleton.

The reader (:func:`read_bvh`) is a small numpy parser of the standard ``HIERARCHY`` / ``MOTION``
syntax: any hierarchy, 0 / 3 / 6 channels per joint in any order, Euler angles in degrees applied
in the listed order (``Zrotation Xrotation Yrotation`` means ``R = Rz @ Rx @ Ry``), position
channels replacing the joint's offset. It checks channel counts, frame counts and numbers and
raises :class:`BvhError` naming the field (and line) at fault.

Retargeting (:class:`_Converter`): the file's joints are put through FK (after slerp resampling of
their rotations to 20 fps), scaled to metres, and the joints named by a joint map become targets
for our 22 joints. Maps: ``cmu`` (``Hips, LowerBack, Spine, Spine1, Neck, Head, LeftShoulder,
LeftArm, LeftForeArm, LeftHand, LeftUpLeg, LeftLeg, LeftFoot, LeftToeBase`` ...), ``mixamo``
(``mixamorig:Hips, Spine, Spine1, Spine2`` ...) and ``motionbook`` (our own names, as
:func:`motionbook_lib.data.exporters.export_bvh` writes them); ``auto`` picks the one that matches
the file best, and a user map overrides single entries. Names match exactly, else ignoring case
and any ``namespace:`` prefix. Spine, neck and collar joints that the map leaves out (or that sit
on their parent, as CMU's ``LowerBack``, ``Neck`` and ``LeftShoulder`` do) are placed on the
segment between their neighbours in our rest proportions; toes may be missing. The body shape is
fitted to the bone lengths and the rotations come from the IK shared with the HumanML3D importer;
the root follows the mapped hips.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from motionbook_lib.data.cards import CardText
from motionbook_lib.data.importers.common import (
    Z_UP_TO_Y_UP,
    Converted,
    SkipFile,
    find_files,
    resample,
    run_import,
)
from motionbook_lib.data.importers.ik import fit_scale_and_betas, ik_from_positions
from motionbook_lib.data.store import DEFAULT_SHARD_FRAMES
from motionbook_lib.motion import Motion
from motionbook_lib.rotations import matrix_to_quaternion
from motionbook_lib.skeleton import DEFAULT_FPS, JOINT_NAMES, NUM_JOINTS, PARENTS, bone_offsets, joint_depths

__all__ = [
    "BVH_CARD",
    "JOINT_MAP_PRESETS",
    "REQUIRED_JOINTS",
    "UNITS",
    "BvhConfig",
    "BvhData",
    "BvhError",
    "import_bvh",
    "parse_bvh",
    "read_bvh",
    "resolve_joint_map",
]

_SIDES = {"left": "Left", "right": "Right"}


def _limbs(prefix: str = "") -> dict[str, str]:
    out = {}
    for side, Side in _SIDES.items():
        out |= {
            f"{side}_hip": f"{prefix}{Side}UpLeg",
            f"{side}_knee": f"{prefix}{Side}Leg",
            f"{side}_ankle": f"{prefix}{Side}Foot",
            f"{side}_foot": f"{prefix}{Side}ToeBase",
            f"{side}_collar": f"{prefix}{Side}Shoulder",
            f"{side}_shoulder": f"{prefix}{Side}Arm",
            f"{side}_elbow": f"{prefix}{Side}ForeArm",
            f"{side}_wrist": f"{prefix}{Side}Hand",
        }
    return out


#: Our joint name -> the BVH joint name of common rigs.
JOINT_MAP_PRESETS: dict[str, dict[str, str]] = {
    "motionbook": {n: n for n in JOINT_NAMES},
    "cmu": {
        "pelvis": "Hips", "spine1": "LowerBack", "spine2": "Spine", "spine3": "Spine1", "neck": "Neck",
        "head": "Head", **_limbs(),
    },
    "mixamo": {
        "pelvis": "mixamorig:Hips", "spine1": "mixamorig:Spine", "spine2": "mixamorig:Spine1",
        "spine3": "mixamorig:Spine2", "neck": "mixamorig:Neck", "head": "mixamorig:Head", **_limbs("mixamorig:"),
    },
}  # fmt: skip
#: Joints a file must provide; the others are interpolated (spine, neck, collars) or optional (toes).
REQUIRED_JOINTS: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)  # fmt: skip
#: Metres per file unit. "cmu" is the CMU mocap unit (1/0.45 inch) of the common BVH conversion.
UNITS: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": 0.0254 / 0.45}
#: Our joint -> the child continuing its chain (for placing joints a map leaves out).
_MAIN_CHILD: dict[int, int] = {
    0: 3, 3: 6, 6: 9, 9: 12, 12: 15, 13: 16, 14: 17, 16: 18, 17: 19, 18: 20, 19: 21,
    1: 4, 2: 5, 4: 7, 5: 8, 7: 10, 8: 11,
}  # fmt: skip
#: Ankle-to-head path length of an adult (metres), for unit detection.
_TYPICAL_HEIGHT = 1.5

BVH_CARD = CardText(
    title="BVH motion capture (imported)",
    summary=(
        "Motions read from BVH files (CMU mocap conversions, Mixamo, or other rigs) and retargeted onto the 22-joint "
        "SMPL-X body at 20 fps. BVH carries no text: captions are empty."
    ),
    source=(
        "BVH files converted by `motionbook_lib.data.importers.bvh`: FK of the file's own hierarchy (rotations "
        "slerp-resampled to 20 fps), scaled to metres (unit detected from the rest skeleton or given), mapped joints "
        "used as IK targets for our skeleton (body shape fitted to the bone lengths, swing IK), root from the mapped "
        "hips. `import_report.json` records the joint map, unit and the IK joint error per motion."
    ),
    licence=(
        "Each BVH collection has its own terms: the CMU Graphics Lab Motion Capture Database is free to use, including "
        "commercially, but may not be resold as a motion database; Mixamo animations are licensed to Adobe account "
        "holders for use in their projects and may not be redistributed as files or datasets. Check the terms of "
        "your source before sharing this store. The motionbook code is Apache-2.0."
    ),
    known_limits=[
        "Retargeting by joint positions: limb twist about the bone axis is lost (minimal twist), wrists, toes and "
        "head keep their parent's orientation, fingers are dropped.",
        "Joints that the rig lacks or places on their parent (CMU LowerBack, Neck, LeftShoulder) are interpolated "
        "in SMPL-X proportions, so spine curvature and shrugs are approximate.",
        "Proportions differ between rigs and SMPL-X: the fitted shape is bounded, the remaining mismatch shows as "
        "joint error and can let feet slide or float slightly.",
        "The up axis is assumed Y unless configured; units are guessed from the rest skeleton's height when not given.",
    ],
    build_command="python -m motionbook_lib.data import --format bvh BVH_DIR --out STORE [--unit cm]",
)


# ---------------------------------------------------------------------------------------------- reading


class BvhError(ValueError):
    """A malformed BVH file; ``field`` names the part at fault."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field, self.detail = field, detail


@dataclass
class BvhData:
    """A parsed BVH file. Joints are in file order (a parent comes before its children)."""

    names: list[str]
    parents: list[int]  # -1 for the root
    offsets: np.ndarray  # (J, 3) file units
    channels: list[list[str]]  # per joint, e.g. ["Xposition", "Yposition", "Zposition", "Zrotation", ...]
    frame_time: float  # seconds
    motion: np.ndarray  # (T, C) float64, C = total channel count
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)  # joint -> (3,) offset
    warnings: list[str] = field(default_factory=list)  # tolerated defects (e.g. a Frames: count off by one)

    @property
    def n_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def rest_positions(self) -> np.ndarray:
        """(J, 3) joint positions of the rest pose (offsets, no rotation), file units."""
        pos = np.zeros((len(self.names), 3))
        for j, p in enumerate(self.parents):
            pos[j] = self.offsets[j] + (pos[p] if p >= 0 else 0.0)
        return pos

    def local_transforms(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame local rotations (T, J, 3, 3) and translations (T, J, 3), float64, file units."""
        T, J = self.n_frames, len(self.names)
        rot = torch.eye(3, dtype=torch.float64).repeat(T, J, 1, 1)
        trans = torch.from_numpy(np.broadcast_to(self.offsets, (T, J, 3)).copy())
        motion = torch.from_numpy(self.motion)
        col = 0
        for j, chans in enumerate(self.channels):
            R = None
            for c in chans:
                axis, kind = "xyz".index(c[0].lower()), c[1:].lower()
                v = motion[:, col]
                col += 1
                if kind == "position":
                    trans[:, j, axis] = v
                else:
                    Rc = _axis_rotation(axis, torch.deg2rad(v))
                    R = Rc if R is None else R @ Rc
            if R is not None:
                rot[:, j] = R
        return rot, trans


def _axis_rotation(axis: int, angle: torch.Tensor) -> torch.Tensor:
    """(T,) angles (radians) about x / y / z -> (T, 3, 3)."""
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    if axis == 0:
        m = [one, zero, zero, zero, c, -s, zero, s, c]
    elif axis == 1:
        m = [c, zero, s, zero, one, zero, -s, zero, c]
    else:
        m = [c, -s, zero, s, c, zero, zero, zero, one]
    return torch.stack(m, -1).reshape(*angle.shape, 3, 3)


_CHANNEL = re.compile(r"^[XYZxyz](position|rotation)$", re.IGNORECASE)


def _floats(tokens: list[str], n: int, what: str) -> np.ndarray:
    if len(tokens) != n:
        raise BvhError(what, f"expected {n} numbers, found {len(tokens)}")
    try:
        return np.array(tokens, dtype=np.float64)
    except ValueError:
        raise BvhError(what, f"not numbers: {' '.join(tokens)}") from None


def parse_bvh(text: str, name: str = "<bvh>", strict: bool = False) -> BvhData:
    """Parse BVH text; raises :class:`BvhError` (field + line) for malformed input. A ``Frames:`` header that
    differs from the frame lines by one (a common exporter slip) is tolerated with a warning in
    ``BvhData.warnings`` naming the file and both counts, the lines found being used; ``strict`` makes it an
    error like any other mismatch."""
    lines = text.splitlines()
    k = 0

    def where(i: int) -> str:
        return f"line {i + 1}"

    while k < len(lines) and not lines[k].strip():
        k += 1
    if k >= len(lines) or lines[k].split()[0].upper() != "HIERARCHY":
        raise BvhError("HIERARCHY", f"the file must start with HIERARCHY ({name})")
    k += 1
    names: list[str] = []
    parents: list[int] = []
    offsets: list[np.ndarray | None] = []
    channels: list[list[str]] = []
    end_sites: dict[int, np.ndarray] = {}
    stack: list[int] = []  # joint indices; -2 marks an End Site block
    pending: int | None = None  # joint (or -2) whose "{" is expected
    while k < len(lines):
        toks = lines[k].split()
        if not toks:
            k += 1
            continue
        head = toks[0].upper()
        if head in ("ROOT", "JOINT"):
            if pending is not None:
                raise BvhError(f"hierarchy ({where(k)})", "expected '{' after the previous joint name")
            if head == "ROOT" and (names or stack):
                raise BvhError(f"hierarchy ({where(k)})", "only one ROOT is supported")
            if head == "JOINT" and (not stack or stack[-1] < 0):
                raise BvhError(f"hierarchy ({where(k)})", "JOINT outside a joint block")
            jname = " ".join(t for t in toks[1:] if t != "{")
            if not jname:
                raise BvhError(f"hierarchy ({where(k)})", f"{head} without a name")
            if jname in names:
                raise BvhError(f"joint {jname!r} ({where(k)})", "duplicate joint name")
            names.append(jname)
            parents.append(stack[-1] if stack else -1)
            offsets.append(None)
            channels.append([])
            pending = len(names) - 1
            if toks[-1] == "{":
                stack.append(pending)
                pending = None
        elif head == "END":
            if not stack or stack[-1] < 0:
                raise BvhError(f"hierarchy ({where(k)})", "End Site outside a joint block")
            end_owner = stack[-1]
            pending = -2
            if toks[-1] == "{":
                stack.append(-2)
                pending = None
        elif head == "{":
            if pending is None:
                raise BvhError(f"hierarchy ({where(k)})", "unexpected '{'")
            stack.append(pending)
            pending = None
        elif head == "}":
            if not stack:
                raise BvhError(f"hierarchy ({where(k)})", "unbalanced '}'")
            top = stack.pop()
            if top >= 0 and offsets[top] is None:
                raise BvhError(f"OFFSET of joint {names[top]!r}", "missing")
            if not stack:
                k += 1
                break
        elif head == "OFFSET":
            if not stack:
                raise BvhError(f"hierarchy ({where(k)})", "OFFSET outside a joint block")
            top = stack[-1]
            what = f"OFFSET of {'end site of ' + repr(names[end_owner]) if top < 0 else 'joint ' + repr(names[top])}"
            vec = _floats(toks[1:], 3, f"{what} ({where(k)})")
            if top < 0:
                end_sites[end_owner] = vec
            else:
                offsets[top] = vec
        elif head == "CHANNELS":
            if not stack or stack[-1] < 0:
                raise BvhError(f"hierarchy ({where(k)})", "CHANNELS outside a joint block")
            top = stack[-1]
            what = f"CHANNELS of joint {names[top]!r} ({where(k)})"
            try:
                n = int(toks[1])
            except (IndexError, ValueError):
                raise BvhError(what, "missing channel count") from None
            chans = toks[2:]
            if n != len(chans):
                raise BvhError(what, f"declares {n} channels but lists {len(chans)}")
            bad = [c for c in chans if not _CHANNEL.match(c)]
            if bad:
                raise BvhError(what, f"unknown channel name(s) {bad}")
            if len({c.lower() for c in chans}) != len(chans):
                raise BvhError(what, f"repeated channel in {chans}")
            channels[top] = chans
        elif head == "MOTION":
            raise BvhError(f"hierarchy ({where(k)})", "MOTION before the hierarchy is closed (unbalanced braces)")
        else:
            raise BvhError(f"hierarchy ({where(k)})", f"unexpected {toks[0]!r}")
        k += 1
    if not names:
        raise BvhError("HIERARCHY", "no ROOT joint")
    if stack:
        raise BvhError("HIERARCHY", "unbalanced braces: the file ends inside the hierarchy")
    while k < len(lines) and not lines[k].strip():
        k += 1
    if k >= len(lines):
        raise BvhError("MOTION", "missing MOTION section after the hierarchy (truncated file?)")
    if lines[k].split()[0].upper() != "MOTION":
        found = lines[k].strip()[:40]
        raise BvhError(
            "MOTION", f"expected MOTION after the hierarchy, found {found!r} ({where(k)}; unbalanced braces?)"
        )
    k += 1
    hdr: dict[str, str] = {}
    while k < len(lines) and len(hdr) < 2:
        line = lines[k].strip()
        k += 1
        if not line:
            continue
        key, _, value = line.partition(":")
        key = " ".join(key.split()).lower()
        if key not in ("frames", "frame time"):
            raise BvhError("MOTION", f"expected 'Frames:' and 'Frame Time:', found {line[:40]!r} ({where(k - 1)})")
        hdr[key] = value.strip()
    try:
        n_frames = int(hdr["frames"])
    except (KeyError, ValueError):
        raise BvhError("Frames", f"missing or not an integer: {hdr.get('frames')!r}") from None
    try:
        frame_time = float(hdr["frame time"])
    except (KeyError, ValueError):
        raise BvhError("Frame Time", f"missing or not a number: {hdr.get('frame time')!r}") from None
    if n_frames < 1:
        raise BvhError("Frames", f"must be >= 1, got {n_frames}")
    if not (np.isfinite(frame_time) and frame_time > 0):
        raise BvhError("Frame Time", f"must be positive, got {frame_time}")
    C = sum(len(c) for c in channels)
    rows = [ln.split() for ln in lines[k:] if ln.strip()]
    counts = np.array([len(r) for r in rows], dtype=np.int64)
    tolerated: list[str] = []
    if abs(len(rows) - n_frames) == 1 and rows and not strict:
        tolerated.append(f"{name}: Frames: {n_frames} declared, {len(rows)} frame lines found; imported "
                        f"{len(rows)} frames")  # fmt: skip
        n_frames = len(rows)
    if len(rows) < n_frames:
        raise BvhError("MOTION data", f"truncated: Frames: {n_frames} declared, {len(rows)} frame lines found")
    if len(rows) > n_frames:
        raise BvhError("MOTION data", f"{len(rows)} frame lines but Frames: {n_frames}")
    wrong = np.nonzero(counts != C)[0]
    if len(wrong):
        f0 = int(wrong[0])
        raise BvhError(
            "MOTION data",
            f"frame {f0} has {counts[f0]} values but the CHANNELS declarations add up to {C} "
            f"({len(wrong)} frame(s) differ): wrong channel count or truncated line",
        )
    try:
        motion = np.array([v for r in rows for v in r], dtype=np.float64).reshape(n_frames, C)
    except ValueError as err:
        raise BvhError("MOTION data", f"non-numeric value ({err})") from None
    return BvhData(names, parents, np.stack(offsets), channels, frame_time, motion, end_sites,  # type: ignore[arg-type]
                   tolerated)  # fmt: skip


def read_bvh(path: str | os.PathLike, strict: bool = False) -> BvhData:
    """Parse a BVH file (see :func:`parse_bvh`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        text = p.read_text(encoding="latin-1")
    return parse_bvh(text, p.name, strict)


#: A first frame whose every rotation channel (root's included) is within this many degrees of zero is the rig's
#: rest pose (CMU files start with a T-pose frame), when the next frame is not.
REST_FRAME_DEGREES = 0.5


def rest_first_frame(data: BvhData) -> bool:
    """Whether frame 0 is the rest pose (all rotation channels ~0) and frame 1 is not: a capture's calibration
    frame, not motion."""
    if data.n_frames < 2:
        return False
    rot_cols = [i for i, c in enumerate(c for chans in data.channels for c in chans) if c.lower().endswith("rotation")]
    if not rot_cols:
        return False
    first, second = np.abs(data.motion[0, rot_cols]), np.abs(data.motion[1, rot_cols])
    return bool(first.max() < REST_FRAME_DEGREES and second.max() >= REST_FRAME_DEGREES)


# ---------------------------------------------------------------------------------------------- mapping


def _norm(name: str) -> str:
    return name.rsplit(":", 1)[-1].replace(" ", "").replace("_", "").lower()


def resolve_joint_map(
    names: list[str], preset: str = "auto", overrides: dict[str, str | None] | None = None
) -> tuple[str, dict[str, int | None]]:
    """(preset used, our joint name -> index into ``names`` or None) for a file's joint names.

    ``overrides`` maps our joint names to file joint names (or None to leave a joint out) on top
    of the preset; ``auto`` picks the preset matching the most joints.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(JOINT_NAMES))
    if unknown:
        raise ValueError(f"joint map keys must be motionbook joint names {list(JOINT_NAMES)}, got {unknown}")
    exact = {n: i for i, n in enumerate(names)}
    loose: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        loose.setdefault(_norm(n), []).append(i)

    def find(target: str | None) -> int | None:
        if target is None:
            return None
        if target in exact:
            return exact[target]
        hits = loose.get(_norm(target), [])
        return hits[0] if len(hits) == 1 else None

    def build(p: str) -> dict[str, int | None]:
        table = {**JOINT_MAP_PRESETS[p], **overrides}
        return {j: find(table.get(j)) for j in JOINT_NAMES}

    if preset == "auto":
        scores = {p: sum(v is not None for v in build(p).values()) for p in ("motionbook", "mixamo", "cmu")}
        preset = max(scores, key=lambda p: scores[p])  # first of the best: motionbook, mixamo, cmu
    elif preset not in JOINT_MAP_PRESETS:
        raise ValueError(f"unknown joint-map preset {preset!r}; choose auto or one of {sorted(JOINT_MAP_PRESETS)}")
    return preset, build(preset)


def detect_unit(data: BvhData, mapping: dict[str, int | None]) -> str:
    """The unit of :data:`UNITS` that makes the ankle-to-head path closest to an adult's 1.5 m."""
    a, h = mapping["left_ankle"], mapping["head"]
    if a is None or h is None:
        return "m"
    path_len = 0.0
    anc = {a: 0.0}
    j, d = a, 0.0
    while data.parents[j] >= 0:  # ankle -> root
        d += float(np.linalg.norm(data.offsets[j]))
        j = data.parents[j]
        anc[j] = d
    j, d = h, 0.0
    while j not in anc:  # head -> common ancestor
        d += float(np.linalg.norm(data.offsets[j]))
        j = data.parents[j]
    path_len = d + anc[j]
    if path_len <= 0:
        return "m"
    return min(UNITS, key=lambda u: abs(np.log(path_len * UNITS[u] / _TYPICAL_HEIGHT)))


# ---------------------------------------------------------------------------------------------- import


@dataclass
class BvhConfig:
    """Settings that change what is stored (recorded in the store; a resume needs the same)."""

    fps: float = DEFAULT_FPS
    min_frames: int = 40
    max_frames: int | None = None
    unit: str = "auto"  # auto or a key of UNITS
    up: str = "y"  # the file's up axis: y (BVH standard) or z
    preset: str = "auto"  # auto, cmu, mixamo, motionbook
    joint_map: dict[str, str | None] | None = None  # our joint name -> file joint name (or None)
    fit_shape: bool = True  # fit betas to the rig's bone lengths
    fit_size: bool = True  # scale the motion by the leg-length ratio when betas cannot match the rig's legs
    betas_bound: float = 3.0
    keep_rest_frame: bool = False  # keep a first frame that is the rig's rest pose (dropped by default)

    def __post_init__(self) -> None:
        if self.unit != "auto" and self.unit not in UNITS:
            raise ValueError(f"unit must be 'auto' or one of {sorted(UNITS)}, got {self.unit!r}")
        if self.up not in ("y", "z"):
            raise ValueError(f"up must be 'y' or 'z', got {self.up!r}")
        resolve_joint_map(list(JOINT_NAMES), self.preset if self.preset != "auto" else "auto", self.joint_map)


def _targets(
    pos: torch.Tensor, mapping: dict[str, int | None], rest: np.ndarray, scale: float
) -> tuple[torch.Tensor, np.ndarray, np.ndarray, list[str]]:
    """Our (T, 22, 3) targets from the file's (T, J, 3) joints; has_target (22,), measured (22,), notes."""
    T = pos.shape[0]
    X = torch.zeros(T, NUM_JOINTS, 3, dtype=torch.float64)
    src = [mapping[n] for n in JOINT_NAMES]
    measured = np.array([s is not None for s in src])
    notes = []
    height = max(float(np.ptp(rest[[s for s in src if s is not None]], axis=0).max()) * scale, 1e-6)
    # a mapped optional joint sitting on its mapped ancestor gives no direction: interpolate it
    for j in range(1, NUM_JOINTS):
        if not measured[j] or JOINT_NAMES[j] in REQUIRED_JOINTS:
            continue
        a = PARENTS[j]
        while a > 0 and not measured[a]:
            a = PARENTS[a]
        if np.linalg.norm(rest[src[j]] - rest[src[a]]) * scale < 1e-3 * height:
            measured[j] = False
            notes.append(f"{JOINT_NAMES[j]} sits on {JOINT_NAMES[a]} in the rest pose: interpolated")
    for j in range(NUM_JOINTS):
        if measured[j]:
            X[:, j] = pos[:, src[j]]
    has = measured.copy()
    rest_len = bone_offsets().norm(dim=-1).numpy()  # (22,) neutral bone lengths
    depth = joint_depths()
    for j in sorted(range(NUM_JOINTS), key=lambda i: depth[i]):
        if has[j]:
            continue
        a = PARENTS[j]  # already placed (depth order) or the root
        chain, d = [], j
        while d is not None and not measured[d]:
            chain.append(d)
            d = _MAIN_CHILD.get(d)
        if d is None:
            continue  # nothing measured below (e.g. toes): no target
        lengths = np.array([rest_len[c] for c in [*chain, d]])
        frac = lengths[0] / max(lengths.sum(), 1e-9)
        X[:, j] = X[:, a] + frac * (X[:, d] - X[:, a])
        has[j] = True
    return X, has, measured, notes


class _Converter:
    def __init__(self, root: Path, config: BvhConfig, strict: bool = False) -> None:
        self.root, self.config, self.strict = root, config, strict

    def __call__(self, path: Path) -> list[Converted]:
        cfg = self.config
        try:
            data = read_bvh(path, self.strict)
        except BvhError as err:
            raise SkipFile("malformed", err.field, err.detail) from None
        except OSError as err:
            raise SkipFile("malformed", path.name, f"unreadable ({err})") from None
        if not np.isfinite(data.motion).all():
            bad = np.nonzero(~np.isfinite(data.motion).all(1))[0]
            raise SkipFile("NaN", "MOTION data", f"{len(bad)} frame(s) hold NaN/inf (first: frame {int(bad[0])})")
        preset, mapping = resolve_joint_map(data.names, cfg.preset, cfg.joint_map)
        missing = [n for n in REQUIRED_JOINTS if mapping[n] is None]
        if missing:
            table = {**JOINT_MAP_PRESETS[preset], **(cfg.joint_map or {})}
            want = ", ".join(f"{n} -> {table.get(n)!r}" for n in missing)
            raise SkipFile(
                "unknown joints",
                "joint map",
                f"{want} not in the file (preset {preset}; file joints: {', '.join(data.names[:40])}); "
                "pass a joint map naming them",
            )
        notes_file = list(data.warnings)
        for w in data.warnings:
            warnings.warn(w, stacklevel=2)
        rest_dropped = not cfg.keep_rest_frame and rest_first_frame(data)
        if rest_dropped:
            data = replace(data, motion=data.motion[1:])
            notes_file.append("frame 0 is the rig's rest pose: dropped (keep it with --keep-rest-frame)")
        unit = detect_unit(data, mapping) if cfg.unit == "auto" else cfg.unit
        scale = UNITS[unit]
        rot, trans = data.local_transforms()  # (T, J, 3, 3), (T, J, 3)
        rot, trans = resample(matrix_to_quaternion(rot), trans, data.fps, cfg.fps)
        n = rot.shape[0]
        if n < cfg.min_frames:
            raise SkipFile("too short", "Frames", f"{n} frames at {cfg.fps:g} fps (min {cfg.min_frames})")
        if cfg.max_frames is not None and n > cfg.max_frames:
            raise SkipFile("too long", "Frames", f"{n} frames at {cfg.fps:g} fps (max {cfg.max_frames})")
        pos = _fk(rot, trans * scale, data.parents)  # (T', J, 3) metres
        if cfg.up == "z":
            pos = pos @ torch.from_numpy(Z_UP_TO_Y_UP).T
        X, has, measured, notes = _targets(pos, mapping, data.rest_positions(), scale)
        size, betas = 1.0, None
        if cfg.fit_shape:
            size, betas = fit_scale_and_betas(X, measured, bound=cfg.betas_bound)
            if not cfg.fit_size:
                size, betas = 1.0, None
        X = X * size
        ik = ik_from_positions(
            X, betas, has_target=has, measured=measured, fit_shape=cfg.fit_shape, betas_bound=cfg.betas_bound
        )
        used = {JOINT_NAMES[j]: data.names[mapping[JOINT_NAMES[j]]] for j in range(NUM_JOINTS) if measured[j]}
        meta = {
            "caption": [],
            "source": "bvh",
            "file": path.relative_to(self.root).as_posix(),
            "unit": unit,
            "size_scale": round(size, 6),
            "source_fps": round(data.fps, 6),
            "source_frames": data.n_frames,
            "joint_map_preset": preset,
            "joint_map": used,
            "interpolated_joints": [JOINT_NAMES[j] for j in range(NUM_JOINTS) if has[j] and not measured[j]],
            "rest_frame_dropped": rest_dropped,
        }
        err = ik.joint_error[:, torch.from_numpy(measured)]
        stats = {
            "ik_mean_m": round(float(err.mean()), 6),
            "ik_max_m": round(float(err.max()), 6),
            "unit": unit,
            "size_scale": round(size, 6),
            "preset": preset,
        }
        if notes or notes_file:
            stats["notes"] = [*notes_file, *notes]
        mid = path.relative_to(self.root).with_suffix("").as_posix()
        return [Converted(mid, Motion(ik.local_rot, ik.root_pos, ik.betas, cfg.fps, meta), stats)]


def _fk(rot: torch.Tensor, trans: torch.Tensor, parents: list[int]) -> torch.Tensor:
    """Global positions (T, J, 3) of a BVH hierarchy from local rotations (T, J, 3, 3) and translations."""
    G: list[torch.Tensor] = []
    P: list[torch.Tensor] = []
    for j, p in enumerate(parents):
        if p < 0:
            G.append(rot[:, j])
            P.append(trans[:, j])
        else:
            G.append(G[p] @ rot[:, j])
            P.append(P[p] + (G[p] @ trans[:, j, :, None])[..., 0])
    return torch.stack(P, dim=1)


def import_bvh(
    path: str | os.PathLike,
    out: str | os.PathLike,
    config: BvhConfig | None = None,
    strict: bool = False,
    progress: bool = True,
    shard_frames: int = DEFAULT_SHARD_FRAMES,
    drop_static: bool = False,
) -> dict:
    """Import one ``.bvh`` file or a folder of them (searched recursively) into a new store at ``out``.

    Motion ids are the files' paths relative to ``path`` without ``.bvh``. Returns the import report.
    """
    cfg = config or BvhConfig()
    root, files = find_files(path, (".bvh",))
    notes = [
        "retargeted by IK on mapped joint positions (fitted betas, minimal twist); see ik_joint_error",
        f"unit: {cfg.unit}; up axis: {cfg.up}; joint-map preset: {cfg.preset}"
        + (f" with overrides {cfg.joint_map}" if cfg.joint_map else ""),
    ]
    return run_import(
        fmt="bvh",
        root=root,
        files=files,
        out=out,
        convert=_Converter(root, cfg, strict),
        config=cfg,
        card=BVH_CARD,
        strict=strict,
        progress=progress,
        shard_frames=shard_frames,
        notes=notes,
        drop_static=drop_static,
    )


def load_joint_map(arg: str) -> tuple[str, dict[str, str | None]]:
    """(preset, overrides) from a JSON object or the path of a ``.json`` file holding one.

    Keys are motionbook joint names, values BVH joint names (or null to leave a joint out); an
    optional ``"preset"`` key picks the base map (default ``auto``).
    """
    import json

    text = Path(arg).read_text() if not arg.lstrip().startswith("{") and Path(arg).is_file() else arg
    try:
        obj = json.loads(text)
    except ValueError as err:
        raise ValueError(f"--joint-map must be a JSON object or a .json file holding one ({err})") from None
    if not isinstance(obj, dict) or not all(isinstance(v, str | None) for v in obj.values()):
        raise ValueError("--joint-map must map motionbook joint names to BVH joint names (strings or null)")
    preset = obj.pop("preset", "auto") or "auto"
    resolve_joint_map(list(JOINT_NAMES), preset, obj)  # validates keys and preset
    return preset, obj
