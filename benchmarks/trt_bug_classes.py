"""Show that each of issue 23's four realistic TensorRT bug classes makes the emulator tests fail.

Each bug is a small patch to a temporary copy of the repository (the checkout is never touched): the named tests
must pass on the unpatched copy and fail on the patched one. Writes benchmarks/results/trt_bug_classes.md.

    PYTHONPATH=$PWD python benchmarks/trt_bug_classes.py            # ~1 minute on 2 cores

The four bugs passed all 102 emulator tests before issue 23 (asynchrony, pybind rules, IHostMemory, workspace).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, NamedTuple

REPO = Path(__file__).resolve().parents[1]
API = Path(os.environ.get("EDGEUNET_TRT_API", str(REPO.parent / "shared" / "trt-api")))
OUT = REPO / "benchmarks" / "results" / "trt_bug_classes.md"


class Bug(NamedTuple):
    name: str
    file: str
    old: str
    new: str
    tests: List[str]


BUGS = [
    Bug("removed synchronize (outputs read before the stream ran)", "edgeunet/trt/runner.py",
        "            self.session.synchronize()\n", "",
        ["tests/trtsim/test_edgeunet_trt.py::test_build_engine_and_runner_match_onnxruntime[10.3]"]),
    Bug("calibrator skips the base __init__ (pybind trampoline never made)", "edgeunet/trt/calibrator.py",
        "        trt.IInt8EntropyCalibrator2.__init__(self)  # pybind trampolines need the explicit base __init__\n", "",
        ["tests/trtsim/test_edgeunet_trt.py::test_implicit_calibrators[entropy-10.3]"]),
    Bug("serialized engine used as bytes (IHostMemory passed on as if it were bytes)", "edgeunet/trt/build.py",
        "    return bytes(memoryview(serialized))\n", "    return serialized  # type: ignore[no-any-return]\n",
        ["tests/trtsim/test_edgeunet_trt.py::test_selftest_build_and_run[10.3]"]),
    Bug("workspace in the wrong unit (MiB passed as bytes)", "edgeunet/trt/plan.py",
        "int(workspace_mib) << 20", "int(workspace_mib)",
        ["tests/trtsim/test_trt_edges.py::test_workspace_dla_and_calibrator_checks", "tests/unit/trt/test_build.py::test_plan_workspace_and_bad_options"]),
    Bug("workspace in the wrong unit (MiB passed as KiB)", "edgeunet/trt/plan.py",
        "int(workspace_mib) << 20", "int(workspace_mib) << 10",
        ["tests/trtsim/test_trt_edges.py::test_workspace_dla_and_calibrator_checks", "tests/unit/trt/test_build.py::test_plan_workspace_and_bad_options"]),
]


def _pytest(root: Path, tests: List[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(root), EDGEUNET_TRT_API=str(API))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=root, env=env,
                          capture_output=True, text=True, check=False)


def _cpu_line() -> str:
    """The CPU and ISA the run was on (every results file names them); nothing here is a speed figure."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from edgeunet.core.cpu import cpu_line

    return cpu_line()


def _first_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.startswith("E  ")]
    return (lines[0][1:].strip() if lines else output.strip().splitlines()[-1])[:160].replace("|", "\\|")


def main() -> int:
    rows = ["| bug | patch | test | unpatched | patched | first error |", "|---|---|---|---|---|---|"]
    ok = True
    with tempfile.TemporaryDirectory(prefix="trt-bugs-") as tmp:
        for bug in BUGS:
            root = Path(tmp) / "repo"
            shutil.rmtree(root, ignore_errors=True)
            for part in ("edgeunet", "tests", "pyproject.toml"):
                src = REPO / part
                (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / part)  # type: ignore[operator]
            clean = _pytest(root, bug.tests)
            target = root / bug.file
            text = target.read_text(encoding="utf-8")
            if text.count(bug.old) != 1:
                raise SystemExit(f"{bug.file}: the patch for '{bug.name}' no longer applies; update benchmarks/trt_bug_classes.py")
            target.write_text(text.replace(bug.old, bug.new), encoding="utf-8")
            patched = _pytest(root, bug.tests)
            caught = clean.returncode == 0 and patched.returncode != 0
            ok &= caught
            patch = f"`{bug.old.strip()}` -> `{bug.new.strip() or '(deleted)'}`".replace("|", "\\|")
            rows.append(f"| {bug.name} | {bug.file}: {patch} | {'<br>'.join(bug.tests)} | "
                        f"{'pass' if clean.returncode == 0 else 'FAIL'} | {'fail (caught)' if patched.returncode else 'PASS (missed)'} | "
                        f"{_first_error(patched.stdout + patched.stderr)} |")
            print(rows[-1], flush=True)
    header = (f"# TensorRT bug classes under the emulator\n\n`PYTHONPATH=$PWD python benchmarks/trt_bug_classes.py`, "
              f"{time.strftime('%Y-%m-%d', time.gmtime())}: each patch applied to a temporary copy of the repository; the test "
              f"passes unpatched and fails patched. Emulator results, not a GPU run. Ran on: {_cpu_line()}.\n\n")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {'all caught' if ok else 'SOME MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
