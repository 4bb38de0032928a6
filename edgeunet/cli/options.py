"""Option groups shared by several verbs, one class each (Polygraphy's `tools/args/base.py` is the model).

A group declares its options once (`params`), adds them to any verb (`add`, or use the instance as a decorator)
and reads them back (`read`: pops the group's values out of the verb's **options, validates them and returns
the value the library takes). Its docstring is "Title: description". A group that needs another names it in
`depends` and adds it with itself, so `--max-drop` has one definition and one help text wherever it appears.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Dict, List, Optional, Sequence, Tuple

import click

PathArg = click.Path(path_type=Path)
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

ORT_OPT_LEVELS = ["disable", "basic", "extended", "all"]


class OptionGroup:
    """Base: options declared once, added to verbs, read back into one value."""

    depends: ClassVar[Tuple["OptionGroup", ...]] = ()

    def params(self) -> List[Decorator]:
        """The group's own click options, top to bottom as `--help` shows them."""
        raise NotImplementedError

    def _all_params(self) -> List[Decorator]:
        return [p for group in self.depends for p in group._all_params()] + self.params()

    def add(self, func: Callable[..., Any]) -> Callable[..., Any]:
        for decorate in reversed(self._all_params()):
            func = decorate(func)
        return func

    __call__ = add

    def names(self) -> List[str]:
        """The Python names of every option the group adds (its dependencies' included)."""

        def probe() -> None:
            """Only carries the options' click params."""

        self.add(probe)  # click collects decorators bottom-up: reverse for the order --help shows
        return [param.name for param in reversed(getattr(probe, "__click_params__", [])) if param.name]

    def pop(self, options: Dict[str, Any]) -> Dict[str, Any]:
        """The group's values, taken out of a verb's **options."""
        return {name: options.pop(name) for name in self.names() if name in options}

    def read(self, options: Dict[str, Any]) -> Any:
        """Pop, validate and convert; the default is the plain values."""
        return self.pop(options)

    @classmethod
    def title(cls) -> str:
        return (cls.__doc__ or cls.__name__).split(":")[0].strip()


class MaskGroup(OptionGroup):
    """Mask values: how mask pixel values become classes (train and the data commands)."""

    def params(self) -> List[Decorator]:
        return [
            click.option("--classes", type=click.IntRange(min=2), default=2, show_default=True, help="Number of classes, background included."),
            click.option("--positive-value", type=click.IntRange(0, 255), default=None,
                         help="Binary masks: the pixel value of the positive class (ISBI membranes: 0). Default 255."),
            click.option("--mask-map", default=None, help="Explicit pixel value:class id pairs, e.g. '0:1,255:0'."),
        ]

    def read(self, options: Dict[str, Any]) -> Tuple[int, List[List[int]]]:
        """(number of classes, [pixel value, class id] pairs)."""
        from edgeunet.data.dataset import default_mask_values, parse_mask_map

        values = self.pop(options)
        mask_map, classes = values["mask_map"], values["classes"]
        return classes, parse_mask_map(mask_map) if mask_map else default_mask_values(classes, values["positive_value"])


class SplitGroup(OptionGroup):
    """Validation split: which images validate, kept whole by sequence for video frames (train, data check)."""

    def params(self) -> List[Decorator]:
        return [
            click.option("--val-data", type=PathArg, default=None,
                         help="Separate validation folder (else a split of the data); checked for near-duplicates of the training images."),
            click.option("--val-ratio", type=click.FloatRange(0, 1, max_open=True), default=0.2, show_default=True,
                         help="Share of the images held out; of the sequences when splitting by sequence."),
            click.option("--split-by", type=click.Choice(["auto", "sequence", "random"]), default="auto", show_default=True,
                         help="auto: by sequence when file names are frames of several sequences (0001TP_006690.png), else random."),
            click.option("--group-regex", default=None,
                         help="Names a file's sequence from its stem (first group); default: the name before the frame number."),
        ]


class UpsampleGroup(OptionGroup):
    """Upsampling: how masks come back at the frame's size (stream, evaluate, infer)."""

    def params(self) -> List[Decorator]:
        return [click.option("--upsample", type=click.Choice(["fast", "logits"]), default="fast", show_default=True,
                             help="Masks at the frame's size: fast (same masks, cost independent of the class count) or logits "
                                  "(resize every logit plane, then argmax: the reference, slow at camera resolution).")]

    def read(self, options: Dict[str, Any]) -> str:
        return str(options.pop("upsample"))


