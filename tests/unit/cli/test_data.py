"""`edgeunet data synth|check|preview`: the look-before-you-train verbs, their output and their refusals."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.unit.cli.invoke import cli, ok, one_line_error


@pytest.fixture(scope="module")
def cells(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from edgeunet.data.synth import make_dataset

    return make_dataset(tmp_path_factory.mktemp("cli-data") / "cells", count=4, size=32, seed=0)


def test_synth_writes_pairs_and_a_video(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = ok(cli(capsys, "data", "synth", "--out", tmp_path / "s", "--count", "2", "--size", "32", "--video", tmp_path / "v.avi"))
    assert f"wrote 2 image/mask pairs to {tmp_path / 's'}" in out and f"wrote {tmp_path / 'v.avi'}" in out
    assert len(list((tmp_path / "s" / "images").iterdir())) == 2 and (tmp_path / "v.avi").stat().st_size > 0
    one_line_error(cli(capsys, "data", "synth", "--out", tmp_path / "t", "--count", "1"), "--count")
    one_line_error(cli(capsys, "data", "synth", "--out", tmp_path / "s"), "already exists")


def test_check_a_clean_dataset(capsys: pytest.CaptureFixture[str], cells: Path) -> None:
    out = ok(cli(capsys, "data", "check", cells, "--split-by", "random"))
    assert f"{cells}: 4 images, 4 masks" in out and "sizes: 32x32 x4" in out
    assert "mask values: 0 (" in out and "255 (" in out and out.rstrip().endswith("no problems found")


def test_check_lists_every_problem_then_fails_in_one_line(capsys: pytest.CaptureFixture[str], cells: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    for sub in ("images", "masks"):
        (broken / sub).mkdir(parents=True)
        for path in (cells / sub).iterdir():
            (broken / sub / path.name).write_bytes(path.read_bytes())
    (broken / "masks" / "000.png").unlink()
    cv2.imwrite(str(broken / "masks" / "001.png"), np.full((32, 32), 7, np.uint8))  # a value the mask mapping lacks
    code, out, err = cli(capsys, "data", "check", broken, "--split-by", "random")
    problems = [line for line in out.splitlines() if line.startswith("problem: ")]
    assert len(problems) >= 2 and any("000" in line for line in problems) and any("7" in line for line in problems)
    one_line_error((code, out, err), "problem(s) found (listed above)")


def test_preview_writes_a_picture(capsys: pytest.CaptureFixture[str], cells: Path, tmp_path: Path) -> None:
    out = ok(cli(capsys, "data", "preview", cells, "--out", tmp_path / "p.png", "--count", "2"))
    assert out.strip() == f"wrote {tmp_path / 'p.png'} (2 samples)"
    assert cv2.imread(str(tmp_path / "p.png")) is not None
