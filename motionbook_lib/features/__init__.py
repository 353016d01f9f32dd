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
]
