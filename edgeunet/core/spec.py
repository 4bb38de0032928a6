"""ModelSpec: everything downstream needs to use a model, so no flag is ever repeated.

It travels inside checkpoints, ONNX metadata_props and engine sidecars. Pure Python and
JSON-serialisable, because the edge path (no torch) reads it too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.schema import check_fields, choice, clean_text, items, number, optional, text, whole

# Distinct, colour-blind-friendly-ish BGR colours (OpenCV order) for class overlays.
DEFAULT_COLORS_BGR: List[Tuple[int, int, int]] = [
    (0, 0, 0),
    (0, 215, 255),
    (255, 144, 30),
    (60, 20, 220),
    (113, 179, 60),
    (180, 105, 255),
    (0, 140, 255),
    (208, 224, 64),
]

SPEC_VERSION = 1

# The class id of "ignored" pixels in label masks (void, unlabelled, letterbox padding): no loss, no metric, never
# predicted. 255 because class ids are uint8 and no model has 256 classes.
IGNORE_LABEL = 255
RESIZE_MODES = ("stretch", "letterbox", "native")
# float: NCHW float32 in, logits out | uint8: NHWC uint8 at model size in, uint8 class mask out | end-to-end: the camera
# frame (NHWC BGR at frame_size) in, the class mask at frame_size out, every pixel step inside (export/end_to_end.py)
IO_MODES = ("float", "uint8", "end-to-end")
END_TO_END = "end-to-end"
FRAME_DTYPES = ("uint8", "float32")  # float32: for TensorRT 8.5, whose ONNX parser has no UINT8
OVERLAY_OUTPUT = "overlay"  # an end-to-end model's second output (export --overlay): the frame blended with class colours
MAX_CLASSES = 255  # class ids are uint8 and 255 is IGNORE_LABEL
# Types and bounds of every field, checked before a spec from a file (checkpoint, ONNX metadata, sidecar) is used:
# the bounds keep a stranger's numbers from allocating gigabytes or indexing past a colour table.
SPEC_RULES = {
    "in_channels": whole(1, 3),
    "num_classes": whole(2, MAX_CLASSES),
    "class_names": items(text(200), 1, MAX_CLASSES),
    "colors": items(items(whole(0, 255), 3, 4), 0, MAX_CLASSES),
    "input_size": items(whole(16, 16384), 2, 2),
    "channel_order": choice(("gray", "rgb")),
    "mean": items(number(-1e6, 1e6), 1, 3),
    "std": items(number(0.0, 1e6, open_low=True), 1, 3),
    "threshold": number(0.0, 1.0),
    "io": choice(IO_MODES),
    "mask_values": items(items(whole(0, 65535), 2, 2), 0, 65536),
    "ignore_index": optional(whole(0, 65535)),
    "resize": choice(RESIZE_MODES),
    "size_multiple": whole(1, 1024),
    "spec_version": whole(1, 10_000),
    "frame_size": items(whole(16, 16384), 0, 2),
    "frame_dtype": choice(FRAME_DTYPES),
    "overlay_alpha": optional(number(0.0, 1.0)),
}
SPEC_FIX = "re-export the model with `edgeunet export CHECKPOINT` (or ask its author for one made by edgeunet)"


@dataclass
class ModelSpec:
    """What a trained model expects and produces.

    `num_classes` counts the background: a binary model has num_classes == 2 and a single
    output logit (sigmoid + threshold); a multi-class model has one logit per class (argmax).
    """

    in_channels: int = 1
    num_classes: int = 2
    class_names: List[str] = field(default_factory=lambda: ["background", "foreground"])
    colors: List[List[int]] = field(default_factory=list)
    input_size: List[int] = field(default_factory=lambda: [256, 256])  # H, W
    channel_order: str = "gray"  # gray | rgb
    mean: List[float] = field(default_factory=lambda: [0.5])
    std: List[float] = field(default_factory=lambda: [0.25])
    threshold: float = 0.5
    io: str = "float"  # one of IO_MODES
    mask_values: List[List[int]] = field(default_factory=lambda: [[0, 0], [255, 1], [1, 1]])  # [pixel, class or IGNORE_LABEL]
    # The mask pixel value the user named void (--ignore-index); mask_values maps it to IGNORE_LABEL. Informational:
    # the model has outputs for the real classes only, so an ignored label can never be predicted.
    ignore_index: Optional[int] = None
    # stretch: cv2.resize to input_size | letterbox: keep the aspect ratio, pad bottom/right | native: the frame at its
    # own resolution, padded bottom/right to a multiple of size_multiple (crop-trained models; input_size = the crop)
    resize: str = "stretch"
    size_multiple: int = 16  # 2**depth: sides a fully convolutional graph takes without internal padding
    # io end-to-end only: the frame (H, W) the graph takes, its element type, and the alpha of its optional second output
    # (the blended overlay; None: mask only)
    frame_size: List[int] = field(default_factory=list)
    frame_dtype: str = "uint8"
    overlay_alpha: Optional[float] = None
    spec_version: int = SPEC_VERSION

    def __post_init__(self) -> None:
        if not self.colors:
            self.colors = [list(DEFAULT_COLORS_BGR[i % len(DEFAULT_COLORS_BGR)]) for i in range(self.num_classes)]

    @property
    def out_channels(self) -> int:
        return 1 if self.num_classes == 2 else self.num_classes

    @property
    def is_binary(self) -> bool:
        return self.num_classes == 2

    @property
    def ignored_values(self) -> List[int]:
        """Mask pixel values that count nowhere (void)."""
        return [int(v) for v, c in self.mask_values if int(c) == IGNORE_LABEL]

    def mask_mapping(self) -> Dict[int, int]:
        return {int(v): int(c) for v, c in self.mask_values}

    def replaced(self, source: str = "model", **changes: Any) -> "ModelSpec":
        """A validated copy with some fields changed: a spec that others hold is never edited in place."""
        return ModelSpec.from_dict({**self.to_dict(), **changes}, source)

    def with_input_size(self, size: Sequence[int], source: str = "model") -> "ModelSpec":
        return self.replaced(source, input_size=[int(size[0]), int(size[1])])

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Dict[str, Any], source: str = "model") -> "ModelSpec":
        """A checked spec: every field's type and bounds (SPEC_RULES, one line naming the field), names kept as data."""
        check_fields(data, SPEC_RULES, source, "model description", SPEC_FIX)
        if int(data.get("spec_version", SPEC_VERSION)) > SPEC_VERSION:
            raise EdgeUnetError(f"{source}: model description version {data['spec_version']} is newer than this edgeunet "
                                f"reads ({SPEC_VERSION}); upgrade edgeunet")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "class_names" in known:  # shown on pages, legends and terminals: no control characters from a stranger
            known["class_names"] = [clean_text(name, 200) for name in known["class_names"]]
        try:
            spec = cls(**known)
        except TypeError as exc:
            raise EdgeUnetError(f"{source}: model description is malformed ({exc}); re-export the model") from None
        spec.validate(source)
        return spec

    @classmethod
    def from_json(cls, text: str, source: str = "model") -> "ModelSpec":
        try:
            data = json.loads(text)
        except ValueError:
            raise EdgeUnetError(f"{source}: model description is not valid JSON; re-export the model") from None
        if not isinstance(data, dict):
            raise EdgeUnetError(f"{source}: model description is not a JSON object; re-export the model")
        return cls.from_dict(data, source)

    def validate(self, source: str = "model") -> None:
        problems = []
        if self.in_channels not in (1, 3):
            problems.append(f"in_channels={self.in_channels} (1 or 3)")
        if self.num_classes < 2:
            problems.append(f"num_classes={self.num_classes} (at least 2)")
        if len(self.class_names) != self.num_classes:
            problems.append(f"{len(self.class_names)} class names for {self.num_classes} classes")
        if len(self.input_size) != 2 or min(self.input_size) < 16:
            problems.append(f"input_size={self.input_size} (two sides >= 16)")
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            problems.append("mean/std do not match the channel count")
        if self.io not in IO_MODES:
            problems.append(f"io={self.io!r} ({', '.join(IO_MODES)})")
        if self.io == END_TO_END:
            problems.extend(self._end_to_end_problems())
        if self.resize not in RESIZE_MODES:
            problems.append(f"resize={self.resize!r} ({' or '.join(RESIZE_MODES)})")
        if any(not 0 <= int(c) <= IGNORE_LABEL for _, c in self.mask_values):
            problems.append(f"mask_values map to a class above {IGNORE_LABEL}")
        if any(int(c) != IGNORE_LABEL and int(c) >= self.num_classes for _, c in self.mask_values):
            problems.append(f"mask_values map to a class id beyond the {self.num_classes} classes")
        if problems:
            raise EdgeUnetError(f"{source}: invalid model description: {'; '.join(problems)}")

    @property
    def end_to_end(self) -> bool:
        """The graph does every pixel step itself: the CPU only hands the frame over (processing.py branches on it)."""
        return self.io == END_TO_END

    def _end_to_end_problems(self) -> List[str]:
        problems = []
        if len(self.frame_size) != 2 or min(self.frame_size) < 16:
            problems.append(f"frame_size={self.frame_size} (two sides >= 16)")
        if self.frame_dtype not in FRAME_DTYPES:
            problems.append(f"frame_dtype={self.frame_dtype!r} ({' or '.join(FRAME_DTYPES)})")
        if self.overlay_alpha is not None and not 0.0 <= float(self.overlay_alpha) <= 1.0:
            problems.append(f"overlay_alpha={self.overlay_alpha} (0..1)")
        return problems


def parse_size(text: Any, option: str = "--size", multiple: int = 1) -> Tuple[int, int]:
    """'256' -> (256, 256); '352x480' -> (352, 480) as height x width; each side >= 16 and a multiple of `multiple`."""
    raw = str(text).strip().lower()
    parts = raw.split("x")
    try:
        sides = [int(p) for p in parts]
    except ValueError:
        sides = []
    if len(sides) == 1:
        sides = sides * 2
    if len(sides) != 2:
        raise EdgeUnetError(f"{option} {text}: expected one side (256) or height x width (352x480)")
    if min(sides) < 16 or any(side % multiple for side in sides):
        rule = f"a multiple of {multiple} and " if multiple > 1 else ""
        raise EdgeUnetError(f"{option} {text}: each side must be {rule}at least 16 (e.g. 256 or 352x480)")
    return sides[0], sides[1]
