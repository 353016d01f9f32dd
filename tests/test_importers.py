"""Importers (HumanML3D, AMASS, BVH) into motion stores: conversion, splits, reports, bad input, resume, CLI.

Every fixture is written here: a tiny HumanML3D folder from the synthetic corpus, AMASS-style npz files
from random smooth poses (Z-up, 120 fps), BVH files from our exporter (renamed joints, cm) and a
CMU-topology rig, a stand-in SMPL-X model file for the smplx check, and broken variants of each.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from motionbook_lib import skeleton as sk
from motionbook_lib.data.__main__ import main as cli_main
from motionbook_lib.data.exporters import export_bvh, export_smplx_npz
from motionbook_lib.data.importers import (
    CARD_NAME,
    JOINT_MAP_PRESETS,
    REPORT_NAME,
    AmassConfig,
    BvhConfig,
    HumanML3DConfig,
    ImportFailed,
    fit_betas,
    ik_from_positions,
    import_amass,
    import_bvh,
    import_humanml3d,
    load_smplx_model,
    make_demo_humanml3d,
    resample,
)
from motionbook_lib.data.importers import bvh as bvh_mod
from motionbook_lib.data.importers.common import LOG_NAME, Z_UP_TO_Y_UP
from motionbook_lib.data.store import STORE_JSON, MotionStore
from motionbook_lib.data.synthetic import generate_motion
from motionbook_lib.motion import Motion
from motionbook_lib.rotations import axis_angle_to_matrix, axis_angle_to_quaternion

# ---------------------------------------------------------------------------------------------- helpers


def write_smplx_standin(folder: Path, shift: float = 0.0) -> Path:
    """A stand-in SMPL-X model (``<folder>/smplx/SMPLX_NEUTRAL.npz``) whose first 55 vertices are its joints.

    Rest joints and their shape response come from the mannequin-x calibration (so the model should
    agree with our FK); ``shift`` moves every rest joint's x by that many metres (a wrong model).
    Pose correctives are zero: a (1, 3, 486) ``posedirs`` broadcasts over the vertices in smplx.
    """
    cal = sk.load_calibration()
    n_vert = 10000  # smplx's extra keypoints index vertices up to 9929
    parents = [*sk.PARENTS, 15, 15, 15, *([20] * 15), *([21] * 15)]  # jaw, eyes, hands on the wrists
    joints = np.zeros((55, 3))
    dirs = np.zeros((55, 3, 10))
    joints[:22], dirs[:22] = cal.joint_rest, cal.joint_dirs
    for j in range(22, 55):
        joints[j], dirs[j] = joints[parents[j]] + [0.0, 0.05, 0.0], dirs[parents[j]]
    joints[:, 0] += shift
    v_template = np.zeros((n_vert, 3))
    shapedirs = np.zeros((n_vert, 3, 20))
    v_template[:55], shapedirs[:55, :, :10] = joints, dirs
    regressor = np.zeros((55, n_vert))
    regressor[np.arange(55), np.arange(55)] = 1.0
    weights = np.zeros((n_vert, 55))
    weights[np.arange(55), np.arange(55)] = 1.0
    weights[55:, 0] = 1.0
    kintree = np.stack([np.array([2**32 - 1, *parents[1:]]), np.arange(55)]).astype(np.int64)
    d = folder / "smplx"
    d.mkdir(parents=True, exist_ok=True)
    np.savez(
        d / "SMPLX_NEUTRAL.npz", v_template=v_template, shapedirs=shapedirs, posedirs=np.zeros((1, 3, 486)),
        J_regressor=regressor, weights=weights, kintree_table=kintree, f=np.array([[0, 1, 2]], np.int64),
        hands_componentsl=np.eye(45), hands_componentsr=np.eye(45), hands_meanl=np.zeros(45),
        hands_meanr=np.zeros(45), lmk_faces_idx=np.zeros(51, np.int64), lmk_bary_coords=np.full((51, 3), 1 / 3),
    )  # fmt: skip
    return folder


def amass_arrays(seed: int, seconds: float = 2.5, fps: float = 120.0, n_pose: int = 156) -> dict:
    """AMASS-like fields: smooth random body poses standing up in a Z-up world, walking along +y."""
    rng = np.random.default_rng(seed)
    T = int(seconds * fps)
    t = np.arange(T) / fps
    amp = rng.normal(0, 0.25, (1, 66))
    freq = rng.uniform(0.3, 1.5, (1, 66))
    phase = rng.uniform(0, 2 * np.pi, (1, 66))
    poses = np.zeros((T, n_pose))
    poses[:, :66] = amp * np.sin(2 * np.pi * freq * t[:, None] + phase)
    poses[:, :3] = [np.pi / 2, 0.0, 0.0]  # SMPL's +y (up) -> world +z
    trans = np.stack([0.05 * np.sin(t), 0.8 * t, 0.95 + 0.02 * np.sin(4 * t)], axis=1)
    return {"poses": poses, "trans": trans, "betas": rng.normal(0, 1, 16), "gender": np.array("female")}


def cmu_rig_bvh(path: Path, seconds: float = 3.0, fps: float = 120.0, seed: int = 0) -> Path:
    """A BVH with the CMU mocap topology and units (1/0.45 inch), random smooth joint rotations."""
    zyx = "Zrotation Yrotation Xrotation"
    leg = lambda s, x: [  # noqa: E731
        (f"{s}HipJoint", (0, 0, 0)), (f"{s}UpLeg", (x * 1.8, -1.74, 0.85)), (f"{s}Leg", (x * 2.4, -6.6, 0)),
        (f"{s}Foot", (x * 2.5, -6.9, 0)), (f"{s}ToeBase", (x * 0.18, -0.5, 1.98)),
    ]  # fmt: skip
    arm = lambda s, x: [  # noqa: E731
        (f"{s}Shoulder", (0, 0, 0)), (f"{s}Arm", (x * 3.3, 0.9, 0.1)), (f"{s}ForeArm", (x * 5.0, 0, 0)),
        (f"{s}Hand", (x * 3.36, 0, 0)), (f"{s}HandIndex1", (x * 0.8, 0, 0)),
    ]  # fmt: skip
    spine = [("LowerBack", (0, 0, 0)), ("Spine", (-0.02, 2.24, -0.04)), ("Spine1", (0.05, 2.19, -0.19))]
    head = [("Neck", (0, 0, 0)), ("Neck1", (-0.12, 1.43, 0.28)), ("Head", (0.18, 1.46, -0.33))]
    names = ["Hips"]
    out = ["HIERARCHY", "ROOT Hips", "{", "OFFSET 0 0 0", f"CHANNELS 6 Xposition Yposition Zposition {zyx}"]

    def chain(items: list, close: int) -> None:
        for n, o in items:
            names.append(n)
            out.extend([f"JOINT {n}", "{", f"OFFSET {o[0]} {o[1]} {o[2]}", f"CHANNELS 3 {zyx}"])
        out.extend(["End Site", "{", "OFFSET 0 0.5 0", "}"] + ["}"] * close)

    chain(leg("L", 1)[:1] + [(n.replace("L", "Left", 1), o) for n, o in leg("L", 1)[1:]], 5)
    chain(leg("R", -1)[:1] + [(n.replace("R", "Right", 1), o) for n, o in leg("R", -1)[1:]], 5)
    for n, o in spine:
        names.append(n)
        out.extend([f"JOINT {n}", "{", f"OFFSET {o[0]} {o[1]} {o[2]}", f"CHANNELS 3 {zyx}"])
    chain(head, 3)
    chain([(n.replace("L", "Left", 1), o) for n, o in arm("L", 1)], 5)
    chain([(n.replace("R", "Right", 1), o) for n, o in arm("R", -1)], 5)
    out.extend(["}"] * 3 + ["}"])  # Spine1, Spine, LowerBack, Hips
    rng = np.random.default_rng(seed)
    T = int(seconds * fps)
    t = np.arange(T)[:, None] / fps
    J = len(names)
    ang = rng.normal(0, 12, (1, 3 * J)) * np.sin(
        2 * np.pi * rng.uniform(0.3, 1.2, (1, 3 * J)) * t + rng.uniform(0, 6, (1, 3 * J))
    )
    root = np.concatenate([0.5 * t, 17.0 + 0.3 * np.sin(3 * t), 10.0 * t], axis=1)
    frames = np.concatenate([root, ang], axis=1)
    out += ["MOTION", f"Frames: {T}", f"Frame Time: {1 / fps:.8f}"]
    out += [" ".join(f"{v:.5f}" for v in row) for row in frames]
    path.write_text("\n".join(out) + "\n")
    return path


def store_joints(store: MotionStore, key: str) -> torch.Tensor:
    """(T, 22, 3) joints of a stored motion (start XZ at the origin)."""
    return store.motion(key).joints().double()


def align_xz(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``b`` shifted in XZ so that its first pelvis matches ``a``'s."""
    return b + (a[0, 0] - b[0, 0]) * torch.tensor([1.0, 0.0, 1.0], dtype=b.dtype)


