"""The pythreejs mannequin player: r97 skinning vs mannequin-x, keyframes, layout, offline export, bad input."""

from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from motionbook_lib.motion import Motion
from motionbook_lib.rotations import axis_angle_to_matrix
from motionbook_lib.skeleton import NUM_JOINTS, bone_offsets
from motionbook_lib.viz import (
    MotionPlayer,
    body_mesh,
    bone_tracks,
    export_html,
    lane_offsets,
    motion_player,
    prepare_clips,
    skin_r97,
)
from motionbook_lib.viz.mannequin_mesh import _as_betas, _mannequin, mannequin_pose


def _motion(T: int = 12, seed: int = 0, caption: str = "a person waves") -> Motion:
    g = torch.Generator().manual_seed(seed)
    aa = 0.4 * torch.randn(T, NUM_JOINTS, 3, generator=g)
    root = torch.stack([torch.linspace(0.3, 1.0, T), torch.full((T,), 0.95), torch.linspace(-0.2, 0.4, T)], -1)
    return Motion(axis_angle_to_matrix(aa), root, meta={"caption": [caption, "other"]})


@pytest.mark.parametrize("shape_seed", [None, 1])
def test_r97_skinning_matches_mannequin(shape_seed: int | None) -> None:
    betas = None if shape_seed is None else np.random.default_rng(shape_seed).normal(size=10) * 0.8
    mesh = body_mesh(betas)
    rng = np.random.default_rng(3)
    R = axis_angle_to_matrix(torch.tensor(rng.normal(size=(3, NUM_JOINTS, 3)) * 0.5)).numpy()
    root = rng.normal(size=(3, 3))
    quats, pos = bone_tracks(R, root)
    ref = _mannequin(_as_betas(betas)).vertices(mannequin_pose(R, root, betas))
    for t in range(3):  # the float32 keyframes the browser receives
        v = skin_r97(mesh, quats[t].astype(np.float32), pos[t].astype(np.float32))
        assert np.abs(v - ref[t]).max() < 2e-6
    # the 22 bone offsets are the workbench skeleton's
    ours = bone_offsets(None if betas is None else torch.tensor(betas)).numpy()
    assert np.allclose(mesh.bone_offsets()[1:NUM_JOINTS], ours[1:], atol=1e-6)


def test_bind_pose_skin_is_identity_and_four_influences() -> None:
    mesh = body_mesh()
    assert mesh.skin_index.shape == mesh.skin_weight.shape == (len(mesh.vertices), 4)
    assert mesh.skin_index.dtype == np.uint16 and int(mesh.skin_index.max()) < mesh.n_joints == 54
    assert np.allclose(mesh.skin_weight.sum(1), 1.0, atol=1e-5)
    ident = np.tile([0.0, 0.0, 0.0, 1.0], (NUM_JOINTS, 1))
    v = skin_r97(mesh, ident, mesh.bind_joints[0])
    assert np.abs(v - mesh.vertices).max() < 1e-6  # float32 weights sum to 1 within ~1e-7
    # standing: the soles are near the model floor, the head ~1.7 m above them
    assert 1.5 < mesh.vertices[:, 1].max() - mesh.vertices[:, 1].min() < 1.9


def test_bone_tracks_shapes_unit_and_continuous() -> None:
    m = _motion(T=30)
    q, p = bone_tracks(m.local_rot, m.root_pos)
    assert q.shape == (30, NUM_JOINTS, 4) and p.shape == (30, 3)
    assert np.allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-6)
    assert (np.sum(q[1:] * q[:-1], axis=-1) >= 0).all()
    qi, _ = bone_tracks(np.broadcast_to(np.eye(3), (2, NUM_JOINTS, 3, 3)), np.zeros((2, 3)))
    assert np.allclose(qi, [0.0, 0.0, 0.0, 1.0])  # three.js order: w last


def test_side_by_side_layout_and_titles() -> None:
    assert np.allclose(lane_offsets(3, 1.5), [-1.5, 0.0, 1.5])
    assert np.allclose(lane_offsets(1), [0.0])
    ms = [_motion(10, 0), _motion(14, 1, "someone jumps"), _motion(8, 2)]
    clips = prepare_clips(ms, spacing=1.5)
    assert [c.title for c in clips] == ["a person waves", "someone jumps", "a person waves"]
    for c, lane in zip(clips, [-1.5, 0.0, 1.5], strict=True):
        assert np.allclose(c.root[0, [0, 2]], [lane, 0.0], atol=1e-6)
        assert c.quats.shape == (c.n_frames, NUM_JOINTS, 4) and c.quats.dtype == np.float32
        assert np.allclose(c.times, np.arange(c.n_frames) / 20.0)
    # the path keeps its shape, only shifted
    d = ms[1].root_pos.numpy() - ms[1].root_pos[0].numpy()
    assert np.allclose(clips[1].root - clips[1].root[0], d, atol=1e-6)


