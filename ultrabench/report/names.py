"""Method display names and aliases for reports.

`ultrabench.methods.registry` is the authority once it exists; this fallback table keeps reports
working without it (and without importing any model code).
"""

from __future__ import annotations

import re

# Registry name -> the paper's row label. Order is the paper's row order within a resolution group,
# which reports reuse so that a measured table reads like the printed one.
_DISPLAY: dict[str, str] = {
    "dall-e-3": "DALL-E 3",
    "midjourney": "Midjourney",
    "scalecrafter": "ScaleCrafter",
    "elasticdiffusion": "ElasticDiffusion",
    "demofusion": "DemoFusion",
    "fouriscale": "FouriScale",
    "base-sr": "Base + BSRGAN",
    "pixart-sigma": "PixArt-Sigma",
    "ultrapixel": "UltraPixel",
}
_EXTRA_ALIASES: dict[str, str] = {
    "pixart-σ": "pixart-sigma",
    "pixartsigma": "pixart-sigma",
    "dalle3": "dall-e-3",
    "dalle-3": "dall-e-3",
    "base+bsrgan": "base-sr",
    "base-bsrgan": "base-sr",
    "bsrgan": "base-sr",
}
PAPER_ORDER: tuple[str, ...] = tuple(_DISPLAY)


def _key(label: str) -> str:
    s = label.strip().lower().replace("_", "-")
    s = re.sub(r"\s*\+\s*", "+", s)
    return re.sub(r"\s+", "-", s)


def _registry():
    try:
        from ultrabench.methods import registry  # written by the lead; optional here
    except Exception:
        return None
    return registry


def canonical_method(label: str) -> str | None:
    """Registry name for a label such as "PixArt-Sigma", "pixart_sigma" or "PixArt-Σ"; None if unknown."""
    k = _key(label)
    if k in _DISPLAY:
        return k
    by_display = {_key(v): n for n, v in _DISPLAY.items()}
    if k in by_display:
        return by_display[k]
    squeezed = k.replace("-", "")
    for cand in (k, squeezed):
        if cand in _EXTRA_ALIASES:
            return _EXTRA_ALIASES[cand]
    for n, v in _DISPLAY.items():
        if squeezed in (n.replace("-", ""), _key(v).replace("-", "")):
            return n
    # Methods this table does not know (plugins, tiny-*) are the registry's business.
    reg = _registry()
    if reg is not None and hasattr(reg, "canonical_method"):
        try:
            return reg.canonical_method(label) or None
        except Exception:
            return None
    return None


def display_name_for(name: str) -> str:
    """The paper's spelling for the paper's methods (stable across registry edits), else the registry's."""
    if name in _DISPLAY:
        return _DISPLAY[name]
    reg = _registry()
    if reg is not None and hasattr(reg, "display_name_for"):
        try:
            got = reg.display_name_for(name)
            if got:
                return got
        except Exception:
            pass
    return _DISPLAY.get(name, name)


def method_sort_key(name: str, reference: str | None = None) -> tuple:
    """Paper order first, unknown methods alphabetically after, the reference method last ("Ours")."""
    if name == reference:
        return (2, 0, name)
    if name in _DISPLAY:
        return (0, PAPER_ORDER.index(name), name)
    return (1, 0, name)
