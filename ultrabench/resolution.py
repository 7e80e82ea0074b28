"""Resolutions are always height x width, as in the header of the paper's Table 1.

`2160x3840` is 2160 pixels high and 3840 wide (landscape). Parsing is strict so that a typo never
silently becomes a different benchmark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from ultrabench.errors import UsageError

# Generous but finite: 16K on a side and 128 megapixels. Anything larger is almost surely a typo
# (e.g. an extra digit) and would only fail minutes later with an out-of-memory error.
MAX_SIDE = 16384
MAX_PIXELS = 128 * 1024 * 1024
MIN_SIDE = 8

_RES_RE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


@dataclass(frozen=True, order=True)
class Resolution:
    height: int
    width: int

    @property
    def key(self) -> str:
        """Folder name and TOML spelling: `HxW`."""
        return f"{self.height}x{self.width}"

    @property
    def megapixels(self) -> float:
        return self.height * self.width / 1e6

    @property
    def orientation(self) -> str:
        if self.height == self.width:
            return "square"
        return "landscape" if self.width > self.height else "portrait"

    def describe(self) -> str:
        return f"{self.key}: {self.height} high, {self.width} wide, {self.orientation}"

    def __str__(self) -> str:
        return self.key


# The five columns of the paper's Table 1, in its order (H x W).
PAPER_RESOLUTIONS: tuple[Resolution, ...] = (
    Resolution(1024, 1792),
    Resolution(2048, 2048),
    Resolution(2160, 3840),
    Resolution(4096, 2048),
    Resolution(4096, 4096),
)

PRESETS: dict[str, tuple[Resolution, ...]] = {"paper": PAPER_RESOLUTIONS}


def parse_resolution(text: str) -> Resolution:
    """Parse one `HxW` value; raise `UsageError` with the reason when it is not one."""
    raw = str(text)
    m = _RES_RE.match(raw)
    if not m:
        if raw.strip().startswith("-") or re.search(r"x\s*-", raw):
            raise UsageError(f"resolution {raw!r}: sides must be positive integers (HxW, e.g. 2160x3840)")
        raise UsageError(f"resolution {raw!r} is not HxW (height x width, e.g. 2160x3840 or the preset 'paper')")
    h, w = int(m.group(1)), int(m.group(2))
    if h < MIN_SIDE or w < MIN_SIDE:
        raise UsageError(f"resolution {raw!r}: each side must be at least {MIN_SIDE} pixels")
    if h > MAX_SIDE or w > MAX_SIDE or h * w > MAX_PIXELS:
        raise UsageError(
            f"resolution {raw!r} is absurdly large (limit {MAX_SIDE} per side and "
            f"{MAX_PIXELS // (1024 * 1024)} MP); check for a typo"
        )
    return Resolution(h, w)


def parse_resolutions(values: Iterable[str] | str) -> tuple[Resolution, ...]:
    """Parse repeatable and comma-separated values and presets, keeping order, dropping repeats."""
    if isinstance(values, str):
        values = [values]
    out: list[Resolution] = []
    for value in values:
        for part in str(value).split(","):
            part = part.strip()
            if not part:
                raise UsageError(f"empty resolution in {value!r}")
            found = PRESETS.get(part.lower())
            for res in found if found is not None else (parse_resolution(part),):
                if res not in out:
                    out.append(res)
    return tuple(out)