@dataclass(frozen=True)
class FrameOptions:
    """How large frames reach the model (its own resize, the whole frame, blended tiles) and how masks come back."""

    size: Optional[str] = None
    tile: Optional[int] = None
    overlap: int = 64
    upsample: str = "fast"

    def kwargs(self) -> Dict[str, Any]:
        return asdict(self)


class FrameGroup(OptionGroup):
    """Frame size: --size native / --tile / --overlap / --upsample, how large frames reach the model and come back (evaluate, infer)."""

    depends = (UpsampleGroup(),)

    def params(self) -> List[Decorator]:
        return [
            click.option("--size", "frame_size", type=click.Choice(["native"]), default=None,
                         help="native: the whole frame at its own resolution (default: the model's own resize)."),
            click.option("--tile", type=click.IntRange(min=16), default=None, help="Native-resolution tiles of this side (multiple of 16), blended."),
            click.option("--overlap", type=click.IntRange(min=0), default=64, show_default=True, help="Pixels shared by neighbouring tiles (blended)."),
        ]

    def read(self, options: Dict[str, Any]) -> FrameOptions:
        values = self.pop(options)
        return FrameOptions(size=values["frame_size"], tile=values["tile"], overlap=values["overlap"], upsample=values["upsample"])


def _checked_max_drop(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """The one --max-drop check (evaluate.gate.check_max_drop), so every verb says the same line."""
    from edgeunet.evaluate.gate import check_max_drop

    check_max_drop(value)
    return value


class MaxDropGroup(OptionGroup):
    """Accepted drop: the largest mean accuracy drop of a variant vs the fp32 model (one definition for every verb)."""

    def __init__(self, purpose: str = "") -> None:
        self.purpose = purpose

    def params(self) -> List[Decorator]:
        lead = f"{self.purpose}: largest" if self.purpose else "Largest"
        return [click.option("--max-drop", type=float, default=0.01, show_default=True, callback=_checked_max_drop,
                             help=f"{lead} mean drop vs the fp32 model that is accepted (Dice for binary models, mIoU for multi-class).")]

    def read(self, options: Dict[str, Any]) -> float:
        return float(options.pop("max_drop"))


@dataclass(frozen=True)
class GateOptions:
    """The accuracy gate's settings, as `export`'s gate functions take them."""

    val_data: Optional[Path] = None
    max_drop: float = 0.01
    max_class_drop: Optional[float] = None
    gate: bool = True

    def kwargs(self) -> Dict[str, Any]:
        return asdict(self)


class GateGroup(OptionGroup):
    """Accuracy gate: checks a converted or calibrated model against fp32 (calibrate, convert, build-engine)."""

    depends = (MaxDropGroup(),)

    def params(self) -> List[Decorator]:
        return [
            click.option("--val-data", type=PathArg, default=None,
                         help="Labelled folder (images/ + masks/) for the gate. Default: the model's own validation split."),
            click.option("--max-class-drop", type=click.FloatRange(min=0), default=None,
                         help="Largest IoU drop of any single class. Default: max(0.03, --max-drop)."),
            click.option("--no-gate", is_flag=True, help="Skip the accuracy gate (not recommended)."),
        ]

    def read(self, options: Dict[str, Any]) -> GateOptions:
        values = self.pop(options)
        return GateOptions(val_data=values["val_data"], max_drop=values["max_drop"], max_class_drop=values["max_class_drop"],
                           gate=not values["no_gate"])


class FloatLayersGroup(OptionGroup):
    """Float layers: INT8 layers left in float, by name or found by the gate (calibrate, build-engine --int8)."""

    def __init__(self, context: str = "") -> None:
        self.context = f"{context}: " if context else ""

    def params(self) -> List[Decorator]:
        return [
            click.option("--fallback", type=click.Choice(["off", "auto"]), default="off", show_default=True,
                         help=f"{self.context}if the gate fails, leave the most sensitive layers in float, one at a time, until it passes."),
            click.option("--keep-float", default=None, metavar="NODE,...", help=f"{self.context}leave these layers (ONNX node names) in float."),
        ]

    def read(self, options: Dict[str, Any]) -> Tuple[str, Tuple[str, ...]]:
        """(fallback mode, node names kept in float)."""
        from edgeunet.export.int8 import parse_layer_list

        values = self.pop(options)
        return values["fallback"], tuple(parse_layer_list(values["keep_float"]))


class Int8ToolsGroup(OptionGroup):
    """INT8 accuracy tools: calibration-set check, per-layer sensitivity, float fallback (calibrate)."""

    depends = (FloatLayersGroup(),)

    def params(self) -> List[Decorator]:
        return [
            click.option("--strict-calibration", is_flag=True,
                         help="Refuse calibration images unlike the training data (noise, other domain, BGR, too few) instead of warning."),
            click.option("--sensitivity", type=PathArg, default=None, metavar="REPORT.md",
                         help="Write a per-layer sensitivity table (Markdown) and a bar chart (PNG beside it); needs validation images."),
            click.option("--sensitivity-alone", is_flag=True,
                         help="With --sensitivity: also score each layer quantized alone (all others float; doubles the time)."),
        ]

    def read(self, options: Dict[str, Any]) -> Dict[str, Any]:
        """`export.int8_options.Int8Options` fields (--keep-float split into names)."""
        values = self.pop(options)
        fallback, keep_float = FloatLayersGroup().read(values)
        return {**values, "fallback": fallback, "keep_float": list(keep_float)}


class DeviceGroup(OptionGroup):
    """Device: where torch / ONNX Runtime run (train, evaluate, infer, stream, bench)."""

    def params(self) -> List[Decorator]:
        return [click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")]

    def read(self, options: Dict[str, Any]) -> str:
        return str(options.pop("device"))


@dataclass(frozen=True)
class RuntimeOptions:
    """The parsed runtime group."""

    backend: str = "auto"
    device: str = "auto"
    threads: Optional[int] = None
    ort_opt_level: str = "all"

    def load_backend_kwargs(self) -> Dict[str, Any]:
        """Arguments for `runtime.load_backend` / `Segmenter` (runtime.base.BackendOptions makes them)."""
        from edgeunet.runtime.base import BackendOptions

        return {"backend": self.backend, **BackendOptions(device=self.device, threads=self.threads, opt_level=self.ort_opt_level).kwargs()}


class RuntimeGroup(OptionGroup):
    """Runtime: how a model file is opened (--backend, --device, --threads, --ort-opt-level).

    bench picks several backends with its own --backends, so it takes the group without --backend.
    """

    depends = (DeviceGroup(),)

    def __init__(self, threads_help: str = "ONNX Runtime intra-op threads (default: all cores).", backend: bool = True) -> None:
        self.threads_help = threads_help
        self.backend = backend

    def params(self) -> List[Decorator]:
        from edgeunet.runtime.registry import backends_help

        backend: List[Decorator] = [click.option("--backend", default="auto", show_default=True, help=backends_help())]
        return (backend if self.backend else []) + [
            click.option("--threads", type=click.IntRange(min=0), default=None, help=self.threads_help),
            click.option("--ort-opt-level", type=click.Choice(ORT_OPT_LEVELS), default="all", show_default=True,
                         help="ONNX Runtime graph optimisation ('all' includes the NCHWc/NHWC layout transforms)."),
        ]

    def _all_params(self) -> List[Decorator]:  # --backend first, then --device, as --help always showed them
        own = self.params()
        head = own[:1] if self.backend else []
        return head + DeviceGroup().params() + own[len(head):]

    def read(self, options: Dict[str, Any]) -> RuntimeOptions:
        return RuntimeOptions(**self.pop(options))


def echo_gate(gate: Any) -> None:
    """The gate's verdict, and for multi-class models the per-class table behind it."""
    if gate is not None:
        click.echo(gate.line())
        if len(gate.class_lines()) > 2:
            for line in gate.class_lines():
                click.echo(line)


ALL_GROUPS: Sequence[type] = (
    MaskGroup, SplitGroup, UpsampleGroup, FrameGroup, MaxDropGroup, GateGroup, FloatLayersGroup, Int8ToolsGroup, DeviceGroup, RuntimeGroup,
)
