"""Motion features: the lossless Motionbook SMPL-D135 feature, the HumanML3D 263 feature
and a streaming per-channel normalizer."""

from motionbook_lib.features.d135 import (
    D135_DIM,
    D135_JOINT_ROT,
    D135_ROOT_HEIGHT,
    D135_ROOT_ROT,
    D135_ROOT_VEL,
    canonicalize,
    d135_channel_names,
    d135_part_channels,
    d135_to_joints,
    decode_d135,
    encode_d135,
)
from motionbook_lib.features.humanml3d import (
    H3D263_BLOCKS,
    H3D263_DIM,
    compare_d135_h3d263,
    extract_h3d263,
    h3d263_rotations,
    h3d263_to_joints,
    preprocess_h3d263,
)
from motionbook_lib.features.normalizer import Normalizer

__all__ = [
    "D135_DIM",
    "D135_JOINT_ROT",
    "D135_ROOT_HEIGHT",
    "D135_ROOT_ROT",
    "D135_ROOT_VEL",
    "Normalizer",
    "canonicalize",
    "d135_channel_names",
    "d135_part_channels",
    "d135_to_joints",
    "decode_d135",
    "encode_d135",
    "H3D263_BLOCKS",
    "H3D263_DIM",
    "compare_d135_h3d263",
    "extract_h3d263",
    "h3d263_rotations",
    "h3d263_to_joints",
    "preprocess_h3d263",
]
