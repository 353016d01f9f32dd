"""One motion clip in the workbench's canonical form: local rotations + root path + body shape."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from motionbook_lib.features.d135 import d135_to_joints, decode_d135, encode_d135
from motionbook_lib.skeleton import DEFAULT_FPS, NUM_BETAS, NUM_JOINTS, Skeleton, forward_kinematics


@dataclass
class Motion:
    """A clip of T frames on the 22-joint skeleton (Y up, metres).

    Attributes:
        local_rot: (T, 22, 3, 3) joint rotations relative to the parent; row 0 is global.
        root_pos: (T, 3) pelvis world position.
        betas: (10,) SMPL-X shape coefficients of the body.
        fps: frames per second.
        meta: free-form annotations (captions, labels, source, ...).
    """

    local_rot: torch.Tensor
    root_pos: torch.Tensor
    betas: np.ndarray = field(default_factory=lambda: np.zeros(NUM_BETAS, dtype=np.float32))
    fps: float = DEFAULT_FPS
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.local_rot = torch.as_tensor(self.local_rot, dtype=torch.float32)
        self.root_pos = torch.as_tensor(self.root_pos, dtype=torch.float32)
        if self.local_rot.dim() != 4 or tuple(self.local_rot.shape[1:]) != (NUM_JOINTS, 3, 3):
            raise ValueError(f"local_rot must have shape (T, 22, 3, 3), got {tuple(self.local_rot.shape)}")
        if tuple(self.root_pos.shape) != (self.local_rot.shape[0], 3):
            T = self.local_rot.shape[0]
            raise ValueError(f"root_pos must have shape ({T}, 3), got {tuple(self.root_pos.shape)}")
        self.betas = np.asarray(self.betas, dtype=np.float32)
        if self.betas.shape != (NUM_BETAS,):
            raise ValueError(f"betas must have shape ({NUM_BETAS},), got {self.betas.shape}")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    @property
    def n_frames(self) -> int:
        return int(self.local_rot.shape[0])

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps

    @property
    def skeleton(self) -> Skeleton:
        return Skeleton.from_betas(self.betas)

    def joints(self) -> torch.Tensor:
        """(T, 22, 3) joint positions by forward kinematics."""
        return forward_kinematics(self.local_rot, self.root_pos, self.skeleton.offsets())

    def to_d135(self) -> torch.Tensor:
        """(T, 135) Motionbook feature."""
        return encode_d135(self.local_rot, self.root_pos)

    @classmethod
    def from_d135(
        cls, feat: torch.Tensor, betas: np.ndarray | None = None, fps: float = DEFAULT_FPS, **meta
    ) -> Motion:
        """Rebuild a motion from a (T, 135) feature (the path starts at the origin)."""
        local_rot, root_pos = decode_d135(torch.as_tensor(feat, dtype=torch.float32))
        return cls(local_rot, root_pos, np.zeros(NUM_BETAS) if betas is None else betas, fps, dict(meta))

    def d135_joints(self) -> torch.Tensor:
        """(T, 22, 3) joints after a D135 round trip (start XZ kept)."""
        return d135_to_joints(self.to_d135(), self.skeleton, root_xz0=self.root_pos[0, [0, 2]])
