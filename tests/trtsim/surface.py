"""Which TensorRT names exist per emulated version, read from ../shared/trt-api (never guessed).

Why a json and not a hand list: the json files are read from the pybind11 binding sources of each tag
(shared/trt-api/README.md), so "absent in 10.3" here means absent in the real module, and the emulator raises
AttributeError exactly where real code would.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[2]
API_DIR = Path(os.environ.get("EDGEUNET_TRT_API", str(REPO.parent / "shared" / "trt-api")))

# Emulated version key -> (API json, operator matrix, tensorrt.__version__). The enum values come from
# enum-values-<the json's version>.json. 8.5 is the real 8.5.3 surface (JetPack 5.1; shared/trt-api/README.md),
# not 8.6.1 relabelled: 46 names of 8.6.1 (ICastLayer, BuilderFlag.VERSION_COMPATIBLE, ...) raise AttributeError there.
VERSIONS: Dict[str, Tuple[str, str, str]] = {
    "8.5": ("python-api-8.5.3.json", "onnx-tensorrt-operators-8.5.md", "8.5.3.1"),
    "8.6": ("python-api-8.6.1.json", "onnx-tensorrt-operators-8.6.md", "8.6.1"),
    "10.3": ("python-api-10.3.0.json", "onnx-tensorrt-operators-10.1.md", "10.3.0"),
    "11": ("python-api-11.1.json", "onnx-tensorrt-operators-10.1.md", "11.1.0"),
}
DEFAULT_VERSION = "10.3"

# Inheritance is not in the json (README): look members up on these bases too.
BASES: Dict[str, Tuple[str, ...]] = {
    "Logger": ("ILogger",),
    "IInt8EntropyCalibrator2": ("IInt8Calibrator",),
    "IInt8EntropyCalibrator": ("IInt8Calibrator",),
    "IInt8MinMaxCalibrator": ("IInt8Calibrator",),
    "IInt8LegacyCalibrator": ("IInt8Calibrator",),
}
PYCUDA_JSON = "pycuda-api-2026.1.json"  # v2022.1 has the same surface except jit_target values (README)


def normalize(version: str) -> str:
    """'10.3.0' / '10' / '8.6.1' -> the emulated version key; ValueError for one we do not emulate."""
    text = str(version).strip()
    for key in VERSIONS:
        if text == key or text.startswith(key + "."):
            return key
    if text in ("10", "11.1"):
        return "10.3" if text == "10" else "11"
    raise ValueError(f"trtsim: no emulated TensorRT {version!r}; choose from {', '.join(VERSIONS)}")


def major(version: str) -> int:
    return int(normalize(version).split(".")[0])


@lru_cache(maxsize=None)
def _api(json_name: str) -> Dict[str, Dict[str, object]]:
    path = API_DIR / json_name
    if not path.is_file():
        raise FileNotFoundError(f"trtsim: {path} not found (set EDGEUNET_TRT_API to the shared/trt-api folder)")
    data: Dict[str, Dict[str, object]] = json.loads(path.read_text(encoding="utf-8"))
    return data


class Surface:
    """The API surface of one emulated version: module names, and members per class/enum (bases included)."""

    def __init__(self, version: str) -> None:
        self.version = normalize(version)
        self.api = _api(VERSIONS[self.version][0])

    def has_class(self, name: str) -> bool:
        return name in self.api and name != "<module>"

    def module_names(self) -> FrozenSet[str]:
        """Top-level names: classes and enums (not nested ones) and the module's functions."""
        names = {n for n in self.api if n != "<module>" and "." not in n}
        names.update(self._members("<module>"))
        return frozenset(names)

    def _members(self, name: str) -> List[str]:
        entry = self.api.get(name)
        if not entry:
            return []
        members = entry.get("members", {})
        assert isinstance(members, dict)
        return list(members)

    @lru_cache(maxsize=None)  # noqa: B019 - one Surface per version, kept for the process
    def members(self, name: str) -> FrozenSet[str]:
        """Members of class/enum `name`, its bases', and its nested types (pybind `Outer.Inner`).

        Nested enums are exported into the outer class (pybind `export_values`): `trt.Logger.WARNING`
        exists although the json lists WARNING under `ILogger.Severity` only (README: Logger derives from ILogger).
        """
        found = set(self._members(name))
        for key in self.api:
            if key.startswith(name + "."):
                inner = key[len(name) + 1:]
                found.add(inner)
                if self.api[key].get("kind") == "enum":
                    found.update(self._members(key))
        for base in BASES.get(name, ()):
            found.update(self.members(base))
        return frozenset(found)

    def kind(self, name: str, member: str) -> Optional[str]:
        for owner in (name, *BASES.get(name, ())):
            members = self.api.get(owner, {}).get("members", {})
            if isinstance(members, dict) and member in members:
                return str(members[member])
        return None


