"""The exported offline HTML plays in a real browser: headless Chromium, WebGL through SwiftShader.

Locally the test skips when Chromium is missing (``apt-get install chromium`` enables it); with
``CI=true`` a missing Chromium is a failure. ``MOTIONBOOK_CHROMIUM`` may point at another binary.
"""

from __future__ import annotations

import math
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from motionbook_lib.motion import Motion
from motionbook_lib.rotations import axis_angle_to_matrix
from motionbook_lib.skeleton import NUM_JOINTS
from motionbook_lib.viz import export_html

WIDTH, HEIGHT = 640, 400
CAPTION_H, CONTROLS_H = 30, 40  # page layout of export_html: captions above, controls below the canvas
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--hide-scrollbars",
    "--disable-extensions", "--mute-audio",
)  # fmt: skip


def _chromium() -> str:
    override = os.environ.get("MOTIONBOOK_CHROMIUM")
    candidates = [override] if override else [shutil.which("chromium"), shutil.which("chromium-browser"),
                                              "/usr/bin/chromium"]  # fmt: skip
    exe = next((p for p in candidates if p and os.path.isfile(p) and os.access(p, os.X_OK)), None)
    if exe:
        return exe
    msg = "headless Chromium not found; install it with `apt-get install chromium` (or set MOTIONBOOK_CHROMIUM)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {msg}")
    pytest.skip(msg)


def read_png(path: Path) -> np.ndarray:
    """Decode an 8-bit, non-interlaced RGB/RGBA PNG into (H, W, C) uint8 with numpy and zlib."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    assert header is not None
    w, h, depth, ctype, _, _, interlace = header
    assert depth == 8 and ctype in (2, 6) and interlace == 0, f"unsupported PNG format {header}"
    c = 3 if ctype == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(h, 1 + w * c)
    out = np.zeros((h, w * c), dtype=np.int64)
    prev = np.zeros(w * c, dtype=np.int64)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        if f == 0:
            cur = line
        elif f == 1:  # Sub: a running sum per channel
            cur = np.cumsum(line.reshape(w, c), axis=0).reshape(-1) & 255
        elif f == 2:  # Up
            cur = (line + prev) & 255
        else:  # Average / Paeth depend on the byte just decoded: go byte by byte
            cur = np.zeros_like(line)
            for i in range(w * c):
                a = cur[i - c] if i >= c else 0
                b = prev[i]
                if f == 3:
                    cur[i] = (line[i] + (a + b) // 2) & 255
                else:
                    cc = prev[i - c] if i >= c else 0
                    p = a + b - cc
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else cc)
                    cur[i] = (line[i] + pred) & 255
        out[y] = cur
        prev = cur
    return out.reshape(h, w, c)[..., :3].astype(np.uint8)


def _screenshot(exe: str, url: str, png: Path, budget_ms: int, profile: Path) -> np.ndarray:
    cmd = [
        exe, *FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT + CAPTION_H + CONTROLS_H}",
        f"--virtual-time-budget={budget_ms}", f"--screenshot={png}", url,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert png.is_file(), f"chromium wrote no screenshot (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
    return read_png(png)


def _waving(T: int = 60, fps: float = 20.0) -> Motion:
    """Arms swing widely and the legs step: large visible changes over a fraction of a second."""
    t = torch.arange(T, dtype=torch.float32) / fps
    aa = torch.zeros(T, NUM_JOINTS, 3)
    s = torch.sin(2 * math.pi * 1.0 * t)
    aa[:, 16, 2] = -1.2 * s - 0.3  # left shoulder about z
    aa[:, 17, 2] = 1.2 * s + 0.3
    aa[:, 18, 1] = 1.0 * s
    aa[:, 1, 0] = 0.6 * s  # hips
    aa[:, 2, 0] = -0.6 * s
    aa[:, 0, 1] = 0.8 * s  # the whole body turns
    root = torch.stack([0.3 * s, torch.full((T,), 0.95), 0.2 * t], -1)
    return Motion(axis_angle_to_matrix(aa), root, meta={"caption": ["a person swings the arms and turns"]})


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> dict[str, np.ndarray]:
    exe = _chromium()
    d = tmp_path_factory.mktemp("viewer")
    page = export_html([_waving()], d / "preview.html", width=WIDTH, height=HEIGHT)
    url = page.resolve().as_uri()
    early = _screenshot(exe, url, d / "early.png", 500, d / "profile-a")
    late = _screenshot(exe, url, d / "late.png", 1500, d / "profile-b")
    if _changed(early, late) <= 0.001:  # landed on the same clip time by chance: look once more, later
        late = _screenshot(exe, url, d / "late.png", 3000, d / "profile-c")
    if os.environ.get("MOTIONBOOK_KEEP_SCREENSHOTS"):
        keep = Path(os.environ["MOTIONBOOK_KEEP_SCREENSHOTS"])
        keep.mkdir(parents=True, exist_ok=True)
        for name in ("early.png", "late.png"):
            shutil.copy(d / name, keep / name)
    return {"early": early, "late": late}


def _canvas(img: np.ndarray) -> np.ndarray:
    return img[CAPTION_H : CAPTION_H + HEIGHT, :WIDTH].astype(np.int64)


def test_canvas_shows_a_body(shots: dict[str, np.ndarray]) -> None:
    for name, img in shots.items():
        c = _canvas(img)
        assert c.shape == (HEIGHT, WIDTH, 3), f"{name}: screenshot {img.shape} smaller than the page"
        assert c.std() > 5.0, f"{name}: the canvas is blank (WebGL did not draw)"
        colours = np.unique(c.reshape(-1, 3) // 8, axis=0)
        assert len(colours) > 30, f"{name}: only {len(colours)} colours in the canvas"
        # wooden body pixels: warm tan, unlike the grey ground, grid and sky
        wood = (c[..., 0] - c[..., 2] > 40) & (c[..., 0] > 110)
        assert wood.sum() > 400, f"{name}: no mannequin drawn ({wood.sum()} wood-coloured pixels)"


def _changed(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of canvas pixels that differ clearly between two screenshots."""
    return float((np.abs(_canvas(a) - _canvas(b)).sum(-1) > 30).mean())


def test_motion_plays(shots: dict[str, np.ndarray]) -> None:
    changed = _changed(shots["early"], shots["late"])
    assert changed > 0.001, f"the two screenshots are (nearly) identical: {changed:.5f} of the pixels changed"