def read_report(out: Path) -> dict:
    return json.loads((out / REPORT_NAME).read_text())


# ---------------------------------------------------------------------------------------------- IK and resampling


def test_ik_recovers_fk_joints_and_shape():
    m = generate_motion(3)
    J = m.joints().double()
    assert np.abs(fit_betas(J) - m.betas).max() < 0.5
    res = ik_from_positions(J)
    assert res.mean_error < 2e-4 and res.max_error < 5e-4
    exact = ik_from_positions(J, betas=m.betas)
    assert exact.max_error < 1e-5
    # without the shape fit the neutral body's bone lengths show as centimetres of error
    assert ik_from_positions(J, fit_shape=False).mean_error > 5 * res.mean_error


def test_resample_slerp_and_exact_picks():
    aa = torch.zeros(2, 1, 3, dtype=torch.float64)
    aa[1, 0, 2] = np.pi / 2
    rot, tr = resample(axis_angle_to_quaternion(aa), torch.tensor([[[0.0, 0, 0]], [[1.0, 0, 0]]]), 40.0, 80.0)
    assert rot.shape == (3, 1, 3, 3) and tr.shape == (3, 1, 3)
    np.testing.assert_allclose(rot[1, 0].numpy(), axis_angle_to_matrix(aa[1, 0] / 2).numpy(), atol=1e-12)
    np.testing.assert_allclose(tr[:, 0, 0].numpy(), [0.0, 0.5, 1.0])
    q = axis_angle_to_quaternion(torch.from_numpy(np.random.default_rng(0).normal(size=(121, 4, 3))))
    rot, _ = resample(q, torch.zeros(121, 1, 3), 120.0, 20.0)
    assert rot.shape[0] == 21
    np.testing.assert_allclose(rot.numpy(), axis_angle_to_matrix(torch.from_numpy(
        np.random.default_rng(0).normal(size=(121, 4, 3))))[::6].numpy(), atol=1e-10)  # fmt: skip


