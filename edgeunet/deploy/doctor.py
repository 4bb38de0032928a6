"""`edgeunet doctor [--selftest]`: what this machine has for each edgeunet path, and how to get what it lacks.

Why a doctor: a Jetson or GPU box can fail in a dozen quiet ways (pip's OpenCV without GStreamer shadowing the
system one, TensorRT bindings for another Python, pycuda built against another CUDA, no GPU visible in a
container). Each check says found / missing with the install hint, and `--selftest` proves the TensorRT path
end to end: it builds a tiny engine from a generated ONNX with edgeunet's own builder and runner, and compares
its output with ONNX Runtime on the CPU.

Nothing here imports torch (it is reported from package metadata) or tensorrt/pycuda (reached via edgeunet.trt),
and every probe is bounded (a subprocess gets a timeout), so the doctor works on a bare edge device.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import json
import os
import platform
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from edgeunet.core.errors import EdgeUnetError, MissingDependencyError
from edgeunet.deploy.checks import DEFAULT_RELEASE_FILE, MISSING, NA, OK, RELEASE_ENV, WARN, Check, release_file, run_probe  # noqa: F401 - doctor.RELEASE_ENV, doctor.Check, ... stay public
from edgeunet.deploy.doctor_stream import STREAM_CHECKS
from edgeunet.runtime.registry import installed, usable_backends

DEVICE_TREE_MODEL = Path("/proc/device-tree/model")

# L4T release -> JetPack (NVIDIA's JetPack archive). Unknown revisions fall back to the major family.
JETPACK_BY_L4T: Dict[Tuple[int, int, int], str] = {
    (35, 1, 0): "5.0.2", (35, 2, 1): "5.1", (35, 3, 1): "5.1.1", (35, 4, 1): "5.1.2", (35, 5, 0): "5.1.3",
    (35, 6, 0): "5.1.4", (35, 6, 1): "5.1.5",
    (36, 2, 0): "6.0 DP", (36, 3, 0): "6.0", (36, 4, 0): "6.1", (36, 4, 3): "6.2", (36, 4, 4): "6.2.1",
}
# What each supported family ships (docs/TENSORRT.md): the Python the apt TensorRT bindings are built for.
FAMILY = {35: ("5", "3.8", "8.5"), 36: ("6", "3.10", "8.6 (6.0) / 10.3 (6.1+)")}


# -- Jetson ------------------------------------------------------------------------------------
def parse_l4t_release(text: str) -> Optional[Tuple[int, int, int]]:
    """'# R35 (release), REVISION: 4.1, ...' -> (35, 4, 1); None when the text is not an L4T release line."""
    match = re.search(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+)(?:\.(\d+))?", text)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def jetpack_for(l4t: Tuple[int, int, int]) -> Optional[str]:
    """JetPack version of an L4T release ('5.1.2'), '5.x'/'6.x' for an unlisted revision, None if unsupported."""
    if l4t in JETPACK_BY_L4T:
        return JETPACK_BY_L4T[l4t]
    return f"{FAMILY[l4t[0]][0]}.x" if l4t[0] in FAMILY else None


def check_l4t(path: Optional[Path] = None) -> Check:
    path = path or release_file()
    if not path.is_file():
        return Check("L4T/JetPack", NA, f"not a Jetson (no {path})")
    try:
        l4t = parse_l4t_release(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        return Check("L4T/JetPack", WARN, f"{path}: unreadable ({exc.strerror})")
    if l4t is None:
        return Check("L4T/JetPack", WARN, f"{path}: not an L4T release line", "reflash with JetPack 5.1+ or 6 (SDK Manager)")
    version = ".".join(map(str, l4t))
    jetpack = jetpack_for(l4t)
    if jetpack is None:
        return Check("L4T/JetPack", WARN, f"L4T R{version}: not JetPack 5 or 6 (edgeunet needs TensorRT >= 8.5)",
                     "flash JetPack 5.1+ (L4T R35) or JetPack 6 (L4T R36)")
    _, python, trt = FAMILY[l4t[0]]
    detail = f"L4T R{version} = JetPack {jetpack} (system Python {python}, TensorRT {trt})"
    return Check("L4T/JetPack", OK, detail + _power_mode())


def _power_mode() -> str:
    """'; power mode MAXN' from nvpmodel, when it answers (benchmarks depend on it: see deploy/jetson/README.md)."""
    out = run_probe(["nvpmodel", "-q"])
    match = re.search(r"NV Power Mode:\s*(\S+)", out or "")
    return f"; power mode {match.group(1)} (nvpmodel)" if match else ""


# -- hardware ----------------------------------------------------------------------------------
def jetson_model() -> Optional[str]:
    try:
        text = DEVICE_TREE_MODEL.read_bytes().decode("utf-8", "replace").strip("\x00 \n")
    except OSError:
        return None
    return text if "jetson" in text.lower() or "nvidia" in text.lower() else None


def _describe_gpu(csv_line: str) -> str:
    """'NVIDIA H100, 550.54, 9.0' -> 'NVIDIA H100 (driver 550.54, sm 9.0)'."""
    parts = [part.strip() for part in csv_line.split(",")]
    extra = [f"{label} {value}" for label, value in zip(("driver", "sm"), parts[1:])]
    return f"{parts[0]} ({', '.join(extra)})" if extra else parts[0]


def check_gpu() -> Check:
    out = run_probe(["nvidia-smi", "--query-gpu=name,driver_version,compute_cap", "--format=csv,noheader"])
    out = out or run_probe(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"])
    if out and out.strip():
        return Check("GPU", OK, "; ".join(_describe_gpu(line) for line in out.strip().splitlines()))
    model = jetson_model()
    if model is not None:
        return Check("GPU", OK, f"integrated GPU of {model}")
    hint = ("desktop: install the NVIDIA driver until `nvidia-smi` lists the GPU; in Docker add `--gpus all` "
            "(desktop) or `--runtime nvidia` (Jetson)")
    return Check("GPU", MISSING, "no NVIDIA GPU found (nvidia-smi absent or failing, not a Jetson)", hint)


def _cuda_driver_version() -> Optional[str]:
    """The CUDA version the driver supports (libcuda's cuDriverGetVersion), without creating a context."""
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    version = ctypes.c_int(0)
    if lib.cuDriverGetVersion(ctypes.byref(version)) != 0:
        return None
    return f"{version.value // 1000}.{(version.value % 1000) // 10}"


def _cuda_toolkit_version() -> Optional[str]:
    root = Path(os.environ.get("CUDA_HOME") or "/usr/local/cuda")
    try:
        data = json.loads((root / "version.json").read_text(encoding="utf-8"))
        return str(data["cuda"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        match = re.search(r"CUDA Version\s+([\d.]+)", (root / "version.txt").read_text(encoding="utf-8"))
        if match:
            return match.group(1)
    except OSError:
        pass
    match = re.search(r"release\s+([\d.]+)", run_probe(["nvcc", "--version"]) or "")
    return match.group(1) if match else None


def check_cuda() -> Check:
    driver, toolkit = _cuda_driver_version(), _cuda_toolkit_version()
    if driver is None and toolkit is None:
        return Check("CUDA", MISSING, "no CUDA driver library (libcuda.so.1) and no toolkit",
                     "Jetson: CUDA comes with JetPack (sudo apt install nvidia-jetpack); desktop: the NVIDIA driver + CUDA toolkit")
    parts = [f"driver supports CUDA {driver}" if driver else "no driver library (libcuda.so.1)",
             f"toolkit {toolkit}" if toolkit else "no toolkit (pycuda needs its headers to build)"]
    return Check("CUDA", OK if driver else WARN, ", ".join(parts), "" if driver else "install the NVIDIA driver (libcuda) for this GPU")


# -- Python packages ---------------------------------------------------------------------------
def check_python() -> Check:
    status = OK if sys.version_info >= (3, 8) else MISSING
    return Check("Python", status, f"{platform.python_version()} ({sys.executable})", "" if status == OK else "edgeunet needs Python 3.8 or newer")


def check_os() -> Check:
    pretty = ""
    try:
        match = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', Path("/etc/os-release").read_text(encoding="utf-8"), re.M)
        pretty = f", {match.group(1)}" if match else ""
    except OSError:
        pass
    return Check("OS", OK, f"{platform.system()} {platform.release()} {platform.machine()}{pretty}")


def check_tensorrt() -> Check:
    from edgeunet.trt import INSTALL_HINT, tensorrt_version
    from edgeunet.trt.plan import MIN_VERSION, format_version, parse_version

    version = tensorrt_version()
    if version is None:
        return Check("TensorRT", MISSING, "not importable (import tensorrt failed)", INSTALL_HINT)
    if parse_version(version) < MIN_VERSION:
        return Check("TensorRT", WARN, f"{version}: too old (edgeunet needs {format_version(MIN_VERSION)}+)", INSTALL_HINT)
    return Check("TensorRT", OK, version)


def check_pycuda() -> Check:
    from edgeunet.trt import pycuda_version
    from edgeunet.trt.cuda import PYCUDA_HINT

    version = pycuda_version()
    if version is None:
        return Check("pycuda", MISSING, "not importable", PYCUDA_HINT.replace("pycuda not found: ", ""))
    return Check("pycuda", OK, version)


def check_onnxruntime() -> Check:
    try:
        import onnxruntime as ort
    except ImportError:
        return Check("ONNX Runtime", MISSING, "not importable", "pip install onnxruntime (CPU) or onnxruntime-gpu")
    providers = ", ".join(p.replace("ExecutionProvider", "") for p in ort.get_available_providers())
    return Check("ONNX Runtime", OK, f"{ort.__version__}; providers: {providers}")


def opencv_video_io(build_info: str) -> Dict[str, bool]:
    """{'GStreamer': True, 'FFMPEG': True, 'V4L2': False} from cv2.getBuildInformation()."""
    found: Dict[str, bool] = {}
    for key, label in (("GStreamer", "GStreamer"), ("FFMPEG", "FFMPEG"), ("v4l/v4l2", "V4L2")):
        match = re.search(rf"^\s*{re.escape(key)}:\s*(YES|NO)", build_info, re.M | re.I)
        found[label] = bool(match and match.group(1).upper() == "YES")
    return found


def check_opencv() -> Check:
    try:
        import cv2
    except ImportError:
        return Check("OpenCV", MISSING, "not importable", "Jetson: sudo apt install libopencv-python (JetPack's, GStreamer-enabled); "
                     "elsewhere: pip install opencv-python-headless")
    io = opencv_video_io(cv2.getBuildInformation())
    detail = f"{cv2.__version__}; " + ", ".join(f"{k} {'YES' if v else 'NO'}" for k, v in io.items())
    if io["GStreamer"]:
        return Check("OpenCV", OK, detail)
    hint = ("csi:// cameras and GStreamer sources/sinks need a GStreamer-enabled OpenCV: on Jetson use JetPack's "
            "(pip uninstall opencv-python-headless; sudo apt install libopencv-python; deploy/jetson/install.sh); "
            "on Ubuntu: sudo apt install python3-opencv. Files, V4L2 cameras and RTSP via FFMPEG work without it")
    return Check("OpenCV", WARN, detail + f" ({cv2.__file__})", hint)


def check_torch() -> Check:
    """Found from package metadata only: importing torch costs seconds and is not on the edge path."""
    if not installed("torch"):
        return Check("torch", MISSING, "not installed (only needed to train and export)", "pip install 'edgeunet[train]' on the training machine")
    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown version"
    return Check("torch", OK, f"{version} (training and export)")


def check_backends() -> Check:
    """The backends of runtime.registry that can run here: a backend added to the table is reported without editing this."""
    usable, detail = usable_backends()
    return Check("Backends", OK if usable else MISSING, detail, "pip install onnxruntime")


CHECKS: Tuple[Callable[[], Check], ...] = (
    check_python, check_os, check_l4t, check_gpu, check_cuda, check_tensorrt, check_pycuda, check_onnxruntime, check_opencv, check_torch, check_backends,
)


def run_checks() -> List[Check]:
    return [check() for check in (*CHECKS, *STREAM_CHECKS)]


def report_lines(checks: List[Check]) -> List[str]:
    """Aligned report: status, name, detail; an indented hint under anything missing or worth fixing."""
    width = max(len(c.name) for c in checks)
    lines = []
    for check in checks:
        lines.append(f"  {('[' + check.status + ']'):<10} {check.name:<{width}}  {check.detail}")
        if check.hint and check.status in (MISSING, WARN):
            lines.append(f"  {'':<10} {'':<{width}}  -> {check.hint}")
    by_name = {c.name: c for c in checks}
    needed = [name for name in ("GPU", "CUDA", "TensorRT", "pycuda") if by_name[name].status != OK]
    if needed:
        lines.append(f"TensorRT path: not available here (missing: {', '.join(needed)}); the ONNX Runtime (CPU) path works")
    else:
        lines.append("TensorRT path: all parts found; `edgeunet doctor --selftest` proves it on this GPU")
    return lines


# -- selftest ------------------------------------------------------------------------------------
SELFTEST_SHAPE = (1, 3, 64, 64)
SELFTEST_RTOL = 1e-2  # TensorRT uses TF32 for fp32 convolutions on Ampere and newer: ~1e-3 relative, far below this


def write_micro_unet(path: Path, seed: int = 0) -> int:
    """A two-level UNet in plain ONNX (Conv, Relu, MaxPool, ConvTranspose, Concat): the op set of edgeunet models."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)

    def weight(name: str, shape: Tuple[int, ...], fan_in: int) -> Any:
        return numpy_helper.from_array((rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32), name)

    def bias(name: str, size: int) -> Any:
        return numpy_helper.from_array((rng.standard_normal(size) * 0.1).astype(np.float32), name)

    inits = [weight("w1", (8, 3, 3, 3), 27), bias("b1", 8), weight("w2", (16, 8, 3, 3), 72), bias("b2", 16),
             weight("wt", (16, 8, 2, 2), 64), bias("bt", 8), weight("w3", (2, 16, 1, 1), 16), bias("b3", 2)]
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["skip"]),
        helper.make_node("MaxPool", ["skip"], ["down"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["down", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("ConvTranspose", ["r2", "wt", "bt"], ["up"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Concat", ["skip", "up"], ["cat"], axis=1),
        helper.make_node("Conv", ["cat", "w3", "b3"], ["output"]),
    ]
    n, _, h, w = SELFTEST_SHAPE
    graph = helper.make_graph(
        nodes, "edgeunet_selftest", [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(SELFTEST_SHAPE))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [n, 2, h, w])], inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgeunet-selftest")
    model.ir_version = 8  # readable by the TensorRT 8.5 parser (JetPack 5) as well as newer ones
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return len(nodes)


@dataclass
class Comparison:
    max_abs: float
    mean_abs: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.max_abs)) and self.max_abs <= self.tolerance


def compare(reference: np.ndarray, candidate: np.ndarray) -> Comparison:
    """Max and mean |difference|; the tolerance scales with the reference's magnitude."""
    if reference.shape != candidate.shape:
        return Comparison(float("inf"), float("inf"), 0.0)
    diff = np.abs(reference.astype(np.float64) - candidate.astype(np.float64))
    tolerance = SELFTEST_RTOL * float(np.abs(reference).max()) + 1e-5
    return Comparison(float(diff.max()), float(diff.mean()), tolerance)


def run_selftest(echo: Callable[[str], None] = print) -> Comparison:
    """Generated ONNX -> ONNX Runtime CPU reference -> TensorRT engine via edgeunet.trt -> PASS/FAIL with numbers."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="edgeunet-selftest-") as tmp:
        onnx_path = Path(tmp) / "selftest.onnx"
        nodes = write_micro_unet(onnx_path)
        x = np.random.default_rng(1).standard_normal(SELFTEST_SHAPE).astype(np.float32)
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        reference = session.run(None, {"input": x})[0]
        shape = "x".join(map(str, SELFTEST_SHAPE))
        echo(f"selftest: micro-UNet {shape} ({nodes} nodes), ONNX Runtime {ort.__version__} CPU reference computed")
        from edgeunet.trt.selftest import build_and_run

        try:
            run = build_and_run(onnx_path, {"input": x})
        except MissingDependencyError as exc:
            echo("selftest: FAIL (the TensorRT path cannot run here)")
            raise MissingDependencyError(f"selftest FAIL: {exc}") from None
        except EdgeUnetError as exc:
            echo("selftest: FAIL")
            raise EdgeUnetError(f"selftest FAIL: {exc}") from None
    result = compare(reference, np.asarray(run.outputs["output"]))
    lat = np.asarray(run.latencies_ms)
    where = f"TensorRT {run.tensorrt_version} on {run.gpu_name} (sm {run.compute_capability[0]}.{run.compute_capability[1]})"
    numbers = (f"max|Δ| {result.max_abs:.2e} (tolerance {result.tolerance:.2e}), mean|Δ| {result.mean_abs:.2e} vs ONNX Runtime CPU; "
               f"build {run.build_seconds:.1f} s, engine {run.engine_bytes / 1e6:.2f} MB; latency p50 {np.percentile(lat, 50):.3f} ms, "
               f"p95 {np.percentile(lat, 95):.3f} ms, p99 {np.percentile(lat, 99):.3f} ms over {lat.size} runs (H2D + compute + D2H)")
    if not result.passed:
        echo(f"selftest: FAIL {where}: {numbers}")
        raise EdgeUnetError(f"selftest FAIL: TensorRT output differs from ONNX Runtime by {result.max_abs:.2e} "
                            f"(tolerance {result.tolerance:.2e}); report it with the output of `edgeunet doctor`")
    echo(f"selftest: PASS {where}: {numbers}")
    return result
