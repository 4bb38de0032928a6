"""The classic UNet (Ronneberger et al. 2015) with BatchNorm, readable on one screen."""

from __future__ import annotations

from typing import List

import torch
import torch.nn.functional as F
from torch import nn


class DoubleConv(nn.Sequential):
    """(3x3 conv without bias -> BatchNorm -> ReLU) x 2; the bias is redundant before BatchNorm."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )


class Up(nn.Module):
    """Upsample x2 (2x2 transposed conv, or bilinear + 1x1 conv), concatenate the skip, DoubleConv."""

    def __init__(self, in_ch: int, out_ch: int, upsampling: str) -> None:
        super().__init__()
        if upsampling == "transpose":
            self.up: nn.Module = nn.ConvTranspose2d(in_ch, in_ch // 2, kernel_size=2, stride=2)
        else:
            self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), nn.Conv2d(in_ch, in_ch // 2, 1))
        self.conv = DoubleConv(in_ch, out_ch)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


class UNet(nn.Module):
    """Encoder widths [w, 2w, 4w, 8w], bottleneck 16w, symmetric decoder, 1x1 head.

    Any input H x W works: the input is zero-padded on the bottom/right to a multiple of 2**depth
    and the logits are cropped back, so output size always equals input size. At the usual sizes
    (multiples of 16) no padding happens and the exported graph has no Pad node.
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: int = 64, depth: int = 4, upsampling: str = "transpose") -> None:
        super().__init__()
        if upsampling not in ("transpose", "bilinear"):
            raise ValueError(f"upsampling must be 'transpose' or 'bilinear', not {upsampling!r}")
        widths: List[int] = [width * 2**i for i in range(depth)]
        self.multiple = 2**depth
        self.inc = DoubleConv(in_channels, widths[0])
        self.downs = nn.ModuleList(nn.Sequential(nn.MaxPool2d(2), DoubleConv(w, w * 2)) for w in widths)
        self.ups = nn.ModuleList(Up(w * 2, w, upsampling) for w in reversed(widths))
        self.head = nn.Conv2d(widths[0], out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = int(x.shape[-2]), int(x.shape[-1])
        pad_h, pad_w = -height % self.multiple, -width % self.multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        logits = self.head(x)
        if pad_h or pad_w:
            logits = logits[..., :height, :width]
        return logits
