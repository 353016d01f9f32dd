"""Import AMASS-style ``.npz`` files (SMPL, SMPL-H or SMPL-X parameters) into a motion store.

Fields read (``np.load(..., allow_pickle=False)``): ``poses`` (T, 3 * J) axis-angle with the root
first and the 21 body joints next (the SMPL / SMPL-H / SMPL-X body order is our joint order; hand,
jaw and eye values are ignored), ``trans`` (T, 3) (or ``transl``), ``betas`` (>= 1 values, the first
10 are used), ``mocap_framerate`` or ``mocap_frame_rate``, and ``gender`` (recorded). A file may
carry ``up_axis`` = "y" (as :func:`motionbook_lib.data.exporters.export_smplx_npz` writes);
otherwise it is Z-up, as AMASS is.

Conversion: slerp / linear resampling to 20 fps, Z-up -> Y-up by (x, y, z) -> (-x, z, y) (as
HumanML3D), pelvis = ``J_0(betas) + trans`` turned the same way, D135 from the rotations (exact: no
IK). With ``model_folder`` the joints of the ``smplx`` body model (``<folder>/smplx/SMPLX_NEUTRAL.npz``)
are compared with our FK for every clip and the error is recorded; without it our FK with the
mannequin-x proportions is the only body model used, and the report says so.
"""

from __future__ import annotations

import contextlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from motionbook_lib.data.store import DEFAULT_SHARD_FRAMES
from motionbook_lib.motion import Motion
from motionbook_lib.rotations import axis_angle_to_quaternion, matrix_to_axis_angle
from motionbook_lib.skeleton import (
    DEFAULT_FPS,
    NUM_BETAS,
    NUM_JOINTS,
    bone_offsets,
    forward_kinematics,
    smplx_transl_to_root,
)

__all__ = ["AMASS_CARD", "AmassConfig", "import_amass", "load_smplx_model", "read_amass_npz"]

AMASS_CARD = CardText(
    title="AMASS (imported)",
    summary=(
        "Motion-capture clips of the AMASS archive (Mahmood et al. 2019), SMPL-H or SMPL-X parameters, imported "
        "as 22-joint body motions at 20 fps. AMASS has no text: captions are empty unless a text set such as "
        "HumanML3D is joined to it."
    ),
    source=(
        "AMASS `.npz` files (`poses`, `trans`, `betas`, `mocap_framerate`/`mocap_frame_rate`, `gender`) converted by "
        "`motionbook_lib.data.importers.amass`: resampled to 20 fps (slerp rotations, linear translation), Z-up turned "
        "to Y-up as HumanML3D does, root + 21 body joint rotations kept exactly (no IK), first 10 betas."
    ),
    licence=(
        "AMASS is licensed for non-commercial scientific research only and may not be redistributed; the same holds "
        "for the SMPL / SMPL-H / SMPL-X body models. Do not share or upload this store, its shards or features derived "
        "from it: each user must download AMASS and the body models themselves. The motionbook code is Apache-2.0."
    ),
    known_limits=[
        "Body only: hand, jaw and eye poses are dropped; the shape is the first 10 betas read as SMPL-X "
        "coefficients, while SMPL-H releases use SMPL-H shape space (bone lengths differ by a few millimetres).",
        "Gender-specific models are not used: every body is the SMPL-X neutral model with the file's betas.",
        "Resampling to 20 fps drops fast detail above 10 Hz; frames start at the first captured frame (no trimming "
        "of the T-pose or calibration start of some subsets).",
        "Heights and floor are as captured (AMASS floor at z = 0).",
    ],
    build_command="python -m motionbook_lib.data import --format amass AMASS_DIR --out STORE [--model-folder MODELS]",
)


@dataclass
class AmassConfig:
    """Settings that change what is stored (recorded in the store; a resume needs the same)."""

    fps: float = DEFAULT_FPS
    min_frames: int = 40
    max_frames: int | None = None
    model_folder: str | None = None  # folder holding smplx/SMPLX_NEUTRAL.npz, for the FK check


def _smplx_path(folder: str | os.PathLike) -> Path:
    return Path(folder) / "smplx" / "SMPLX_NEUTRAL.npz"


def load_smplx_model(folder: str | os.PathLike) -> Any:
    """The SMPL-X neutral body model from ``<folder>/smplx/SMPLX_NEUTRAL.npz`` (10 betas, no hand PCA).

    Raises FileNotFoundError saying which file is expected where.
    """
    path = _smplx_path(folder)
    if not path.is_file():
        raise FileNotFoundError(
            f"SMPL-X body model not found: expected SMPLX_NEUTRAL.npz in {path.parent}/ "
            f"(the folder given as --model-folder must contain smplx/SMPLX_NEUTRAL.npz; get it from the SMPL-X "
            "website, its licence forbids redistribution). Without --model-folder the import uses motionbook's own FK."
        )
    import smplx

    with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning for 10-coefficient files
        model = smplx.create(
            str(folder), model_type="smplx", gender="neutral", ext="npz", num_betas=NUM_BETAS,
            num_expression_coeffs=10, use_pca=False, flat_hand_mean=True,
        )  # fmt: skip
    return model.eval()


