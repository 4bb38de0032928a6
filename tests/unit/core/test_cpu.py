"""The CPU line printed beside every CPU figure: model name and the ISA extensions that decide INT8 speed."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from edgeunet.core import cpu
from edgeunet.core.cpu import cpu_from_cpuinfo, cpu_info, cpu_line

XEON = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse avx2 avx512f avx512_vnni amx_tile amx_int8
processor\t: 1
model name\t: ignored second core
flags\t\t: fpu sse avx2 avx512f avx512_vnni amx_tile amx_int8
"""

JETSON = """processor\t: 0
Features\t: fp asimd evtstrm aes asimddp
CPU part\t: 0xd42
Hardware\t: NVIDIA Orin
"""


def test_x86_model_and_isa_in_speed_order() -> None:
    found = cpu_from_cpuinfo(XEON)
    assert found["cpu_model"] == "Intel(R) Xeon(R) Platinum 8480+"  # the first core's name, not the last
    assert found["isa"] == ["AVX2", "AVX-512", "AVX512-VNNI", "AMX", "AMX-INT8"]


def test_aarch64_features_and_hardware_line() -> None:
    assert cpu_from_cpuinfo(JETSON) == {"cpu_model": "NVIDIA Orin", "isa": ["NEON", "NEON-dotprod"]}


def test_empty_cpuinfo_names_nothing() -> None:
    assert cpu_from_cpuinfo("") == {"cpu_model": "", "isa": []}


def test_no_proc_cpuinfo_falls_back_to_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS/Windows have no /proc/cpuinfo: the line still names something and says the ISA is unknown."""
    real_open = builtins.open

    def no_cpuinfo(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path) == "/proc/cpuinfo":
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_cpuinfo)
    monkeypatch.setattr(cpu.platform, "processor", lambda: "")
    monkeypatch.setattr(cpu.platform, "machine", lambda: "arm64")
    assert cpu_info() == {"cpu_model": "arm64", "isa": []}
    assert cpu_line() == "arm64 (ISA unknown)"


def test_cpu_line_on_this_machine() -> None:
    line = cpu_line()
    assert line.endswith(")") and " (" in line and not line.startswith(" (")
