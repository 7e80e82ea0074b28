"""The contract every generation method implements, from tiny stand-ins to UltraPixel.

A method is constructed cheaply (no torch import, no weights), can say for any resolution whether it
generates it natively, generates something else and resizes, or cannot, and only touches weights in
`load()`. Model code does no file I/O of its own beyond reading the weight paths it was given: the
run store writes images and records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


class Support(str, Enum):
    NATIVE = "native"
    RESIZED = "native-then-resized"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class SizePlan:
    """What a method will really do when asked for `requested`."""

    support: Support
    requested: Resolution
    native: Resolution | None = None  # the size the model itself produces; None when unsupported
    resize_filter: str | None = None  # filter used to reach `requested` from `native`
    reason: str = ""  # one line: why resized or unsupported

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


class Method:
    """Base class for generation methods. Subclasses set the class attributes and override hooks.

    Lifecycle: `Method(settings, device=..., dtype=..., weights=...)` -> `plan(res)` (any time, pure)
    -> `load()` once -> `generate(prompts, seeds, res)` many times -> `unload()`.
    """

    name: ClassVar[str] = ""  # registry name: lowercase, digits and dashes
    display_name: ClassVar[str] = ""  # as printed in tables (the paper's spelling where it has one)
    aliases: ClassVar[tuple[str, ...]] = ()  # other spellings, e.g. the paper's row label
    description: ClassVar[str] = ""
    family: ClassVar[str] = ""  # e.g. "tiny" for the random-weight stand-ins
    default_settings: ClassVar[Mapping[str, Any]] = {}
    max_batch_size: ClassVar[int] = 64

    def __init__(
        self,
        settings: Mapping[str, Any] | None = None,
        *,
        device: str = "cpu",
        dtype: str = "float32",
        weights: "WeightResolver | None" = None,
    ) -> None:
        unknown = set(settings or {}) - set(self.default_settings)
        if unknown:
            from ultrabench.errors import UsageError

            raise UsageError(
                f"method {self.name!r}: unknown setting(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(self.default_settings)) or 'none'}"
            )
        self.settings: dict[str, Any] = {**self.default_settings, **(settings or {})}
        self.device = device
        self.dtype = dtype
        self._weights = weights

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, device={self.device!r}, dtype={self.dtype!r})"
