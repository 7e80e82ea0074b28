"""The spec a run folder is bound to: which units belong to it, and refusing to mix in others.

A run folder is one experiment. What a unit *is* depends on five run-wide fields of the spec
(`UNIT_FIELDS`: the prompt source and its sample, N, the base seed, samples per prompt) and on the
settings of the unit's method. The first `generate` freezes them in `run.json`; a later `generate`
whose spec changes any of them is refused (`check_spec`) unless it says what it means:

- `extend`: grow the run (more prompts or more samples per prompt, everything else equal). The
  prompt sample is ranked by a hash of (prompt seed, id), so a larger N keeps every earlier prompt
  and each earlier unit keeps its seed; the old units simply belong to the grown spec.
- `new-spec`: make the new spec the run's. Units of the old one stay on disk, but `status`,
  `score` and `report` leave them out (`current_records` counts them by the field they differ in).

Every unit record carries `settings_hash` (`settings_hash()`: the first 16 hex digits of the
sha256 of the canonical JSON of the method's registry name and its effective settings, the
method's defaults overlaid with the spec's) and `unit_spec` (the `UNIT_FIELDS` it was made under).
The precision a method runs in is one of its settings (`dtype`, or UltraPixel's `precision`), resolved
before hashing (spec entry, else --dtype, else the authors' default; see `Method`), so units made
in another precision never count as this spec's. Device, batch size and the package version are
recorded in each record but not hashed: they describe the machine, not the experiment.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping

from ultrabench.errors import UsageError
from ultrabench.runstore import RunStore, UnitRecord
from ultrabench.seeding import unit_seed

# Order matters: a left-out record is counted under the first of these that differs.
UNIT_FIELDS = ("prompts", "prompt_seed", "seed", "samples_per_prompt", "num_prompts")
# Fields that only say how many units there are; `extend` may grow them.
GROWABLE = ("num_prompts", "samples_per_prompt")
SPEC_CHANGES = ("extend", "new-spec")


def settings_hash(registry_name: str, settings: Mapping[str, Any]) -> str:
    payload = json.dumps({"method": registry_name, "settings": dict(settings)}, sort_keys=True,
                         separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def unit_spec(spec_dict: Mapping[str, Any]) -> dict[str, Any]:
    return {f: spec_dict.get(f) for f in UNIT_FIELDS}


def _setting_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    parts = [f"{k} {old.get(k, '(unset)')!r} -> {new.get(k, '(unset)')!r}" for k in keys if old.get(k) != new.get(k)]
    return ", ".join(parts) or "method"


def spec_differences(run_info: Mapping[str, Any], spec_dict: Mapping[str, Any],
                     methods: Mapping[str, Mapping[str, Any]], prompt_ids: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(field, "old -> new") for every unit-defining difference between a run and a new spec.

    `methods`: entry name -> {"method", "settings", "hash"} for the methods about to run;
    `prompt_ids`: the new spec's sample, which can change with the same fields when the prompt
    file itself was edited.
    """
    frozen = run_info.get("spec") or {}
    out = []
    for f in UNIT_FIELDS:
        if f in frozen and frozen[f] != spec_dict.get(f):
            out.append((f, f"{frozen[f]!r} -> {spec_dict.get(f)!r}"))
    old_ids, new_ids = set(run_info.get("prompt_ids") or ()), set(prompt_ids)
    if not out and run_info.get("prompt_ids") is not None and old_ids != new_ids:
        out.append(("prompts", f"the sample of {spec_dict.get('prompts')!r} changed ({len(old_ids - new_ids)} "
                               f"prompt(s) left it, {len(new_ids - old_ids)} joined): the prompt source was edited"))
    known = run_info.get("settings") or {}
    for name, new in methods.items():
        old = known.get(name)
        if old and old.get("hash") != new["hash"]:
            what = (f"method {old.get('method')!r} -> {new['method']!r}" if old.get("method") != new["method"]
                    else _setting_diff(old.get("settings") or {}, new["settings"]))
            out.append((f"settings of {name}", what))
    return out


