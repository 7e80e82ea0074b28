"""`ultrabench status`: how far a run folder is, per method and resolution.

Expected units come from every recorded invocation (`invocations.jsonl`: its work list, prompt ids
and seeds), so the count of pending units needs neither the methods nor the prompt files.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from ultrabench.errors import UsageError
from ultrabench.resolution import parse_resolution
from ultrabench.runstore import RunStore, Unit
from ultrabench.seeding import unit_seed

COLUMNS = ("done", "pending", "oom", "error", "unsupported")


def expected_units(store: RunStore) -> set[Unit]:
    path = store.root / "invocations.jsonl"
    units: set[Unit] = set()
    if not path.is_file():
        return units
    for line in path.read_text().splitlines():
        try:
            inv = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        if inv.get("kind") != "generate":
            continue
        spec = inv.get("spec", {})
        seed, samples = int(spec.get("seed", 0)), int(spec.get("samples_per_prompt", 1))
        for w in inv.get("work", []):
            if w.get("method") == "import":
                continue
            for key in w["resolutions"]:
                res = parse_resolution(key)
                for pid in inv.get("prompt_ids", []):
                    for k in range(samples):
                        units.add(Unit(w["name"], res, pid, "", unit_seed(seed, pid, k), k))
    return units


def run_status(run_dir: str | Path) -> list[dict]:
    store = RunStore(run_dir)
    if not store.root.is_dir():
        raise UsageError(f"run folder {store.root} does not exist")
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    seen = set()
    for rec in store.records(statuses=None):
        key = (rec.method, rec.resolution.key)
        counts[key]["done" if rec.status == "ok" else rec.status] += 1
        seen.add((rec.method, rec.resolution.key, rec.record_path.stem))
    for u in expected_units(store):
        if (u.method, u.resolution.key, u.stem) not in seen:
            counts[(u.method, u.resolution.key)]["pending"] += 1
    return [{"method": m, "resolution": r, **c} for (m, r), c in sorted(counts.items())]
