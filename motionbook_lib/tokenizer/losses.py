"""Training losses and codebook statistics of the motion tokenizers.

The total loss is a weighted sum (weights in :class:`~motionbook_lib.tokenizer.TokenizerConfig`):

- ``recon``: smooth L1 between reconstructed and target normalized features;
- ``joints``: the kinematic "perceptual" term: both feature sequences are de-normalized, turned into
  joints by forward kinematics (:func:`~motionbook_lib.features.d135_to_joints`, neutral body) and
  compared by the L1 distance of pelvis-relative joint positions, in metres;
- ``velocity``: smooth L1 between frame-to-frame differences of the features;
- ``root_path``: the global trajectory term: both feature sequences' root XZ velocities are integrated
  (turned by each frame's decoded heading, :func:`~motionbook_lib.features.decode_d135`) from the same
  start, and the L1 distance of the two root paths is averaged over the window, in metres. A constant
  velocity error of v m/frame costs about v * T / 2 over a T-frame window, so the term sees the root
  velocity and heading that ``recon`` (2 + 6 of 135 channels) and the pelvis-relative ``joints`` barely see;
- ``global_joints``: L1 of the joint positions after FK with that integrated root (not pelvis-relative), in
  metres: the root path, the heading and the body together, as a viewer shows the motion;
- ``foot_contact``: L1 difference (m/frame) of the horizontal steps of the reconstruction's and the
  target's ankles and toes on the frames where the target's are planted (target speed under
  ``CONTACT_SPEED`` and height within ``CONTACT_HEIGHT`` of the window's lowest): the foot skating the
  reconstruction adds;
- ``commit``: the quantizer's commitment loss (encoder output to its code);
- ``entropy``: LFQ's entropy penalty, per-token entropy minus ``diversity_gamma`` x batch entropy
  (negative is good: confident tokens, a well-spread codebook).

Padded frames (clips shorter than the training window) are masked out of every term.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from motionbook_lib.features.d135 import d135_to_joints
from motionbook_lib.tokenizer.config import TokenizerConfig

__all__ = [
    "codebook_usage",
    "features_to_global_joints",
    "features_to_joints",
    "foot_contact_mask",
    "masked_mean",
    "mpjpe_mm",
    "root_path_error_m",
    "tokenizer_losses",
]

#: ankles and toes (SMPL 7, 10, 8, 11): the joints of the foot-contact term.
FOOT_JOINTS: tuple[int, ...] = (7, 10, 8, 11)
#: a target foot joint is planted when it moves slower than this (m/frame; 0.01 = 0.2 m/s at 20 fps) ...
CONTACT_SPEED = 0.01
#: ... and is within this height (m) of its lowest point in the window.
CONTACT_HEIGHT = 0.05


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of x (B, T, ...) over the frames where mask (B, T) is True (and all trailing dims)."""
    if mask is None:
        return x.mean()
    m = mask.to(x.dtype).reshape(*mask.shape, *([1] * (x.dim() - mask.dim())))  # (B, T, 1, ...)
    per_frame = x[0, 0].numel()
    return (x * m).sum() / (m.sum() * per_frame).clamp_min(1.0)


