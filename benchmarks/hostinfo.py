"""The machine a benchmark ran on (CPU model, ISA, cores) and its load: a timing means nothing without them."""

from __future__ import annotations

import os
import platform
from typing import Dict, List

from edgeunet.core.cpu import cpu_info


def machine() -> Dict[str, str]:
    """Host, CPU model, ISA extensions (edgeunet.core.cpu) and the cores this process may use."""
    found = cpu_info()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"host": platform.node(), "cpu": found["cpu_model"], "isa": ", ".join(found["isa"]), "cpus": str(cores)}


def load_average() -> List[str]:
    """/proc/loadavg's 1, 5 and 15 minute figures (empty where there is none): how busy the machine was around a timing."""
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[:3]
    except OSError:
        return []
