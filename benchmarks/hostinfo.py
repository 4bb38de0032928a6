"""The machine a benchmark ran on (CPU model, ISA, cores) and its load: a timing means nothing without them.

No edgeunet import, so a benchmark can time another checkout (EDGEUNET_CODE) with the same host record.
"""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Dict, List

ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
             "asimd", "asimddp", "sve")


def machine() -> Dict[str, str]:
    """CPU model and ISA flags from lscpu (x86 and ARM flag names)."""
    info = {"host": platform.node(), "cpu": platform.processor(), "isa": "", "cpus": str(os.cpu_count())}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return info
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model name":
            info["cpu"] = value.strip()
        elif key.strip() == "Flags":
            flags = value.split()
            info["isa"] = " ".join(f for f in ISA_FLAGS if f in flags)
        elif key.strip() == "CPU(s)":
            info["cpus"] = value.strip()
    return info


def load_average() -> List[str]:
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[:3]
    except OSError:
        return []
