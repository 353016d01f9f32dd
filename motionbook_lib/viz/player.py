"""Interactive 3D motion previews: a skinned mannequin (or stick figure) player in pythreejs, side by side.

Every body is a hierarchy with one bone per joint; one three.js ``AnimationClip`` holds a quaternion track
per joint and a position track for the root of every body, so several motions play in sync in the browser
without a live kernel. :func:`export_html` writes the same scene as one standalone, offline HTML page (three.js
r97 from pythreejs' own static bundle inlined; no URL is fetched). ``backend="plotly"`` draws the existing
plotly stick figure instead.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from motionbook_lib.motion import Motion
from motionbook_lib.skeleton import BODY_PARTS, NUM_JOINTS, PARENTS
from motionbook_lib.viz.mannequin_mesh import BodyMesh, body_mesh, bone_tracks, vertex_normals
from motionbook_lib.viz.plotly_skeleton import skeleton_figure

__all__ = [
    "BODY_COLORS",
    "PART_COLORS",
    "ClipData",
    "MotionPlayer",
    "export_html",
    "lane_offsets",
    "motion_player",
    "prepare_clips",
    "scene_payload",
    "three_js_source",
]

#: Stick-figure colour of each body part (matches the plotly chains: right red, left blue).
PART_COLORS: dict[str, str] = {
    "root": "#7f7f7f",
    "torso": "#444444",
    "left_arm": "#2ca02c",
    "right_arm": "#ff7f0e",
    "left_leg": "#1f77b4",
    "right_leg": "#d62728",
}
#: Mannequin colour per side-by-side slot (wood, blue-grey, green, pink).
BODY_COLORS: tuple[str, ...] = ("#d2a679", "#8fb3d9", "#9fd29f", "#d99fc9", "#d9d28f")
MODES = ("mesh", "sticks")
BACKENDS = ("pythreejs", "plotly")
_JOINT_PART = {j: part for part, joints in BODY_PARTS.items() for j in joints}
_FOV = 40.0


def lane_offsets(n: int, spacing: float = 1.2) -> np.ndarray:
    """X position of each of ``n`` side-by-side motions, centred on 0, ``spacing`` metres apart."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not spacing > 0:
        raise ValueError(f"spacing must be positive, got {spacing}")
    return (np.arange(n) - (n - 1) / 2.0) * spacing


@dataclass(frozen=True)
class ClipData:
    """One motion ready for the player: keyframes in its side-by-side lane."""

    prefix: str  # bone name prefix, e.g. "b0_"
    title: str
    fps: float
    times: np.ndarray  # (T,) seconds, float32
    quats: np.ndarray  # (T, 22, 4) x, y, z, w, float32
    root: np.ndarray  # (T, 3) root bone position in the scene, float32
    betas: np.ndarray  # (10,)

    @property
    def n_frames(self) -> int:
        return len(self.times)

    @property
    def duration(self) -> float:
        return float(self.times[-1]) if len(self.times) > 1 else 1.0 / self.fps


def _as_motions(motions: Motion | Sequence[Motion]) -> list[Motion]:
    ms = [motions] if isinstance(motions, Motion) else list(motions)
    if not ms:
        raise ValueError("motions must hold at least one Motion")
    for i, m in enumerate(ms):
        if not isinstance(m, Motion):
            raise ValueError(f"motions[{i}] must be a Motion, got {type(m).__name__}")
    return ms


def _default_title(m: Motion, i: int) -> str:
    cap = m.meta.get("caption") if isinstance(m.meta, dict) else None
    if isinstance(cap, (list, tuple)) and cap:
        return str(cap[0])
    if isinstance(cap, str) and cap:
        return cap
    return f"motion {i}"


