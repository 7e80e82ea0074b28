"""Latency and status per (method, resolution), from unit records. One implementation, used by the
scorer (into `summary.json`) and by reports on runs that were never scored."""

from __future__ import annotations

from collections import defaultdict
from statistics import mean, median
from typing import Any, Iterable, Mapping

STATUS_COLUMNS = ("ok", "oom", "error", "unsupported", "unreadable")


def latency_rows(records: Iterable) -> list[dict[str, Any]]:
    """Seconds per image (warm-up units and failures left out), stage seconds per image, peak memory."""
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for r in records:
        if r.status == "ok" and not r.warmup and r.data.get("seconds") is not None:
            groups[(r.method, r.data.get("resolution"))].append(r)
    out = []
    for (method, res), recs in sorted(groups.items()):
        secs = [float(r.data["seconds"]) for r in recs]
        stages: dict[str, list[float]] = defaultdict(list)
        for r in recs:
            # stage seconds are for the batch an image came from
            batch = max(int(r.data.get("batch_size") or 1), 1)
            for k, v in (r.data.get("stages") or {}).items():
                if v is not None:
                    stages[k].append(float(v) / batch)
        mems = [int(r.data["peak_memory_bytes"]) for r in recs if r.data.get("peak_memory_bytes") is not None]
        kinds = sorted({r.data["memory_kind"] for r in recs if r.data.get("memory_kind")})
        out.append({
            "method": method, "resolution": res, "n": len(secs), "mean_s": mean(secs),
            "median_s": median(secs), "min_s": min(secs),
            "stages": {k: mean(v) for k, v in sorted(stages.items())},
            "peak_memory_bytes": max(mems) if mems else None,
            "memory_kind": ",".join(kinds) or None,
        })
    return out


def status_rows(records: Iterable, unreadable: Mapping[tuple[str, str], int] | None = None) -> list[dict[str, Any]]:
    """How many units of each (method, resolution) ended ok, oom, error, unsupported, and how many
    finished images the scorer could not read; with the precision the generated ones ran in (`dtype`,
    several joined by ", ") and what ran when it was not the method as its authors ran it
    (`as_run_note`), where the records say."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUS_COLUMNS, 0))
    dtypes: dict[tuple[str, str], set[str]] = defaultdict(set)
    notes: dict[tuple[str, str], dict[str, None]] = defaultdict(dict)
    for r in records:
        key = (r.method, r.data.get("resolution"))
        counts[key][r.status if r.status in STATUS_COLUMNS else "error"] += 1
        if r.status == "unsupported":
            continue
        if r.data.get("dtype"):
            dtypes[key].add(str(r.data["dtype"]))
        if r.data.get("as_run_note"):
            notes[key][str(r.data["as_run_note"])] = None
    for key, n in (unreadable or {}).items():
        counts[key]["unreadable"] += n
    return [{"method": m, "resolution": res, **c,
             **({"dtype": ", ".join(sorted(dtypes[(m, res)]))} if dtypes.get((m, res)) else {}),
             **({"as_run_note": "; ".join(notes[(m, res)])} if notes.get((m, res)) else {})}
            for (m, res), c in sorted(counts.items())]
