"""One module per official-code method, each compared against the authors' own repository.

Every public module here (name not starting with "_") exposes:

    METHOD   the ultrabench method name            REPO     GitHub owner/name
    COMMIT   the pinned commit (40 hex), the same as the method's `official_commit`
    compare(checkouts: Path, work: Path) -> dict    the authors' entry point beside `ultrabench generate`
    interface_check(checkout: Path) -> list[str]    our stand-in checkout against the real code

`benchmarks/official_baselines.py` runs them all and writes reports/official/. Helpers shared by the
SDXL modules are in `_common.py` (FLUX ones may live in `_flux.py`).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def method_modules() -> list[ModuleType]:
    """Every per-method module of this package, sorted by name."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{__name__}.{n}") for n in names]
