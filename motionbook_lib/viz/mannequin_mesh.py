"""The skinned ``wooden`` mannequin of ``mannequin-x`` prepared for three.js (r97) skinning.

The bind pose comes from the model itself (``Mannequin('wooden', flat_hand_mean=True)``): the rest-pose
vertices and the joint positions of ``joint_transforms(rest_pose)``, with identity bind rotations. Every
vertex keeps the 4 strongest joint influences (three.js r97's limit). The first 22 of the mannequin's 54
joints are the workbench's 22 SMPL joints in the same order with the same parents; the hand joints stay at
rest.

:func:`skin_r97` reproduces what the three.js shader computes from the keyframes sent by the player, so the
unit tests can compare it with ``Mannequin.vertices(pose)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from motionbook_lib.rotations import matrix_to_axis_angle, matrix_to_quaternion
from motionbook_lib.skeleton import NUM_BETAS, NUM_JOINTS, PARENTS

__all__ = [
    "BodyMesh",
    "body_mesh",
    "bone_tracks",
    "check_motion_arrays",
    "mannequin_pose",
    "skin_r97",
    "vertex_normals",
]

INFLUENCES = 4


@dataclass(frozen=True)
class BodyMesh:
    """Bind-pose mesh and skin of one body shape (float64 geometry, model coordinates, metres)."""

    vertices: np.ndarray  # (V, 3) bind-pose vertices
    faces: np.ndarray  # (F, 3) uint32
    skin_index: np.ndarray  # (V, 4) uint16 joint indices
    skin_weight: np.ndarray  # (V, 4) float32, rows sum to 1
    bind_joints: np.ndarray  # (J, 3) bind-pose joint positions (J = 54)
    parents: tuple[int, ...]  # (J,)
    joint_names: tuple[str, ...]  # (J,)

    @property
    def n_joints(self) -> int:
        return len(self.parents)

    def bone_offsets(self) -> np.ndarray:
        """(J, 3) bind position of each bone relative to its parent; row 0 is the root's bind position."""
        off = self.bind_joints.copy()
        par = np.asarray(self.parents[1:])
        off[1:] -= self.bind_joints[par]
        return off


def _as_betas(betas: np.ndarray | torch.Tensor | None) -> tuple[float, ...]:
    if betas is None:
        return (0.0,) * NUM_BETAS
    b = betas.detach().cpu().numpy() if isinstance(betas, torch.Tensor) else np.asarray(betas, dtype=np.float64)
    if b.shape != (NUM_BETAS,):
        raise ValueError(f"betas must have shape ({NUM_BETAS},), got {b.shape}")
    if not np.isfinite(b).all():
        raise ValueError("betas contains NaN/inf")
    return tuple(float(x) for x in b)


@lru_cache(maxsize=8)
def _mannequin(betas: tuple[float, ...]):  # noqa: ANN202 - mannequin.Mannequin
    from mannequin import Mannequin

    return Mannequin("wooden", shape=np.asarray(betas, dtype=np.float32), flat_hand_mean=True)


@lru_cache(maxsize=8)
def _body_mesh(betas: tuple[float, ...]) -> BodyMesh:
    m = _mannequin(betas)
    rest = m.rest_pose(dtype=np.float64)
    verts = np.asarray(m.vertices(rest), dtype=np.float64)
    joints = np.asarray(m.joint_transforms(rest), dtype=np.float64)[:, :3, 3]
    # mannequin-x keeps its 4-influence skin in private attributes; check them before relying on them
    index = getattr(m, "_skin_joint_indices", None)
    weight = getattr(m, "_skin_weights", None)
    if index is None or weight is None or index.shape != (len(verts), INFLUENCES) or weight.shape != index.shape:
        raise RuntimeError("mannequin-x skin data not found or not 4 influences per vertex; use mannequin-x==0.3.0")
    parents = tuple(int(p) for p in m.parents)
    if parents[1:NUM_JOINTS] != PARENTS[1:]:
        raise RuntimeError("mannequin joint hierarchy differs from the 22-joint SMPL skeleton")
    return BodyMesh(
        vertices=verts,
        faces=np.asarray(m.faces, dtype=np.uint32),
        skin_index=np.asarray(index, dtype=np.uint16),
        skin_weight=np.asarray(weight, dtype=np.float32),
        bind_joints=joints,
        parents=parents,
        joint_names=tuple(m.joint_names),
    )


def body_mesh(betas: np.ndarray | torch.Tensor | None = None) -> BodyMesh:
    """The wooden mannequin for shape ``betas`` (10,) in its bind pose (cached per shape)."""
    return _body_mesh(_as_betas(betas))


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) area-weighted unit vertex normals, float32."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, f[:, k], fn)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return n.astype(np.float32)


