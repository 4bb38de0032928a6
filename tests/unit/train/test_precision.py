"""--amp per device: fp16 + loss scaler on CUDA, bf16 + channels-last on CPUs that compute bf16, fp32 with a note elsewhere."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from edgeunet.core.cpu import cpu_from_cpuinfo, has_bf16_compute  # noqa: E402
from edgeunet.model.losses import build_loss  # noqa: E402
from edgeunet.model.unet import UNet  # noqa: E402
from edgeunet.train.distributed import Distributed  # noqa: E402
from edgeunet.train.epoch import EpochTools, make_loader, run_epoch  # noqa: E402
from edgeunet.train.precision import FP32, train_precision  # noqa: E402

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
SAPPHIRE = ["AVX2", "AVX-512", "AVX512-VNNI", "AVX512-BF16", "AMX", "AMX-INT8", "AMX-BF16"]
COFFEE_LAKE = ["AVX2"]


def test_without_amp_every_device_trains_in_fp32() -> None:
    assert train_precision(False, CPU, SAPPHIRE) == FP32 and train_precision(False, CUDA, []) == FP32
    assert FP32.describe() == "fp32" and not FP32.enabled


def test_cuda_gets_fp16_with_a_loss_scaler() -> None:
    chosen = train_precision(True, CUDA, COFFEE_LAKE)
    assert chosen.dtype == torch.float16 and chosen.loss_scaler and not chosen.channels_last and not chosen.note


def test_a_cpu_with_native_bf16_gets_bf16_channels_last_and_no_scaler() -> None:
    for isa in (SAPPHIRE, ["AVX-512", "AVX512-BF16"], ["AMX-BF16"]):
        chosen = train_precision(True, CPU, isa)
        assert chosen.dtype == torch.bfloat16 and chosen.channels_last and not chosen.loss_scaler and not chosen.note
    assert train_precision(True, CPU, SAPPHIRE).describe() == "bfloat16 autocast + channels-last"


def test_a_cpu_without_bf16_keeps_fp32_and_says_why_in_one_line() -> None:
    for isa in (COFFEE_LAKE, ["NEON", "NEON-dotprod"], []):
        chosen = train_precision(True, CPU, isa)
        assert chosen.dtype is None and not chosen.channels_last and not chosen.loss_scaler
        assert chosen.note.startswith("note: --amp needs CUDA or a CPU with AVX512-BF16/AMX") and "\n" not in chosen.note


def test_bf16_flags_are_read_from_cpuinfo() -> None:
    found = cpu_from_cpuinfo("model name : Xeon\nflags : avx2 avx512f avx512_bf16 amx_tile amx_bf16 amx_int8\n")
    assert "AVX512-BF16" in found["isa"] and "AMX-BF16" in found["isa"] and has_bf16_compute(found["isa"])
    assert not has_bf16_compute(cpu_from_cpuinfo("flags : avx2 avx512f avx512_vnni\n")["isa"])


class _Squares(torch.utils.data.Dataset):  # type: ignore[type-arg]
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int):  # type: ignore[no-untyped-def]
        image = torch.zeros((3, 16, 16))
        image[:, 4:12, 4:12] = 1.0
        mask = (image[0] > 0.5).to(torch.int64)
        return image, mask


def test_a_bf16_channels_last_epoch_steps_and_keeps_fp32_weights() -> None:
    """The layout and dtype the CPU path uses work end to end (bf16 runs emulated where the CPU lacks it: slow, not wrong)."""
    torch.manual_seed(0)
    net = UNet(3, 2, width=4, depth=2).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    before = [p.detach().clone() for p in net.parameters()]
    tools = EpochTools(net, build_loss("dice_ce"), torch.optim.SGD(net.parameters(), lr=0.1), torch.amp.GradScaler("cuda", enabled=False),
                       CPU, True, 2, Distributed(rank=0, world_size=1, local_rank=0), None, torch.bfloat16, True)
    result = run_epoch(tools, make_loader(_Squares(), 2, 0, True, 0, 0, tools.dist, CPU), True, "bf16")
    assert result["images"] == 4 and result["loss"] == result["loss"]  # not NaN
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
