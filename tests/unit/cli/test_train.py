"""`edgeunet train` option handling without training: what reaches TrainConfig, a --config file under the flags, refusals.

The training itself is replaced by a recorder; tests/unit/train/test_trainer.py and tests/integration/test_train_cli.py run it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

pytest.importorskip("torch")

from tests.unit.cli.invoke import cli, ok, one_line_error  # noqa: E402


@pytest.fixture()
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> List[Dict[str, Any]]:
    """Every call of the training function: its config (as a dict), resume folder and device."""
    import edgeunet.train.run as trainer

    seen: List[Dict[str, Any]] = []

    def record(cfg: Any, resume: Any = None, device: Any = None, source: Any = None) -> Path:
        seen.append({"cfg": cfg.to_dict(), "resume": resume, "device": device})
        return tmp_path / "run"

    monkeypatch.setattr(trainer, "train", record)
    return seen


def test_flags_reach_the_config(capsys: pytest.CaptureFixture[str], calls: List[Dict[str, Any]], tmp_path: Path) -> None:
    out = ok(cli(capsys, "train", "--data", tmp_path, "--size", "352x480", "--class-names", "bg,cell", "--epochs", "3",
                 "--out", tmp_path / "run"))
    cfg = calls[0]["cfg"]
    assert cfg["data"] == str(tmp_path) and cfg["size"] == "352x480" and cfg["class_names"] == ["bg", "cell"]
    assert cfg["epochs"] == 3 and cfg["out"] == str(tmp_path / "run")
    assert out.startswith(f"run finished: {tmp_path / 'run'}")
    ok(cli(capsys, "train", "--data", tmp_path, "--size", "128"))
    assert calls[1]["cfg"]["size"] == 128  # a square size stays a number in config.json


def test_a_config_file_sits_under_the_flags(capsys: pytest.CaptureFixture[str], calls: List[Dict[str, Any]], tmp_path: Path) -> None:
    config = tmp_path / "train.json"
    config.write_text(json.dumps({"data": str(tmp_path), "epochs": 7, "lr": 0.01, "class-names": "bg, cell"}))
    ok(cli(capsys, "train", "--config", config, "--epochs", "2"))
    cfg = calls[0]["cfg"]
    assert cfg["epochs"] == 2 and cfg["lr"] == 0.01 and cfg["data"] == str(tmp_path) and cfg["class_names"] == ["bg", "cell"]


def test_resume_passes_the_device_only_when_given(capsys: pytest.CaptureFixture[str], calls: List[Dict[str, Any]], tmp_path: Path) -> None:
    ok(cli(capsys, "train", "--resume", tmp_path))
    ok(cli(capsys, "train", "--resume", tmp_path, "--device", "cpu"))
    assert [(c["resume"], c["device"]) for c in calls] == [(tmp_path, None), (tmp_path, "cpu")]


@pytest.mark.parametrize(("args", "fragment"), [
    ([], "--data DIR is required"),
    (["--data", ".", "--crop", "64", "--size", "128"], "--crop and --size exclude each other"),
    (["--data", ".", "--epochs", "0"], "--epochs"),
    (["--data", ".", "--optimizer", "lion"], "--optimizer"),
    (["--from", "best.pt"], "add --qat"),
    (["--qat"], "--qat needs --from"),
    (["--qat", "--from", "best.pt", "--config", "c.yaml"], "not from --config"),
    (["--qat", "--from", "best.pt", "--width", "16"], "--width is fixed by the --from checkpoint"),
])
def test_refusals_before_training(capsys: pytest.CaptureFixture[str], calls: List[Dict[str, Any]], args: List[str], fragment: str) -> None:
    one_line_error(cli(capsys, "train", *args), fragment)
    assert calls == []