def features_to_global_joints(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Normalized features (B, T, 135) -> joints (B, T, 22, 3) in metres (float32 FK, neutral body), with
    the root integrated from the XZ origin at the first frame: the global motion of the window."""
    with torch.autocast(x.device.type, enabled=False):
        raw = x.float() * std + mean  # (B, T, 135)
        return d135_to_joints(raw)  # (B, T, 22, 3)


def features_to_joints(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Normalized features (B, T, 135) -> pelvis-relative joints (B, T, 22, 3) in metres (float32 FK)."""
    joints = features_to_global_joints(x, mean, std)
    return joints - joints[..., :1, :]


def root_path_error_m(
    rec_joints: torch.Tensor, gt_joints: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean XZ (floor-plane) distance in metres between two root paths over valid frames.

    ``rec_joints``, ``gt_joints``: global joints (B, T, 22, 3) from :func:`features_to_global_joints` (both
    integrated from the same start) or root positions (B, T, 3).
    """
    rec = rec_joints[..., 0, :] if rec_joints.dim() == 4 else rec_joints
    gt = gt_joints[..., 0, :] if gt_joints.dim() == 4 else gt_joints
    return masked_mean((rec[..., [0, 2]] - gt[..., [0, 2]]).norm(dim=-1), mask)


def foot_contact_mask(gt_joints: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """(B, T-1, 4) True where the target's ankle / toe (:data:`FOOT_JOINTS`) is planted from frame t to t+1.

    Planted: horizontal speed below :data:`CONTACT_SPEED` m/frame and height within :data:`CONTACT_HEIGHT`
    of the joint's lowest valid height in the window; padded frames (``mask`` False) never count.
    """
    feet = gt_joints[..., list(FOOT_JOINTS), :]  # (B, T, 4, 3)
    y = feet[..., 1]
    valid = torch.ones(y.shape[:2], dtype=torch.bool, device=y.device) if mask is None else mask.bool()
    floor = torch.where(valid[..., None], y, torch.full_like(y, float("inf"))).amin(dim=1, keepdim=True)
    low = (y - floor) < CONTACT_HEIGHT  # (B, T, 4)
    speed = (feet[:, 1:, :, [0, 2]] - feet[:, :-1, :, [0, 2]]).norm(dim=-1)  # (B, T-1, 4)
    pair = (valid[:, 1:] & valid[:, :-1])[..., None]
    return (speed < CONTACT_SPEED) & low[:, 1:] & low[:, :-1] & pair


def mpjpe_mm(rec_joints: torch.Tensor, gt_joints: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean per-joint position error (L2) in millimetres over valid frames."""
    err = (rec_joints - gt_joints).norm(dim=-1)  # (B, T, 22)
    return masked_mean(err, mask) * 1000.0


def tokenizer_losses(
    config: TokenizerConfig,
    target: torch.Tensor,
    recon: torch.Tensor,
    commit: torch.Tensor,
    entropy: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total loss and its terms (detached, plus ``mpjpe_mm`` and ``root_path_m``) for one batch.

    Args:
        target, recon: (B, T, 135) normalized features.
        commit, entropy: scalars from the quantizer (unweighted).
        mean, std: (135,) the normalizer's statistics (to de-normalize before FK).
        mask: (B, T) True on real frames.
    """
    recon_l = masked_mean(F.smooth_l1_loss(recon, target, reduction="none"), mask)
    d_rec, d_tgt = recon[:, 1:] - recon[:, :-1], target[:, 1:] - target[:, :-1]  # (B, T-1, 135)
    pair_mask = None if mask is None else mask[:, 1:] & mask[:, :-1]
    vel_l = masked_mean(F.smooth_l1_loss(d_rec, d_tgt, reduction="none"), pair_mask)
    g_rec = features_to_global_joints(recon, mean, std)  # (B, T, 22, 3), root integrated from the origin
    with torch.no_grad():
        g_gt = features_to_global_joints(target, mean, std)
    j_rec, j_gt = g_rec - g_rec[..., :1, :], g_gt - g_gt[..., :1, :]  # pelvis-relative
    joints_l = masked_mean((j_rec - j_gt).abs(), mask)
    path_l = masked_mean((g_rec[..., 0, [0, 2]] - g_gt[..., 0, [0, 2]]).abs(), mask)
    global_l = masked_mean((g_rec - g_gt).abs(), mask)
    contact = foot_contact_mask(g_gt, mask)  # (B, T-1, 4)
    feet, feet_gt = g_rec[..., list(FOOT_JOINTS), :][..., [0, 2]], g_gt[..., list(FOOT_JOINTS), :][..., [0, 2]]
    step, step_gt = feet[:, 1:] - feet[:, :-1], feet_gt[:, 1:] - feet_gt[:, :-1]  # (B, T-1, 4, 2) m/frame
    slide = (step - step_gt).abs().sum(-1)  # (B, T-1, 4): horizontal foot motion beyond the target's
    foot_l = (slide * contact).sum() / contact.sum().clamp_min(1)
    commit = commit.float()
    entropy = entropy.float()
    total = (
        config.w_recon * recon_l
        + config.w_joints * joints_l
        + config.w_velocity * vel_l
        + config.w_root_path * path_l
        + config.w_global_joints * global_l
        + config.w_foot_contact * foot_l
        + config.w_commit * commit
        + config.w_entropy * entropy
    )
    terms = {
        "loss": total.detach(),
        "recon": recon_l.detach(),
        "joints": joints_l.detach(),
        "velocity": vel_l.detach(),
        "root_path": path_l.detach(),
        "global_joints": global_l.detach(),
        "foot_contact": foot_l.detach(),
        "commit": commit.detach(),
        "entropy": entropy.detach(),
        "mpjpe_mm": mpjpe_mm(j_rec.detach(), j_gt, mask),
        "root_path_m": root_path_error_m(g_rec.detach(), g_gt, mask),
    }
    return total, terms


def codebook_usage(tokens: torch.Tensor, codebook_size: int, levels: bool = False) -> dict[str, float]:
    """Share of the codebook used and perplexity exp(H) of the code histogram.

    ``tokens`` holds any number of indices; with ``levels=True`` the last axis indexes separate
    codebooks (RVQ levels) and the two numbers are averaged over them.
    """
    groups = tokens.reshape(-1, tokens.shape[-1]).T if levels else tokens.reshape(1, -1)  # (L, N)
    util, ppl = [], []
    for g in groups:
        if g.numel() == 0:
            continue
        counts = torch.bincount(g.long().cpu(), minlength=codebook_size).double()
        p = counts / counts.sum()
        nz = p[p > 0]
        util.append(float((counts > 0).sum()) / codebook_size)
        ppl.append(math.exp(float(-(nz * nz.log()).sum())))
    if not util:
        return {"utilization": 0.0, "perplexity": 0.0}
    return {"utilization": sum(util) / len(util), "perplexity": sum(ppl) / len(ppl)}
