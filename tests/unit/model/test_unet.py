from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from edgeunet.model.unet import UNet  # noqa: E402


@pytest.mark.parametrize("hw", [(64, 64), (50, 70), (17, 33)])
def test_any_input_size_gives_same_output_size(hw: tuple) -> None:
    model = UNet(in_channels=1, out_channels=1, width=4).eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 1, *hw))
    assert out.shape == (2, 1, *hw)


@pytest.mark.parametrize("upsampling", ["transpose", "bilinear"])
def test_colour_multiclass(upsampling: str) -> None:
    model = UNet(in_channels=3, out_channels=4, width=4, upsampling=upsampling).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 4, 32, 32)


def test_classic_widths_from_base() -> None:
    model = UNet(width=64)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    encoder_widths = sorted({c.out_channels for c in convs})
    assert encoder_widths == [64, 128, 256, 512, 1024]
    assert all(c.bias is None for c in convs)
    ups = [m for m in model.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [u.kernel_size for u in ups] == [(2, 2)] * 4
    # The paper's UNet with BatchNorm has about 31 M parameters.
    assert 30e6 < sum(p.numel() for p in model.parameters()) < 32e6


def test_edge_presets_are_small() -> None:
    for width, limit in ((16, 2.0e6), (32, 8.0e6)):
        assert sum(p.numel() for p in UNet(width=width).parameters()) < limit