def _smplx_joints(model: Any, aa: np.ndarray, transl: np.ndarray, betas: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Joints (T, 22, 3) of the smplx model; aa (T, 22, 3) root + body axis-angle, transl (T, 3)."""
    out = []
    with torch.no_grad():
        for s in range(0, aa.shape[0], chunk):
            a = torch.from_numpy(aa[s : s + chunk]).float()
            n = a.shape[0]
            z3 = torch.zeros(n, 3)
            res = model(
                betas=torch.from_numpy(betas).float().expand(n, NUM_BETAS),
                global_orient=a[:, 0],
                body_pose=a[:, 1:].reshape(n, 63),
                transl=torch.from_numpy(transl[s : s + chunk]).float(),
                jaw_pose=z3, leye_pose=z3, reye_pose=z3,
                left_hand_pose=torch.zeros(n, 45), right_hand_pose=torch.zeros(n, 45),
                expression=torch.zeros(n, model.num_expression_coeffs),
            )  # fmt: skip
            out.append(res.joints[:, :NUM_JOINTS].double().numpy())
    return np.concatenate(out)


def _field(data: Any, names: tuple[str, ...], path_field: str) -> np.ndarray | None:
    for name in names:
        if name in data.files:
            try:
                return data[name]
            except ValueError as err:  # object arrays need pickle: refused
                raise SkipFile("malformed", f"{path_field}['{name}']", f"unreadable without pickle ({err})") from None
    return None


def read_amass_npz(path: Path) -> dict:
    """Validated raw fields of one AMASS file: poses (T, 22, 3), trans (T, 3), betas (10,), fps, gender, up.

    Raises :class:`SkipFile` naming the field for bad input.
    """
    name = path.name
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise SkipFile("malformed", name, f"not a readable .npz file ({err})") from None
    with data:
        if not hasattr(data, "files"):
            raise SkipFile("malformed", name, "a single array, not an .npz archive of fields")
        poses = _field(data, ("poses",), name)
        if poses is None:
            hint = " (an AMASS shape.npz holds betas only)" if "betas" in data.files else ""
            raise SkipFile("malformed", f"{name}['poses']", f"missing field; has {sorted(data.files)}{hint}")
        trans = _field(data, ("trans", "transl"), name)
        betas = _field(data, ("betas",), name)
        fps = _field(data, ("mocap_framerate", "mocap_frame_rate"), name)
        gender = _field(data, ("gender",), name)
        up = _field(data, ("up_axis",), name)
    if poses.ndim != 2 or poses.shape[1] < 3 * NUM_JOINTS or poses.shape[1] % 3:
        raise SkipFile("malformed", f"{name}['poses']", f"expected (T, 3*J >= {3 * NUM_JOINTS}), got {poses.shape}")
    T = poses.shape[0]
    if trans is None:
        raise SkipFile("malformed", f"{name}['trans']", "missing field (neither 'trans' nor 'transl')")
    if trans.shape != (T, 3):
        raise SkipFile("malformed", f"{name}['trans']", f"expected ({T}, 3) to match poses, got {trans.shape}")
    if fps is None or np.size(fps) != 1:
        raise SkipFile(
            "malformed", f"{name}['mocap_framerate']", "missing frame rate (mocap_framerate / mocap_frame_rate)"
        )
    fps_v = float(np.asarray(fps).reshape(()))
    if not np.isfinite(fps_v) or fps_v <= 0:
        raise SkipFile("malformed", f"{name}['mocap_framerate']", f"frame rate must be positive, got {fps_v}")
    b = np.zeros(NUM_BETAS) if betas is None else np.asarray(betas, np.float64).reshape(-1)[:NUM_BETAS]
    b = np.pad(b, (0, NUM_BETAS - b.size))
    for field, arr in (("poses", poses), ("trans", trans), ("betas", b)):
        if not np.issubdtype(np.asarray(arr).dtype, np.number):
            raise SkipFile("malformed", f"{name}['{field}']", f"not numeric ({np.asarray(arr).dtype})")
        bad = ~np.isfinite(np.asarray(arr, np.float64))
        if bad.any():
            where = f" (first at frame {int(np.nonzero(bad)[0][0])})" if field != "betas" else ""
            raise SkipFile("NaN", f"{name}['{field}']", f"{int(bad.sum())} NaN/inf value(s){where}")
    up_axis = str(np.asarray(up).reshape(())) if up is not None else "z"
    if up_axis not in ("y", "z"):
        raise SkipFile("malformed", f"{name}['up_axis']", f"must be 'y' or 'z', got {up_axis!r}")
    return {
        "poses": np.asarray(poses, np.float64)[:, : 3 * NUM_JOINTS].reshape(T, NUM_JOINTS, 3),
        "trans": np.asarray(trans, np.float64),
        "betas": b,
        "fps": fps_v,
        "gender": str(np.asarray(gender).reshape(-1)[0]) if gender is not None and np.size(gender) else "unknown",
        "up": up_axis,
        "betas_found": betas is not None,
    }


class _Converter:
    def __init__(self, root: Path, config: AmassConfig, model: Any) -> None:
        self.root, self.config, self.model = root, config, model

    def __call__(self, path: Path) -> list[Converted]:
        cfg = self.config
        rel = path.relative_to(self.root).as_posix()
        raw = read_amass_npz(path)
        aa, trans, betas = raw["poses"], raw["trans"], raw["betas"]
        # resample the axis-angle body pose and smplx's transl (linear, so pelvis = J0 + transl holds)
        quat = axis_angle_to_quaternion(torch.from_numpy(aa))  # (T, 22, 4)
        rot, tr = resample(quat, torch.from_numpy(trans)[:, None], raw["fps"], cfg.fps)  # (T', 22, 3, 3), (T', 1, 3)
        tr = tr[:, 0]
        n = rot.shape[0]
        if n < cfg.min_frames:
            raise SkipFile(
                "too short", f"{path.name}['poses']", f"{n} frames at {cfg.fps:g} fps (min {cfg.min_frames})"
            )
        if cfg.max_frames is not None and n > cfg.max_frames:
            raise SkipFile("too long", f"{path.name}['poses']", f"{n} frames at {cfg.fps:g} fps (max {cfg.max_frames})")
        root = smplx_transl_to_root(tr, torch.from_numpy(betas))  # (T', 3) in the file's world
        stats: dict = {}
        if self.model is not None:
            ours = forward_kinematics(rot, root, bone_offsets(torch.from_numpy(betas)))  # file's world
            ref = _smplx_joints(self.model, matrix_to_axis_angle(rot).numpy(), tr.numpy(), betas)
            err = np.linalg.norm(ours.numpy() - ref, axis=-1)  # (T', 22)
            stats = {"smplx_mean_m": round(float(err.mean()), 9), "smplx_max_m": round(float(err.max()), 9)}
        if raw["up"] == "z":
            C = torch.from_numpy(Z_UP_TO_Y_UP)
            rot = rot.clone()
            rot[:, 0] = C @ rot[:, 0]
            root = root @ C.T
        meta = {
            "caption": [],
            "source": "amass",
            "file": rel,
            "gender": raw["gender"],
            "source_fps": raw["fps"],
            "source_frames": int(aa.shape[0]),
        }
        if not raw["betas_found"]:
            meta["note"] = "no betas in the file: neutral shape used"
        mid = path.relative_to(self.root).with_suffix("").as_posix()
        return [Converted(mid, Motion(rot, root, betas, cfg.fps, meta), stats)]


def import_amass(
    path: str | os.PathLike,
    out: str | os.PathLike,
    config: AmassConfig | None = None,
    strict: bool = False,
    progress: bool = True,
    shard_frames: int = DEFAULT_SHARD_FRAMES,
    drop_static: bool = False,
) -> dict:
    """Import one AMASS ``.npz`` or a folder of them (searched recursively) into a new store at ``out``.

    Motion ids are the files' paths relative to ``path`` without ``.npz``. Returns the import report.
    """
    cfg = config or AmassConfig()
    model = load_smplx_model(cfg.model_folder) if cfg.model_folder else None
    root, files = find_files(path, (".npz",))
    if cfg.model_folder:
        notes = [f"FK checked against the smplx SMPL-X neutral model at {_smplx_path(cfg.model_folder)}: "
                 "see fk_vs_smplx_joint_error (per motion: smplx_mean_m / smplx_max_m)"]  # fmt: skip
    else:
        notes = ["no --model-folder: no smplx body model was used; joints come from motionbook's own FK with the "
                 "mannequin-x SMPL-X proportions (checked against smplx in the test suite)"]  # fmt: skip
    return run_import(
        fmt="amass",
        root=root,
        files=files,
        out=out,
        convert=_Converter(root, cfg, model),
        config=cfg,
        card=AMASS_CARD,
        strict=strict,
        progress=progress,
        shard_frames=shard_frames,
        notes=notes,
        drop_static=drop_static,
    )
