"""`ultrabench status`: how far a run folder is, per method and resolution.

Only units of the run's current spec count (`ultrabench.runspec.current_records`); units of an
earlier spec are counted apart. Expected units are the current spec's prompts and seeds for every
(method, resolution) that an invocation under the same prompt sample and seed asked for
(`invocations.jsonl`), so counting pending units needs neither the methods nor the prompt files.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ultrabench.errors import UsageError
from ultrabench.joblog import job_rows
from ultrabench.resolution import parse_resolution
from ultrabench.runspec import current_records, current_units
from ultrabench.runstore import RunStore, Unit, UnitRecord

COLUMNS = ("done", "pending", "oom", "error", "unsupported")
# An invocation's work counts for the current spec when it sampled the same prompts with the same seed.
_SAME_UNITS = ("prompts", "prompt_seed", "seed")


def expected_units(store: RunStore, run_info: dict | None = None) -> set[Unit]:
    info = store.read_run_info() if run_info is None else run_info
    units = current_units(info)
    path = store.root / "invocations.jsonl"
    if not units or not path.is_file():
        return set()
    current = {k: info["spec"].get(k) for k in _SAME_UNITS}
    work: set[tuple[str, str]] = set()
    for line in path.read_text().splitlines():
        try:
            inv = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        if inv.get("kind") != "generate" or {k: inv.get("spec", {}).get(k) for k in _SAME_UNITS} != current:
            continue
        for w in inv.get("work", []):
            if w.get("method") != "import":
                work.update((w["name"], key) for key in w["resolutions"])
    return {Unit(name, parse_resolution(key), pid, "", seed, k) for name, key in work for pid, seed, k in units}


@dataclass
class RunStatus:
    rows: list[dict]
    left_out: dict[str, int] = field(default_factory=dict)  # units of another spec, by differing field
    failed: list[UnitRecord] = field(default_factory=list)  # oom and error records of the current spec
    jobs: list[dict] = field(default_factory=list)  # scheduler jobs of the run (`ultrabench.joblog`)


def is_run_folder(root: Path) -> bool:
    if (root / "run.json").is_file() or (root / "prompts.jsonl").is_file():
        return True
    return next(RunStore(root).records(statuses=None), None) is not None


def collect_status(run_dir: str | Path) -> RunStatus:
    store = RunStore(run_dir)
    if not store.root.is_dir():
        raise UsageError(f"run folder {store.root} does not exist")
    if not is_run_folder(store.root):
        raise UsageError(f"{store.root} is not a run folder (no run.json, prompts.jsonl or unit records); "
                         "pass the folder `ultrabench generate --out` wrote")
    info = store.read_run_info()
    records, left_out = current_records(store.root, statuses=None)
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    seen = set()
    jobs = job_rows(store.root, records)
    made_by: dict[tuple[str, str], set] = defaultdict(set)  # the jobs that made each row's units
    for rec in records:
        key = (rec.method, rec.resolution.key)
        counts[key]["done" if rec.status == "ok" else rec.status] += 1
        seen.add((rec.method, rec.resolution.key, rec.record_path.stem))
        if (rec.data.get("made_by") or {}).get("job") is not None:
            made_by[key].add(rec.data["made_by"]["job"])
    for u in expected_units(store, info):
        if (u.method, u.resolution.key, u.stem) not in seen:
            counts[(u.method, u.resolution.key)]["pending"] += 1
    rows = [{"method": m, "resolution": r, **c, **({"jobs": len(made_by[(m, r)])} if jobs else {})}
            for (m, r), c in sorted(counts.items())]
    return RunStatus(rows, left_out, [r for r in records if r.status in ("oom", "error")], jobs)


def run_status(run_dir: str | Path) -> list[dict]:
    return collect_status(run_dir).rows
