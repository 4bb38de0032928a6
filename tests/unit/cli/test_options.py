"""Option groups: declared once, added to any verb, read back validated; --max-drop has one definition everywhere."""

from __future__ import annotations

from typing import Any, Dict

import click
import pytest
from click.testing import CliRunner

from edgeunet.cli.app import cli
from edgeunet.cli.options import ALL_GROUPS, FloatLayersGroup, FrameGroup, GateGroup, Int8ToolsGroup, MaskGroup, MaxDropGroup, RuntimeGroup, RuntimeOptions
from edgeunet.core.errors import EdgeUnetError


def _verb(group: Any) -> click.Command:
    """A throwaway verb carrying one group; it returns what the group reads."""

    @click.command()
    @group
    def verb(**options: Any) -> None:
        read = group.read(options)
        assert options == {}, f"{type(group).__name__} left {options}"
        click.echo(repr(read))

    return verb


def _read(group: Any, *args: str) -> str:
    result = CliRunner().invoke(_verb(group), list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_every_group_has_a_title_and_reads_back_all_it_adds() -> None:
    for group_class in ALL_GROUPS:
        group = group_class()
        assert group_class.title() and ":" in (group_class.__doc__ or ""), group_class
        assert group.names(), group_class
        _read(group)


def test_gate_group_reads_the_gate_settings_and_names_its_dependency() -> None:
    out = _read(GateGroup(), "--max-drop", "0.05", "--no-gate")
    assert "max_drop=0.05" in out and "gate=False" in out
    assert "max_drop" in GateGroup().names()


def test_max_drop_has_one_help_text_naming_dice_and_miou() -> None:
    helps: Dict[str, str] = {}
    for verb in ("calibrate", "convert", "build-engine", "bench", "train"):
        command = cli.commands[verb]
        option = next(p for p in command.params if p.name == "max_drop")
        helps[verb] = option.help or ""
    assert all("Dice for binary models, mIoU for multi-class" in text for text in helps.values()), helps


def test_negative_max_drop_is_one_line() -> None:
    result = CliRunner().invoke(_verb(MaxDropGroup()), ["--max-drop", "-1"])
    assert isinstance(result.exception, EdgeUnetError) and str(result.exception).startswith("--max-drop -1.0: must be 0 or more")


def test_float_layers_split_node_names() -> None:
    assert _read(FloatLayersGroup(), "--keep-float", "a,b", "--fallback", "auto") == repr(("auto", ("a", "b")))
    assert "'keep_float': ['x']" in _read(Int8ToolsGroup(), "--keep-float", "x")


def test_frame_and_mask_and_runtime_groups() -> None:
    assert "tile=64" in _read(FrameGroup(), "--tile", "64")
    assert _read(MaskGroup(), "--positive-value", "0") == repr((2, [[0, 1], [255, 0]]))
    runtime = RuntimeOptions(threads=2, ort_opt_level="basic")
    assert runtime.load_backend_kwargs() == {"backend": "auto", "device": "auto", "threads": 2, "opt_level": "basic"}
    assert "backend" not in RuntimeGroup(backend=False).names()
    assert RuntimeGroup().names()[:2] == ["backend", "device"]


@pytest.mark.parametrize("verb", ["evaluate", "infer", "stream"])
def test_verbs_share_the_runtime_group(verb: str) -> None:
    names = {p.name for p in cli.commands[verb].params}
    assert set(RuntimeGroup().names()) <= names
