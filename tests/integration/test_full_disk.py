"""A full disk for every writing command: non-zero exit, one line naming the OS error, nothing left behind.

The disk is a real tmpfs filled to the last byte when this machine lets us mount one (root with
CAP_SYS_ADMIN: ENOSPC as a user would meet it); otherwise each command runs under RLIMIT_FSIZE=0, which
makes the kernel refuse every file write with EFBIG (the same OSError path, no root needed).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

import pytest

from tests.conftest import REPO

Full = Tuple[Path, Optional[Callable[[], None]]]


def _fsize_zero() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Full]:
    mount = tmp_path_factory.mktemp("full") / "disk"
    mount.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                                                   capture_output=True).returncode == 0
    try:
        if mounted:
            with contextlib.suppress(OSError), open(mount / ".filler", "wb") as handle:
                while True:
                    handle.write(b"\0" * 4096)
                    handle.flush()
            yield mount, None
        else:
            yield mount, _fsize_zero
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _run(full: Full, *args: object) -> subprocess.CompletedProcess:
    disk, preexec = full
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "edgeunet", *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env=env, preexec_fn=preexec)


COMMANDS: List[Tuple[str, Callable[[dict, Path], List[object]]]] = [
    ("train", lambda f, o: ["train", "--data", f["data"], "--out", o / "run", "--epochs", "1", "--width", "8", "--size", "64",
                            "--batch-size", "4", "--snapshot-samples", "2"]),
    ("export", lambda f, o: ["export", f["run"] / "best.pt", "--out", o / "m.onnx"]),
    ("convert", lambda f, o: ["convert", f["onnx"], "--fp16", "--out", o / "m.fp16.onnx"]),
    ("calibrate", lambda f, o: ["calibrate", f["onnx"], "--data", f["data"], "--out", o / "m.int8.onnx"]),
    ("infer", lambda f, o: ["infer", f["onnx"], f["data"] / "images", "--out", o / "inf"]),
    ("evaluate", lambda f, o: ["evaluate", f["onnx"], "--data", f["data"], "--json", o / "m.json"]),
    ("data-preview", lambda f, o: ["data", "preview", f["data"], "--out", o / "p.png"]),
    ("export-triton", lambda f, o: ["export-triton", f["onnx"], "--repo", o / "triton"]),
    ("export-deepstream", lambda f, o: ["export-deepstream", f["onnx"], "--out", o / "ds"]),
    ("stream-video", lambda f, o: ["stream", f["onnx"], f["video"], "-o", o / "out.avi", "--max-frames", "20"]),
    ("stream-frames", lambda f, o: ["stream", f["onnx"], f["video"], "-o", o / "frames/", "--max-frames", "20"]),
    ("stream-stats", lambda f, o: ["stream", f["onnx"], f["video"], "-o", "null", "--max-frames", "5", "--stats", o / "s.json"]),
    ("bench-json", lambda f, o: ["bench", f["onnx"], "--data", f["data"], "--iterations", "3", "--warmup", "1", "--json", o / "b.json"]),
    ("demo", lambda f, o: ["demo", "--out", o / "demo", "--epochs", "1"]),
]


@pytest.mark.parametrize(("name", "make"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_writer_fails_loudly_on_a_full_disk(full_disk: Full, name: str, make: Callable, tiny_run: Path, tiny_onnx: Path,
                                                  synth_data: Path, synth_video: Path) -> None:
    disk = full_disk[0]
    out = disk  # outputs right on the full disk: a parent folder made for them would be the user's request
    before = set(os.listdir(disk))
    fixtures = {"run": tiny_run, "onnx": tiny_onnx, "data": synth_data, "video": synth_video}
    proc = _run(full_disk, *make(fixtures, out))
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode != 0, (name, proc.stdout[-500:], proc.stderr[-500:])
    assert len(lines) == 1 and "Traceback" not in proc.stderr, (name, proc.stderr[-2000:])
    assert any(word in lines[0] for word in ("No space left", "ENOSPC", "File too large", "EFBIG", "disk is full")), lines[0]
    assert "wrote " not in proc.stdout, (name, proc.stdout)
    left = set(os.listdir(disk)) - before
    assert not left, (name, left, [str(p) for p in disk.rglob("*")][:10])
