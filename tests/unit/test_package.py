"""The package root stays light: `import edgeunet` loads neither torch nor ONNX Runtime (the edge path starts fast)."""

from __future__ import annotations

import subprocess
import sys


def test_import_edgeunet_loads_no_torch_and_no_onnxruntime() -> None:
    code = "import sys, edgeunet; print(sorted(m for m in ('torch', 'onnxruntime', 'tensorrt', 'pycuda') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_python_api_is_exported_lazily() -> None:
    import edgeunet

    assert edgeunet.Segmenter.__name__ == "Segmenter" and edgeunet.Stream.__name__ == "Stream"