# ---------------------------------------------------------------------------------------------- HumanML3D


@pytest.fixture(scope="module")
def h3d_dir(tmp_path_factory) -> Path:
    root = make_demo_humanml3d(tmp_path_factory.mktemp("h3d") / "HumanML3D", n=6)
    good = np.load(root / "new_joints" / "000000.npy")
    caption = "a person stands#a/DET person/NOUN stand/VERB#0.0#0.0\n"
    # a short sub-clip caption (10 frames) and a malformed line on a good motion
    with open(root / "texts" / "000000.txt", "a") as fh:
        fh.write("a short bit#a/DET#0.5#1.0\nno fields here\n")
    nan = good.copy()
    nan[5, 3, 1] = np.nan
    np.save(root / "new_joints" / "900000.npy", nan)
    (root / "texts" / "900000.txt").write_text(caption)
    np.save(root / "new_joints" / "900001.npy", good)  # no text file
    (root / "new_joints" / "900002.npy").write_bytes(b"\x93NUMPY garbage")
    (root / "texts" / "900002.txt").write_text(caption)
    np.save(root / "new_joints" / "900003.npy", good[:, :21])
    (root / "texts" / "900003.txt").write_text(caption)
    np.save(root / "new_joints" / "900004.npy", good[:20])
    (root / "texts" / "900004.txt").write_text(caption)
    return root


def test_humanml3d_import_splits_subclips_and_report(h3d_dir, tmp_path):
    out = tmp_path / "store"
    rep = import_humanml3d(h3d_dir, out, progress=False)
    store = MotionStore(out)
    ids = list(store.ids)
    man = store.manifest.set_index("id")
    # official splits kept for whole clips and their sub-clips
    for split in ("train", "val", "test"):
        for mid in (h3d_dir / f"{split}.txt").read_text().split():
            assert man.loc[mid, "split"] == split
            for sub in [i for i in ids if i.startswith(f"{mid}_f")]:
                assert man.loc[sub, "split"] == split
    # sub-clips: their own samples with the frames of their caption's start/end
    subs = [i for i in ids if "_f" in i]
    assert subs
    for sid in subs:
        f0, f1 = (int(x) for x in sid.split("_f")[1].split("-"))
        assert man.loc[sid, "n_frames"] == f1 - f0
        assert store.meta(sid)["frames"] == [f0, f1]
        assert store.captions(sid) and "a person does" in store.captions(sid)[0]
    # whole clips reproduce the HumanML3D joints (D135 from IK)
    for mid in ("000000", "000003"):
        ref = torch.from_numpy(np.load(h3d_dir / "new_joints" / f"{mid}.npy")).double()
        got = align_xz(ref, store_joints(store, mid))
        assert float((got - ref).norm(dim=-1).max()) < 1e-3
        assert len(store.captions(mid)) >= 1 and store.meta(mid)["tokens"]
    # the report: reasons of every skip, the IK error, the card
    by = rep["counts"]["skipped_by_reason"]
    assert by == {"too short": 2, "too long": 0, "static": 0, "NaN": 1, "missing text": 1, "malformed": 3,
                  "unknown joints": 0}  # fmt: skip
    reasons = {(s["id"] or s["file"].split("/")[-1]): s["reason"] for s in rep["skipped"]}
    assert reasons["900000.npy"] == "NaN" and reasons["900001.npy"] == "missing text"
    assert reasons["900002.npy"] == reasons["900003.npy"] == "malformed" and reasons["900004"] == "too short"
    assert reasons["000000_f10-20"] == "too short" and reasons["000000"] == "malformed"  # the bad caption line
    assert rep == read_report(out)
    assert rep["counts"]["motions"] == len(store) and rep["counts"]["files_imported"] == 6
    assert rep["ik_joint_error"]["mean_m"] < 5e-4 and rep["ik_joint_error"]["max_m"] < 1e-3
    card = (out / CARD_NAME).read_text()
    assert "HumanML3D" in card and "redistribut" in card and "minimal twist" in card
    assert not (out / LOG_NAME).exists()


def test_humanml3d_strict_error_names_file_and_field(h3d_dir, tmp_path):
    out = tmp_path / "store"
    with pytest.raises(
        ImportFailed, match=r"000000\.npy: texts/000000\.txt: ignored malformed caption line\(s\) \[7\]"
    ):
        import_humanml3d(h3d_dir, out, HumanML3DConfig(), strict=True, progress=False)
    assert not (out / STORE_JSON).exists()
    fixed = tmp_path / "h3d"
    shutil.copytree(h3d_dir, fixed)
    (fixed / "texts" / "000000.txt").write_text("a person stands#a/DET#0#0\n")
    with pytest.raises(ImportFailed, match=r"900000\.npy: new_joints/900000\.npy: 1 frame\(s\) hold NaN"):
        import_humanml3d(fixed, tmp_path / "store2", HumanML3DConfig(), strict=True, progress=False)
    assert not (out / STORE_JSON).exists()
    with pytest.raises(FileNotFoundError):
        MotionStore(out)


