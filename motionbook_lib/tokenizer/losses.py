"""Training losses and codebook statistics of the motion tokenizers.

The total loss is a weighted sum (weights in :class:`~motionbook_lib.tokenizer.TokenizerConfig`):

- ``recon``: smooth L1 between reconstructed and target normalized features;
- ``joints``: the kinematic "perceptual" term: both feature sequences are de-normalized, turned into
  joints by forward kinematics (:func:`~motionbook_lib.features.d135_to_joints`, neutral body) and
  compared by the L1 distance of pelvis-relative joint positions, in metres;
- ``velocity``: smooth L1 between frame-to-frame differences of the features;
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

__all__ = ["codebook_usage", "features_to_joints", "masked_mean", "mpjpe_mm", "tokenizer_losses"]


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of x (B, T, ...) over the frames where mask (B, T) is True (and all trailing dims)."""
    if mask is None:
        return x.mean()
    m = mask.to(x.dtype).reshape(*mask.shape, *([1] * (x.dim() - mask.dim())))  # (B, T, 1, ...)
    per_frame = x[0, 0].numel()
    return (x * m).sum() / (m.sum() * per_frame).clamp_min(1.0)


def features_to_joints(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Normalized features (B, T, 135) -> pelvis-relative joints (B, T, 22, 3) in metres (float32 FK)."""
    with torch.autocast(x.device.type, enabled=False):
        raw = x.float() * std + mean  # (B, T, 135)
        joints = d135_to_joints(raw)  # (B, T, 22, 3)
    return joints - joints[..., :1, :]


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
    """Total loss and its terms (detached, plus ``mpjpe_mm``) for one batch.

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
    j_rec = features_to_joints(recon, mean, std)  # (B, T, 22, 3)
    with torch.no_grad():
        j_gt = features_to_joints(target, mean, std)
    joints_l = masked_mean((j_rec - j_gt).abs(), mask)
    commit = commit.float()
    entropy = entropy.float()
    total = (
        config.w_recon * recon_l
        + config.w_joints * joints_l
        + config.w_velocity * vel_l
        + config.w_commit * commit
        + config.w_entropy * entropy
    )
    terms = {
        "loss": total.detach(),
        "recon": recon_l.detach(),
        "joints": joints_l.detach(),
        "velocity": vel_l.detach(),
        "commit": commit.detach(),
        "entropy": entropy.detach(),
        "mpjpe_mm": mpjpe_mm(j_rec.detach(), j_gt, mask),
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
