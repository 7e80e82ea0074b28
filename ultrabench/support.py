"""The support matrix: what each registered method delivers at each resolution (no weights needed)."""

from __future__ import annotations

from typing import Sequence

from ultrabench.errors import UltrabenchError
from ultrabench.methods.registry import get_method_class, method_kind, method_licence, method_names
from ultrabench.resolution import Resolution

_SHORT = {"native": "native", "native-then-resized": "resized", "unsupported": "-"}


def support_matrix(resolutions: Sequence[Resolution], include_tiny: bool = False) -> list[dict]:
    rows = []
    for name in method_names(include_tiny):
        try:
            cls = get_method_class(name)
        except UltrabenchError as e:
            rows.append({"method": name, "display_name": name, "kind": "?", "error": str(e), "cells": {}})
            continue
        kind = method_kind(cls)
        cells = {}
        if kind != "import":
            m = cls()
            for r in resolutions:
                p = m.plan(r)
                cells[r.key] = {
                    "support": p.support.value,
                    "native": p.native.key if p.native else None,
                    "resize_filter": p.resize_filter,
                    "reason": p.reason,
                }
        rows.append({"method": name, "display_name": cls.display_name or name, "kind": kind,
                     "licence": method_licence(cls), "cells": cells})
    return rows


def render_matrix(rows: list[dict], resolutions: Sequence[Resolution]):
    from rich.table import Table

    t = Table(title="Support matrix (H x W): native, resized from the native size shown, or unsupported (-)")
    t.add_column("method", no_wrap=True)
    for r in resolutions:
        t.add_column(r.key, justify="center")
    for row in rows:
        if row.get("error"):
            t.add_row(row["method"], *(["unavailable"] * len(resolutions)))
            continue
        if row["kind"] == "import":
            t.add_row(row["method"], *(["imported"] * len(resolutions)))
            continue
        cells = []
        for r in resolutions:
            c = row["cells"][r.key]
            text = _SHORT[c["support"]]
            if c["support"] == "native-then-resized":
                text = f"from {c['native']}"
            cells.append(text)
        t.add_row(row["method"], *cells)
    return t