def test_humanml3d_options_and_missing_folder(h3d_dir, tmp_path):
    rep = import_humanml3d(h3d_dir, tmp_path / "a", HumanML3DConfig(sub_clips=False, min_frames=100), progress=False)
    store = MotionStore(tmp_path / "a")
    assert all("_f" not in i for i in store.ids) and store.lengths.min() >= 100
    assert rep["counts"]["skipped_by_reason"]["too short"] >= 1
    with pytest.raises(FileNotFoundError, match="new_joints"):
        import_humanml3d(tmp_path, tmp_path / "b", progress=False)


def test_drop_static_skips_held_poses_as_a_filter(tmp_path):
    """--drop-static: a clip holding one pose (the critique of the paper's first data release) is skipped with
    reason 'static' (a filter: not an error under strict); the moving clips are all kept."""
    root = make_demo_humanml3d(tmp_path / "HumanML3D", n=3, sub_clips=False)
    held = np.repeat(np.load(root / "new_joints" / "000000.npy")[:1], 60, axis=0)  # (60, 22, 3): one pose
    held += np.random.default_rng(0).normal(0, 2e-4, held.shape)  # capture noise far below 0.05 m/s
    np.save(root / "new_joints" / "900010.npy", held)
    (root / "texts" / "900010.txt").write_text("a person stands#a/DET person/NOUN stand/VERB#0.0#0.0\n")
    kept = import_humanml3d(root, tmp_path / "all", progress=False)
    assert "900010" in set(MotionStore(tmp_path / "all").ids) and kept["counts"]["skipped_by_reason"]["static"] == 0
    rep = import_humanml3d(root, tmp_path / "moving", strict=True, progress=False, drop_static=True)
    ids = set(MotionStore(tmp_path / "moving").ids)
    assert "900010" not in ids and ids == set(MotionStore(tmp_path / "all").ids) - {"900010"}
    assert rep["counts"]["skipped_by_reason"]["static"] == 1
    (skip,) = [s for s in rep["skipped"] if s["reason"] == "static"]
    assert skip["id"] == "900010" and skip["field"] == "joints" and "held pose: 100% of its frames" in skip["detail"]


# ---------------------------------------------------------------------------------------------- AMASS


@pytest.fixture(scope="module")
def amass_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("amass") / "AMASS"
    (root / "CMU" / "01").mkdir(parents=True)
    (root / "KIT" / "3").mkdir(parents=True)
    a = amass_arrays(0)
    np.savez(root / "CMU" / "01" / "01_01_poses.npz", **a, mocap_framerate=np.array(120.0))
    b = amass_arrays(1, seconds=3.0, fps=60.0, n_pose=165)  # SMPL-X release: other key for the rate
    np.savez(root / "KIT" / "3" / "walk_stageii.npz", **b, mocap_frame_rate=np.array(60.0))
    np.savez(root / "CMU" / "01" / "shape.npz", betas=a["betas"], gender=a["gender"])  # no poses
    bad = amass_arrays(2)
    bad["trans"][7, 1] = np.nan
    np.savez(root / "CMU" / "01" / "01_02_poses.npz", **bad, mocap_framerate=np.array(120.0))
    (root / "CMU" / "01" / "01_03_poses.npz").write_bytes(b"PK\x03\x04 truncated")
    short = amass_arrays(3, seconds=1.0)
    np.savez(root / "CMU" / "01" / "01_04_poses.npz", **short, mocap_framerate=np.array(120.0))
    nofps = amass_arrays(4)
    np.savez(root / "KIT" / "3" / "nofps.npz", **nofps)
    return root


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory) -> Path:
    return write_smplx_standin(tmp_path_factory.mktemp("models"))


