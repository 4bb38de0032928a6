"""Prepare a build-time copy of NVIDIA's TensorRT type stubs so `mypy --strict edgeunet/trt` checks the real API.

Why a script and not a dev dependency: TensorRT cannot be installed on our development/CI machines, and the
`tensorrt-stubs` wheel depends on the (unreachable) `tensorrt` wheel, so it is fetched with `--no-deps`. Its
`tensorrt/` and `tensorrt_bindings/` .pyi folders carry no py.typed marker, so mypy only finds them through
`mypy_path` (pyproject.toml points it at `.typecheck/stubs`). Two mechanical fixes make them parseable
(see docs/TENSORRT.md): parameters named `in` (a Python keyword) are renamed, and `add_scale_nd`'s
required parameter after defaulted ones gets a `...` default. NVIDIA's files are never committed
(.typecheck/ is gitignored).

Usage: python tests/prepare_trt_stubs.py .typecheck/stubs   [env TRT_STUBS_WHEEL=/path/to/the.whl to work offline]
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

STUBS_VERSION = "10.13.0.35.1"
WHEEL_NAME = f"tensorrt_stubs-{STUBS_VERSION}-py3-none-any.whl"
MARKER = ".edgeunet-stubs-version"

# `def f(self, in: X, ...)` -> `in_`; only inside def signatures (docstrings mention ":arg in:" and stay as they are).
_IN_PARAM = re.compile(r"(?<=[(,])(\s*)in(\s*:)")
# `..., power: Weights = None, channel_axis: int)` -> give channel_axis a default so the signature is legal.
_SCALE_ND = re.compile(r"(def add_scale_nd\(.*=\s*None,\s*channel_axis:\s*int)(\))")


def fix_stub_text(text: str) -> tuple[str, int]:
    """Apply the mechanical fixes; returns the new text and how many lines changed (for the log line)."""
    changed = 0
    out = []
    for line in text.splitlines(keepends=True):
        new = line
        if line.lstrip().startswith("def "):
            new = _IN_PARAM.sub(r"\1in_\2", new)
            new = _SCALE_ND.sub(r"\1 = ...\2", new)
        if new != line:
            changed += 1
        out.append(new)
    return "".join(out), changed


def _fetch_wheel(workdir: Path) -> Path:
    given = os.environ.get("TRT_STUBS_WHEEL")
    if given:
        return Path(given)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
           f"tensorrt-stubs=={STUBS_VERSION}", "-d", str(workdir)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheel = workdir / WHEEL_NAME
    if proc.returncode != 0 or not wheel.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        sys.exit(f"prepare_trt_stubs: could not download tensorrt-stubs=={STUBS_VERSION} ({tail[0]}); "
                 "set TRT_STUBS_WHEEL to a downloaded wheel to work offline")
    return wheel


def prepare(dest: Path) -> None:
    marker = dest / MARKER
    if marker.is_file() and marker.read_text().strip() == STUBS_VERSION:
        print(f"prepare_trt_stubs: {dest} already holds tensorrt-stubs {STUBS_VERSION}")
        return
    with tempfile.TemporaryDirectory(prefix="trt-stubs-") as tmp:
        workdir = Path(tmp)
        wheel = _fetch_wheel(workdir)
        staging = workdir / "stubs"
        total = 0
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                top, _, rest = name.partition("/")
                if top not in ("tensorrt", "tensorrt_bindings") or not rest.endswith(".pyi") or "/" in rest:
                    continue
                text, changed = fix_stub_text(zf.read(name).decode("utf-8"))
                total += changed
                target = staging / top / rest
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        if not (staging / "tensorrt" / "__init__.pyi").is_file():
            sys.exit(f"prepare_trt_stubs: {wheel.name} has no tensorrt/__init__.pyi; is it the right wheel?")
        (staging / MARKER).write_text(STUBS_VERSION + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staging, dest)
    print(f"prepare_trt_stubs: tensorrt-stubs {STUBS_VERSION} -> {dest} ({total} lines fixed)")


if __name__ == "__main__":
    prepare(Path(sys.argv[1] if len(sys.argv) > 1 else ".typecheck/stubs"))
