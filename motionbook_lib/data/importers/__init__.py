"""Importers of real motion data into motion stores: HumanML3D, AMASS (SMPL-H / SMPL-X ``.npz``), BVH.

Every importer streams files one at a time into a :class:`~motionbook_lib.data.store.StoreWriter`,
resumes an interrupted run, skips bad files with a reason (or stops on them with ``strict``), and
leaves ``import_report.json`` and ``DATA_CARD.md`` in the store folder. :func:`import_motions` picks
the importer by format name (``python -m motionbook_lib.data import --format ...``).
"""

from __future__ import annotations

import os
from typing import Any

from motionbook_lib.data.importers.amass import AMASS_CARD, AmassConfig, import_amass, load_smplx_model
from motionbook_lib.data.importers.bvh import (
    BVH_CARD,
    JOINT_MAP_PRESETS,
    BvhConfig,
    BvhData,
    BvhError,
    import_bvh,
    parse_bvh,
    read_bvh,
    resolve_joint_map,
)
from motionbook_lib.data.importers.common import (
    CARD_NAME,
    REPORT_NAME,
    SKIP_REASONS,
    ImportFailed,
    resample,
)
from motionbook_lib.data.importers.humanml3d import (
    HUMANML3D_CARD,
    HumanML3DConfig,
    import_humanml3d,
    make_demo_humanml3d,
)
from motionbook_lib.data.importers.ik import IKResult, fit_betas, ik_from_positions

FORMATS: tuple[str, ...] = ("humanml3d", "amass", "bvh")

__all__ = [
    "AMASS_CARD",
    "BVH_CARD",
    "CARD_NAME",
    "FORMATS",
    "HUMANML3D_CARD",
    "JOINT_MAP_PRESETS",
    "REPORT_NAME",
    "SKIP_REASONS",
    "AmassConfig",
    "BvhConfig",
    "BvhData",
    "BvhError",
    "HumanML3DConfig",
    "IKResult",
    "ImportFailed",
    "fit_betas",
    "ik_from_positions",
    "import_amass",
    "import_bvh",
    "import_humanml3d",
    "import_motions",
    "load_smplx_model",
    "make_demo_humanml3d",
    "parse_bvh",
    "read_bvh",
    "resample",
    "resolve_joint_map",
]


def import_motions(
    fmt: str, path: str | os.PathLike, out: str | os.PathLike, config: Any = None, **kwargs: Any
) -> dict:
    """Import ``path`` in format ``fmt`` (one of :data:`FORMATS`) into a new store ``out``; returns the report.

    ``kwargs`` go to the importer (``strict``, ``progress``, ``shard_frames``, ``drop_static``).
    """
    if fmt == "humanml3d":
        return import_humanml3d(path, out, config, **kwargs)
    if fmt == "amass":
        return import_amass(path, out, config, **kwargs)
    if fmt == "bvh":
        return import_bvh(path, out, config, **kwargs)
    raise ValueError(f"unknown format {fmt!r}; choose one of {FORMATS}")
