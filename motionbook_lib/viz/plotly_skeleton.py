"""Animated plotly stick figures of the 22-joint skeleton, and D135 heatmaps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from motionbook_lib.skeleton import DEFAULT_FPS, KINEMATIC_CHAINS, NUM_JOINTS

#: One colour per HumanML3D chain: right leg, left leg, spine, right arm, left arm.
CHAIN_COLORS = ("#d62728", "#1f77b4", "#444444", "#ff7f0e", "#2ca02c")
CHAIN_NAMES = ("right leg", "left leg", "spine", "right arm", "left arm")


def _as_joints(joints: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    j = joints.detach().cpu().numpy() if isinstance(joints, torch.Tensor) else np.asarray(joints)
    if j.ndim != 3 or j.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"{name} must have shape (T, 22, 3), got {j.shape}")
    if not np.isfinite(j).all():
        raise ValueError(f"{name} contains NaN/inf")
    return j.astype(np.float32)


def _chain_traces(j: np.ndarray, dx: float, show_legend: bool) -> list[go.Scatter3d]:
    traces = []
    for chain, color, label in zip(KINEMATIC_CHAINS, CHAIN_COLORS, CHAIN_NAMES, strict=True):
        pts = j[list(chain)]
        traces.append(
            go.Scatter3d(
                x=pts[:, 0] + dx, y=pts[:, 2], z=pts[:, 1],
                mode="lines+markers", line=dict(color=color, width=6), marker=dict(size=3, color=color),
                name=label, legendgroup=label, showlegend=show_legend, hoverinfo="skip",
            )  # fmt: skip
        )
    return traces


def skeleton_figure(
    joints: np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor],
    titles: Sequence[str] | None = None,
    fps: float = DEFAULT_FPS,
    stride: int = 2,
    spacing: float = 1.5,
    title: str | None = None,
    height: int = 520,
) -> go.Figure:
    """An animated 3D stick figure, or several side by side in sync.

    Args:
        joints: (T, 22, 3) joints in metres, Y up, or a list of them (played in sync;
            shorter clips hold their last frame).
        titles: one label per motion, drawn above it.
        fps: frame rate of the joints; ``stride`` keeps every n-th frame for a lighter figure.
        spacing: metres between side-by-side motions along X.
    Plotly's 3D axes are drawn with the motion's Y as plotly's vertical z.
    """
    clips = [joints] if isinstance(joints, np.ndarray | torch.Tensor) else list(joints)
    if not clips:
        raise ValueError("joints must hold at least one (T, 22, 3) motion")
    arrays = [_as_joints(c, f"joints[{i}]") for i, c in enumerate(clips)]
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    T = max(a.shape[0] for a in arrays)
    frames_idx = list(range(0, T, stride))
    offsets = [i * spacing for i in range(len(arrays))]

    def frame_data(t: int) -> list[go.Scatter3d]:
        data = []
        for k, (a, dx) in enumerate(zip(arrays, offsets, strict=True)):
            data += _chain_traces(a[min(t, a.shape[0] - 1)], dx, show_legend=(k == 0))
        return data

    allj = np.concatenate([a.reshape(-1, 3) for a in arrays])
    lo, hi = allj.min(0), allj.max(0)
    lo[0] -= 0.3
    hi[0] += offsets[-1] + 0.3
    center = (lo + hi) / 2
    half = max((hi - lo).max() / 2, 0.9)
    rng = {ax: [center[i] - half, center[i] + half] for i, ax in enumerate("xyz")}
    # ground grid at y = 0 (plotly z = 0)
    gx = np.linspace(rng["x"][0], rng["x"][1], 2)
    gz = np.linspace(rng["z"][0], rng["z"][1], 2)
    ground = go.Surface(
        x=gx, y=gz, z=np.zeros((2, 2)), showscale=False, opacity=0.25,
        colorscale=[[0, "#bbbbbb"], [1, "#bbbbbb"]], hoverinfo="skip",
    )  # fmt: skip
    fig = go.Figure(data=[ground, *frame_data(0)])
    fig.frames = [go.Frame(data=[ground, *frame_data(t)], name=str(t)) for t in frames_idx]
    dt_ms = 1000.0 * stride / fps
    annotations = []
    if titles is not None:
        if len(titles) != len(arrays):
            raise ValueError(f"titles has {len(titles)} entries for {len(arrays)} motions")
        for label, a, dx in zip(titles, arrays, offsets, strict=True):
            top = a[0]
            annotations.append(
                dict(x=float(top[:, 0].mean() + dx), y=float(top[:, 2].mean()), z=float(a[..., 1].max() + 0.25),
                     text=label, showarrow=False, font=dict(size=13))  # fmt: skip
            )
    fig.update_layout(
        title=title,
        height=height,
        margin=dict(l=0, r=0, t=40 if title else 10, b=0),
        scene=dict(
            xaxis=dict(range=rng["x"], title="x (m)"),
            yaxis=dict(range=[center[2] - half, center[2] + half], title="z (m)"),
            zaxis=dict(range=[min(0.0, lo[1]) - 0.05, min(0.0, lo[1]) - 0.05 + 2 * half], title="y (m, up)"),
            aspectmode="cube",
            annotations=annotations,
            camera=dict(eye=dict(x=0.9, y=1.7, z=0.6)),  # in front of a body facing +Z
        ),
        updatemenus=[
            dict(
                type="buttons", showactive=False, x=0.05, y=0.05,
                buttons=[
                    dict(label="Play", method="animate",
                         args=[None, dict(frame=dict(duration=dt_ms, redraw=True), fromcurrent=True)]),
                    dict(label="Pause", method="animate",
                         args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")]),
                ],
            )  # fmt: skip
        ],
        sliders=[
            dict(
                steps=[
                    dict(method="animate", label=f"{t / fps:.1f}s",
                         args=[[str(t)], dict(mode="immediate", frame=dict(duration=0, redraw=True))])
                    for t in frames_idx
                ],  # fmt: skip
                currentvalue=dict(prefix="t = "),
                x=0.15, len=0.8,
            )  # fmt: skip
        ],
    )
    return fig


def feature_heatmap(
    feat: np.ndarray | torch.Tensor, channel_names: Sequence[str] | None = None, title: str | None = None
) -> go.Figure:
    """A (T, D) feature as an image: time across, channels down."""
    f = feat.detach().cpu().numpy() if isinstance(feat, torch.Tensor) else np.asarray(feat)
    if f.ndim != 2:
        raise ValueError(f"feat must have shape (T, D), got {f.shape}")
    names = list(channel_names) if channel_names is not None else [str(i) for i in range(f.shape[1])]
    if len(names) != f.shape[1]:
        raise ValueError(f"channel_names has {len(names)} entries for {f.shape[1]} channels")
    fig = go.Figure(go.Heatmap(z=f.T, y=names, colorscale="RdBu", zmid=0.0))
    fig.update_layout(title=title, xaxis_title="frame", yaxis=dict(autorange="reversed"), height=600)
    return fig
