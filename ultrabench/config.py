"""The benchmark spec: one dataclass that is the single source of defaults, TOML files and CLI flags.

Precedence: field defaults < TOML spec file < CLI flags. The fully resolved spec is frozen and
written beside the results (`run.json`), so every number can be traced to what produced it.
Each field's `help` metadata is also the CLI's help text for the matching flag.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ultrabench.errors import UsageError
from ultrabench.resolution import PAPER_RESOLUTIONS, Resolution, parse_resolutions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_SPEC = "table1"


def _f(default, help: str):
    # Defaults are immutable (tuples), so a plain default is safe in a frozen dataclass.
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class MethodEntry:
    """One row family of the table: a registered method under a run-folder name, with settings."""

    name: str  # folder and table name, e.g. "pixart-sigma-2k"
    method: str = ""  # registry name; defaults to `name`
    display_name: str = ""
    resolutions: tuple[Resolution, ...] = ()  # empty: every resolution of the spec
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def registry_name(self) -> str:
        return self.method or self.name

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "method": self.registry_name,
            "display_name": self.display_name,
            "resolutions": [r.key for r in self.resolutions],
            "settings": dict(self.settings),
        }


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str = _f(DEFAULT_SPEC, "Name of the benchmark spec.")
    description: str = _f("", "One line saying what this benchmark is.")
    out: str = _f("runs/table1", "Run folder: images, records, scores and reports go here.")
    prompts: str = _f("builtin", "Prompt source: 'builtin', a .txt/.csv/.jsonl/.parquet file, or hf:<dataset>[:split[:column]].")
    num_prompts: int = _f(1000, "Number of prompts sampled from the source (deterministic for a sample seed).")
    prompt_seed: int = _f(0, "Seed of the prompt sample.")
    seed: int = _f(0, "Base seed; each unit's seed is derived from (seed, prompt id, sample index).")
    samples_per_prompt: int = _f(1, "Images per prompt (each with its own derived seed).")
    batch_size: int = _f(1, "Images per forward pass (the paper's latency is at batch size 1).")
    warmup: int = _f(1, "Units per (method, resolution) and process whose latency is excluded as warm-up.")
    resolutions: tuple[Resolution, ...] = _f(PAPER_RESOLUTIONS, "Resolutions HxW (height x width) or the preset 'paper'.")
    methods: tuple[MethodEntry, ...] = _f((), "Methods and the resolutions each is run at.")
    metrics: tuple[str, ...] = _f(
        ("fid-patch", "fid", "is-patch", "is", "clip", "kid", "kid-patch", "pickscore", "glcm", "compression-ratio"),
        "Metrics to score.",
    )
    reference: str | None = _f(None, "Reference images for FID/KID: a folder of real high-resolution images, or hf:<dataset>.")
    patch_crops: int = _f(3, "299x299 native crops per image for the patch metrics (3: UltraPixel; 10: DemoFusion).")
    crop_seed: int = _f(0, "Seed of the crop positions (keyed per image by prompt id and seed).")
    reference_method: str = _f("ultrapixel", "Method whose PickScore win rate against every other method is reported.")

    # -- derived ----------------------------------------------------------------------------------
    def method_entries(self) -> tuple[MethodEntry, ...]:
        return self.methods

    def entry(self, name: str) -> MethodEntry | None:
        return next((m for m in self.methods if m.name == name), None)

    def resolutions_for(self, entry: MethodEntry) -> tuple[Resolution, ...]:
        return entry.resolutions or self.resolutions

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "resolutions":
                v = [r.key for r in v]
            elif f.name == "methods":
                v = [m.to_dict() for m in v]
            elif isinstance(v, tuple):
                v = list(v)
            d[f.name] = v
        return d

    def score_options(self) -> dict[str, Any]:
        """The spec's scoring settings as keyword arguments of `score_run`."""
        return {"metrics": list(self.metrics), "reference": self.reference, "patch_crops": self.patch_crops,
                "crop_seed": self.crop_seed, "reference_method": self.reference_method}

    def replace(self, **overrides: Any) -> "BenchmarkSpec":
        """CLI overrides: `None` means "not given" and keeps the spec's value. A prompt source
        given without `num_prompts` means every prompt of that source."""
        given = {k: v for k, v in overrides.items() if v is not None}
        _check_types({k: v for k, v in given.items() if k not in ("resolutions", "methods", "metrics")},
                     _FIELD_TYPES, f"spec {self.name!r}")
        if "prompts" in given and "num_prompts" not in given:
            given["num_prompts"] = prompt_count(given["prompts"])
        return _validated(dataclasses.replace(self, **given), f"spec {self.name!r}")


def field_help(name: str) -> str:
    """Help text of a spec field (the CLI uses this so flags and spec document one another)."""
    for f in dataclasses.fields(BenchmarkSpec):
        if f.name == name:
            return f.metadata.get("help", "")
    raise KeyError(name)


def field_default(name: str) -> Any:
    f = next(f for f in dataclasses.fields(BenchmarkSpec) if f.name == name)
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


_FIELDS = {f.name for f in dataclasses.fields(BenchmarkSpec)}
_ENTRY_FIELDS = {"name", "method", "display_name", "resolutions", "settings"}

# What each key of a spec file holds, checked before anything is built from it.
_INT, _STR, _STR_LIST = "an integer", "a string", "a list of strings"
_FIELD_TYPES = {
    **dict.fromkeys(("num_prompts", "prompt_seed", "seed", "samples_per_prompt", "batch_size", "warmup",
                     "patch_crops", "crop_seed"), _INT),
    **dict.fromkeys(("name", "description", "out", "prompts", "reference", "reference_method"), _STR),
    "resolutions": _STR_LIST, "metrics": _STR_LIST, "methods": "a list of method tables or names",
}
_ENTRY_TYPES = {"name": _STR, "method": _STR, "display_name": _STR, "resolutions": _STR_LIST, "settings": "a table"}


