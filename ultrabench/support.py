"""The support matrix: what each registered method delivers at each resolution (no weights needed).

Per cell: whether the size is generated natively, made at another size and resized, or not at all
(`support`), and whether what runs is the method as its authors ran it (`as_run`: "as-authors",
"new-size" for a size or orientation they never ran, "other-method" for another method in disguise,
with `as_run_note` saying what runs instead). Per method: the precision it runs in by default (`dtype`,
its authors'; `precision` in words).
"""

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
                    "as_run": p.as_run.value,
                    "as_run_note": p.as_run_note or None,
                }
        rows.append({"method": name, "display_name": cls.display_name or name, "kind": kind,
                     "licence": method_licence(cls), "dtype": cls.authors_dtype() if kind != "import" else None,
                     "precision": cls.precision() if kind != "import" else "the image files' own",
                     "cells": cells})
    return rows


def render_matrix(rows: list[dict], resolutions: Sequence[Resolution]):
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=escape("Support matrix (H x W): native, resized from the native size shown, or unsupported (-); "
                           "[n]: not the method as its authors ran it (notes below)"))
    t.add_column("method", no_wrap=True)
    t.add_column("dtype", no_wrap=True)
    for r in resolutions:
        t.add_column(r.key, justify="center")
    notes: list[str] = []
    for row in rows:
        if row.get("error"):
            t.add_row(row["method"], "", *(["unavailable"] * len(resolutions)))
            continue
        if row["kind"] == "import":
            t.add_row(row["method"], "", *(["imported"] * len(resolutions)))
            continue
        cells = []
        for r in resolutions:
            c = row["cells"][r.key]
            text = _SHORT[c["support"]]
            if c["support"] == "native-then-resized":
                text = f"from {c['native']}"
            if c.get("as_run_note") and c["support"] != "unsupported":
                if c["as_run_note"] not in notes:
                    notes.append(c["as_run_note"])
                text += f" [{notes.index(c['as_run_note']) + 1}]"
            cells.append(escape(text))
        t.add_row(row["method"], row.get("dtype") or "--dtype", *cells)
    if notes:
        t.caption = escape("\n".join(f"[{i}] {n}" for i, n in enumerate(notes, 1)))
        t.caption_justify = "left"
    return t
