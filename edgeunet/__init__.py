"""edgeunet: from a labelled folder to a calibrated edge engine and an honest live view.

The Python API is `Segmenter` (a frame in, a mask out) and `Stream` (a source through the model into sinks).
Both load lazily (PEP 562): `import edgeunet` must not pull in OpenCV, ONNX Runtime or torch.
"""

from typing import Any

from edgeunet.core.version import __version__

__all__ = ["Segmenter", "Stream", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Segmenter":
        from edgeunet.runtime.segmenter import Segmenter

        return Segmenter
    if name == "Stream":
        from edgeunet.stream.stream import Stream

        return Stream
    raise AttributeError(f"module 'edgeunet' has no attribute {name!r}")
