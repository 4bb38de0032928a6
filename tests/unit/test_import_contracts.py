"""The import-linter contracts catch what they claim, including in a package that does not exist yet.

Each case copies the package and the contracts to a scratch folder, makes one change a newcomer might make,
and runs `lint-imports` there: the named contract must break (and the untouched copy must pass). The four
misses of issue 20: a new package importing tensorrt, deploy reaching torch, bench reaching torch, the
package root importing torch; plus a new package reaching torch through model/, and a package left out of
the layers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
pytestmark = pytest.mark.skipif(LINT is None, reason="lint-imports (import-linter, the dev extra) is not installed")

MUTATIONS: Dict[str, Dict[str, str]] = {
    # id -> {file to append to (created if absent): code}
    "new package imports tensorrt": {"edgeunet/vision/__init__.py": "import tensorrt\n"},
    "new package imports pycuda in a function": {"edgeunet/vision/__init__.py": "def f():\n    import pycuda.driver\n"},
    "deploy reaches torch through model/": {"edgeunet/deploy/doctor.py": "\ndef _f():\n    from edgeunet.model.unet import UNet\n"},
    "deploy imports torch": {"edgeunet/deploy/triton.py": "\ndef _f():\n    import torch\n"},
    "bench reaches torch through train/": {"edgeunet/bench/timing.py": "\ndef _f():\n    from edgeunet.train.ema import ema_model\n"},
    "bench imports torch": {"edgeunet/bench/report.py": "\nimport torch\n"},
    "package root imports torch": {"edgeunet/__init__.py": "\nimport torch\n"},
    "new package reaches torch through model/": {"edgeunet/vision/__init__.py": "from edgeunet.model.losses import build_loss\n"},
    "new package left out of the layers": {"edgeunet/vision/__init__.py": ""},
}
BREAKS = {
    "new package imports tensorrt": "tensorrt",
    "new package imports pycuda in a function": "tensorrt",
    "deploy reaches torch through model/": "torch-reach",
    "deploy imports torch": "torch-direct",
    "bench reaches torch through train/": "torch-reach",
    "bench imports torch": "torch-direct",
    "package root imports torch": "torch-direct",
    "new package reaches torch through model/": "torch-reach",
    "new package left out of the layers": "layers",
}


def _copy(tmp: Path) -> Path:
    """The package, the contracts and the contract type: everything lint-imports reads."""
    shutil.copytree(REPO / "edgeunet", tmp / "edgeunet", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp / "pyproject.toml")
    (tmp / "tests" / "tools").mkdir(parents=True)
    for name in ("tests/__init__.py", "tests/tools/__init__.py", "tests/tools/import_contracts.py"):
        shutil.copy(REPO / name, tmp / name)
    return tmp


def _lint(root: Path, contract: Optional[str] = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    args = [str(LINT), "--no-cache", *(["--contract", contract] if contract else [])]
    return subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy(tmp_path_factory.mktemp("contracts"))


def test_the_tree_as_it_is_keeps_every_contract(pristine: Path) -> None:
    result = _lint(pristine)
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_each_miss_is_caught(case: str, tmp_path: Path) -> None:
    root = _copy(tmp_path)
    for name, code in MUTATIONS[case].items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(code)
    result = _lint(root, BREAKS[case])
    assert result.returncode == 1 and "BROKEN" in result.stdout, f"{case}: {result.stdout[-3000:]}{result.stderr[-2000:]}"
