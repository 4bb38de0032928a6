"""Exponential moving average of the weights (torch's AveragedModel), with the usual warm-up of the decay.

Why: the average of the last few hundred steps generalises better than the last step's weights, most of all
with small batches and a noisy loss; it costs one extra copy of the weights and no extra forward pass.
"""

from __future__ import annotations

from typing import Any, Dict

import torch
from torch.optim.swa_utils import AveragedModel


def ema_model(model: torch.nn.Module, decay: float) -> AveragedModel:
    """An AveragedModel whose decay ramps up as min(decay, (1 + n) / (10 + n)), so early averages follow the model.

    BatchNorm statistics (buffers) are averaged too, so the averaged model needs no extra pass over the data.
    """

    def average(averaged: torch.Tensor, current: torch.Tensor, num_averaged: Any) -> torch.Tensor:
        n = float(num_averaged)
        effective = min(decay, (1.0 + n) / (10.0 + n))
        return averaged * effective + current * (1.0 - effective)

    return AveragedModel(model, avg_fn=average, use_buffers=True)


def averaged_state(ema: AveragedModel) -> Dict[str, torch.Tensor]:
    """The averaged network's weights, with the same keys as the plain model (what best.pt holds)."""
    return {k: v.detach().cpu() for k, v in ema.module.state_dict().items()}
