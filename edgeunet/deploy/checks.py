"""One line of `edgeunet doctor` (`Check`), its statuses, and the bounded probe every check runs tools through.

Why a module of its own: doctor.py (the inference stack) and doctor_stream.py (the stream's codecs, sources,
sinks, Jetson clocks) both build `Check`s; with these names in doctor.py the two modules imported each other.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

PROBE_TIMEOUT_S = 10
RELEASE_ENV = "EDGEUNET_L4T_RELEASE"
DEFAULT_RELEASE_FILE = Path("/etc/nv_tegra_release")
OK, MISSING, WARN, NA = "ok", "missing", "warn", "n/a"


@dataclass
class Check:
    """One line of the report."""

    name: str
    status: str  # ok | missing | warn | n/a
    detail: str
    hint: str = ""


def run_probe(cmd: List[str]) -> Optional[str]:
    """stdout of a short probe, or None when the tool is absent, fails or hangs."""
    if shutil.which(cmd[0]) is None:
        return None
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def release_file() -> Path:
    """/etc/nv_tegra_release, or the file named by EDGEUNET_L4T_RELEASE (tests, containers): a Jetson has it."""
    return Path(os.environ.get(RELEASE_ENV) or DEFAULT_RELEASE_FILE)
