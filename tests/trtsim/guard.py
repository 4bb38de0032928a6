"""Attribute guards that hold every emulated class, enum and module to the version's json surface.

Rule (shared/trt-api/README.md): a member the json lacks raises AttributeError as the real pybind module does;
a member the json has but the emulator does not implement raises NotImplementedError naming it, so a test never
passes by touching something the emulator only pretends to have. Python subclasses (the calibrators) keep
their own attributes untouched: only names resolved on emulator classes are checked.
"""

from __future__ import annotations

import types
from typing import Any, Callable, Dict, Iterable, Optional

from tests.trtsim.state import STATE
from tests.trtsim.surface import surface


def not_emulated(owner: str, member: str) -> NotImplementedError:
    return NotImplementedError(f"trtsim: tensorrt {STATE.version} {owner}.{member} exists but is not emulated")


def _trt_name(cls: type) -> Optional[str]:
    for klass in cls.__mro__:
        name = klass.__dict__.get("_trt_name")
        if name:
            return str(name)
    return None


def _user_defined(cls: type, name: str) -> bool:
    """True when `name` comes from a Python subclass (not an emulator class) in the MRO."""
    for klass in cls.__mro__:
        if klass is object or klass.__dict__.get("_trt_name") or klass.__dict__.get("_trtsim_base") or klass.__module__ in ("builtins", "mmap"):
            continue  # emulator classes and the C types an emulated class is built on (IHostMemory's mmap)
        if name in klass.__dict__:
            return True
    return False


def _needs_base_init(cls: type) -> bool:
    return any(k.__dict__.get("_pybind_trampoline") for k in cls.__mro__)


def _checked(owner: str, name: str, lookup: Callable[[], Any], what: str) -> Any:
    if name not in surface(STATE.version).members(owner):
        raise AttributeError(f"{what} has no attribute '{name}'")
    try:
        return lookup()
    except AttributeError:
        raise not_emulated(owner, name) from None


class GuardMeta(type):
    """Class-level lookups (`trt.Logger.WARNING`, `trt.BuilderFlag.FP16`) follow the json too.

    Construction follows pybind11: a Python subclass of a class with a trampoline (`_pybind_trampoline`: ILogger,
    the calibrators, IGpuAllocator, IProgressMonitor, ...) whose `__init__` does not call the base `__init__` raises
    TypeError "<base>.__init__() must be called when overriding __init__" (pybind11 pybind11.h, the
    `pybind11_meta_call` check), so the C++ object is never half-made.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        obj = super().__call__(*args, **kwargs)
        if type.__getattribute__(cls, "__dict__").get("_trt_name") is None and _needs_base_init(cls):
            if not obj.__dict__.get("_pybind_initialised"):
                base = next(k for k in cls.__mro__ if k.__dict__.get("_trt_name"))
                raise TypeError(f"tensorrt.tensorrt.{base.__dict__['_trt_name']}.__init__() must be called when overriding __init__")
        return obj

    def __getattribute__(cls, name: str) -> Any:
        if name.startswith("_"):
            return type.__getattribute__(cls, name)
        owner = _trt_name(cls)
        if owner is None or _user_defined(cls, name):
            return type.__getattribute__(cls, name)
        return _checked(owner, name, lambda: type.__getattribute__(cls, name), f"type object 'tensorrt.tensorrt.{owner}'")


class Emulated(metaclass=GuardMeta):
    """Base of every emulated TensorRT class; state lives in `_underscored` attributes."""

    _trtsim_base = True

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_"):
            return object.__getattribute__(self, name)
        cls = type(self)
        owner = _trt_name(cls)
        inst = object.__getattribute__(self, "__dict__") if hasattr(self, "__dict__") else {}
        if owner is None or name in inst or _user_defined(cls, name):
            return object.__getattribute__(self, name)
        return _checked(owner, name, lambda: object.__getattribute__(self, name), f"'tensorrt.tensorrt.{owner}' object")

    def __setattr__(self, name: str, value: Any) -> None:
        cls = type(self)
        owner = _trt_name(cls)
        if name.startswith("_") or owner is None or _user_defined(cls, name):
            object.__setattr__(self, name, value)
            return
        if name not in surface(STATE.version).members(owner):
            if cls.__dict__.get("_trt_name"):  # a pybind object without dynamic attributes
                raise AttributeError(f"'tensorrt.{owner}' object has no attribute '{name}'")
            object.__setattr__(self, name, value)  # a Python subclass instance has a __dict__
            return
        attr = None
        for klass in cls.__mro__:
            if name in klass.__dict__:
                attr = klass.__dict__[name]
                break
        if isinstance(attr, property) and attr.fset is not None:
            object.__setattr__(self, name, value)
        elif isinstance(attr, property):
            raise AttributeError(f"can't set attribute '{name}' of 'tensorrt.{owner}'")
        else:
            raise not_emulated(owner, name)


# -- enums (pybind11 py::enum_: .name, .value, int(), hashable, equal only within one enum) --------
class EnumValue:
    __slots__ = ("_enum", "name", "value")

    def __init__(self, enum: str, name: str, value: int) -> None:
        self._enum = enum
        self.name = name
        self.value = value

    def __int__(self) -> int:
        return self.value

    __index__ = __int__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EnumValue) and other._enum == self._enum and other.value == self.value

    def __hash__(self) -> int:
        return hash((self._enum, self.value))

    def __repr__(self) -> str:
        return f"<{self._enum}.{self.name}: {self.value}>"

    def __str__(self) -> str:
        return f"{self._enum.split('.')[-1]}.{self.name}"


def make_enum(qualname: str, values: Dict[str, int]) -> type:
    """An enum class holding every value the json lists for `qualname`, numbered as the headers number them
    (shared/trt-api/enum-values-<version>.json: gaps, aliases and per-version changes included)."""
    names = list(surface(STATE.version).api.get(qualname, {}).get("members", {}))  # type: ignore[union-attr]
    attrs: Dict[str, Any] = {"_trt_name": qualname}
    for name in names:
        if name.startswith("__"):
            continue
        if name not in values:
            raise KeyError(f"trtsim: enum-values has no number for {qualname}.{name} in TensorRT {STATE.version}")
        attrs[name] = EnumValue(qualname, name, values[name])
    attrs["__members__"] = {n: v for n, v in attrs.items() if isinstance(v, EnumValue)}
    return GuardMeta(qualname.rsplit(".", maxsplit=1)[-1], (), attrs)


# -- the module object ----------------------------------------------------------------------------
class GuardedModule(types.ModuleType):
    """`tensorrt`: names absent from the json raise AttributeError, listed-but-not-emulated ones NotImplementedError."""

    def __getattr__(self, name: str) -> Any:  # only called for names not in the module dict
        if name.startswith("__"):
            raise AttributeError(name)
        if name in surface(STATE.version).module_names():
            raise not_emulated("<module>", name)
        raise AttributeError(f"module 'tensorrt' has no attribute '{name}'")


def build_module(name: str, namespace: Dict[str, Any], python_level: Iterable[str]) -> GuardedModule:
    """Module with the emulated names the json lists for this version, plus tensorrt/__init__.py's Python names."""
    module = GuardedModule(name)
    known = surface(STATE.version).module_names()
    for key, value in namespace.items():
        if key in known or key in python_level:
            setattr(module, key, value)
    return module
