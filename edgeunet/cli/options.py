"""Option groups shared by several verbs (Polygraphy's `tools/args/` is the model): declared once, read once.

A group is a decorator that adds its options, plus a small reader that turns the parsed values into the keyword
arguments the library takes, so a verb never re-declares `--backend` or `--max-drop` with its own help text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import click

from edgeunet.runtime.registry import backends_help

PathArg = click.Path(path_type=Path)
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

ORT_OPT_LEVELS = ["disable", "basic", "extended", "all"]


def mask_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """How mask pixel values become classes (shared by train and the data commands)."""
    func = click.option("--mask-map", default=None, help="Explicit pixel value:class id pairs, e.g. '0:1,255:0'.")(func)
    func = click.option(
        "--positive-value", type=click.IntRange(0, 255), default=None,
        help="Binary masks: the pixel value of the positive class (ISBI membranes: 0). Default 255.",
    )(func)
    func = click.option("--classes", type=click.IntRange(min=2), default=2, show_default=True, help="Number of classes, background included.")(func)
    return func


def mask_values(classes: int, positive_value: Optional[int], mask_map: Optional[str]) -> List[List[int]]:
    from edgeunet.data.dataset import default_mask_values, parse_mask_map

    return parse_mask_map(mask_map) if mask_map else default_mask_values(classes, positive_value)


def frame_size_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--size native / --tile / --overlap: how large frames reach the model (evaluate, infer)."""
    func = click.option("--overlap", type=click.IntRange(min=0), default=64, show_default=True, help="Pixels shared by neighbouring tiles (blended).")(func)
    func = click.option("--tile", type=click.IntRange(min=16), default=None, help="Native-resolution tiles of this side (multiple of 16), blended.")(func)
    func = click.option("--size", "frame_size", type=click.Choice(["native"]), default=None,
                        help="native: the whole frame at its own resolution (default: the model's own resize).")(func)
    return func


def gate_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The accuracy gate shared by calibrate, convert and build-engine."""
    func = click.option("--no-gate", is_flag=True, help="Skip the accuracy gate (not recommended).")(func)
    func = click.option("--max-drop", type=float, default=0.01, show_default=True,
                        help="Largest mean drop vs the fp32 model that is accepted (Dice for binary models, mIoU for multi-class).")(func)
    func = click.option("--max-class-drop", type=float, default=None,
                        help="Largest IoU drop of any single class. Default: max(0.03, --max-drop).")(func)
    func = click.option("--val-data", type=PathArg, default=None,
                        help="Labelled folder (images/ + masks/) for the gate. Default: the model's own validation split.")(func)
    return func


def int8_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """INT8 accuracy tools (issue 14): per-class gate limit, calibration-set check, sensitivity, float fallback."""
    func = click.option("--sensitivity-alone", is_flag=True,
                        help="With --sensitivity: also score each layer quantized alone (all others float; doubles the time).")(func)
    func = click.option("--sensitivity", type=PathArg, default=None, metavar="REPORT.md",
                        help="Write a per-layer sensitivity table (Markdown) and a bar chart (PNG beside it); needs validation images.")(func)
    func = click.option("--keep-float", default=None, metavar="NODE,...", help="Leave these layers (ONNX node names) in float.")(func)
    func = click.option("--fallback", type=click.Choice(["off", "auto"]), default="off", show_default=True,
                        help="auto: if the gate fails, leave the most sensitive layers in float, one at a time, until it passes.")(func)
    func = click.option("--strict-calibration", is_flag=True,
                        help="Refuse calibration images unlike the training data (noise, other domain, BGR, too few) instead of warning.")(func)
    return func


def int8_kwargs(options: Dict[str, Any]) -> Dict[str, Any]:
    """The int8 group's values as `export.int8.quantize_and_gate` keywords (--keep-float split into names)."""
    from edgeunet.export.int8 import parse_layer_list

    return {"keep_float": parse_layer_list(options.pop("keep_float", None))}


def echo_gate(gate: Any) -> None:
    if gate is not None:
        click.echo(gate.line())
        if len(gate.class_lines()) > 2:  # multi-class: the per-class table behind the verdict
            for line in gate.class_lines():
                click.echo(line)


def runtime_options(threads_help: str = "ONNX Runtime intra-op threads (default: all cores).", backend: bool = True) -> Decorator:
    """--backend/--device/--threads/--ort-opt-level: how a model file is opened (evaluate, infer, bench, stream).

    bench picks several backends with its own --backends, so it takes the group without --backend.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = click.option("--ort-opt-level", type=click.Choice(ORT_OPT_LEVELS), default="all", show_default=True,
                            help="ONNX Runtime graph optimisation ('all' includes the NCHWc/NHWC layout transforms).")(func)
        func = click.option("--threads", type=click.IntRange(min=0), default=None, help=threads_help)(func)
        func = click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda[:N].")(func)
        if backend:
            func = click.option("--backend", default="auto", show_default=True, help=backends_help())(func)
        return func

    return decorate


@dataclass(frozen=True)
class RuntimeOptions:
    """The parsed runtime group; `pop` takes its four values out of a verb's **options."""

    backend: str = "auto"
    device: str = "auto"
    threads: Optional[int] = None
    ort_opt_level: str = "all"

    @classmethod
    def pop(cls, options: Dict[str, Any]) -> "RuntimeOptions":
        return cls(**{name: options.pop(name) for name in ("backend", "device", "threads", "ort_opt_level") if name in options})

    def load_backend_kwargs(self) -> Dict[str, Any]:
        """Arguments for `runtime.load_backend` / `Segmenter` (runtime.base.BackendOptions makes them)."""
        from edgeunet.runtime.base import BackendOptions

        return {"backend": self.backend, **BackendOptions(device=self.device, threads=self.threads, opt_level=self.ort_opt_level).kwargs()}