def prepare_clips(
    motions: Motion | Sequence[Motion], titles: Sequence[str] | None = None, spacing: float = 1.2
) -> list[ClipData]:
    """Validate motions and turn them into keyframes, each shifted to start at its lane (x) and z = 0.

    Raises ValueError naming the bad argument (``motions[i].local_rot`` ..., ``titles``, ``spacing``).
    """
    ms = _as_motions(motions)
    if titles is not None and len(titles) != len(ms):
        raise ValueError(f"titles has {len(titles)} entries for {len(ms)} motions")
    lanes = lane_offsets(len(ms), spacing)
    clips = []
    for i, m in enumerate(ms):
        q, p = bone_tracks(m.local_rot, m.root_pos, name=f"motions[{i}]")
        betas = np.asarray(m.betas, dtype=np.float64)
        if not np.isfinite(betas).all():
            raise ValueError(f"motions[{i}].betas contains NaN/inf")
        root = p - np.array([p[0, 0], 0.0, p[0, 2]]) + np.array([lanes[i], 0.0, 0.0])
        clips.append(
            ClipData(
                prefix=f"b{i}_",
                title=str(titles[i]) if titles is not None else _default_title(m, i),
                fps=float(m.fps),
                times=(np.arange(len(q)) / float(m.fps)).astype(np.float32),
                quats=q.astype(np.float32),
                root=root.astype(np.float32),
                betas=betas,
            )
        )
    return clips


def _view(clips: list[ClipData], follow: bool = False) -> tuple[np.ndarray, float, np.ndarray]:
    """Target point, half extent of the action area and a camera position in front (+Z) of it.

    Without ``follow`` the camera sees the whole area the roots cover; with it (the camera then tracks the
    mean root) it frames the side-by-side bodies at their start.
    """
    pts = np.concatenate([c.root for c in clips])
    lo, hi = pts.min(0), pts.max(0)
    half = float(max(hi[0] - lo[0], hi[2] - lo[2]) / 2.0 + 1.0)
    if follow:
        start = np.stack([c.root[0] for c in clips])
        center = (start.min(0) + start.max(0)) / 2.0
        reach = float(start[:, 0].max() - start[:, 0].min()) / 2.0 + 0.9
    else:
        center = (lo + hi) / 2.0
        reach = half * 1.1
    dist = max(reach, 1.3) / math.tan(math.radians(_FOV / 2.0)) + 0.5
    target = np.array([center[0], 0.85, center[2]])
    eye = target + np.array([0.0, 0.15 * dist + 0.35, dist])
    return target, half, eye