@pytest.mark.parametrize("mode", ["mesh", "sticks"])
def test_pythreejs_player_keyframe_tracks(mode: str) -> None:
    ms = [_motion(10, 0), _motion(16, 1)]
    player = motion_player(ms, titles=["ground truth", "reconstruction"], mode=mode, autoplay=False)
    assert isinstance(player, MotionPlayer)
    tracks = player.clip.tracks
    assert len(tracks) == 2 * (NUM_JOINTS + 1)
    names = [t.name for t in tracks]
    assert "b0_0.quaternion" in names and "b1_21.quaternion" in names and "b1_0.position" in names
    by_name = {t.name: t for t in tracks}
    assert np.asarray(by_name["b1_5.quaternion"].values).shape == (16 * 4,)
    assert np.asarray(by_name["b1_5.quaternion"].times).shape == (16,)
    assert np.asarray(by_name["b0_0.position"].values).shape == (10 * 3,)
    assert player.clip.duration == pytest.approx(15 / 20.0)
    assert player.renderer.shadowMap.enabled
    assert player.frame.max == 15
    player.frame.value = 4
    assert player.action.time == pytest.approx(0.2) and player.action.paused
    player.speed.value = 2.0  # jslink: client-side; the Python side keeps its own value
    assert "ground truth" in player.captions.children[0].value
    assert repr(player).startswith("MotionPlayer(")
    # one set of controls: pythreejs' own play/pause/stop/repeat row is in the page (it carries the action) but hidden
    assert player.action in player.widget.children and player.action.layout.display == "none"
    if mode == "mesh":
        meshes = [c for c in player.scene.children[0].children]
        sk = meshes[0]
        assert sk.material.skinning and sk.geometry.attributes["skinIndex"].normalized is False
        assert len(sk.skeleton.bones) == 54


def test_plotly_backend_same_signature() -> None:
    fig = motion_player([_motion(10, 0), _motion(12, 1)], titles=["a", "b"], backend="plotly")
    assert isinstance(fig, go.Figure) and len(fig.frames) > 0


def test_export_html_is_offline(tmp_path) -> None:
    out = export_html([_motion(10, 0), _motion(12, 1, "a </script> caption")], tmp_path / "p" / "m.html")
    text = out.read_text(encoding="utf-8")
    assert out.stat().st_size < 6_000_000
    assert not re.search(r"<script[^>]*\ssrc\s*=", text, re.I)  # everything inlined
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert not re.search(r"""import\s*\(\s*["']https?:""", text)
    assert text.count("</script>") == 3  # the caption's </script> was escaped
    assert 'REVISION="97"' in text and "QuaternionKeyframeTrack" in text
    sticks = export_html(_motion(5), tmp_path / "s.html", mode="sticks")
    assert sticks.stat().st_size < out.stat().st_size


def test_bad_input_names_the_argument(tmp_path) -> None:
    good = _motion(6)
    bad = _motion(6)
    bad.local_rot[2, 3, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"motions\[1\]\.local_rot contains NaN"):
        motion_player([good, bad])
    bad = _motion(6)
    bad.root_pos[0, 1] = float("inf")
    with pytest.raises(ValueError, match=r"motions\[0\]\.root_pos contains NaN"):
        export_html(bad, tmp_path / "x.html")
    bad = _motion(6)
    bad.local_rot = torch.zeros(6, 21, 3, 3)
    with pytest.raises(ValueError, match=r"motions\[0\]\.local_rot must have shape"):
        prepare_clips([bad])
    bad = _motion(6)
    bad.root_pos = torch.zeros(5, 3)
    with pytest.raises(ValueError, match=r"root_pos must have shape"):
        prepare_clips(bad)
    with pytest.raises(ValueError, match="local_rot"):
        bone_tracks(np.zeros((4, 22, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="titles"):
        motion_player([good], titles=["a", "b"])
    with pytest.raises(ValueError, match="mode"):
        motion_player(good, mode="voxels")
    with pytest.raises(ValueError, match="backend"):
        motion_player(good, backend="matplotlib")
    with pytest.raises(ValueError, match="spacing"):
        prepare_clips([good], spacing=0.0)
    with pytest.raises(ValueError, match="motions"):
        motion_player([])
    with pytest.raises(ValueError, match="betas"):
        body_mesh(np.full(10, np.nan))
    with pytest.raises(ValueError, match="quats"):
        skin_r97(body_mesh(), np.zeros((21, 4)), np.zeros(3))


def _walk(obj):
    yield obj
    for child in getattr(obj, "children", ()) or ():
        yield from _walk(child)


def test_floor_lies_flat_through_a_quaternion_not_an_euler_rotation() -> None:
    """pythreejs's browser side drops Euler orders it lowercases, so objects are turned by quaternions; the floor's
    turns the plane's normal (+Z) to up (+Y)."""
    import pythreejs as p3
    from scipy.spatial.transform import Rotation

    player = motion_player([_motion(10, 0)], mode="sticks", autoplay=False)
    meshes = [o for o in _walk(player.scene) if isinstance(o, p3.Mesh)]
    planes = [o for o in meshes if isinstance(o.geometry, p3.PlaneBufferGeometry)]
    assert len(planes) == 1
    floor = planes[0]
    normal = Rotation.from_quat(np.asarray(floor.quaternion, dtype=np.float64)).apply([0.0, 0.0, 1.0])
    np.testing.assert_allclose(normal, [0.0, 1.0, 0.0], atol=1e-9)
    assert all(tuple(o.rotation[:3]) == (0.0, 0.0, 0.0) for o in _walk(player.scene) if hasattr(o, "rotation"))
