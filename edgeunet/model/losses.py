"""Segmentation losses. A binary model has one logit channel; N classes have N channels."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LOSS_NAMES = ("ce", "dice", "focal", "dice_ce")


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE for one logit channel, CE for several."""
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], target.float())
    return F.cross_entropy(logits, target.long())


def _probs_and_onehot(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if logits.shape[1] == 1:
        return torch.sigmoid(logits[:, 0:1]), target.float().unsqueeze(1)
    probs = torch.softmax(logits, dim=1)
    onehot = F.one_hot(target.long(), logits.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    return probs, onehot


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """1 - 2*sum(p*g) / (sum(p^2) + sum(g^2)) per class over the batch, averaged over classes."""
    probs, onehot = _probs_and_onehot(logits.float(), target)
    dims = (0, 2, 3)
    intersection = (probs * onehot).sum(dims)
    denominator = (probs * probs).sum(dims) + (onehot * onehot).sum(dims)
    return (1 - (2 * intersection + eps) / (denominator + eps)).mean()


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Cross-entropy down-weighted by (1 - p_true)^gamma, so easy pixels count less (Lin et al. 2017)."""
    if logits.shape[1] == 1:
        t = target.float()
        ce = F.binary_cross_entropy_with_logits(logits[:, 0], t, reduction="none")
    else:
        ce = F.cross_entropy(logits, target.long(), reduction="none")
    p_true = torch.exp(-ce)
    return ((1 - p_true) ** gamma * ce).mean()


def build_loss(name: str, alpha: float = 0.5) -> LossFn:
    """`dice_ce` is alpha * Dice + (1 - alpha) * CE."""
    if name == "ce":
        return cross_entropy
    if name == "dice":
        return dice_loss
    if name == "focal":
        return focal_loss

    def compound(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return alpha * dice_loss(logits, target) + (1 - alpha) * cross_entropy(logits, target)

    if name == "dice_ce":
        return compound
    raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSS_NAMES)}")
