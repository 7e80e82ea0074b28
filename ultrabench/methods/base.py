"""The contract every generation method implements, from tiny stand-ins to UltraPixel.

A method is constructed cheaply (no torch import, no weights), can say for any resolution whether it
generates it natively, generates something else and resizes, or cannot, and only touches weights in
`load()`. Model code does no file I/O of its own beyond reading the weight paths it was given: the
run store writes images and records.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

from ultrabench.resolution import Resolution

if TYPE_CHECKING:  # pragma: no cover - typing only
    from PIL import Image

    from ultrabench.weights import WeightFile, WeightResolver


class PartialBatchError(Exception):
    """Raised by `generate` when some images of a batch failed and others did not.

    `partial[i]` is the i-th `GeneratedImage` when that item succeeded, else None; `errors[i]` says
    why it failed. The generation loop records each unit on its own.
    """

    def __init__(self, message: str, partial: list | None = None, errors: list | None = None) -> None:
        super().__init__(message)
        self.partial = partial or []
        self.errors = errors or []


@dataclass(frozen=True)
class Rule:
    """What one method setting accepts, beyond the type its default implies.

    Adapters declare rules in `setting_rules` with the helpers below, e.g.
    `setting_rules = {"steps": at_least(1), "sampler": one_of("ddim", "euler")}`. A setting without
    a rule is still type-checked against its default (bool, int, float or str; a None default
    accepts anything).
    """

    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    optional: bool = False  # None is accepted (e.g. "the pipeline's default")

    def problem(self, value: Any) -> str | None:
        if value is None:
            return None if self.optional else "must be set"
        if self.choices is not None and value not in self.choices:
            return f"is not one of {', '.join(map(repr, self.choices))}"
        if (self.low is not None or self.high is not None) and (
                isinstance(value, bool) or not isinstance(value, (int, float))):
            return "is not a number"
        if self.low is not None and value < self.low:
            return f"is below {self.low}"
        if self.high is not None and value > self.high:
            return f"is above {self.high}"
        return None


def at_least(low: float, optional: bool = False) -> Rule:
    return Rule(low=low, optional=optional)


def between(low: float, high: float, optional: bool = False) -> Rule:
    return Rule(low=low, high=high, optional=optional)


def one_of(*choices: Any, optional: bool = False) -> Rule:
    return Rule(choices=tuple(choices), optional=optional)


def _typed(method: str, key: str, value: Any, default: Any) -> Any:
    """`value` checked against the type of `default` (ints widen to float); UsageError if wrong."""
    from ultrabench.errors import UsageError

    if default is None or value is None:
        return value
    for kind, name in ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string")):
        if isinstance(default, kind):
            ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                return float(value)
            if not ok:
                raise UsageError(f"method {method!r}: setting {key} = {value!r} is not {name}")
            return value
    return value


def _listed(rule: "Rule | None", value: Any) -> bool:
    """Whether `value` is one of the rule's choices, type included (1 is not True)."""
    return rule is not None and rule.choices is not None and any(
        type(value) is type(c) and value == c for c in rule.choices)


class Support(str, Enum):
    NATIVE = "native"
    RESIZED = "native-then-resized"
    UNSUPPORTED = "unsupported"


class AsRun(str, Enum):
    """Whether what runs at a size is the method as its authors ran it."""

    AUTHORS = "as-authors"  # the authors' method, at a size (and orientation) their code or configs run
    NEW_SIZE = "new-size"  # the authors' method at a size or orientation they never ran (e.g. a transposed config)
    OTHER_METHOD = "other-method"  # another method in disguise (DemoFusion with one phase is plain SDXL)


@dataclass(frozen=True)
class SizePlan:
    """What a method will really do when asked for `requested`."""

    support: Support
    requested: Resolution
    native: Resolution | None = None  # the size the model itself produces; None when unsupported
    resize_filter: str | None = None  # filter used to reach `requested` from `native`
    reason: str = ""  # one line: why resized or unsupported
    as_run: AsRun = AsRun.AUTHORS
    as_run_note: str = ""  # one line when as_run is not AUTHORS: what runs instead (the report's footnote)

    def but(self, as_run: AsRun, note: str) -> "SizePlan":
        """This plan, saying that what runs is not the method as its authors ran it, and what it is."""
        return replace(self, as_run=as_run, as_run_note=note)

    def within(self, authors_sizes, method: str, where: str, detail: str = "") -> "SizePlan":
        """This plan, marked a size the authors never ran unless the request is one of
        `authors_sizes` ((height, width) pairs their code, README or demo runs, `where` names them)."""
        res = self.requested
        if self.support is Support.UNSUPPORTED or (res.height, res.width) in authors_sizes:
            return self
        return self.but(AsRun.NEW_SIZE, f"{method} at {res.key}: a size the authors never ran ({where})"
                                        + (f"; {detail}" if detail else ""))

    @classmethod
    def native_at(cls, res: Resolution) -> "SizePlan":
        return cls(Support.NATIVE, res, res)

    @classmethod
    def resized(cls, res: Resolution, native: Resolution, reason: str, resize_filter: str = "lanczos") -> "SizePlan":
        if native == res:
            return cls.native_at(res)
        return cls(Support.RESIZED, res, native, resize_filter, reason)

    @classmethod
    def unsupported(cls, res: Resolution, reason: str) -> "SizePlan":
        return cls(Support.UNSUPPORTED, res, None, None, reason)


