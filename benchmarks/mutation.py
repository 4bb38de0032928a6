"""Mutation testing of the TensorRT layer (edgeunet/trt/, edgeunet/runtime/trt_backend.py) under the emulator tests.

`make mutation` runs this under `nice -n 19`: mutmut (config in pyproject.toml [tool.mutmut]) mutates the layer,
runs for each mutant only the tests that executed the mutated function (mutmut's per-test tracing), one worker,
then this script writes benchmarks/results/mutation_trt.md: counts, the score, and every mutant not killed, each
either listed as equivalent (benchmarks/mutation_equivalents.json: mutant -> why no test can tell it apart) or as a
survivor still to kill. Score = killed / (all - equivalent); a timeout counts as killed (mutmut's rule: the mutant
changed behaviour enough to hang).

    EDGEUNET_TRT_API=../shared/trt-api nice -n 19 python benchmarks/mutation.py [--keep] [--names PATTERN ...]

--keep reuses mutants/ (only new or changed mutants run again); --names reruns the given mutants (fnmatch).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
EQUIVALENTS = REPO / "benchmarks" / "mutation_equivalents.json"
OUT = REPO / "benchmarks" / "results" / "mutation_trt.md"
KILLED = {"killed", "timeout", "caught by type check"}
FLOOR = 0.90


def _mutmut(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # mutmut forks one child per mutant from a process that already ran torch: a forked child that enters an OpenMP
    # parallel region (a torch convolution in a fixture that exports an ONNX) waits forever on the parent's thread pool,
    # and mutmut then counts the hang as a "timeout", i.e. killed. One intra-op thread never starts that pool.
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    # The tiny trained model and its ONNX (tests/conftest.py) do not depend on the mutated layer: made once, shared by
    # every mutant's pytest session instead of trained again per mutant.
    env.setdefault("EDGEUNET_TEST_ARTIFACTS", str(REPO / "mutants" / ".test-artifacts"))
    env.setdefault("EDGEUNET_TRT_API", str(REPO.parent / "shared" / "trt-api"))
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=REPO, env=env, capture_output=True, text=True, check=False)


def statuses() -> Dict[str, str]:
    """mutant name -> mutmut status (killed, survived, no tests, timeout, ...)."""
    result = _mutmut("results", "--all", "true")
    found: Dict[str, str] = {}
    for line in result.stdout.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name.startswith("edgeunet."):
            found[name] = status.strip()
    return found


def diff(name: str) -> str:
    """The mutated line pair of `name`, as `- old` / `+ new` (first of each)."""
    lines = _mutmut("show", name).stdout.splitlines()
    old = next((line[1:].strip() for line in lines if line.startswith("-") and not line.startswith("---")), "")
    new = next((line[1:].strip() for line in lines if line.startswith("+") and not line.startswith("+++")), "")
    return f"`{old}` → `{new}`".replace("|", "\\|")


def _row(name: str, status: str, reason: str) -> str:
    short = re.sub(r"^edgeunet\.", "", name).replace("ǁ", ".")
    return f"| {short} | {status} | {diff(name)} | {reason} |"


def report(found: Dict[str, str], seconds: float, command: str, note: str = "") -> Tuple[float, List[str]]:
    equivalents: Dict[str, str] = json.loads(EQUIVALENTS.read_text(encoding="utf-8")) if EQUIVALENTS.is_file() else {}
    checked = {n: s for n, s in found.items() if s != "not checked"}
    killed = [n for n, s in checked.items() if s in KILLED]
    equivalent = [n for n, s in checked.items() if s not in KILLED and n in equivalents]
    survivors = sorted(n for n, s in checked.items() if s not in KILLED and n not in equivalents)
    stale = sorted(n for n in equivalents if checked.get(n) in KILLED)  # listed as equivalent but a test kills it now
    denominator = max(len(checked) - len(equivalent), 1)
    score = len(killed) / denominator
    lines = [
        "# Mutation score of the TensorRT layer (edgeunet/trt/, edgeunet/runtime/trt_backend.py)", "",
        f"`{command}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, mutmut {_version()}, one worker under `nice -n 19` on the "
        f"development machine (2 cores shared with other jobs; Intel Xeon, AVX-512): {seconds / 60:.1f} min. "
        "Tests: tests/trtsim, tests/unit/trt and tests/unit/runtime/test_trt_backend.py without the slow CLI/ModelOpt tests, only those that ran the mutated "
        "function (mutmut's per-test tracing); every mutant of the layer, no sampling. Emulator tests: protocol, not a GPU.", "",
        *([note, ""] if note else []),
        f"- mutants: {len(found)} ({len(found) - len(checked)} not checked)",
        f"- killed: {len(killed)} (timeouts included: {sum(1 for n in killed if checked[n] == 'timeout')})",
        f"- equivalent (excluded, listed below with the reason): {len(equivalent)}",
        f"- not killed: {len(survivors)}",
        f"- **score: {score:.1%}** killed of {denominator} non-equivalent mutants (floor {FLOOR:.0%})", "",
        "## Survivors", "", "| mutant | status | change | |", "|---|---|---|---|",
    ]
    lines += [_row(n, checked[n], "not killed yet") for n in survivors] or ["| (none) | | | |"]
    lines += ["", "## Equivalent mutants (no test can tell them apart)", "", "| mutant | status | change | why equivalent |", "|---|---|---|---|"]
    lines += [_row(n, checked[n], equivalents[n]) for n in sorted(equivalent)] or ["| (none) | | | |"]
    if stale:
        lines += ["", "Listed as equivalent but killed now (remove from benchmarks/mutation_equivalents.json): " + ", ".join(stale)]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return score, survivors


def _version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="reuse mutants/ from the last run")
    parser.add_argument("--names", nargs="*", default=[], help="rerun only these mutants (fnmatch patterns)")
    parser.add_argument("--report-only", action="store_true", help="write the report from mutants/ without running")
    parser.add_argument("--note", default="", help="a line for the report (e.g. what an earlier run found)")
    args = parser.parse_args()
    command = "make mutation"
    if args.names:
        command = f"python benchmarks/mutation.py --names <{len(args.names)} mutants>"
    elif args.keep or args.report_only:
        command = "python benchmarks/mutation.py " + ("--keep" if args.keep else "--report-only")
    start = time.perf_counter()
    if not args.report_only:
        if not (args.keep or args.names):
            shutil.rmtree(REPO / "mutants", ignore_errors=True)
        run = _mutmut("run", "--max-children", "1", *args.names)
        tail = run.stdout.strip().splitlines()[-3:] if run.stdout.strip() else []
        print("\n".join(tail), run.stderr[-2000:] if run.returncode else "", sep="\n")
    score, survivors = report(statuses(), time.perf_counter() - start, command, args.note)
    print(f"wrote {OUT}: score {score:.1%}, {len(survivors)} survivor(s) not listed as equivalent")
    return 0 if score >= FLOOR else 1


if __name__ == "__main__":
    raise SystemExit(main())