def _type_ok(value: Any, expected: str) -> bool:
    if expected == _INT:
        return isinstance(value, int) and not isinstance(value, bool)  # true is not 1 here
    if expected == _STR:
        return isinstance(value, str)
    if expected == _STR_LIST:
        # a single string is accepted too: resolutions = "paper", metrics = "fid"
        return isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))
    if expected == "a table":
        return isinstance(value, Mapping)
    return isinstance(value, (list, tuple)) and all(isinstance(v, (str, Mapping)) for v in value)


def _check_types(values: Mapping[str, Any], types: Mapping[str, str], where: str, prefix: str = "") -> None:
    for key, value in values.items():
        expected = types.get(key)
        if expected is not None and not (value is None and key == "reference") and not _type_ok(value, expected):
            raise UsageError(f"{where}: key {prefix + key!r} = {value!r} is not {expected}")


def _validated(spec: BenchmarkSpec, where: str = "spec") -> BenchmarkSpec:
    for name in ("num_prompts", "samples_per_prompt", "batch_size", "patch_crops"):
        if int(getattr(spec, name)) < 1:
            raise UsageError(f"{where}: {name} must be at least 1, got {getattr(spec, name)}")
    for name in ("warmup", "seed", "prompt_seed", "crop_seed"):
        if getattr(spec, name) < 0:
            raise UsageError(f"{where}: {name} must be >= 0, got {getattr(spec, name)}")
    names = [m.name for m in spec.methods]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"spec {spec.name!r}: method {dupes[0]!r} is listed twice")
    from ultrabench.methods.registry import canonical_method, get_method_class
    from ultrabench.metrics.registry import get_metric

    for m in spec.metrics:
        get_metric(m)
    # Method names and every setting are checked now, so a bad value stops the run before it starts.
    try:
        entries = tuple(dataclasses.replace(e, settings=get_method_class(e.registry_name).check_settings(e.settings))
                        for e in spec.methods)
    except UsageError as e:
        raise UsageError(f"{where}: {e}") from None
    if spec.reference_method not in names and canonical_method(spec.reference_method) is None:
        raise UsageError(f"{where}: reference_method {spec.reference_method!r} is an unknown method "
                         f"(neither a method of this spec nor a registered one)")
    return dataclasses.replace(spec, methods=entries)  # (== would miss 3 -> 3.0)


def _entry_from_toml(raw: Any, where: str) -> MethodEntry:
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict) or "name" not in raw:
        raise UsageError(f"{where}: each [[methods]] entry needs a name")
    unknown = set(raw) - _ENTRY_FIELDS
    if unknown:
        raise UsageError(f"{where}: method {raw['name']!r} has unknown key(s) {', '.join(sorted(unknown))}")
    _check_types(raw, _ENTRY_TYPES, where, prefix="methods.")
    from ultrabench.runstore import check_method_name

    return MethodEntry(
        name=check_method_name(raw["name"]),
        method=raw.get("method", ""),
        display_name=raw.get("display_name", ""),
        resolutions=parse_resolutions(raw.get("resolutions", [])) if raw.get("resolutions") else (),
        settings=dict(raw.get("settings", {})),
    )


def _as_list(value: Any) -> list:
    return [value] if isinstance(value, str) else list(value)


def spec_from_dict(data: Mapping[str, Any], where: str = "spec") -> BenchmarkSpec:
    unknown = set(data) - _FIELDS
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_FIELDS))}")
    _check_types(data, _FIELD_TYPES, where)
    kw: dict[str, Any] = {}
    for k, v in data.items():
        if k == "resolutions":
            kw[k] = parse_resolutions(_as_list(v))
        elif k == "methods":
            kw[k] = tuple(_entry_from_toml(e, where) for e in v)
        elif k == "metrics":
            kw[k] = tuple(_as_list(v))
        else:
            kw[k] = v
    if "prompts" in kw and "num_prompts" not in kw:
        kw["num_prompts"] = prompt_count(kw["prompts"])  # a prompt source without a count: all of it
    try:
        spec = BenchmarkSpec(**kw)
    except TypeError as e:
        raise UsageError(f"{where}: {e}") from None
    return _validated(spec, where)


def prompt_count(source: str) -> int:
    from ultrabench.prompts import load_prompts

    return len(load_prompts(source))


def spec_search_paths(name: str) -> list[Path]:
    """Where a spec given by name is looked for: ./benchmarks, then the source checkout's benchmarks."""
    fname = name if name.endswith(".toml") else f"{name}.toml"
    here = Path(__file__).resolve().parent.parent / "benchmarks" / fname
    return [Path.cwd() / "benchmarks" / fname, here]


def load_spec(spec: str | Path | None = None) -> BenchmarkSpec:
    """Load a spec from a TOML path or a name (`table1`, `demo`) found in `benchmarks/`."""
    spec = str(spec or DEFAULT_SPEC)
    path = Path(spec).expanduser()
    if not (path.suffix == ".toml" and path.exists()):
        if path.suffix == ".toml" or "/" in spec:
            raise UsageError(f"benchmark spec {spec} does not exist")
        found = next((p for p in spec_search_paths(spec) if p.exists()), None)
        if found is None:
            raise UsageError(f"no benchmark spec named {spec!r} (looked in ./benchmarks and the ultrabench checkout)")
        path = found
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"benchmark spec {path}: invalid TOML ({e})") from None
    return spec_from_dict(data, where=str(path))