@dataclass
class GeneratedImage:
    """One image and how it was made. `stages` are seconds for the batch it came from."""

    image: "Image.Image"
    stages: dict[str, float] = field(default_factory=dict)
    native_size: Resolution | None = None
    info: dict[str, Any] = field(default_factory=dict)


DTYPES = ("float32", "float16", "bfloat16")
# A `precision` setting ("bf16", "fp32": UltraPixel and its ablation) is the method's dtype in other words.
_PRECISION_DTYPES = {"bf16": "bfloat16", "bfloat16": "bfloat16", "fp16": "float16", "float16": "float16",
                     "fp32": "float32", "float32": "float32"}
_DTYPE_PRECISION = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


class Method:
    """Base class for generation methods. Subclasses set the class attributes and override hooks.

    Precision: `default_dtype` is the precision the method's authors run it in (each adapter cites
    where it says so). A method with a `dtype` setting (default None, "unset") runs in the spec's
    value when the spec gives one, else in the run's `--dtype` when that is given, else in
    `default_dtype`; the resolved value is written back into `settings["dtype"]`, so the settings
    hash and every record name the precision the units were really made in. A method without the
    setting (the stand-ins) runs in `--dtype`, float32 when none is given. A method whose precision
    setting is called `precision` (bf16 / fp32) takes --dtype into it the same way.

    Lifecycle: `Method(settings, device=..., dtype=..., weights=...)` -> `plan(res)` (any time, pure)
    -> `load()` once -> `generate(prompts, seeds, res)` many times -> `unload()`.
    """

    name: ClassVar[str] = ""  # registry name: lowercase, digits and dashes
    display_name: ClassVar[str] = ""  # as printed in tables (the paper's spelling where it has one)
    aliases: ClassVar[tuple[str, ...]] = ()  # other spellings, e.g. the paper's row label
    description: ClassVar[str] = ""
    family: ClassVar[str] = ""  # e.g. "tiny" for the random-weight stand-ins
    default_settings: ClassVar[Mapping[str, Any]] = {}
    setting_rules: ClassVar[Mapping[str, Rule]] = {}  # allowed values; see `Rule`
    max_batch_size: ClassVar[int] = 64
    default_dtype: ClassVar[str | None] = None  # the authors' precision; None: follows --dtype (float32)
    # Settings added after run folders of the method already existed: while unset (None) they hash
    # as absent (`hashed_settings`), so adding an option does not orphan those folders' units.
    added_settings: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any] | None) -> dict[str, Any]:
        """`settings` validated against `default_settings` (known keys, types) and `setting_rules`
        (ranges, choices), ints widened where the default is a float. Called when a spec loads and
        when a method is built, so a bad value stops the run before anything is written."""
        from ultrabench.errors import UsageError

        unknown = set(settings or {}) - set(cls.default_settings)
        if unknown:
            raise UsageError(
                f"method {cls.name!r}: unknown setting(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(cls.default_settings)) or 'none'}"
            )
        out = {}
        for key, value in (settings or {}).items():
            rule = cls.setting_rules.get(key)
            if not _listed(rule, value):  # a choice a rule names may be of another type than the default
                try:
                    value = _typed(cls.name, key, value, cls.default_settings[key])
                except UsageError:
                    if rule is None or rule.choices is None:
                        raise
                    raise UsageError(f"method {cls.name!r}: setting {key} = {value!r} {rule.problem(value)}") from None
            why = rule.problem(value) if rule is not None else None
            if why:
                raise UsageError(f"method {cls.name!r}: setting {key} = {value!r} {why}")
            out[key] = value
        return out

    def __init__(
        self,
        settings: Mapping[str, Any] | None = None,
        *,
        device: str = "cpu",
        dtype: str | None = None,
        weights: "WeightResolver | None" = None,
    ) -> None:
        given = self.check_settings(settings)
        self.settings: dict[str, Any] = {**self.default_settings, **given}
        self.device = device
        self.dtype, self.dtype_from = self._resolve_dtype(given, dtype)
        if "dtype" in self.default_settings:
            self.settings["dtype"] = self.dtype
        self._weights = weights

    def _resolve_dtype(self, given: Mapping[str, Any], flag: str | None) -> tuple[str, str]:
        """(dtype, where it came from): the spec's setting (`given`), else --dtype, else the authors' default."""
        from ultrabench.errors import UsageError

        if "precision" in self.default_settings and "dtype" not in self.default_settings:
            return self._resolve_precision(given, flag)
        for value, source in ((given.get("dtype"), "spec"), (flag, "--dtype")):
            if value is not None:
                if value not in DTYPES:
                    raise UsageError(f"method {self.name!r}: dtype {value!r} is not one of {', '.join(DTYPES)}")
                why = self.setting_rules["dtype"].problem(value) if "dtype" in self.setting_rules else None
                if why:  # e.g. ElasticDiffusion runs float32, or float16 through low_vram, never bfloat16
                    raise UsageError(f"method {self.name!r}: {source} {value} refused: its dtype {why}")
                return value, source
        return (self.default_dtype, "authors") if self.default_dtype else ("float32", "default")

    def _resolve_precision(self, given: Mapping[str, Any], flag: str | None) -> tuple[str, str]:
        from ultrabench.errors import UsageError

        source = "spec" if given.get("precision") is not None else "authors"
        if source == "authors" and flag is not None:
            rule = self.setting_rules.get("precision")
            code = _DTYPE_PRECISION[flag]
            if rule is not None and rule.choices is not None and code not in rule.choices:
                runs = ", ".join(sorted({_PRECISION_DTYPES[str(c).lower()] for c in rule.choices}))
                raise UsageError(f"method {self.name!r} runs in {runs}, not --dtype {flag}; give its spec entry "
                                 "its own precision setting")
            self.settings["precision"] = code
            source = "--dtype"
        dtype = _PRECISION_DTYPES[str(self.settings["precision"]).lower()]
        return (self.authors_dtype() if source == "authors" else dtype) or dtype, source

    @classmethod
    def authors_dtype(cls) -> str | None:
        """The precision the authors run the method in (`default_dtype`, or its `precision` setting's)."""
        if cls.default_dtype:
            return cls.default_dtype
        p = cls.default_settings.get("precision")
        return _PRECISION_DTYPES.get(str(p).lower()) if p is not None else None

    @classmethod
    def precision(cls) -> str:
        """One line: the precision the method runs in by default (`ultrabench methods`)."""
        return cls.authors_dtype() or "float32 unless --dtype says otherwise (a stand-in: no authors' precision)"

    # -- description (no torch, no weights) ---------------------------------------------------
    def plan(self, res: Resolution) -> SizePlan:
        """How this method reaches `res`. Default: anything natively."""
        return SizePlan.native_at(res)

    def weight_files(self) -> list["WeightFile"]:
        """Every weight file `load()` will need with the current settings (for `doctor`, `weights`)."""
        return []

    def recorded_settings(self) -> dict[str, Any]:
        """Every setting that changes pixels, written into each unit record."""
        return dict(self.settings)

    # -- work -----------------------------------------------------------------------------------
    def load(self) -> None:
        """Build or read the model. Called once before the first `generate`."""

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], res: Resolution) -> list[GeneratedImage]:
        """Generate one image per (prompt, seed) at `res` (the requested size, exactly)."""
        raise NotImplementedError

    def generate_units(self, units: Sequence[Any], res: Resolution) -> list[GeneratedImage]:
        """What the generation loop calls with its run-store units: by default `generate` with their
        prompts and seeds; a method that needs more of a unit (e.g. its sample index) overrides this."""
        return self.generate([u.prompt for u in units], [u.seed for u in units], res)

    def unload(self) -> None:
        """Drop references to models so memory can be reclaimed."""

    # -- helpers for subclasses -------------------------------------------------------------------
    @property
    def weights(self) -> "WeightResolver":
        if self._weights is None:
            from ultrabench.weights import WeightResolver

            self._weights = WeightResolver()
        return self._weights

    def hashed_settings(self) -> dict[str, Any]:
        """The settings the spec hash covers: all of them, less `added_settings` left unset."""
        return {k: v for k, v in self.settings.items() if not (k in self.added_settings and v is None)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, device={self.device!r}, dtype={self.dtype!r})"
