"""The only place edgeunet imports TensorRT and pycuda, and always lazily.

Why lazily: the edge path (and CI) must work without TensorRT; a missing TensorRT is a user-fixable
condition, reported as one line that names the install step (exit code 3), never an ImportError.

Layout (Polygraphy-style: small callables, heavy imports inside functions):
    plan.py         per-version decisions as plain functions of a version tuple (no TensorRT): flags, calibrators, DLA
    build.py        the builder steps (network from ONNX -> config -> serialized engine)
    calibration.py  implicit-calibration helpers that need no TensorRT (image choice, cache file, manifest)
    calibrator.py   IInt8EntropyCalibrator2 / IInt8MinMaxCalibrator subclasses: the one module that imports tensorrt
                    at import time (a subclass needs its base class), and it is only ever imported inside a build
    cuda.py         pycuda buffers, one stream, primary context usable from any thread
    runner.py       deserialize an engine and run it with name-based I/O (execute_async_v3)
    selftest.py     `edgeunet doctor --selftest`: a tiny engine built and run here, compared with ONNX Runtime
    sidecar.py      the engine sidecar (TensorRT version, GPU, precision, spec), written and read (no TensorRT)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional

from edgeunet.core.errors import MissingDependencyError

if TYPE_CHECKING:
    import tensorrt as trt

INSTALL_HINT = (
    "on Jetson install JetPack's TensorRT Python bindings (sudo apt install python3-libnvinfer) and build pycuda "
    "(pip install pycuda); on a desktop GPU: pip install 'edgeunet[trt]'"
)


def missing_tensorrt(what: str = "TensorRT") -> MissingDependencyError:
    """The one error for an absent TensorRT/pycuda, with the install step (exit code 3)."""
    return MissingDependencyError(f"{what} not found: {INSTALL_HINT}")


def import_tensorrt() -> Any:
    """The tensorrt module, or MissingDependencyError (exit 3).

    Any import failure counts: a half-installed TensorRT (libnvinfer missing, CUDA of another major version)
    raises OSError or RuntimeError from the shared library, not ImportError, and must still be one line.
    """
    try:
        import tensorrt
    except ImportError:
        raise missing_tensorrt() from None
    except Exception as exc:  # noqa: BLE001 - OSError/RuntimeError from a broken install
        raise MissingDependencyError(f"TensorRT is installed but does not load ({type(exc).__name__}: {exc}); {INSTALL_HINT}") from None
    return tensorrt


_LOGGERS: Dict[int, "trt.Logger"] = {}  # by id of the tensorrt module: one logger per loaded TensorRT


def shared_logger(verbose: bool = False) -> "trt.Logger":
    """One trt.Logger for the whole process.

    TensorRT keeps the first logger it is given process-wide and warns when a later Builder or Runtime brings
    another one, so builder, runtime and self-test share this one; `verbose` only lowers its threshold.
    """
    trt = import_tensorrt()
    logger = _LOGGERS.get(id(trt))
    if logger is None:
        logger = _LOGGERS.setdefault(id(trt), trt.Logger(trt.Logger.WARNING))
    logger.min_severity = trt.Logger.VERBOSE if verbose else trt.Logger.WARNING
    return logger


def tensorrt_version() -> Optional[str]:
    """The installed TensorRT version string, or None when `import tensorrt` fails (any reason: absent, broken libs)."""
    try:
        import tensorrt as trt
    except Exception:  # noqa: BLE001 - a half-installed TensorRT raises OSError/RuntimeError as well as ImportError
        return None
    return str(trt.__version__)


def pycuda_version() -> Optional[str]:
    """The installed pycuda version, or None. Importing the top-level package does not initialise CUDA."""
    try:
        import pycuda
    except Exception:  # noqa: BLE001 - a pycuda built against another CUDA fails with OSError on import
        return None
    return str(getattr(pycuda, "VERSION_TEXT", "unknown version"))
