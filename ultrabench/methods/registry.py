"""Which methods exist: the core ones, `baselines.METHODS`, and the `ultrabench.methods` entry points.

Entries are "module:Class" strings imported on first use, so listing names costs nothing and a
broken optional adapter only fails when it is asked for. Names are validated like torch-fidelity's
registries: lowercase, no separators, no duplicates, and a did-you-mean on a typo.
"""

from __future__ import annotations

import difflib
import importlib
import re
from functools import lru_cache
from typing import Any, Mapping

from ultrabench.errors import UltrabenchError, UsageError
from ultrabench.methods.base import Method

ENTRY_POINT_GROUP = "ultrabench.methods"

CORE_METHODS: dict[str, str] = {
    "ultrapixel": "ultrabench.ultrapixel.method:UltraPixel",
    "tiny-ultrapixel": "ultrabench.ultrapixel.method:TinyUltraPixel",
    "tiny-sd": "ultrabench.tiny.methods:TinySD",
    "tiny-sd-sr": "ultrabench.tiny.methods:TinySDUpscaled",
}

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def _validate_name(name: str, origin: str) -> None:
    if not _NAME_RE.match(name):
        raise UltrabenchError(f"method name {name!r} from {origin} is invalid (lowercase letters, digits, '.', '_', '-')")


@lru_cache(maxsize=1)
def _sources() -> dict[str, tuple[str, Any]]:
    """name -> (origin, target) where target is "module:Class" or an entry point."""
    out: dict[str, tuple[str, Any]] = {}

    def add(name: str, origin: str, target: Any) -> None:
        _validate_name(name, origin)
        if name in out:
            raise UltrabenchError(f"method {name!r} is registered twice ({out[name][0]} and {origin})")
        out[name] = (origin, target)

    for n, t in CORE_METHODS.items():
        add(n, "ultrabench", t)
    try:
        from baselines import METHODS as baseline_methods
    except ImportError:
        baseline_methods = {}
    for n, t in baseline_methods.items():
        add(n, "baselines", t)
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        add(ep.name, f"entry point {ep.value}", ep)
    return out


def method_names(include_tiny: bool = True) -> list[str]:
    names = list(_sources())
    if not include_tiny:
        names = [n for n in names if not n.startswith("tiny-")]
    return names


def _unknown(name: str) -> UsageError:
    close = difflib.get_close_matches(name, list(_sources()), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(_sources())}"
    return UsageError(f"unknown method {name!r}{hint}")


@lru_cache(maxsize=None)
def get_method_class(name: str) -> type[Method]:
    if name not in _sources():
        canon = canonical_method(name)
        if canon is None:
            raise _unknown(name)
        name = canon
    origin, target = _sources()[name]
    try:
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            cls = getattr(importlib.import_module(module), attr)
        elif isinstance(target, type):  # registered directly (tests, notebooks)
            cls = target
        else:
            cls = target.load()
    except (ImportError, AttributeError) as e:
        raise UltrabenchError(f"method {name!r} ({origin}) cannot be imported: {e}") from e
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise UltrabenchError(f"method {name!r} ({origin}) is not a subclass of ultrabench.methods.Method")
    if cls.name != name:
        raise UltrabenchError(f"method {name!r} ({origin}) declares name {cls.name!r}")
    return cls


def create_method(
    name: str, settings: Mapping[str, Any] | None = None, *, device: str = "cpu", dtype: str | None = None, weights=None
) -> Method:
    return get_method_class(name)(settings, device=device, dtype=dtype, weights=weights)


def _norm(label: str) -> str:
    return re.sub(r"[^a-z0-9+]", "", label.lower().replace("σ", "sigma"))


def canonical_method(label: str) -> str | None:
    """Registry name for a label such as "PixArt-Sigma", "pixart_sigma" or "Base + BSRGAN"."""
    if label in _sources():
        return label
    want = _norm(label)
    for name in _sources():
        if _norm(name) == want:
            return name
    for name in _sources():
        try:
            cls = get_method_class(name)
        except UltrabenchError:
            continue
        if want in {_norm(a) for a in (cls.display_name, *cls.aliases) if a}:
            return name
    return None


def display_name_for(name: str) -> str:
    try:
        return get_method_class(name).display_name or name
    except UltrabenchError:
        return name


def method_kind(cls: type[Method]) -> str:
    return getattr(cls, "kind", "generate")


NO_LICENCE = "not declared by the adapter"


def method_licence(cls: type[Method]) -> str:
    """The licence of a method's weights, as its adapter declares it (class attribute `licence`)."""
    if getattr(cls, "family", "") == "tiny":
        return "none: random weights built locally"
    return getattr(cls, "licence", "") or NO_LICENCE
