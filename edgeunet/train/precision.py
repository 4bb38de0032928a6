"""Mixed precision for training: the autocast dtype a device gets, and the memory layout that makes it pay.

Why a module of its own: CUDA takes fp16 with a loss scaler; a CPU with AVX512-BF16 or AMX takes bf16 (fp32's exponent
range, so no scaler) in channels-last layout (oneDNN's blocked convolutions), which together make a CPU training step
~2.4x cheaper (width-16 UNet, 176x240, batch 4, Xeon with AMX: 0.81 -> 0.33 CPU-s); any other CPU keeps fp32, where
oneDNN would emulate bf16 more slowly than it computes fp32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from edgeunet.core.cpu import has_bf16_compute


@dataclass(frozen=True)
class TrainPrecision:
    dtype: Optional[torch.dtype]  # autocast dtype; None trains in fp32
    channels_last: bool
    loss_scaler: bool  # fp16 needs one (its range is narrow); bf16 does not
    note: str = ""  # one line for stderr when --amp was asked for and cannot be had

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    def describe(self) -> str:
        if self.dtype is None:
            return "fp32"
        return f"{str(self.dtype).replace('torch.', '')} autocast{' + channels-last' if self.channels_last else ''}"


FP32 = TrainPrecision(None, False, False)


def train_precision(amp: bool, device: torch.device, isa: Sequence[str]) -> TrainPrecision:
    """What --amp means on this device: fp16 on CUDA, bf16 + channels-last on a CPU that computes bf16 natively, else fp32."""
    if not amp:
        return FP32
    if device.type == "cuda":
        return TrainPrecision(torch.float16, False, True)
    if device.type == "cpu" and has_bf16_compute(isa):
        return TrainPrecision(torch.bfloat16, True, False)
    return TrainPrecision(None, False, False, f"note: --amp needs CUDA or a CPU with AVX512-BF16/AMX (this {device.type} has neither); training in fp32")