def test_amass_import_resamples_turns_y_up_and_checks_fk(amass_dir, model_folder, tmp_path):
    out = tmp_path / "store"
    rep = import_amass(amass_dir, out, AmassConfig(model_folder=str(model_folder)), progress=False)
    store = MotionStore(out)
    assert sorted(store.ids) == ["CMU/01/01_01_poses", "KIT/3/walk_stageii"]
    # 120 fps -> every 6th frame exactly; 2.5 s -> 50 frames; 60 fps 3 s -> 60 frames
    assert store.lengths[store.index("CMU/01/01_01_poses")] == 50
    assert store.lengths[store.index("KIT/3/walk_stageii")] == 60
    a = amass_arrays(0)
    m = store.motion("CMU/01/01_01_poses")
    aa = torch.from_numpy(a["poses"][::6, :66].reshape(-1, 22, 3))
    R = axis_angle_to_matrix(aa)
    C = torch.from_numpy(Z_UP_TO_Y_UP)
    np.testing.assert_allclose(m.local_rot[:, 1:].double().numpy(), R[:, 1:].numpy(), atol=1e-5)
    np.testing.assert_allclose(m.local_rot[:, 0].double().numpy(), (C @ R[:, 0]).numpy(), atol=1e-5)
    betas = a["betas"][:10]
    assert np.allclose(m.betas, betas, atol=1e-6) and m.meta["gender"] == "female" and m.meta["source_fps"] == 120
    root = sk.smplx_transl_to_root(torch.from_numpy(a["trans"][::6]), torch.from_numpy(betas)) @ C.T
    np.testing.assert_allclose(m.root_pos[:, 1].double().numpy(), root[:, 1].numpy(), atol=1e-5)
    # Y up: the head is above the pelvis; walking along AMASS's +y becomes +z
    j = m.joints()
    assert float((j[:, 15, 1] - j[:, 0, 1]).min()) > 0.3
    assert float(m.root_pos[-1, 2] - m.root_pos[0, 2]) > 1.5
    # our FK agrees with the smplx body model; the report says so
    check = rep["fk_vs_smplx_joint_error"]
    assert check["max_m"] < 1e-4
    assert "smplx" in rep["notes"][0]
    by = rep["counts"]["skipped_by_reason"]
    assert by["malformed"] == 3 and by["NaN"] == 1 and by["too short"] == 1
    why = {s["file"]: s for s in rep["skipped"]}
    assert why["CMU/01/shape.npz"]["field"] == "shape.npz['poses']"
    assert why["CMU/01/01_02_poses.npz"]["field"] == "01_02_poses.npz['trans']"
    assert why["KIT/3/nofps.npz"]["field"] == "nofps.npz['mocap_framerate']"
    assert "AMASS" in (out / CARD_NAME).read_text() and "redistributed" in (out / CARD_NAME).read_text()


def test_amass_fk_check_detects_a_different_body(amass_dir, tmp_path):
    wrong = write_smplx_standin(tmp_path / "wrong", shift=0.01)
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(amass_dir / "CMU" / "01" / "01_01_poses.npz", one)
    rep = import_amass(one, tmp_path / "store", AmassConfig(model_folder=str(wrong)), progress=False)
    assert 0.009 < rep["fk_vs_smplx_joint_error"]["max_m"] < 0.011


def test_amass_without_model_uses_own_fk_and_missing_model_errors(amass_dir, tmp_path):
    rep = import_amass(amass_dir / "KIT", tmp_path / "store", progress=False)
    assert "own FK" in rep["notes"][0] and "fk_vs_smplx_joint_error" not in rep
    with pytest.raises(FileNotFoundError, match=r"SMPLX_NEUTRAL\.npz in .*nowhere/smplx/"):
        import_amass(amass_dir, tmp_path / "s2", AmassConfig(model_folder=str(tmp_path / "nowhere")), progress=False)
    with pytest.raises(FileNotFoundError, match=r"SMPLX_NEUTRAL\.npz"):
        load_smplx_model(tmp_path)


def test_amass_strict_names_file_and_field(amass_dir, tmp_path):
    out = tmp_path / "store"
    with pytest.raises(ImportFailed, match=r"01_02_poses\.npz: 01_02_poses\.npz\['trans'\]: 1 NaN"):
        import_amass(amass_dir / "CMU", out, strict=True, progress=False)
    assert not (out / STORE_JSON).exists()
    only_shape = tmp_path / "shape"
    only_shape.mkdir()
    shutil.copy(amass_dir / "CMU" / "01" / "shape.npz", only_shape)
    with pytest.raises(ImportFailed, match=r"shape\.npz\['poses'\]: missing field"):
        import_amass(only_shape, tmp_path / "s2", strict=True, progress=False)


