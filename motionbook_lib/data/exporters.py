"""Export motions to BVH (opens in Blender and other DCC tools) and to SMPL-X parameter ``.npz``.

- :func:`export_bvh`: our 22-joint hierarchy with the rest offsets of the motion's body
  (``bone_offsets(betas)``), the root with 6 channels (position + rotation), every other joint 3
  rotation channels in ``ZXY`` (default) or ``XYZ`` order, metres or centimetres. Leaves get an
  ``End Site`` continuing their bone. Joint names default to ours; pass ``joint_names`` (e.g. the
  CMU names of :data:`~motionbook_lib.data.importers.bvh.JOINT_MAP_PRESETS`) to rename them.
- :func:`export_smplx_npz`: ``poses`` (T, 165: root, 21 body joints, zero jaw / eyes / hands),
  ``global_orient`` (T, 3), ``body_pose`` (T, 63), ``transl`` (T, 3) by
  :func:`~motionbook_lib.skeleton.root_to_smplx_transl`, ``trans`` (the same, AMASS's name),
  ``betas`` (10,), ``mocap_frame_rate``, ``gender`` and ``up_axis``. ``up="y"`` keeps our Y-up world
  (feed the values to ``smplx.SMPLX`` as they are); ``up="z"`` writes AMASS's Z-up world.

Both write through a temp file + ``os.replace``. A motion read back from a store starts at the
origin (D135 does not store the start XZ); its exported path does too.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from motionbook_lib.data.importers.common import Z_UP_TO_Y_UP, atomic_write_text
from motionbook_lib.motion import Motion
from motionbook_lib.rotations import matrix_to_axis_angle
from motionbook_lib.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS, bone_offsets, root_to_smplx_transl

__all__ = ["BVH_ROTATION_ORDERS", "BVH_UNITS", "export_bvh", "export_smplx_npz", "motion_to_bvh"]

BVH_ROTATION_ORDERS: tuple[str, ...] = ("ZXY", "XYZ")
BVH_UNITS: dict[str, float] = {"m": 1.0, "cm": 100.0}  # file units per metre
_END_SITE_M = 0.08  # length of the End Site segment past each leaf joint


def _children(j: int) -> list[int]:
    return [c for c in range(1, NUM_JOINTS) if PARENTS[c] == j]


def motion_to_bvh(
    motion: Motion,
    rotation_order: str = "ZXY",
    unit: str = "m",
    joint_names: Sequence[str] | None = None,
    precision: int = 6,
) -> str:
    """BVH text of ``motion`` (see the module docstring); frame time 1 / fps."""
    order = rotation_order.upper()
    if order not in BVH_ROTATION_ORDERS:
        raise ValueError(f"rotation_order must be one of {BVH_ROTATION_ORDERS}, got {rotation_order!r}")
    if unit not in BVH_UNITS:
        raise ValueError(f"unit must be one of {sorted(BVH_UNITS)}, got {unit!r}")
    names = list(joint_names) if joint_names is not None else list(JOINT_NAMES)
    if len(names) != NUM_JOINTS or len(set(names)) != NUM_JOINTS or any(not n or n.split() != [n] for n in names):
        raise ValueError(f"joint_names must be {NUM_JOINTS} distinct names without spaces, got {names}")
    k = BVH_UNITS[unit]
    off = bone_offsets(torch.from_numpy(motion.betas.astype(np.float64))).numpy() * k  # (22, 3)
    rot_channels = " ".join(f"{a}rotation" for a in order)
    fmt = f"{{:.{precision}f}}"

    def vec(v: np.ndarray) -> str:
        return " ".join(fmt.format(float(x)) for x in v)

    lines = ["HIERARCHY"]

    def write(j: int, depth: int) -> None:
        pad = "  " * depth
        kind = "ROOT" if j == 0 else "JOINT"
        lines.append(f"{pad}{kind} {names[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {vec(off[j])}")
        if j == 0:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition {rot_channels}")
        else:
            lines.append(f"{pad}  CHANNELS 3 {rot_channels}")
        kids = _children(j)
        for c in kids:
            write(c, depth + 1)
        if not kids:
            d = off[j] / max(np.linalg.norm(off[j]), 1e-9) * _END_SITE_M * k
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {vec(d)}", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    write(0, 0)
    order_idx = _dfs_order()
    R = motion.local_rot.double().numpy()  # (T, 22, 3, 3)
    T = R.shape[0]
    with warnings.catch_warnings():  # gimbal lock: scipy zeroes the third angle, the rotation stays exact
        warnings.simplefilter("ignore", UserWarning)
        euler = Rotation.from_matrix(R[:, order_idx].reshape(-1, 3, 3)).as_euler(order, degrees=False)
    euler = np.rad2deg(np.unwrap(euler.reshape(T, NUM_JOINTS, 3), axis=0))  # (T, 22, 3), continuous
    root = motion.root_pos.double().numpy() * k  # (T, 3)
    values = np.concatenate([root, euler.reshape(T, -1)], axis=1)  # (T, 3 + 66)
    lines += ["MOTION", f"Frames: {T}", f"Frame Time: {1.0 / motion.fps:.8f}"]
    lines += [" ".join(fmt.format(x) for x in row) for row in values.tolist()]
    return "\n".join(lines) + "\n"


def _dfs_order() -> list[int]:
    """Joints in the order their channels appear in the file (depth-first, children in index order)."""
    out: list[int] = []

    def visit(j: int) -> None:
        out.append(j)
        for c in _children(j):
            visit(c)

    visit(0)
    return out


def export_bvh(
    motion: Motion,
    path: str | os.PathLike,
    rotation_order: str = "ZXY",
    unit: str = "m",
    joint_names: Sequence[str] | None = None,
) -> Path:
    """Write ``motion`` as a BVH file (atomic); returns the path."""
    p = Path(path)
    atomic_write_text(p, motion_to_bvh(motion, rotation_order, unit, joint_names))
    return p


def export_smplx_npz(motion: Motion, path: str | os.PathLike, up: str = "y", gender: str = "neutral") -> Path:
    """Write SMPL-X parameters of ``motion`` to ``path`` (``.npz``, atomic); returns the path."""
    if up not in ("y", "z"):
        raise ValueError(f"up must be 'y' or 'z', got {up!r}")
    R = motion.local_rot.double()  # (T, 22, 3, 3)
    root = motion.root_pos.double()  # (T, 3)
    if up == "z":
        C = torch.from_numpy(Z_UP_TO_Y_UP).T  # Y-up -> Z-up
        R = R.clone()
        R[:, 0] = C @ R[:, 0]
        root = root @ C.T
    betas = motion.betas.astype(np.float64)
    aa = matrix_to_axis_angle(R).numpy()  # (T, 22, 3)
    T = aa.shape[0]
    transl = root_to_smplx_transl(root, torch.from_numpy(betas)).numpy()  # (T, 3)
    poses = np.zeros((T, 165))
    poses[:, : 3 * NUM_JOINTS] = aa.reshape(T, -1)
    arrays = {
        "poses": poses.astype(np.float32),
        "global_orient": aa[:, 0].astype(np.float32),
        "body_pose": aa[:, 1:].reshape(T, 63).astype(np.float32),
        "transl": transl.astype(np.float32),
        "trans": transl.astype(np.float32),
        "betas": betas.astype(np.float32),
        "mocap_frame_rate": np.array(float(motion.fps)),
        "gender": np.array(gender),
        "up_axis": np.array(up),
        "surface_model_type": np.array("smplx"),
    }
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p
