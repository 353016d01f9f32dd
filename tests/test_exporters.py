"""Exporters: BVH text (hierarchy, channels, units, rotation orders) read back exactly, SMPL-X npz fields."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from motionbook_lib import skeleton as sk
from motionbook_lib.data.exporters import export_bvh, export_smplx_npz, motion_to_bvh
from motionbook_lib.data.importers import BvhError, parse_bvh, read_bvh
from motionbook_lib.data.synthetic import generate_motion


@pytest.fixture(scope="module")
def motion():
    return generate_motion(1)


def _dfs() -> list[int]:
    out: list[int] = []

    def visit(j: int) -> None:
        out.append(j)
        for c in range(1, sk.NUM_JOINTS):
            if sk.PARENTS[c] == j:
                visit(c)

    visit(0)
    return out


@pytest.mark.parametrize("order,unit", [("ZXY", "m"), ("XYZ", "cm")])
def test_bvh_export_reads_back_exactly(motion, order, unit, tmp_path):
    path = export_bvh(motion, tmp_path / "m.bvh", rotation_order=order, unit=unit)
    text = path.read_text()
    assert text.startswith("HIERARCHY\nROOT pelvis\n{") and "\nMOTION\nFrames: " in text and "End Site" in text
    data = read_bvh(path)
    k = 100.0 if unit == "cm" else 1.0
    order_idx = _dfs()
    assert data.names == [sk.JOINT_NAMES[j] for j in order_idx]
    assert [sk.JOINT_NAMES[j] for j in order_idx] == data.names
    assert data.channels[0][:3] == ["Xposition", "Yposition", "Zposition"]
    assert all(c == [f"{a}rotation" for a in order] for c in [ch[-3:] for ch in data.channels])
    assert len(data.end_sites) == 5  # head, toes, wrists
    assert data.n_frames == motion.n_frames and data.fps == pytest.approx(motion.fps)
    off = sk.bone_offsets(torch.from_numpy(motion.betas.astype(np.float64))).numpy()[order_idx]
    np.testing.assert_allclose(data.offsets, off * k, atol=2e-6 * k)
    rot, trans = data.local_transforms()
    np.testing.assert_allclose(rot.numpy(), motion.local_rot[:, order_idx].double().numpy(), atol=1e-5)
    np.testing.assert_allclose(trans[:, 0].numpy() / k, motion.root_pos.double().numpy(), atol=1e-6)
    # FK of the file's hierarchy gives our joints
    from motionbook_lib.data.importers.bvh import _fk

    pos = _fk(rot, trans / k, data.parents)
    np.testing.assert_allclose(pos.numpy(), motion.joints().double()[:, order_idx].numpy(), atol=1e-5)


def test_bvh_reader_channel_orders_and_position_channels():
    text = """HIERARCHY
ROOT root
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation
  JOINT arm
  {
    OFFSET 1 0 0
    CHANNELS 6 Yrotation Xposition Zrotation Yposition Zposition Xrotation
    End Site
    {
      OFFSET 0 1 0
    }
  }
}
MOTION
Frames: 1
Frame Time: 0.1
1 2 3 10 20 30 40 5 50 6 7 60
"""
    data = parse_bvh(text)
    rot, trans = data.local_transforms()
    want_root = Rotation.from_euler("XYZ", [10, 20, 30], degrees=True).as_matrix()
    want_arm = Rotation.from_euler("YZX", [40, 50, 60], degrees=True).as_matrix()
    np.testing.assert_allclose(rot[0, 0].numpy(), want_root, atol=1e-12)
    np.testing.assert_allclose(rot[0, 1].numpy(), want_arm, atol=1e-12)
    np.testing.assert_allclose(trans[0].numpy(), [[1, 2, 3], [5, 6, 7]])
    assert data.fps == pytest.approx(10.0)


@pytest.mark.parametrize(
    "edit,field",
    [
        (lambda t: t.replace("CHANNELS 6 Yrotation", "CHANNELS 5 Yrotation"), "CHANNELS of joint 'arm'"),
        (lambda t: t.replace("Frames: 1", "Frames: 3"), "MOTION data"),  # off by one is tolerated (a warning)
        (lambda t: t.replace("60\n", "60 70\n"), "MOTION data"),
        (lambda t: t.replace("Frame Time: 0.1", "Frame Time: x"), "Frame Time"),
        (lambda t: t.replace("OFFSET 1 0 0", "OFFSET 1 0"), "OFFSET of joint 'arm'"),
        (lambda t: t.replace("Xrotation\n", "Wrotation\n"), "CHANNELS of joint 'arm'"),
        (lambda t: t.replace("MOTION", "}\nMOTION"), "MOTION"),
        (lambda t: t.split("MOTION")[0], "MOTION"),
        (lambda t: t.replace("}\nMOTION", "MOTION"), "hierarchy"),
        (lambda t: t.replace("HIERARCHY", "HIER"), "HIERARCHY"),
    ],
)
def test_bvh_reader_errors_name_the_field(edit, field):
    text = """HIERARCHY
ROOT root
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation
  JOINT arm
  {
    OFFSET 1 0 0
    CHANNELS 6 Yrotation Xposition Zrotation Yposition Zposition Xrotation
    End Site
    {
      OFFSET 0 1 0
    }
  }
}
MOTION
Frames: 1
Frame Time: 0.1
1 2 3 10 20 30 40 5 50 6 7 60
"""
    parse_bvh(text)
    with pytest.raises(BvhError) as err:
        parse_bvh(edit(text))
    assert err.value.field.startswith(field), err.value


def test_bvh_export_options_and_bad_arguments(motion, tmp_path):
    names = [f"J{i}" for i in range(22)]
    text = motion_to_bvh(motion, joint_names=names, precision=3)
    assert "ROOT J0" in text and "JOINT J21" in text and "pelvis" not in text
    for kwargs in (
        {"rotation_order": "YXZ"},
        {"unit": "inch"},
        {"joint_names": names[:21]},
        {"joint_names": ["a b"] * 22},
    ):
        with pytest.raises(ValueError):
            export_bvh(motion, tmp_path / "bad.bvh", **kwargs)
    assert not any(tmp_path.iterdir())  # nothing written, no temp files left


def test_smplx_npz_fields(motion, tmp_path):
    path = export_smplx_npz(motion, tmp_path / "m.npz")
    T = motion.n_frames
    with np.load(path, allow_pickle=False) as d:
        assert d["poses"].shape == (T, 165) and d["global_orient"].shape == (T, 3) and d["body_pose"].shape == (T, 63)
        assert d["transl"].shape == (T, 3) and d["betas"].shape == (10,) and float(d["mocap_frame_rate"]) == motion.fps
        assert str(d["up_axis"]) == "y" and str(d["gender"]) == "neutral"
        np.testing.assert_allclose(d["poses"][:, :3], d["global_orient"])
        np.testing.assert_allclose(d["poses"][:, 3:66], d["body_pose"])
        assert not d["poses"][:, 66:].any()
        want = sk.root_to_smplx_transl(motion.root_pos.double(), torch.from_numpy(motion.betas.astype(np.float64)))
        np.testing.assert_allclose(d["transl"], want.numpy(), atol=1e-6)
        aa = torch.from_numpy(np.concatenate([d["global_orient"][:, None], d["body_pose"].reshape(T, 21, 3)], 1))
    from motionbook_lib.rotations import axis_angle_to_matrix

    np.testing.assert_allclose(axis_angle_to_matrix(aa.double()).numpy(), motion.local_rot.double().numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="up"):
        export_smplx_npz(motion, tmp_path / "x.npz", up="x")