def test_smplx_npz_export_matches_smplx_and_reimports(model_folder, tmp_path):
    m = generate_motion(5)
    path = export_smplx_npz(m, tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as d:
        model = load_smplx_model(model_folder)
        T = m.n_frames
        out = model(
            betas=torch.from_numpy(d["betas"]).float().expand(T, 10),
            global_orient=torch.from_numpy(d["global_orient"]), body_pose=torch.from_numpy(d["body_pose"]),
            transl=torch.from_numpy(d["transl"]),
            jaw_pose=torch.zeros(T, 3), leye_pose=torch.zeros(T, 3), reye_pose=torch.zeros(T, 3),
            left_hand_pose=torch.zeros(T, 45), right_hand_pose=torch.zeros(T, 45), expression=torch.zeros(T, 10),
        )  # fmt: skip
    np.testing.assert_allclose(out.joints[:, :22].double().numpy(), m.joints().double().numpy(), atol=2e-4)
    # a Z-up export reads back through the AMASS importer as the same motion
    src = tmp_path / "zup"
    export_smplx_npz(m, src / "clip.npz", up="z")
    import_amass(src, tmp_path / "store", progress=False)
    back = MotionStore(tmp_path / "store").motion("clip")
    np.testing.assert_allclose(back.local_rot.numpy(), m.local_rot.numpy(), atol=1e-4)
    ref = m.joints().double()
    assert float((align_xz(ref, back.joints().double()) - ref).norm(dim=-1).max()) < 1e-4


# ---------------------------------------------------------------------------------------------- BVH


def _names(preset: str) -> list[str]:
    return [JOINT_MAP_PRESETS[preset][n] for n in sk.JOINT_NAMES]


@pytest.mark.parametrize(
    "preset,unit,order", [("cmu", "cm", "ZXY"), ("mixamo", "cm", "XYZ"), ("motionbook", "m", "ZXY")]
)
def test_bvh_export_import_round_trip_bound(preset, unit, order, tmp_path):
    """Export -> import keeps every joint within 0.5 mm (measured: mean ~0.07 mm, max ~0.14 mm)."""
    src = tmp_path / "bvh"
    motions = {f"clip{i}": generate_motion(i) for i in (0, 2)}
    for k, m in motions.items():
        export_bvh(m, src / f"{k}.bvh", rotation_order=order, unit=unit, joint_names=_names(preset))
    rep = import_bvh(src, tmp_path / "store", progress=False)
    store = MotionStore(tmp_path / "store")
    for k, m in motions.items():
        ref = m.joints().double()
        got = align_xz(ref, store_joints(store, k))
        err = (got - ref).norm(dim=-1)
        assert float(err.mean()) < 2e-4 and float(err.max()) < 5e-4, (k, float(err.mean()), float(err.max()))
        meta = store.meta(k)
        assert meta["unit"] == unit and meta["joint_map_preset"] == preset and meta["interpolated_joints"] == []
    assert rep["ik_joint_error"]["max_m"] < 5e-4
    assert "BVH" in (tmp_path / "store" / CARD_NAME).read_text()


def test_bvh_z_up_file(tmp_path):
    m = generate_motion(4)
    C = torch.from_numpy(Z_UP_TO_Y_UP).float()
    rot = m.local_rot.clone()
    rot[:, 0] = C.T @ rot[:, 0]  # the same motion in a Z-up world
    zup = Motion(rot, m.root_pos @ C, m.betas, m.fps)
    export_bvh(zup, tmp_path / "src" / "z.bvh", unit="cm")
    import_bvh(tmp_path / "src", tmp_path / "store", BvhConfig(up="z"), progress=False)
    ref = m.joints().double()
    got = align_xz(ref, store_joints(MotionStore(tmp_path / "store"), "z"))
    assert float((got - ref).norm(dim=-1).max()) < 5e-4


def test_bvh_cmu_rig_units_interpolation_and_root(tmp_path):
    src = tmp_path / "cmu"
    src.mkdir()
    path = cmu_rig_bvh(src / "02_01.bvh")
    rep = import_bvh(src, tmp_path / "store", progress=False)
    store = MotionStore(tmp_path / "store")
    meta = store.meta("02_01")
    assert meta["unit"] == "cmu" and meta["joint_map_preset"] == "cmu" and meta["source_fps"] == pytest.approx(120)
    assert set(meta["interpolated_joints"]) == {"spine1", "neck", "left_collar", "right_collar"}
    assert meta["joint_map"]["left_elbow"] == "LeftForeArm" and "spine1" not in meta["joint_map"]
    assert store.lengths[0] == 60  # 3 s at 20 fps
    # the root follows the Hips in metres (height kept; XZ start is not stored by D135)
    data = bvh_mod.read_bvh(path)
    hips_y = data.motion[::6, 1] * 0.0254 / 0.45
    size = meta["size_scale"]
    assert 0.8 < size < 0.95  # the rig's legs are longer than SMPL-X's: the motion is scaled to our legs
    np.testing.assert_allclose(store.motion(0).root_pos[:, 1].numpy(), hips_y * size, atol=1e-4)
    # limb bones point where the rig's bones point (swing IK), whatever the proportions
    j = store.motion(0).joints().double()
    rot, trans = data.local_transforms()
    idx = {n: i for i, n in enumerate(data.names)}
    pos = bvh_mod._fk(rot[::6], trans[::6], data.parents)
    for a, b, ra, rb in [
        (18, 20, "LeftForeArm", "LeftHand"),
        (4, 7, "LeftLeg", "LeftFoot"),
        (17, 19, "RightArm", "RightForeArm"),
    ]:
        ours = torch.nn.functional.normalize(j[:, b] - j[:, a], dim=-1)
        theirs = torch.nn.functional.normalize(pos[:, idx[rb]] - pos[:, idx[ra]], dim=-1)
        assert float((ours * theirs).sum(-1).min()) > 1 - 1e-6
    # positions differ by the rigs' proportions (CMU spine and neck vs SMPL-X): recorded in the report
    ik = rep["ik_joint_error"]
    assert 0 < ik["mean_m"] < 0.15 and ik["max_m"] < 0.4
    # giving the unit explicitly in another unit scales the body
    rep_m = import_bvh(src, tmp_path / "s2", BvhConfig(unit="inch"), progress=False)
    assert rep_m["files"][0]["samples"][0]["unit"] == "inch"


@pytest.fixture(scope="module")
def bvh_dir(tmp_path_factory) -> Path:
    """Good and broken BVH files (exporter output, CMU names, cm)."""
    root = tmp_path_factory.mktemp("bvh") / "bvh"
    names = _names("cmu")
    for i in range(4):
        export_bvh(generate_motion(i), root / f"good{i}.bvh", unit="cm", joint_names=names)
    text = (root / "good0.bvh").read_text()
    lines = text.splitlines()
    k = next(i for i, ln in enumerate(lines) if "CHANNELS 3" in ln)
    bad_count = lines.copy()
    bad_count[k] = bad_count[k].replace("CHANNELS 3", "CHANNELS 2")
    (root / "x_bad_channels.bvh").write_text("\n".join(bad_count) + "\n")
    two = lines.copy()
    two[k] = two[k].rsplit(" ", 1)[0].replace("CHANNELS 3", "CHANNELS 2")  # consistent header, data has more values
    (root / "x_frame_values.bvh").write_text("\n".join(two) + "\n")
    (root / "x_truncated.bvh").write_text("\n".join(lines[:-30]) + "\n")
    nan = lines.copy()
    nan[-5] = " ".join(["nan", *nan[-5].split()[1:]])
    (root / "x_nan.bvh").write_text("\n".join(nan) + "\n")
    (root / "x_unknown.bvh").write_text(text.replace("LeftForeArm", "L_Elbow"))
    (root / "x_garbage.bvh").write_text("this is not a bvh file\n")
    return root


def test_bvh_bad_files_are_skipped_with_reasons(bvh_dir, tmp_path):
    rep = import_bvh(bvh_dir, tmp_path / "store", progress=False)
    assert sorted(MotionStore(tmp_path / "store").ids) == ["good0", "good1", "good2", "good3"]
    why = {s["file"]: s for s in rep["skipped"]}
    assert why["x_bad_channels.bvh"]["reason"] == "malformed"
    assert "declares 2 channels but lists 3" in why["x_bad_channels.bvh"]["detail"]
    assert why["x_frame_values.bvh"]["field"] == "MOTION data"
    assert "CHANNELS declarations add up to" in why["x_frame_values.bvh"]["detail"]
    assert "truncated" in why["x_truncated.bvh"]["detail"]
    assert why["x_nan.bvh"]["reason"] == "NaN"
    assert why["x_unknown.bvh"]["reason"] == "unknown joints" and "L_Elbow" in why["x_unknown.bvh"]["detail"]
    assert "left_elbow -> 'LeftForeArm'" in why["x_unknown.bvh"]["detail"]
    assert why["x_garbage.bvh"]["field"] == "HIERARCHY"
    assert rep["counts"]["files_skipped"] == 6 and rep["counts"]["files_imported"] == 4


def test_bvh_strict_error_and_joint_map_override(bvh_dir, tmp_path):
    with pytest.raises(ImportFailed, match=r"x_bad_channels\.bvh: CHANNELS of joint 'LeftUpLeg' \(line \d+\)"):
        import_bvh(bvh_dir, tmp_path / "store", strict=True, progress=False)
    assert not (tmp_path / "store").exists()  # nothing left behind: no import log, no writer.json, no shards/
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(bvh_dir / "x_unknown.bvh", one)
    with pytest.raises(ImportFailed, match="unknown|joint map"):
        import_bvh(one, tmp_path / "s1", strict=True, progress=False)
    cfg = BvhConfig(joint_map={"left_elbow": "L_Elbow"})
    import_bvh(one, tmp_path / "s2", cfg, strict=True, progress=False)
    assert MotionStore(tmp_path / "s2").meta("x_unknown")["joint_map"]["left_elbow"] == "L_Elbow"
    with pytest.raises(ValueError, match="joint map keys"):
        BvhConfig(joint_map={"elbow": "X"})


def test_frames_header_off_by_one_imports_with_a_warning(tmp_path):
    """A Frames: count one off the frame lines (an exporter slip) imports what is there, with a warning naming the
    file and both counts (also in the report); strict mode refuses it; two off is still a malformed file."""
    (tmp_path / "src").mkdir()
    src = cmu_rig_bvh(tmp_path / "src" / "take.bvh", seconds=3.0)
    text = src.read_text()
    n = int(text.split("Frames: ")[1].split()[0])
    src.write_text(text.replace(f"Frames: {n}", f"Frames: {n + 1}"))
    with pytest.warns(UserWarning, match=rf"take\.bvh: Frames: {n + 1} declared, {n} frame lines found"):
        rep = import_bvh(tmp_path / "src", tmp_path / "ok", progress=False)
    (sample,) = rep["files"][0]["samples"]
    assert rep["counts"]["motions"] == 1 and any(f"Frames: {n + 1} declared" in x for x in sample["notes"])
    with pytest.raises(ImportFailed, match=rf"take\.bvh: MOTION data: truncated: Frames: {n + 1} declared, {n} "):
        import_bvh(tmp_path / "src", tmp_path / "strict", strict=True, progress=False)
    src.write_text(text.replace(f"Frames: {n}", f"Frames: {n + 2}"))
    with pytest.raises(ValueError, match="none of the 1 bvh file"):
        import_bvh(tmp_path / "src", tmp_path / "two", progress=False)


def test_rest_pose_first_frame_is_dropped_unless_kept(tmp_path):
    """CMU captures start with a T-pose calibration frame: detected (every rotation channel ~0 while the next frame
    is not) and dropped by default, said in the motion's meta and the report; --keep-rest-frame keeps it."""
    (tmp_path / "src").mkdir()
    src = cmu_rig_bvh(tmp_path / "src" / "take.bvh", seconds=3.0, fps=20.0)
    lines = src.read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("Frames: "))
    n = int(lines[k].split()[1])
    first = lines[k + 2].split()
    rest = " ".join(first[:3] + ["0.00000"] * (len(first) - 3))  # root position kept, every rotation 0
    lines[k] = f"Frames: {n + 1}"
    src.write_text("\n".join([*lines[: k + 2], rest, *lines[k + 2 :]]) + "\n")
    rep = import_bvh(tmp_path / "src", tmp_path / "dropped", BvhConfig(fps=20.0), progress=False)
    kept = import_bvh(tmp_path / "src", tmp_path / "kept", BvhConfig(fps=20.0, keep_rest_frame=True), progress=False)
    a, b = MotionStore(tmp_path / "dropped"), MotionStore(tmp_path / "kept")
    assert a.lengths[0] == n and b.lengths[0] == n + 1
    assert a.meta("take")["rest_frame_dropped"] is True and b.meta("take")["rest_frame_dropped"] is False
    assert any("rest pose: dropped" in x for x in rep["files"][0]["samples"][0]["notes"])
    assert not any("rest pose: dropped" in x for x in kept["files"][0]["samples"][0].get("notes", []))


