"""Whether a score summary still describes the run folder's units.

The scorer writes, per (method, resolution), a digest of the units it saw: each record's name and
status, and for finished units the image's size and modification time (what the feature cache's
hash index also trusts). A report recomputes the digests from the records on disk, which costs one
`stat` per image, and marks every set whose units changed since scoring: images added, deleted or
rewritten, statuses changed, methods generated after the score.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Iterable


def unit_digests(records: Iterable) -> dict[tuple[str, str], dict]:
    """(method, resolution) -> {"units": n, "ok": n, "digest": hex} over the given records."""
    lines: dict[tuple[str, str], list[str]] = defaultdict(list)
    ok: dict[tuple[str, str], int] = defaultdict(int)
    for r in records:
        key = (r.method, r.data.get("resolution"))
        line = f"{r.record_path.name}|{r.status}"
        img = r.image_path if r.status == "ok" else None
        if img is not None:
            try:
                st = Path(img).stat()
                line += f"|{st.st_size}|{st.st_mtime_ns}"
                ok[key] += 1
            except OSError:
                line += "|missing"
        lines[key].append(line)
    return {k: {"units": len(v), "ok": ok[k], "digest": hashlib.sha1("\n".join(sorted(v)).encode()).hexdigest()[:16]}
            for k, v in sorted(lines.items())}


def as_rows(digests: dict[tuple[str, str], dict]) -> list[dict]:
    return [{"method": m, "resolution": r, **d} for (m, r), d in sorted(digests.items())]


def changed_since(summary: dict, records: Iterable) -> dict[tuple[str, str], str]:
    """(method, resolution) -> what changed since `summary` was scored, for every group that did
    (a group scored and gone, changed, or never scored); empty when the summary is current."""
    then = {(u["method"], u["resolution"]): u for u in summary.get("units") or []}
    now = unit_digests(records)
    out = {}
    for key in sorted(set(then) | set(now)):
        a, b = then.get(key), now.get(key)
        if a is None:
            out[key] = "not scored"
        elif b is None:
            out[key] = "its units are gone"
        elif a["digest"] != b["digest"]:
            out[key] = (f"changed since scoring ({a['ok']} finished images then, {b['ok']} now)"
                        if a["ok"] != b["ok"] else "changed since scoring (images rewritten or statuses changed)")
    return out
