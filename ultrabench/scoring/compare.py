"""Several scored run folders in one table, only when their numbers can be compared.

A run made on another cluster (a new method) can join a stored Table-1 run in one table when both
were made and scored under the same experiment: the same prompts (ids and texts), the same seeds
(base seed and samples per prompt), the same reference set, and every metric they share under the
same protocol version and extractor weights. Anything else is refused with one line naming the
first difference. Win rates of preference models are recomputed across the runs from their
per-image scores, on the (prompt id, sample index) pairs both methods have.
"""

from __future__ import annotations

import json
from pathlib import Path

from ultrabench.errors import UsageError


def _load(run: Path, summary: dict | None = None) -> dict:
    from ultrabench.runstore import RunStore

    summary_path = run / "scores" / "summary.json"
    if not run.is_dir():
        raise UsageError(f"run folder {run} does not exist")
    if summary is None:
        try:
            summary = json.loads(summary_path.read_text())
        except FileNotFoundError:
            raise UsageError(f"{run} is not scored (no {summary_path}); run `ultrabench score {run}` first") from None
        except ValueError as e:
            raise UsageError(f"{summary_path} is not valid JSON ({e}); score the run again") from None
    store = RunStore(run)
    info = store.read_run_info()
    prompts = {str(p["id"]): p.get("prompt", "") for p in store.read_prompts()}
    return {"dir": run, "summary": summary, "spec": info.get("spec") or {}, "prompts": prompts}


def differences(a: dict, b: dict) -> list[str]:
    """What keeps two runs out of one table, in words; empty when they can share it."""
    out = []
    if a["prompts"] != b["prompts"]:
        only_a, only_b = set(a["prompts"]) - set(b["prompts"]), set(b["prompts"]) - set(a["prompts"])
        if only_a or only_b:
            out.append(f"prompts ({len(a['prompts'])} vs {len(b['prompts'])} prompts, {len(only_a | only_b)} ids "
                       "in only one of them)")
        else:
            changed = sorted(k for k in a["prompts"] if a["prompts"][k] != b["prompts"][k])
            out.append(f"prompts (the same ids, {len(changed)} different texts, e.g. {changed[0]!r})")
    for field in ("seed", "samples_per_prompt"):
        va, vb = a["spec"].get(field), b["spec"].get(field)
        if va != vb:
            out.append(f"{field} ({va!r} vs {vb!r})")
    sa, sb = a["summary"], b["summary"]
    if bool(sa.get("stand_ins", sa.get("random_weights"))) != bool(sb.get("stand_ins", sb.get("random_weights"))):
        out.append("weights (one was scored with random stand-ins)")
    ra, rb = sa.get("reference"), sb.get("reference")
    if ra and rb and ra.get("cache_key") != rb.get("cache_key"):
        out.append(f"reference set ({ra.get('source')} vs {rb.get('source')})")
    pa, pb = sa.get("protocols") or {}, sb.get("protocols") or {}
    for m in sorted(set(pa) & set(pb)):
        if pa[m].get("version") != pb[m].get("version"):
            out.append(f"{m} protocol ({pa[m].get('version')} vs {pb[m].get('version')})")
        elif pa[m].get("weights_sha256") != pb[m].get("weights_sha256"):
            out.append(f"{m} extractor weights ({str(pa[m].get('weights_sha256'))[:12]} vs "
                       f"{str(pb[m].get('weights_sha256'))[:12]})")
    return out


def merge_runs(run_dirs, *, summaries=None, reference_method: str = "ultrapixel", tau: float = 0.0,
               bootstrap: int = 1000, bootstrap_seed: int = 0) -> dict:
    """One summary (the shape `ultrabench report` reads) over several compatible run folders.

    `summaries`: each run's summary as the report sees it (stale marks added), instead of reading them.
    """
    dirs = [Path(r) for r in dict.fromkeys(str(r) for r in run_dirs)]
    if len(dirs) < 2:
        raise UsageError("compare needs at least two different run folders")
    summaries = list(summaries) if summaries is not None else [None] * len(dirs)
    runs = [_load(d, s) for d, s in zip(dirs, summaries)]
    first = runs[0]
    for other in runs[1:]:
        diff = differences(first, other)
        if diff:
            raise UsageError(f"{first['dir']} and {other['dir']} cannot share a table: they differ in "
                             + "; ".join(diff))
    owner: dict[tuple, Path] = {}
    for r in runs:
        for u in r["summary"].get("units") or []:
            key = (u["method"], u["resolution"])
            if key in owner:
                raise UsageError(f"method {key[0]} at {key[1]} is in both {owner[key]} and {r['dir']}; "
                                 "compare puts each (method, resolution) in one table once")
            owner[key] = r["dir"]
    merged = {"schema": 1, "compare": [str(r["dir"]) for r in runs], "random_weights":
              any(r["summary"].get("random_weights") for r in runs), "warnings": [], "metrics": [],
              "protocols": {}, "extractors": {}, "reference": next((r["summary"].get("reference") for r in runs
                                                                    if r["summary"].get("reference")), None)}
    for key in ("sets", "not_computed", "latency", "status", "units", "not_scored"):
        merged[key] = [e for r in runs for e in r["summary"].get(key) or []]
    for r in runs:
        s = r["summary"]
        merged["metrics"] += [m for m in s.get("metrics") or [] if m not in merged["metrics"]]
        merged["protocols"].update(s.get("protocols") or {})
        for name, info in (s.get("extractors") or {}).items():
            merged["extractors"].setdefault(name, info)
        # each run's own win-rate warnings are superseded: the win rates are recomputed across the runs
        merged["warnings"] += [f"{r['dir'].name}: {w}" for w in s.get("warnings") or [] if "win rate" not in w]
    merged["winrates"] = _cross_run_winrates(runs, merged, reference_method, tau, bootstrap, bootstrap_seed)
    return merged


def _cross_run_winrates(runs, merged, reference_method, tau, bootstrap, bootstrap_seed) -> list[dict]:
    import pandas as pd

    from ultrabench.metrics.registry import METRICS
    from ultrabench.scoring.api import win_rates

    frames = []
    for r in runs:
        p = r["dir"] / "scores" / "per_image.parquet"
        if p.is_file():
            df = pd.read_parquet(p)
            if "sample_index" not in df.columns:  # scored before sample indices were recorded
                df["sample_index"] = 0
            frames.append(df)
    prefs = [METRICS[m] for m in merged["metrics"] if m in METRICS and METRICS[m].preference]
    if not frames or not prefs:
        return []
    rows = pd.concat(frames, ignore_index=True)
    prefs = [m for m in prefs if m.column in rows.columns]
    rows = rows.astype(object).where(rows.notna(), None).to_dict("records")
    found, warnings = win_rates(rows, prefs, reference_method, tau, bootstrap, bootstrap_seed,
                                {m.name: merged["protocols"].get(m.name, {"version": ""}) for m in prefs})
    merged["warnings"] += warnings
    return found