@lru_cache(maxsize=None)
def surface(version: str) -> Surface:
    return Surface(version)


def enum_values(version: str) -> Dict[str, Dict[str, int]]:
    """{enum name: {member: int}} of the version, from enum-values-<json version>.json (numbers read from the headers)."""
    json_name = VERSIONS[normalize(version)][0].replace("python-api-", "enum-values-")
    return {k: v for k, v in _api(json_name).items() if not k.startswith("_")}  # type: ignore[misc]


def pycuda_members(name: str) -> FrozenSet[str]:
    """Members of pycuda.driver class `name` ('<module>' for the module's names), from pycuda-api-*.json."""
    entry = _api(PYCUDA_JSON).get(name, {})
    if not isinstance(entry, dict):
        return frozenset()
    found = set(entry.get("members", {}))  # type: ignore[arg-type]
    for base in entry.get("bases", []):  # type: ignore[union-attr]
        found.update(pycuda_members(str(base)))
    return frozenset(found)


# -- the ONNX parser's operator matrix (onnx-tensorrt docs/operators.md at the version's branch) ------------
class OperatorMatrix:
    """op -> (supported, types, restrictions text), plus the opset range from the page's first line."""

    def __init__(self, version: str) -> None:
        self.version = normalize(version)
        text = (API_DIR / VERSIONS[self.version][1]).read_text(encoding="utf-8")
        self.ops: Dict[str, Tuple[bool, FrozenSet[str], str]] = {}
        for line in text.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 2 or cells[1] not in ("Y", "N"):
                continue
            types = frozenset(t.strip() for t in cells[2].split(",") if t.strip()) if len(cells) > 2 else frozenset()
            self.ops[cells[0]] = (cells[1] == "Y", types, cells[3] if len(cells) > 3 else "")
        # "supports operators up to Opset 17" (8.x) / "in the inclusive range of opset 9 to opset 20" (10.1)
        rng = re.search(r"opset (\d+) to opset (\d+)", text, re.IGNORECASE)
        upto = re.search(r"up to Opset (\d+)", text, re.IGNORECASE)
        self.opset_min = int(rng.group(1)) if rng else 1
        self.opset_max = int(rng.group(2)) if rng else (int(upto.group(1)) if upto else 99)
        # 8.x: "limited support for INT32, INT64 ... TensorRT will attempt to cast down INT64 to INT32"
        self.casts_int64_down = "cast down INT64 to INT32" in text

    def backticked_after(self, op: str, label: str) -> FrozenSet[str]:
        """Backticked words after `label` up to the next sentence end, e.g. Resize 'resize modes:'."""
        restrictions = self.ops.get(op, (False, frozenset(), ""))[2]
        match = re.search(re.escape(label) + r"(.*?)(?:\.<br|\.$|\.\s|$)", restrictions, re.IGNORECASE)
        return frozenset(re.findall(r"`([^`]+)`", match.group(1))) if match else frozenset()


@lru_cache(maxsize=None)
def operators(version: str) -> OperatorMatrix:
    return OperatorMatrix(version)