def check_motion_arrays(
    local_rot: np.ndarray | torch.Tensor, root_pos: np.ndarray | torch.Tensor, name: str = "motion"
) -> tuple[np.ndarray, np.ndarray]:
    """Validate (T, 22, 3, 3) rotations and (T, 3) root positions; return float64 numpy copies.

    Raises ValueError naming ``<name>.local_rot`` / ``<name>.root_pos`` on a wrong shape, an empty clip or NaN/inf.
    """
    r = local_rot.detach().cpu().numpy() if isinstance(local_rot, torch.Tensor) else np.asarray(local_rot)
    p = root_pos.detach().cpu().numpy() if isinstance(root_pos, torch.Tensor) else np.asarray(root_pos)
    if r.ndim != 4 or r.shape[1:] != (NUM_JOINTS, 3, 3) or r.shape[0] < 1:
        raise ValueError(f"{name}.local_rot must have shape (T, 22, 3, 3) with T >= 1, got {r.shape}")
    if p.shape != (r.shape[0], 3):
        raise ValueError(f"{name}.root_pos must have shape ({r.shape[0]}, 3), got {p.shape}")
    if not np.isfinite(r).all():
        raise ValueError(f"{name}.local_rot contains NaN/inf")
    if not np.isfinite(p).all():
        raise ValueError(f"{name}.root_pos contains NaN/inf")
    return r.astype(np.float64), p.astype(np.float64)


def bone_tracks(
    local_rot: np.ndarray | torch.Tensor, root_pos: np.ndarray | torch.Tensor, name: str = "motion"
) -> tuple[np.ndarray, np.ndarray]:
    """Keyframe values for the 22 bones: quaternions (T, 22, 4) in three.js (x, y, z, w) order and root (T, 3).

    Each bone's quaternion is its local rotation (bind rotations are identity); signs are made continuous
    over time so interpolation takes the short way. Values are float64; the player sends float32.
    """
    r, p = check_motion_arrays(local_rot, root_pos, name)
    wxyz = matrix_to_quaternion(r)  # (T, 22, 4), w >= 0
    q = np.concatenate([wxyz[..., 1:], wxyz[..., :1]], axis=-1)
    for t in range(1, len(q)):
        flip = np.sum(q[t] * q[t - 1], axis=-1) < 0
        q[t, flip] *= -1.0
    return q, p


def _quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) (x, y, z, w) -> (..., 3, 3), as three.js ``Matrix4.makeRotationFromQuaternion``."""
    x, y, z, w = np.moveaxis(np.asarray(q, dtype=np.float64), -1, 0)
    x2, y2, z2 = x + x, y + y, z + z
    xx, xy, xz = x * x2, x * y2, x * z2
    yy, yz, zz = y * y2, y * z2, z * z2
    wx, wy, wz = w * x2, w * y2, w * z2
    m = [1 - (yy + zz), xy - wz, xz + wy, xy + wz, 1 - (xx + zz), yz - wx, xz - wy, yz + wx, 1 - (xx + yy)]
    return np.stack(m, axis=-1).reshape(*x.shape, 3, 3)


def skin_r97(mesh: BodyMesh, quats: np.ndarray, root: np.ndarray) -> np.ndarray:
    """Vertices (V, 3) as three.js r97 skins them for one frame.

    Args:
        mesh: the bind data sent to the browser.
        quats: (22, 4) bone quaternions (x, y, z, w) of the workbench joints; hand bones stay at rest.
        root: (3,) root bone position.
    Bone world matrices follow the bone hierarchy; ``boneMatrix = matrixWorld @ boneInverse`` with the
    inverse of the bind matrix (a pure translation); each vertex is the weighted sum of its 4 bone matrices.
    """
    quats = np.asarray(quats, dtype=np.float64)
    if quats.shape != (NUM_JOINTS, 4):
        raise ValueError(f"quats must have shape (22, 4), got {quats.shape}")
    root = np.asarray(root, dtype=np.float64)
    if root.shape != (3,):
        raise ValueError(f"root must have shape (3,), got {root.shape}")
    J = mesh.n_joints
    local_r = np.repeat(np.eye(3)[None], J, axis=0)
    local_r[:NUM_JOINTS] = _quat_to_matrix(quats)
    local_t = mesh.bone_offsets()
    local_t[0] = root
    world_r = np.zeros((J, 3, 3))
    world_t = np.zeros((J, 3))
    for j in range(J):
        p = mesh.parents[j]
        if p < 0:
            world_r[j], world_t[j] = local_r[j], local_t[j]
        else:
            world_r[j] = world_r[p] @ local_r[j]
            world_t[j] = world_r[p] @ local_t[j] + world_t[p]
    # boneMatrix = [R | t] @ [I | -bind]  ->  [R | t - R bind]
    bone_t = world_t - np.einsum("jab,jb->ja", world_r, mesh.bind_joints)
    idx = mesh.skin_index.astype(np.int64)
    w = mesh.skin_weight.astype(np.float64)
    out = np.zeros_like(mesh.vertices)
    for k in range(INFLUENCES):
        r = world_r[idx[:, k]]
        out += w[:, k, None] * (np.einsum("vab,vb->va", r, mesh.vertices) + bone_t[idx[:, k]])
    return out


def mannequin_pose(
    local_rot: np.ndarray | torch.Tensor, root_pos: np.ndarray | torch.Tensor, betas: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The ``Mannequin`` pose (batched over T, float64) placing its pelvis at ``root_pos`` with our rotations."""
    r, p = check_motion_arrays(local_rot, root_pos)
    mesh = body_mesh(betas)
    pose = _mannequin(_as_betas(betas)).rest_pose(batch_dims=(len(r),), dtype=np.float64)
    aa = matrix_to_axis_angle(r)  # (T, 22, 3)
    pose["global_rotation"] = aa[:, 0]
    pose["body_pose"] = aa[:, 1:NUM_JOINTS]
    # the mannequin places its pelvis at R0 @ bind_pelvis + global_translation
    pose["global_translation"] = p - np.einsum("tab,b->ta", r[:, 0], mesh.bind_joints[0])
    return pose
