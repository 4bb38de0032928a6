"""Segmentation losses. A binary model has one logit channel; N classes have N channels.

Every loss skips pixels whose label is IGNORE_LABEL (void, letterbox padding): they add nothing to the loss
and nothing to its normalisation. `class_weights` (one per class, e.g. median-frequency balancing) weight the
cross-entropy terms of ce, focal and dice_ce; Dice is already per-class balanced.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from edgeunet.core.spec import IGNORE_LABEL

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LOSS_NAMES = ("ce", "dice", "focal", "dice_ce")


def _pixel_ce(logits: torch.Tensor, target: torch.Tensor, weights: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """(per-pixel CE or BCE with zero at ignored pixels, per-pixel weight with zero at ignored pixels)."""
    valid = target != IGNORE_LABEL
    safe = torch.where(valid, target, torch.zeros_like(target)).long()
    if logits.shape[1] == 1:
        ce = F.binary_cross_entropy_with_logits(logits[:, 0], safe.float(), reduction="none")
    else:
        ce = F.cross_entropy(logits, safe, reduction="none")
    weight = valid.to(ce.dtype)
    if weights is not None:
        weight = weight * weights.to(device=ce.device, dtype=ce.dtype)[safe]
    return ce * weight, weight


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """BCE for one logit channel, CE for several; a weighted mean over the labelled pixels (as F.cross_entropy)."""
    ce, weight = _pixel_ce(logits, target, weights)
    return ce.sum() / weight.sum().clamp_min(1e-12)


def _probs_and_onehot(logits: torch.Tensor, target: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    valid = (target != IGNORE_LABEL).unsqueeze(1)
    safe = torch.where(target != IGNORE_LABEL, target, torch.zeros_like(target)).long()
    if logits.shape[1] == 1:
        probs, onehot = torch.sigmoid(logits[:, 0:1]), safe.float().unsqueeze(1)
    else:
        probs = torch.softmax(logits, dim=1)
        onehot = F.one_hot(safe, logits.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    mask = valid.to(probs.dtype)
    return probs * mask, onehot * mask


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """1 - 2*sum(p*g) / (sum(p^2) + sum(g^2)) per class over the batch, averaged over classes."""
    probs, onehot = _probs_and_onehot(logits.float(), target)
    dims = (0, 2, 3)
    intersection = (probs * onehot).sum(dims)
    denominator = (probs * probs).sum(dims) + (onehot * onehot).sum(dims)
    return (1 - (2 * intersection + eps) / (denominator + eps)).mean()


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Cross-entropy down-weighted by (1 - p_true)^gamma, so easy pixels count less (Lin et al. 2017)."""
    ce, weight = _pixel_ce(logits, target, None)
    p_true = torch.exp(-ce)
    focal = (1 - p_true) ** gamma * ce
    if weights is not None:
        safe = torch.where(target != IGNORE_LABEL, target, torch.zeros_like(target)).long()
        focal = focal * weights.to(device=focal.device, dtype=focal.dtype)[safe]
    return focal.sum() / weight.sum().clamp_min(1e-12)


def build_loss(name: str, alpha: float = 0.5, class_weights: Optional[Sequence[float]] = None) -> LossFn:
    """`dice_ce` is alpha * Dice + (1 - alpha) * CE; `class_weights` weight the CE terms."""
    weights = torch.tensor(list(class_weights), dtype=torch.float32) if class_weights is not None else None
    if name == "ce":
        return lambda logits, target: cross_entropy(logits, target, weights)
    if name == "dice":
        return dice_loss
    if name == "focal":
        return lambda logits, target: focal_loss(logits, target, weights=weights)

    def compound(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return alpha * dice_loss(logits, target) + (1 - alpha) * cross_entropy(logits, target, weights)

    if name == "dice_ce":
        return compound
    raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSS_NAMES)}")
