"""The CPU a figure was measured on: model name and the ISA extensions that decide INT8/FP32 speed.

Why in core: bench, the INT8 sensitivity report and the benchmark scripts all name the CPU beside their
figures (INT8 on a CPU differs ~2x between AVX2 and VNNI/AMX parts), and export may not import bench.
"""

from __future__ import annotations

import platform
from typing import Any, Dict, Sequence

# /proc/cpuinfo flag -> the name results quote. INT8 speed on a CPU differs ~2x between these (VNNI/AMX vs plain AVX2),
# so a result that does not name them cannot be compared with another machine's.
ISA_FLAGS = (
    ("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_vnni", "AVX512-VNNI"), ("avx_vnni", "AVX-VNNI"), ("avx512_bf16", "AVX512-BF16"),
    ("amx_tile", "AMX"), ("amx_int8", "AMX-INT8"), ("amx_bf16", "AMX-BF16"), ("asimd", "NEON"), ("asimddp", "NEON-dotprod"), ("i8mm", "I8MM"),
)


def cpu_from_cpuinfo(text: str) -> Dict[str, Any]:
    """CPU model and the ISA extensions that decide INT8/FP32 speed, from /proc/cpuinfo text (x86 and aarch64)."""
    model = ""
    flags: set = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "features"):
            flags.update(value.split())
    return {"cpu_model": model, "isa": [name for flag, name in ISA_FLAGS if flag in flags]}


def cpu_info() -> Dict[str, Any]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            found = cpu_from_cpuinfo(handle.read())
    except OSError:
        found = {"cpu_model": "", "isa": []}
    found["cpu_model"] = found["cpu_model"] or platform.processor() or platform.machine()
    return found


def cpu_line() -> str:
    """'AMD EPYC (AVX2, AVX-512)': what a report prints beside a CPU figure."""
    found = cpu_info()
    return f"{found['cpu_model']} ({', '.join(found['isa']) or 'ISA unknown'})"


def has_bf16_compute(isa: Sequence[str]) -> bool:
    """Whether bf16 matrix math runs natively (AVX512-BF16 or AMX-BF16): there bf16 autocast trains ~2x faster on a CPU;
    elsewhere oneDNN emulates it and it is slower than fp32."""
    return "AVX512-BF16" in isa or "AMX-BF16" in isa