def test_empty_or_all_failed_input_is_an_error_that_writes_nothing(bvh_dir, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty: no bvh input files found; nothing was written"):
        import_bvh(empty, tmp_path / "s0", progress=False)
    assert not (tmp_path / "s0").exists()
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in ("x_garbage.bvh", "x_nan.bvh", "x_truncated.bvh"):
        shutil.copy(bvh_dir / f, bad)
    with pytest.raises(ValueError, match=r"none of the 3 bvh file\(s\) gave a motion \(malformed 2, NaN 1\)"):
        import_bvh(bad, tmp_path / "s1", progress=False)
    assert not (tmp_path / "s1").exists()
    assert cli_main(["import", "--format", "bvh", str(bad), "--out", str(tmp_path / "s2"), "--no-progress"]) == 1
    assert "none of the 3 bvh file(s)" in capsys.readouterr().err and not (tmp_path / "s2").exists()


def test_import_resumes_after_interruption(bvh_dir, tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    for f in sorted(bvh_dir.glob("good*.bvh")):
        shutil.copy(f, src)
    calls = {"n": 0}
    real = bvh_mod.read_bvh

    def flaky(path, strict=False):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(path, strict)

    monkeypatch.setattr(bvh_mod, "read_bvh", flaky)
    out = tmp_path / "store"
    with pytest.raises(KeyboardInterrupt):
        import_bvh(src, out, progress=False, shard_frames=100)  # a shard commits after every file
    assert not (out / STORE_JSON).exists() and (out / LOG_NAME).exists()
    monkeypatch.setattr(bvh_mod, "read_bvh", real)
    rep = import_bvh(src, out, progress=False, shard_frames=100)
    assert rep["counts"]["files_resumed"] == 3 and rep["counts"]["motions"] == 4
    import_bvh(src, tmp_path / "fresh", progress=False, shard_frames=100)
    a, b = MotionStore(out), MotionStore(tmp_path / "fresh")
    assert list(a.ids) == list(b.ids)
    assert list(a.manifest["checksum"]) == list(b.manifest["checksum"])
    assert a.info["counts"] == b.info["counts"]
    with pytest.raises(FileExistsError, match="complete store"):
        import_bvh(src, out, progress=False)


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_import(h3d_dir, bvh_dir, tmp_path, capsys):
    out = tmp_path / "h3d"
    assert cli_main(["import", "--format", "humanml3d", str(h3d_dir), "--out", str(out), "--no-progress"]) == 0
    assert "imported" in capsys.readouterr().out and (out / REPORT_NAME).exists()
    rc = cli_main(
        ["import", "--format", "bvh", str(bvh_dir), "--out", str(tmp_path / "b"), "--strict", "--no-progress"]
    )
    assert rc == 1 and "x_bad_channels.bvh: CHANNELS of joint" in capsys.readouterr().err
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(bvh_dir / "x_unknown.bvh", one)
    jm = tmp_path / "map.json"
    jm.write_text(json.dumps({"preset": "cmu", "left_elbow": "L_Elbow"}))
    args = [
        "import",
        "--format",
        "bvh",
        str(one),
        "--out",
        str(tmp_path / "c"),
        "--joint-map",
        str(jm),
        "--no-progress",
    ]
    assert cli_main(args) == 0
    assert MotionStore(tmp_path / "c").meta(0)["joint_map_preset"] == "cmu"
    rc = cli_main(
        ["import", "--format", "amass", str(one), "--out", str(tmp_path / "d"), "--model-folder", str(tmp_path)]
    )
    assert rc == 1 and "SMPLX_NEUTRAL.npz" in capsys.readouterr().err


def test_demo_motion_count(tmp_path):
    root = make_demo_humanml3d(tmp_path / "demo", n=2, sub_clips=False)
    assert sorted(p.stem for p in (root / "new_joints").glob("*.npy")) == ["000000", "000001"]
    vecs = np.load(root / "new_joint_vecs" / "000000.npy")
    joints = np.load(root / "new_joints" / "000000.npy")
    assert vecs.shape == (joints.shape[0] - 1, 263) and np.load(root / "Mean.npy").shape == (263,)
    assert (root / "train.txt").read_text().split() == ["000000", "000001"]
    assert isinstance(Motion, type)