def check_spec(run_info: Mapping[str, Any], spec_dict: Mapping[str, Any], methods: Mapping[str, Mapping[str, Any]],
               *, root: Path, prompt_ids: Iterable[str], change: str | None = None) -> list[tuple[str, str]]:
    """Refuse (UsageError) a spec that changes what a unit of the run folder is, unless `change`
    says how; return the differences that `change` accepted."""
    if change is not None and change not in SPEC_CHANGES:
        raise UsageError(f"unknown spec change {change!r}; use one of {', '.join(SPEC_CHANGES)}")
    prompt_ids = list(prompt_ids)
    diffs = spec_differences(run_info, spec_dict, methods, prompt_ids)
    if not diffs or change == "new-spec":
        return diffs
    frozen = run_info.get("spec") or {}
    growth_only = all(f in GROWABLE and spec_dict[f] > frozen[f] for f, _ in diffs)
    dropped = set(run_info.get("prompt_ids") or ()) - set(prompt_ids)
    listed = "; ".join(f"{f} {what}" for f, what in diffs)
    if change == "extend":
        if not growth_only:
            bad = next((f, w) for f, w in diffs if not (f in GROWABLE and spec_dict[f] > frozen[f]))
            raise UsageError(f"--extend only grows num_prompts or samples_per_prompt of {root}, but {bad[0]} "
                             f"changes ({bad[1]}); use a new --out, or --new-spec to make this the run's spec")
        if dropped:
            raise UsageError(f"--extend would drop {len(dropped)} prompt(s) of {root} from the sample "
                             f"(the prompt source changed); use a new --out, or --new-spec")
        return diffs
    ways = "--extend to grow it, or --new-spec" if growth_only and not dropped else "--new-spec"
    raise UsageError(f"run folder {root} holds units of another spec ({listed}); use a new --out, or {ways} "
                     f"to make this the run's spec (units of the old spec stay on disk, left out of status, score and report)")


def current_units(run_info: Mapping[str, Any]) -> set[tuple[str, int, int]] | None:
    """(prompt id, seed, sample index) of every unit of the run's current spec; None when unknown."""
    spec = run_info.get("spec")
    ids = run_info.get("prompt_ids")
    if not spec or ids is None:
        return None
    seed, samples = int(spec.get("seed", 0)), int(spec.get("samples_per_prompt", 1))
    return {(pid, unit_seed(seed, pid, k), k) for pid in ids for k in range(samples)}


def left_out_reason(rec: UnitRecord, run_info: Mapping[str, Any], units: set | None, ids: set | None) -> str | None:
    """None when the record belongs to the run's current spec, else the field it differs in."""
    if units is None:
        return None
    known = (run_info.get("settings") or {}).get(rec.method)
    h = rec.data.get("settings_hash")
    if known and h and known.get("hash") != h:
        return "settings"
    if rec.data.get("kind") == "import":
        # Imported images answer prompts; their seed is whatever the mapping said.
        return None if rec.prompt_id in ids else "prompts"
    if (rec.prompt_id, rec.seed, int(rec.data.get("sample_index", 0))) in units:
        return None
    made = rec.data.get("unit_spec") or {}
    frozen = run_info.get("spec") or {}
    for f in UNIT_FIELDS:
        if f in made and made[f] != frozen.get(f) and not (f in GROWABLE and made[f] < frozen.get(f, 0)):
            return f
    return "seed" if rec.prompt_id in ids else "prompts"


def current_records(run_dir: str | Path, statuses: tuple[str, ...] | None = ("ok",)
                    ) -> tuple[list[UnitRecord], dict[str, int]]:
    """The records of the run's current spec, and how many others were left out, by the field
    they differ in (`UNIT_FIELDS` names or "settings"). A folder without a run.json (imports only,
    a plain folder) keeps every record."""
    store = RunStore(run_dir)
    info = store.read_run_info()
    units = current_units(info)
    ids = set(info.get("prompt_ids") or ())
    keep, left = [], Counter()
    for rec in store.records(statuses=statuses):
        why = left_out_reason(rec, info, units, ids)
        if why is None:
            keep.append(rec)
        else:
            left[why] += 1
    return keep, dict(sorted(left.items()))


def describe_left_out(left_out: Mapping[str, int]) -> str:
    """'3 units of another spec left out (seed: 2, settings: 1)', or '' when none."""
    n = sum(left_out.values())
    if not n:
        return ""
    return (f"{n} unit{'s' if n != 1 else ''} of another spec left out "
            f"({', '.join(f'{k}: {v}' for k, v in left_out.items())}); they stay on disk")