def _look_quaternion(eye: np.ndarray, target: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, z, w) orientation of a camera at ``eye`` looking at ``target`` with +Y up."""
    from motionbook_lib.rotations import matrix_to_quaternion

    z = eye - target
    z = z / np.linalg.norm(z)
    x = np.cross([0.0, 1.0, 0.0], z)
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    wxyz = matrix_to_quaternion(np.stack([x, y, z], axis=1))
    return (float(wxyz[1]), float(wxyz[2]), float(wxyz[3]), float(wxyz[0]))


def _stick_geometry(offsets: np.ndarray) -> list[tuple[int, int, float, tuple[float, float, float, float]]]:
    """For each bone (parent, child): length and the quaternion (x, y, z, w) turning +Y onto it."""
    out = []
    for c in range(1, NUM_JOINTS):
        d = offsets[c].astype(np.float64)
        length = float(np.linalg.norm(d))
        u = d / max(length, 1e-9)
        # quaternion from (0,1,0) to u
        w = 1.0 + u[1]
        if w < 1e-6:
            q = (1.0, 0.0, 0.0, 0.0)
        else:
            v = np.cross([0.0, 1.0, 0.0], u)
            n = math.sqrt(w * w + float(v @ v))
            q = (float(v[0] / n), float(v[1] / n), float(v[2] / n), float(w / n))
        out.append((PARENTS[c], c, length, q))
    return out


# ------------------------------------------------------------------------------------------- pythreejs


class MotionPlayer:
    """A pythreejs player: ``.widget`` (ipywidgets box), ``.renderer``, ``.scene``, ``.action``, ``.clips``.

    Displays itself in a notebook. Playback runs in the browser (three.js keyframes); the speed slider is
    linked client-side; the frame slider and the Play/Pause buttons talk to the kernel.
    """

    def __init__(
        self,
        clips: list[ClipData],
        mode: str = "mesh",
        width: int = 960,
        height: int = 540,
        autoplay: bool = True,
    ) -> None:
        import ipywidgets as w
        import pythreejs as p3

        self.clips = clips
        self.mode = mode
        world = p3.Group(name="world")
        tracks: list[Any] = []
        for i, clip in enumerate(clips):
            body = self._mesh_body(p3, clip, i) if mode == "mesh" else self._stick_body(p3, clip)
            world.add(body)
            for j in range(NUM_JOINTS):
                tracks.append(
                    p3.QuaternionKeyframeTrack(
                        name=f"{clip.prefix}{j}.quaternion", times=clip.times, values=clip.quats[:, j].reshape(-1)
                    )
                )
            tracks.append(
                p3.VectorKeyframeTrack(name=f"{clip.prefix}0.position", times=clip.times, values=clip.root.reshape(-1))
            )
        duration = max(c.duration for c in clips)
        self.clip = p3.AnimationClip(name="motion", tracks=tracks, duration=duration)
        self.mixer = p3.AnimationMixer(world)
        # the action's own widget (play / pause / stop / repeat buttons) stays in the page, hidden: the player's
        # labelled controls drive it, and a second, unlabelled row of buttons only confused
        self.action = p3.AnimationAction(self.mixer, self.clip, world, layout=w.Layout(display="none"))

        target, half, eye = _view(clips)
        size = 2.0 * half + 4.0
        ground = p3.Mesh(
            p3.PlaneBufferGeometry(size, size),
            p3.MeshStandardMaterial(color="#e8e6df", roughness=1.0, metalness=0.0),
            position=(float(target[0]), 0.0, float(target[2])),
            # -90 degrees about X lays the plane flat, as a quaternion (x, y, z, w): pythreejs' browser side
            # lowercases an Euler order ("XYZ" -> "xyz"), which three.js ignores, so `rotation=` left a wall
            quaternion=(-math.sin(math.pi / 4), 0.0, 0.0, math.cos(math.pi / 4)),
            receiveShadow=True,
        )
        grid = p3.GridHelper(
            size=float(math.ceil(size)), divisions=int(math.ceil(size)) * 2,
            colorCenterLine="#999999", colorGrid="#bbbbbb",
            position=(float(target[0]), 0.002, float(target[2])),
        )  # fmt: skip
        sun_cam = p3.OrthographicCamera(-half - 1, half + 1, half + 1, -half - 1, 0.5, 40.0)
        sun = p3.DirectionalLight(
            color="white", intensity=0.75, castShadow=True,
            position=(float(target[0]) + 3.0, 7.0, float(target[2]) + 4.0),
            shadow=p3.DirectionalLightShadow(camera=sun_cam, mapSize=(2048, 2048)),
        )  # fmt: skip
        sun.target = p3.Object3D(position=(float(target[0]), 0.0, float(target[2])))
        scene = p3.Scene(
            children=[world, ground, grid, sun, sun.target, p3.HemisphereLight("#ffffff", "#888866", 0.55)],
            background="#f4f4f0",
        )
        camera = p3.PerspectiveCamera(
            fov=_FOV, aspect=width / height, near=0.05, far=200.0,
            position=tuple(float(x) for x in eye), quaternion=_look_quaternion(eye, target),
        )  # fmt: skip
        controls = p3.OrbitControls(controlling=camera, target=tuple(float(x) for x in target))
        self.renderer = p3.Renderer(
            camera=camera, scene=scene, controls=[controls], width=width, height=height, antialias=True,
            shadowMap=p3.WebGLShadowMap(enabled=True),
        )  # fmt: skip
        self.scene = scene
        self.camera = camera

        fps = max(c.fps for c in clips)
        n_frames = max(c.n_frames for c in clips)
        self.fps = fps
        self.play_button = w.Button(description="Play", icon="play", layout=w.Layout(width="90px"))
        self.pause_button = w.Button(description="Pause", icon="pause", layout=w.Layout(width="90px"))
        self.speed = w.FloatSlider(value=1.0, min=0.1, max=3.0, step=0.05, description="speed")
        self.frame = w.IntSlider(value=0, min=0, max=max(n_frames - 1, 0), description="frame")
        self.play_button.on_click(lambda _b: self.play())
        self.pause_button.on_click(lambda _b: self.pause())
        w.jslink((self.speed, "value"), (self.action, "timeScale"))
        self.frame.observe(self._seek, names="value")
        cols = [
            w.HTML(f"<div style='text-align:center;font-weight:600'>{html.escape(c.title)}</div>",
                   layout=w.Layout(flex="1 1 0"))
            for c in clips
        ]  # fmt: skip
        self.captions = w.HBox(cols, layout=w.Layout(width=f"{width}px"))
        self.widget = w.VBox(
            [
                self.captions,
                self.renderer,
                w.HBox([self.play_button, self.pause_button, self.speed, self.frame]),
                self.action,
            ]
        )
        if autoplay:
            self.play()

    @staticmethod
    def _mesh_body(p3: Any, clip: ClipData, i: int) -> Any:
        mesh_data: BodyMesh = body_mesh(clip.betas)
        v = mesh_data.vertices.astype(np.float32)
        n_v = len(v)
        geom = p3.BufferGeometry(
            attributes={
                "position": p3.BufferAttribute(array=v, normalized=False),
                "normal": p3.BufferAttribute(array=vertex_normals(v, mesh_data.faces), normalized=False),
                "skinIndex": p3.BufferAttribute(array=mesh_data.skin_index, normalized=False),
                "skinWeight": p3.BufferAttribute(array=mesh_data.skin_weight, normalized=False),
                "index": p3.BufferAttribute(
                    array=mesh_data.faces.reshape(-1).astype(np.uint16 if n_v < 65536 else np.uint32),
                    normalized=False,
                ),
            }
        )
        material = p3.MeshStandardMaterial(
            color=BODY_COLORS[i % len(BODY_COLORS)], roughness=0.75, metalness=0.0, skinning=True
        )
        offsets = mesh_data.bone_offsets()
        bones = [
            p3.Bone(name=f"{clip.prefix}{j}", position=tuple(float(x) for x in offsets[j]))
            for j in range(mesh_data.n_joints)
        ]
        for j in range(mesh_data.n_joints - 1, 0, -1):
            bones[mesh_data.parents[j]].add(bones[j])
        mesh = p3.SkinnedMesh(geom, material, castShadow=True, frustumCulled=False)
        mesh.add(bones[0])
        mesh.skeleton = p3.Skeleton(bones=bones)
        return mesh

    @staticmethod
    def _stick_body(p3: Any, clip: ClipData) -> Any:
        offsets = body_mesh(clip.betas).bone_offsets()[:NUM_JOINTS]
        mats = {
            part: p3.MeshStandardMaterial(color=color, roughness=0.6, metalness=0.0)
            for part, color in PART_COLORS.items()
        }
        ball = p3.SphereBufferGeometry(0.035, 12, 8)
        rod = p3.CylinderBufferGeometry(0.018, 0.018, 1.0, 10)
        nodes = [
            p3.Object3D(name=f"{clip.prefix}{j}", position=tuple(float(x) for x in offsets[j]))
            for j in range(NUM_JOINTS)
        ]
        for j in range(NUM_JOINTS):
            nodes[j].add(p3.Mesh(ball, mats[_JOINT_PART[j]], castShadow=True))
        for parent, child, length, q in _stick_geometry(offsets):
            d = offsets[child]
            nodes[parent].add(
                p3.Mesh(
                    rod,
                    mats[_JOINT_PART[child]],
                    castShadow=True,
                    position=tuple(float(x) / 2.0 for x in d),
                    quaternion=q,
                    scale=(1.0, length, 1.0),
                )  # fmt: skip
            )
        for j in range(NUM_JOINTS - 1, 0, -1):
            nodes[PARENTS[j]].add(nodes[j])
        group = p3.Group(name=f"{clip.prefix}body")
        group.add(nodes[0])
        return group

    def play(self) -> None:
        """Start (or resume) playback in the browser."""
        self.action.paused = False
        self.action.play()

    def pause(self) -> None:
        """Pause playback."""
        self.action.paused = True

    def _seek(self, change: dict) -> None:
        self.action.paused = True
        self.action.time = float(change["new"]) / self.fps

    def __repr__(self) -> str:
        titles = ", ".join(repr(c.title[:40]) for c in self.clips)
        return f"MotionPlayer(mode={self.mode!r}, motions=[{titles}])"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        data = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(data, dict):  # the widget's own text/plain lists the whole scene graph
            data["text/plain"] = repr(self)
        return data


def motion_player(
    motions: Motion | Sequence[Motion],
    titles: Sequence[str] | None = None,
    mode: str = "mesh",
    backend: str = "pythreejs",
    spacing: float = 1.2,
    width: int = 960,
    height: int = 540,
    autoplay: bool = True,
) -> Any:
    """Play one motion, or several side by side in sync (e.g. ground truth, reconstruction, generation).

    Args:
        motions: a :class:`Motion` or a list of them; shorter clips hold their last frame.
        titles: one caption per motion (default: the motion's first caption), shown above it.
        mode: ``"mesh"`` (skinned wooden mannequin) or ``"sticks"`` (bones coloured by body part).
        backend: ``"pythreejs"`` (a :class:`MotionPlayer`) or ``"plotly"`` (an animated stick-figure
            ``go.Figure`` from :func:`skeleton_figure`; ``mode`` is ignored there).
        spacing: metres between side-by-side motions along X.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    clips = prepare_clips(motions, titles, spacing)
    if backend == "plotly":
        ms = _as_motions(motions)
        joints = [m.joints() for m in ms]
        return skeleton_figure(
            joints, titles=[c.title for c in clips], fps=clips[0].fps, spacing=spacing, height=height
        )
    return MotionPlayer(clips, mode=mode, width=width, height=height, autoplay=autoplay)


# ------------------------------------------------------------------------------------------- offline HTML


def three_js_source() -> str:
    """three.js r97 as shipped in pythreejs' static bundle (the standalone UMD build)."""
    src = (files("pythreejs") / "static" / "three.js").read_text(encoding="utf-8")
    if "</script" in src.lower():  # pragma: no cover - would break inlining
        raise RuntimeError("three.js source contains '</script'; cannot inline it")
    return src


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def scene_payload(clips: list[ClipData], mode: str, width: int, height: int) -> dict[str, Any]:
    """The JSON data the standalone page builds its scene from (arrays base64, little-endian)."""
    meshes: list[dict[str, Any]] = []
    mesh_key: dict[tuple[float, ...], int] = {}
    bodies = []
    for i, clip in enumerate(clips):
        key = tuple(float(x) for x in clip.betas)
        if key not in mesh_key:
            md = body_mesh(clip.betas)
            n_v = len(md.vertices)
            entry: dict[str, Any] = {
                "parents": list(md.parents),
                "offsets": md.bone_offsets().astype(np.float32).reshape(-1).tolist(),
            }
            if mode == "mesh":
                entry.update(
                    position=_b64(md.vertices.astype("<f4")),
                    index=_b64(md.faces.astype("<u2" if n_v < 65536 else "<u4")),
                    index32=n_v >= 65536,
                    skinIndex=_b64(md.skin_index.astype("<u2")),
                    skinWeight=_b64(md.skin_weight.astype("<f4")),
                )
            mesh_key[key] = len(meshes)
            meshes.append(entry)
        bodies.append(
            {
                "prefix": clip.prefix,
                "title": clip.title,
                "mesh": mesh_key[key],
                "color": BODY_COLORS[i % len(BODY_COLORS)],
                "fps": clip.fps,
                "frames": clip.n_frames,
                "times": _b64(clip.times.astype("<f4")),
                "quats": _b64(np.transpose(clip.quats, (1, 0, 2)).astype("<f4")),  # (22, T, 4)
                "root": _b64(clip.root.astype("<f4")),
            }
        )
    target, half, eye = _view(clips, follow=True)
    ground = _view(clips)[0]
    part_colors = [PART_COLORS[_JOINT_PART[j]] for j in range(NUM_JOINTS)]
    return {
        "mode": mode,
        "width": width,
        "height": height,
        "fov": _FOV,
        "target": target.tolist(),
        "eye": eye.tolist(),
        "half": half,
        "ground": [float(ground[0]), 0.0, float(ground[2])],
        "duration": max(c.duration for c in clips),
        "fps": max(c.fps for c in clips),
        "frames": max(c.n_frames for c in clips),
        "meshes": meshes,
        "bodies": bodies,
        "jointColors": part_colors,
        "nJoints": NUM_JOINTS,
    }


_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{margin:0;font-family:sans-serif;background:#fff}
#mb-captions{display:flex;width:__W__px;height:30px;align-items:center}
#mb-captions div{flex:1 1 0;text-align:center;font-weight:600;font-size:14px;overflow:hidden;white-space:nowrap;
text-overflow:ellipsis}
#mb-view canvas{display:block}
#mb-controls{display:flex;gap:10px;align-items:center;height:40px;width:__W__px;font-size:13px}
#mb-frame{flex:1}
</style></head>
<body>
<div id="mb-captions">__CAPTIONS__</div>
<div id="mb-view"></div>
<div id="mb-controls"><button id="mb-play">Pause</button>
<label>speed <select id="mb-speed"><option>0.25</option><option>0.5</option><option selected>1</option>
<option>1.5</option><option>2</option></select></label>
<input id="mb-frame" type="range" min="0" max="0" value="0"><span id="mb-flabel">0</span>
<label><input id="mb-follow" type="checkbox" checked>follow</label></div>
<script>__THREE__</script>
<script id="mb-data" type="application/json">__DATA__</script>
<script>__PLAYER__</script>
</body></html>
"""

_PLAYER_JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("mb-data").textContent);
  function dec(s, T) {
    var b = atob(s), u = new Uint8Array(b.length);
    for (var i = 0; i < b.length; i++) u[i] = b.charCodeAt(i);
    return new T(u.buffer);
  }
  var W = D.width, H = D.height;
  var renderer = new THREE.WebGLRenderer({antialias: true, preserveDrawingBuffer: true});
  renderer.setPixelRatio(1);
  renderer.setSize(W, H);
  renderer.setClearColor(0xf4f4f0);
  renderer.shadowMap.enabled = true;
  renderer.shadowMap.type = THREE.PCFSoftShadowMap;
  document.getElementById("mb-view").appendChild(renderer.domElement);
  var scene = new THREE.Scene();
  var T0 = new THREE.Vector3().fromArray(D.ground), half = D.half, size = 2 * half + 4;
  scene.add(new THREE.HemisphereLight(0xffffff, 0x888866, 0.55));
  var sun = new THREE.DirectionalLight(0xffffff, 0.75);
  sun.position.set(T0.x + 3, 7, T0.z + 4);
  sun.target.position.set(T0.x, 0, T0.z);
  sun.castShadow = true;
  var sc = sun.shadow.camera;
  sc.left = -half - 1; sc.right = half + 1; sc.top = half + 1; sc.bottom = -half - 1; sc.near = 0.5; sc.far = 40;
  sun.shadow.mapSize.set(2048, 2048);
  scene.add(sun); scene.add(sun.target);
  var ground = new THREE.Mesh(new THREE.PlaneBufferGeometry(size, size),
    new THREE.MeshStandardMaterial({color: 0xe8e6df, roughness: 1, metalness: 0}));
  ground.rotation.x = -Math.PI / 2; ground.position.set(T0.x, 0, T0.z); ground.receiveShadow = true;
  scene.add(ground);
  // a 0.5 m grid of short segments (long lines crossing the camera plane get dropped by some GL stacks)
  var gh = Math.ceil(size) / 2, gp = [];
  for (var gi = -gh; gi <= gh + 1e-6; gi += 0.5)
    for (var gs = -gh; gs < gh - 1e-6; gs += 0.5) gp.push(gi, 0, gs, gi, 0, gs + 0.5, gs, 0, gi, gs + 0.5, 0, gi);
  var gg = new THREE.BufferGeometry();
  gg.addAttribute("position", new THREE.Float32BufferAttribute(gp, 3));
  var grid = new THREE.LineSegments(gg, new THREE.LineBasicMaterial({color: 0xb4b4b4}));
  grid.position.set(T0.x, 0.005, T0.z);
  scene.add(grid);

  var world = new THREE.Group();
  scene.add(world);
  var geoms = D.meshes.map(function (m) {
    if (D.mode !== "mesh") return null;
    var g = new THREE.BufferGeometry();
    g.setIndex(new THREE.BufferAttribute(dec(m.index, m.index32 ? Uint32Array : Uint16Array), 1));
    g.addAttribute("position", new THREE.BufferAttribute(dec(m.position, Float32Array), 3));
    g.addAttribute("skinIndex", new THREE.BufferAttribute(dec(m.skinIndex, Uint16Array), 4));
    g.addAttribute("skinWeight", new THREE.BufferAttribute(dec(m.skinWeight, Float32Array), 4));
    g.computeVertexNormals();
    return g;
  });
  function makeNodes(prefix, offsets, parents, n, Ctor) {
    var nodes = [];
    for (var j = 0; j < n; j++) {
      var b = new Ctor();
      b.name = prefix + j;
      b.position.fromArray(offsets, 3 * j);
      nodes.push(b);
      if (parents[j] >= 0) nodes[parents[j]].add(b);
    }
    return nodes;
  }
  var ball = new THREE.SphereBufferGeometry(0.035, 12, 8), rod = new THREE.CylinderBufferGeometry(0.018, 0.018, 1, 10);
  var partMats = {};
  function partMat(c) {
    if (!partMats[c]) partMats[c] = new THREE.MeshStandardMaterial({color: c, roughness: 0.6, metalness: 0});
    return partMats[c];
  }
  var roots = [], tracks = [];
  D.bodies.forEach(function (b) {
    var m = D.meshes[b.mesh], nodes;
    if (D.mode === "mesh") {
      nodes = makeNodes(b.prefix, m.offsets, m.parents, m.parents.length, THREE.Bone);
      var mat = new THREE.MeshStandardMaterial({color: b.color, roughness: 0.75, metalness: 0, skinning: true});
      var mesh = new THREE.SkinnedMesh(geoms[b.mesh], mat);
      mesh.add(nodes[0]);
      mesh.updateMatrixWorld(true);
      mesh.bind(new THREE.Skeleton(nodes));
      mesh.castShadow = true; mesh.frustumCulled = false;
      world.add(mesh);
    } else {
      nodes = makeNodes(b.prefix, m.offsets, m.parents, D.nJoints, THREE.Object3D);
      var up = new THREE.Vector3(0, 1, 0);
      for (var j = 0; j < D.nJoints; j++) {
        var s = new THREE.Mesh(ball, partMat(D.jointColors[j])); s.castShadow = true; nodes[j].add(s);
        if (j > 0) {
          var d = new THREE.Vector3().fromArray(m.offsets, 3 * j), len = d.length();
          var r = new THREE.Mesh(rod, partMat(D.jointColors[j]));
          r.scale.set(1, len, 1); r.position.copy(d).multiplyScalar(0.5);
          r.quaternion.setFromUnitVectors(up, d.clone().normalize()); r.castShadow = true;
          nodes[m.parents[j]].add(r);
        }
      }
      world.add(nodes[0]);
    }
    roots.push(nodes[0]);
    var times = dec(b.times, Float32Array), q = dec(b.quats, Float32Array), T = b.frames;
    for (var k = 0; k < D.nJoints; k++)
      tracks.push(new THREE.QuaternionKeyframeTrack(b.prefix + k + ".quaternion", times,
        q.slice(k * T * 4, (k + 1) * T * 4)));
    tracks.push(new THREE.VectorKeyframeTrack(b.prefix + "0.position", times, dec(b.root, Float32Array)));
  });
  var clip = new THREE.AnimationClip("motion", D.duration, tracks);
  var mixer = new THREE.AnimationMixer(world);
  var action = mixer.clipAction(clip);
  action.play();

  var camera = new THREE.PerspectiveCamera(D.fov, W / H, 0.1, 200);
  var target = new THREE.Vector3().fromArray(D.target), eye = new THREE.Vector3().fromArray(D.eye);
  var sph = new THREE.Spherical().setFromVector3(eye.clone().sub(target)), userR = sph.radius;
  var tanHalf = Math.tan(D.fov * Math.PI / 360);
  function place() {
    camera.position.setFromSpherical(sph).add(target);
    camera.lookAt(target);
  }
  place();
  var el = renderer.domElement, drag = null;
  el.addEventListener("mousedown", function (e) { drag = [e.clientX, e.clientY]; });
  window.addEventListener("mouseup", function () { drag = null; });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    sph.theta -= (e.clientX - drag[0]) * 0.01;
    sph.phi = Math.min(Math.max(sph.phi - (e.clientY - drag[1]) * 0.01, 0.1), Math.PI / 2 - 0.02);
    drag = [e.clientX, e.clientY];
  });
  el.addEventListener("wheel", function (e) {
    e.preventDefault();
    userR = Math.min(Math.max(userR * (e.deltaY > 0 ? 1.1 : 0.9), 1), 100);
  });

  var playing = true, speed = 1, btn = document.getElementById("mb-play");
  var slider = document.getElementById("mb-frame"), flabel = document.getElementById("mb-flabel");
  var follow = document.getElementById("mb-follow");
  slider.max = String(Math.max(D.frames - 1, 0));
  function setPlaying(p) { playing = p; btn.textContent = p ? "Pause" : "Play"; }
  btn.addEventListener("click", function () { setPlaying(!playing); });
  document.getElementById("mb-speed").addEventListener("change", function (e) { speed = parseFloat(e.target.value); });
  function seek(t) { action.time = t; mixer.update(0); }
  slider.addEventListener("input", function () { setPlaying(false); seek(parseInt(slider.value, 10) / D.fps); });
  var m = /[#&]t=([0-9.]+)/.exec(window.location.hash);
  if (m) { setPlaying(false); seek(parseFloat(m[1])); slider.value = String(Math.round(action.time * D.fps)); }
  var clock = new THREE.Clock(), wp = new THREE.Vector3(), mean = new THREE.Vector3();
  window.mbPlayer = {mixer: mixer, action: action, renderer: renderer, frames: 0};
  function tick() {
    requestAnimationFrame(tick);
    // real time however slowly the page renders (frames are skipped); a stall over 1 s (a hidden tab) is not
    // played back as a jump
    var dt = Math.min(clock.getDelta(), 1.0);
    if (playing) mixer.update(dt * speed);
    var f = Math.min(Math.round(action.time * D.fps), D.frames - 1);
    if (playing) slider.value = String(f);
    flabel.textContent = f + " / " + (D.frames - 1) + "  (" + action.time.toFixed(2) + " s)";
    if (follow.checked) {
      world.updateMatrixWorld(true);
      mean.set(0, 0, 0);
      roots.forEach(function (r) { mean.add(r.getWorldPosition(wp)); });
      mean.multiplyScalar(1 / roots.length);
      target.x += (mean.x - target.x) * 0.1;
      target.z += (mean.z - target.z) * 0.1;
      var spread = 0;  // keep every body in view when their paths part
      roots.forEach(function (r) {
        r.getWorldPosition(wp);
        spread = Math.max(spread, Math.hypot(wp.x - mean.x, wp.z - mean.z));
      });
      sph.radius += (Math.max(userR, (spread + 0.9) / tanHalf + 0.5) - sph.radius) * 0.1;
    } else {
      sph.radius = userR;
    }
    place();
    renderer.render(scene, camera);
    window.mbPlayer.frames += 1;
  }
  tick();
})();
"""


def export_html(
    motions: Motion | Sequence[Motion],
    path: str | Path,
    titles: Sequence[str] | None = None,
    mode: str = "mesh",
    spacing: float = 1.2,
    width: int = 960,
    height: int = 540,
    title: str = "motion preview",
) -> Path:
    """Write one standalone HTML page that plays the motions offline (three.js r97 inlined, no URLs).

    The page autoplays; it has play/pause, speed, a frame slider and a follow-the-root camera; the mouse
    orbits (drag) and zooms (wheel). ``page.html#t=1.5`` opens paused at 1.5 s. Returns the path written.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    clips = prepare_clips(motions, titles, spacing)
    data = json.dumps(scene_payload(clips, mode, int(width), int(height)), separators=(",", ":"))
    captions = "".join(f"<div>{html.escape(c.title)}</div>" for c in clips)
    parts = {
        "TITLE": html.escape(title),
        "W": str(int(width)),
        "CAPTIONS": captions,
        "DATA": data.replace("</", "<\\/"),
        "PLAYER": _PLAYER_JS,
        "THREE": three_js_source(),
    }
    # one pass, so text put in (captions, data, the library) is never searched for placeholders
    page = re.sub(r"__(TITLE|W|CAPTIONS|DATA|PLAYER|THREE)__", lambda mt: parts[mt.group(1)], _PAGE)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
