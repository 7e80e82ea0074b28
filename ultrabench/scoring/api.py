"""Public API: `score_run` (a run folder -> scores/) and `build_reference` (real images -> features).

`score_run` is a composition of small steps: choose the metrics and open their extractors, select
the units, run the one decode pass, compute per-image values and set statistics from the cached
features, win rates of every preference model, and write the outputs.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
import numpy as np

from ultrabench.errors import UsageError, check_writable, removed_on_failure, write_failure
from ultrabench.metrics import bootstrap as bs
from ultrabench.metrics.crops import image_key
from ultrabench.metrics.plugin import DEFAULT_OPTIONS, Metric
from ultrabench.metrics.registry import METRICS, PAPER_METRICS, get_metric
from ultrabench.metrics.seams import tiling_of
from ultrabench.scoring import engine as E
from ultrabench.scoring.reference import build_reference, list_images, load_reference, reference_inputs  # noqa: F401
from ultrabench.scoring.values import warned_values_line

DEFAULT_METRICS = tuple(PAPER_METRICS) + ("kid", "kid-patch", "pickscore", "glcm", "compression-ratio")
PER_IMAGE_BASE = ["method", "resolution", "prompt_id", "seed", "sample_index", "image", "image_sha256"]


def _list_images(folder: Path) -> list[Path]:  # the name older callers use
    return list_images(folder)


# --------------------------------------------------------------------------------------------
# steps
@dataclass
class Scored:
    """Everything the steps after the pass read: the units, their tasks and cached features."""

    records: list
    tasks: list[E.ImageTask]
    metrics: list[Metric]
    needs: dict[str, E.Need]  # metric name -> need
    feats: list[dict[str, dict]] = field(default_factory=list)  # per image: metric name -> arrays
    rows: list[dict] = field(default_factory=list)  # per-image table


def choose_metrics(metrics, reference) -> tuple[list[str], dict[str, str]]:
    """Registered names of the metrics to compute, and those skipped with the reason."""
    names = list(dict.fromkeys(get_metric(m).name for m in (metrics or DEFAULT_METRICS)))
    skipped = {m: "no reference images given" for m in names
               if reference is None and METRICS[m].needs_reference and not METRICS[m].paired}
    return [m for m in names if m not in skipped], skipped


def protocols(ex: E.Extractors, metrics: list[Metric], options) -> dict:
    """metric -> its protocol: version and words, plus the network and weights it was computed with."""
    out = {}
    for m in metrics:
        need = ex.need_for(m, options)
        out[m.name] = {**need.ext.protocol(m), "extractor": need.net.id, "weights_sha256": need.net.weights_sha256}
    return out


def _select_records(run_dir, methods=None, resolutions=None, records=None) -> list:
    from ultrabench.resolution import parse_resolution
    from ultrabench.runstore import RunStore

    res_keys = {parse_resolution(r).key if not hasattr(r, "key") else r.key for r in resolutions} if resolutions else None
    return [r for r in (records if records is not None else RunStore(run_dir).records(statuses=None))
            if (not methods or r.method in methods) and (not res_keys or r.data.get("resolution") in res_keys)]


def select_units(run_dir: Path, methods, resolutions, prompts) -> tuple[list, list, bool, str]:
    """(the records of the run's current spec, the finished ones to score, plain folder?, a note on the
    units of another spec left out), or a one-line error when there is nothing to score: a missing
    folder, a folder that is neither a run nor holds images, no finished image."""
    from ultrabench.runspec import current_records, describe_left_out
    from ultrabench.scoring.units import folder_records, is_run_folder

    if not run_dir.is_dir():
        raise UsageError(f"run folder {run_dir} does not exist")
    plain = not is_run_folder(run_dir)
    left_out: dict = {}
    if plain:
        records = folder_records(run_dir, prompts)
    else:  # a run folder is one experiment: units made under another spec are never averaged in
        records, left_out = current_records(run_dir, statuses=None)
    recs = _select_records(run_dir, methods, resolutions, records)
    ok = [r for r in recs if r.status == "ok" and r.image_path is not None]
    if not ok:
        if plain:
            raise UsageError(f"{run_dir} is not a run folder (no run.json, no unit records) and holds no images")
        which = " of the selected methods and resolutions" if methods or resolutions else ""
        raise UsageError(f"run folder {run_dir} holds no finished images{which} to score (run `ultrabench generate`)")
    return recs, ok, plain, describe_left_out(left_out)


def collect(scored: Scored, cache: E.FeatureCache, ex: E.Extractors, run_dir: Path, batch_size: int) -> None:
    """Per-image rows and feature arrays from the cache; per-image metric values filled in."""
    per_image = [m for m in scored.metrics if not m.set_level]
    for rec, t in zip(scored.records, scored.tasks):
        row = {"method": rec.method, "resolution": rec.data.get("resolution"), "prompt_id": rec.prompt_id,
               "seed": rec.seed, "sample_index": int(rec.data.get("sample_index") or 0),
               "image": str(t.path.relative_to(run_dir)), "image_sha256": t.sha,
               **{m.column: None for m in per_image}, "crops": None, "details": {}, "flags": "", "error": t.error,
               "view_errors": {}}
        f: dict[str, dict] = {}
        if not t.error:
            flags = list(E.load_meta(cache, t).get("flags", []))
            crops = {}
            for m in scored.metrics:
                need = scored.needs[m.name]
                z = E.features(cache, need, t)
                if z is None:
                    continue
                if "error" in z:
                    row["error"] = row["error"] or z["error"]
                    row["view_errors"][m.name] = z["error"]
                    continue
                f[m.name] = z
                if "boxes" in z and need.view is not None:
                    crops[need.view.key] = z["boxes"].tolist()
                if m.needs_prompt:  # per metric: CLIP truncates at 77 tokens, Long-CLIP at 248, ImageReward at 35
                    flags += [f"{x}:{m.name}" for x in need.ext.prompt_flags(need.net, rec.prompt)
                              if f"{x}:{m.name}" not in flags]
            row["crops"] = json.dumps(crops) if crops else None
            row["flags"] = ",".join(flags)
        scored.rows.append(row)
        scored.feats.append(f)
    for m in per_image:
        idx = [i for i, f in enumerate(scored.feats) if m.name in f]
        if not idx:
            continue
        need = scored.needs[m.name]
        stacked = {k: np.concatenate([scored.feats[i][m.name][k] for i in idx])
                   for k in scored.feats[idx[0]][m.name] if k != "boxes"}
        values = need.ext.per_image(need.net, m, stacked, [scored.records[i].prompt for i in idx])
        for i, v in zip(idx, values):
            scored.rows[i][m.column] = float(v)
        for i, d in zip(idx, need.ext.details(need.net, m, stacked, len(idx)) or ()):
            scored.rows[i]["details"][m.name] = d


def truncated_prompts(scored: Scored) -> dict[str, dict[str, int]]:
    """Per prompt-conditioned metric: how many distinct prompts its text encoder truncated, of how many."""
    out = {}
    for m in scored.metrics:
        if not m.needs_prompt:
            continue
        seen = {r["prompt_id"] for r in scored.rows if r.get(m.column) is not None}
        cut = {r["prompt_id"] for r in scored.rows if f"prompt_truncated:{m.name}" in (r["flags"] or "").split(",")}
        out[m.name] = {"truncated": len(cut & seen), "prompts": len(seen)}
    return out


def set_entries(scored: Scored, ref_keys: dict, proto: dict, *, bootstrap: int,
                bootstrap_seed: int, paired: dict | None = None) -> tuple[list[dict], list[dict], list[str]]:
    """One entry per (method, resolution, metric); for every one that could not be formed, an entry
    saying why (for the report's footnotes); and warnings. `paired`: metric -> prompt id -> the
    reference rows of that prompt's reference image (paired metrics: each image's crops against
    its own reference's crops at the same coordinates)."""
    from ultrabench.metrics import statistics as st

    sets, missing, warnings = [], [], []
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(scored.rows):
        groups[(r["method"], r["resolution"])].append(i)
    shared: dict = {}
    for (method, res), idxs in sorted(groups.items()):
        for m in scored.metrics:
            have = [i for i in idxs if m.name in scored.feats[i]]
            base = {"method": method, "resolution": res, "metric": m.name, "protocol": proto[m.name]["version"]}
            ref_rows, group_shared = ref_keys.get(m.name) if m.needs_reference else None, shared
            if m.paired:
                refs = (paired or {}).get(m.name, {})
                alone = sorted({scored.rows[i]["prompt_id"] for i in have if scored.rows[i]["prompt_id"] not in refs})
                if alone:
                    more = f" and {len(alone) - 10} more" if len(alone) > 10 else ""
                    warnings.append(f"{method} {res}: {m.name} leaves out the images of {len(alone)} prompt(s) with "
                                    f"no reference image: {', '.join(alone[:10])}{more}")
                have = [i for i in have if scored.rows[i]["prompt_id"] in refs]
                if have:  # each image's own reference crops, once per image, so the pairs stay aligned
                    ref_rows = np.concatenate([refs[scored.rows[i]["prompt_id"]] for i in have])
                    group_shared = {}  # statistics cache by id(reference rows): these are this group's own
            if not have:
                reason = "no image of this set has a reference image of its prompt" if m.paired and any(
                    m.name in scored.feats[i] for i in idxs) else _why_none(scored, idxs, m)
                missing.append({**base, "reason": reason})
                continue
            if m.set_level:
                need = scored.needs[m.name]
                per_img = [np.atleast_2d(scored.feats[i][m.name][m.feature]) for i in have]
                per_img = [p.reshape(len(p), -1) for p in per_img]
                grp, pos = [], 0
                for p in per_img:
                    grp.append(np.arange(pos, pos + len(p)))
                    pos += len(p)
                multi = need.view is not None and E.VIEW_KINDS[need.view.kind].multi
                inp = st.SetInput(np.concatenate(per_img), grp, ref_rows, bootstrap, bootstrap_seed,
                                  "images (all crops of a drawn image)" if multi else "images", group_shared)
                try:
                    v = st.STATISTICS[m.statistic](inp)
                except st.NotComputed as e:
                    warnings.append(f"{method} {res}: {m.name} {e}")
                    missing.append({**base, "reason": f"{e} ({len(inp.rows)} in this set)"})
                    continue
                extra = {**v.extra, **({"n_images": len(have)} if multi else {}),
                         **({"unmatched": alone} if m.paired else {})}
                sets.append({**base, "value": v.value, "n": len(inp.rows), "ci95": v.ci,
                             "ci_method": v.ci_method if v.ci is not None else None, **extra})
            else:
                vals = np.array([scored.rows[i][m.column] for i in have if scored.rows[i][m.column] is not None])
                vals = vals[np.isfinite(vals)] if len(vals) else vals
                if not len(vals):
                    missing.append({**base, "reason": "no finite value"})
                    continue
                ci = bs.mean_ci(vals, bootstrap, bootstrap_seed)
                sets.append({**base, "value": float(vals.mean()), "n": len(vals), "ci95": ci,
                             "ci_method": bs.describe(bootstrap, bootstrap_seed) if ci is not None else None})
    small = {s["metric"]: s["warning"] for s in sets if s.get("warning")}
    for name, why in small.items():
        warnings.append(warned_values_line(name, why))
    # set statistics are only comparable at equal N
    for m in scored.metrics:
        if not m.set_level:
            continue
        ns = {(s["method"], s["resolution"]): s["n"] for s in sets if s["metric"] == m.name}
        if len(set(ns.values())) > 1:
            warnings.append(f"{m.name} is compared across different N: "
                            + ", ".join(f"{mm} {r}: {n}" for (mm, r), n in sorted(ns.items())))
    return sets, missing, warnings


def _why_none(scored: Scored, idxs: list[int], m: Metric) -> str:
    errors = [scored.rows[i]["view_errors"].get(m.name) or scored.rows[i]["error"] for i in idxs]
    if all(scored.tasks[i].error for i in idxs):
        return "no image of this set could be read"
    kinds = sorted({_kind(e) for e in errors if e})
    return "; ".join(kinds) if kinds else "no features"


def _kind(message: str) -> str:
    """A per-image problem without its image-specific part, to count images with the same problem."""
    return message.split(" (")[0]


def summarise_problems(problems: list[tuple[str, str]], shown: int = 3) -> list[str]:
    """[(image, message)] -> one line per kind of problem, with a count and the first few images."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for image, message in problems:
        by_kind["could not be read" if message.startswith("unreadable image") else _kind(message)].append(
            image if not message.startswith("unreadable image") else message)
    out = []
    for kind, items in by_kind.items():
        n = len(items)
        more = f" and {n - shown} more" if n > shown else ""
        if kind == "could not be read":
            out.append(f"{n} image{'' if n == 1 else 's'} could not be read: " + "; ".join(items[:shown]) + more)
        else:
            out.append(f"{n} image{'' if n == 1 else 's'} {'is' if n == 1 else 'are'} {kind}, so the metrics that "
                       f"need it leave {'it' if n == 1 else 'them'} out: " + ", ".join(items[:shown]) + more)
    return out


def win_rates(rows: list[dict], metrics: list[Metric], reference_method: str, tau: float, bootstrap: int,
              bootstrap_seed: int, proto: dict) -> tuple[list[dict], list[str]]:
    """For every preference metric: the reference method's win rate against each other method, on
    the images both have for the same (prompt id, sample index), at each resolution.

    Pairs are matched by prompt and sample index, not by seed: within one run every generated
    method derives the same seed from them (ultrabench.seeding), and images imported from elsewhere
    (DALL-E 3, Midjourney), whose seeds are unknown, pair with the generated image of their prompt."""
    from ultrabench.metrics.winrate import win_rate

    out, warnings = [], []
    for m in metrics:
        if not m.preference:
            continue
        by: dict[tuple, dict] = defaultdict(dict)
        for r in rows:
            if r[m.column] is not None:
                by[(r["method"], r["resolution"])][(r["prompt_id"], r["sample_index"])] = r[m.column]
        found = []
        for (method, res), scores in sorted(by.items()):
            base = by.get((reference_method, res))
            if method == reference_method or not base:
                continue
            keys = sorted(set(base) & set(scores))
            if not keys:
                continue
            w = win_rate([base[k] for k in keys], [scores[k] for k in keys], tau, bootstrap, bootstrap_seed)
            found.append({"metric": m.name, "reference_method": reference_method, "method": method, "resolution": res,
                          **{k: w[k] for k in ("win_rate", "mean_pref", "ci95", "p_value", "n_pairs", "ties", "tau")},
                          "ci_method": bs.describe(bootstrap, bootstrap_seed, "matched pairs"),
                          "protocol": proto[m.name]["version"]})
        if not found and by:
            warnings.append(f"no {m.display_name} win rates: reference method {reference_method!r} has no matched pairs")
        out += found
    return out, warnings


def write_per_image(scored: Scored, out_dir: Path) -> None:
    import pandas as pd

    per_image = [m for m in scored.metrics if not m.set_level]
    cols = PER_IMAGE_BASE + [m.column for m in per_image] + ["crops", "details", "flags", "error"]
    # details: per-image facts beside a metric's value (the detected seam stride), JSON by metric name
    df = pd.DataFrame([{**{k: r[k] for k in cols}, "details": json.dumps(r["details"]) if r["details"] else None}
                       for r in scored.rows], columns=cols)
    for m in per_image:
        df[m.column] = df[m.column].astype("float64")
    df["seed"] = df["seed"].astype("int64")
    df["sample_index"] = df["sample_index"].astype("int64")
    _write_parquet(df, out_dir / "per_image.parquet")


def _write_parquet(df, path: Path) -> None:
    from ultrabench.runstore import atomic_file

    try:
        with atomic_file(path) as f:
            df.to_parquet(f, index=False)
    except OSError as e:
        raise write_failure(path, e) from None


# --------------------------------------------------------------------------------------------
def shard_marker(out_dir: Path, tasks, shard) -> Path:
    """A file saying shard i/n finished this exact image list (so stale markers never count)."""
    token = hashlib.sha1("\n".join(sorted(str(t.path) for t in tasks)).encode()).hexdigest()[:12]
    return Path(out_dir) / "shards" / f"{token}-{shard.index}-of-{shard.count}.done"


def shard_markers(run_dir, count: int, *, methods=None, resolutions=None, out=None) -> list[Path]:
    """The markers shards 0..count-1 of a launch over the run's current images write when done."""
    from ultrabench.scoring.units import locate_results
    from ultrabench.shard import Shard

    ok = select_units(Path(run_dir), methods, resolutions, None)[1]  # the images the shards were given
    tasks = [E.ImageTask(r.image_path, key="") for r in ok]
    out_dir = (Path(out) if out is not None else locate_results(Path(run_dir))[1]) / "scores"
    return [shard_marker(out_dir, tasks, Shard(i, count)) for i in range(count)]


def wait_for_shards(run_dir, shard, *, methods=None, resolutions=None, timeout_s: float = 24 * 3600,
                    poll_s: float = 2.0, out=None) -> None:
    """Block until every shard of this launch has written its marker (rank 0 under torchrun)."""
    import time

    markers = shard_markers(run_dir, shard.count, methods=methods, resolutions=resolutions, out=out)
    deadline = time.monotonic() + timeout_s
    while not all(m.exists() for m in markers):
        if time.monotonic() > deadline:
            missing = [m.name for m in markers if not m.exists()]
            raise UsageError(f"timed out waiting for scoring shards: {', '.join(missing)}")
        time.sleep(poll_s)


def score_run(run_dir, *, out=None, cache_dir=None, **kw) -> dict:
    """Score a run folder (or a plain folder of images) into <run_dir>/scores/{per_image.parquet, summary.json}; returns the summary.

    A plain folder's results go to `<out>/scores` (default: `plain_results_folder(run_dir)`, in
    ultrabench's cache), never into the folder itself; a run folder keeps its scores in it. A
    failed score removes the folders it created while they are still empty. The other keyword
    arguments are `_score_into`'s.
    """
    from ultrabench.scoring.units import is_run_folder, plain_results_folder

    run_dir = Path(run_dir)
    plain = run_dir.is_dir() and not is_run_folder(run_dir)
    if out is not None and not plain and run_dir.is_dir():
        raise UsageError(f"{run_dir} is a run folder: its scores live in {run_dir / 'scores'}, where report and "
                         "compare read them; --out is for a plain folder of images")
    results = Path(out) if out is not None else plain_results_folder(run_dir) if plain else run_dir
    with removed_on_failure(results / "scores", cache_dir or results / "scores" / "cache"):
        return _score_into(run_dir, results=results, cache_dir=cache_dir, **kw)


def _score_into(run_dir, *, results, metrics=None, reference=None, methods=None, resolutions=None, device="cpu", batch_size=16,
              workers=None, patch_crops=3, patch_size=299, align_crops=4, pair_crops=20, pair_square=4096, crop_seed=0, reference_method="ultrapixel", tau=0.0, stand_ins=False,
              weights=None, clip_model=("ViT-L-14", "openai"), bootstrap=1000, progress=True, cache_dir=None,
              extractors=None, codec="png", bootstrap_seed=0, shard=None, prompts=None, steal=True) -> dict:
    """Score `run_dir`'s images into `<results>/scores/`; returns the summary.

    `metrics`: registered names (`ultrabench metrics` lists them). Extra keyword arguments beyond the
    contract: `cache_dir` (a shared feature cache), `extractors` (ready networks by extractor name,
    e.g. {"inception": ...}), `codec` for the compression ratio ("png" lossless, or "jpeg-q95" as
    Diffusion-4K), `bootstrap_seed`, `patch_size` (the side of the patch metrics' crops: 299, or 224 as the
    UltraPixel authors may have used; it is part of their protocol version), `align_crops` (native crops per image for clip-patch and
    pickscore-patch), and `shard` (an `ultrabench.shard.Shard`): then only that
    shard's images are decoded and their features cached (then, unless `steal` is False, those of the
    other shards' images nobody has claimed), and a partial summary is returned; an unsharded call
    afterwards merges from the cache. `prompts`: a prompt file for a plain folder of
    images (ids = image paths relative to the folder, without extension).
    """
    from ultrabench.runstore import atomic_write_json

    run_dir = Path(run_dir)
    names, skipped = choose_metrics(metrics, reference)  # names first: a typo is the cheapest error to report
    all_recs, ok, plain, left_out = select_units(run_dir, methods, resolutions, prompts)
    if patch_crops < 1 or align_crops < 1:
        raise UsageError(f"patch_crops and align_crops must be >= 1, got {patch_crops} and {align_crops}")
    from ultrabench.config import check_patch_size

    check_patch_size(patch_size)
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    options = {**DEFAULT_OPTIONS, "patch_crops": patch_crops, "patch_size": int(patch_size), "align_crops": int(align_crops),
               "pair_crops": int(pair_crops), "pair_square": int(pair_square), "crop_seed": crop_seed, "clip_model": tuple(clip_model),
               "codec": codec}
    if pair_crops < 1 or pair_square < 1:
        raise UsageError(f"pair_crops and pair_square must be >= 1, got {pair_crops} and {pair_square}")
    pair_refs = {}
    if any(METRICS[m].paired for m in names):
        pair_refs = prompt_references(run_dir, plain, prompts, reference, {r.prompt_id for r in ok})
        if not pair_refs:
            skipped.update({m: "the prompt file names no reference image of these prompts (a `reference` column)"
                            for m in names if METRICS[m].paired})
            names = [m for m in names if m not in skipped]
    if plain and not any(r.prompt for r in ok):
        skipped.update({m: "no prompts for the images of a plain folder" for m in names if METRICS[m].needs_prompt})
        names = [m for m in names if m not in skipped]
    warnings_out = [f"{why}: skipped {', '.join(m for m in skipped if skipped[m] == why)}"
                    for why in dict.fromkeys(skipped.values())]
    if left_out:
        warnings_out.insert(0, left_out)
    if plain:
        warnings_out.insert(0, f"{run_dir} is not a run folder: scored its {len(ok)} images as method "
                               f"{ok[0].method!r}, grouped by image size")
    if not names:
        raise UsageError("none of the metrics asked for can be computed here: " + "; ".join(warnings_out[-1:]))
    chosen = [get_metric(n) for n in names]
    out_dir = results / "scores"
    cache = E.FeatureCache(Path(cache_dir) if cache_dir else out_dir / "cache")
    for folder in dict.fromkeys([out_dir, cache.root]):  # a read-only or full folder fails before any model loads
        check_writable(folder)
    from ultrabench.runstore import RunStore, clean_leftovers

    # what killed writers left (temporary files, claims) does not outlive this command
    if plain:
        clean_leftovers(out_dir)
    else:
        RunStore(run_dir).clean_leftovers()
    # a metric whose weights are missing is reported as not computed, with the file it needs; the
    # others are still computed (all missing: the first file's one line, as before)
    ex = E.open_extractors(names, options, device=device, stand_ins=stand_ins, weights=weights, given=extractors,
                           keep_going=True)
    unavailable = {m.name: why for m in chosen if (why := ex.unavailable(m, options))}
    if unavailable and len(unavailable) == len(chosen):
        from ultrabench.errors import MissingWeightsError

        raise MissingWeightsError(next(iter(unavailable.values())))
    for name, why in unavailable.items():
        warnings_out.append(f"not computed {name}: {why}")
        skipped[name] = f"weights missing: {why}"
    chosen = [m for m in chosen if m.name not in unavailable]
    names = [m.name for m in chosen]
    needs = {m.name: ex.need_for(m, options) for m in chosen}
    pass_needs = list({id(n): n for n in _with_sources(needs.values())}.values())
    proto = protocols(ex, chosen, options)

    tasks = [E.ImageTask(r.image_path, key=image_key(r.prompt_id, r.seed), prompt=r.prompt, tiling=tiling_of(r.data))
             for r in ok]

    if shard is not None:
        # Feature extraction only: set statistics need every image, so the merge run computes them.
        from ultrabench.scoring.sharded import extract_share

        counts = extract_share(tasks, shard, pass_needs, cache, out_dir, steal=steal, batch_size=batch_size,
                               workers=workers, progress=progress, device=ex.device)
        images, stolen = counts.pop("images"), counts.pop("stolen")
        atomic_write_json(shard_marker(out_dir, tasks, shard), {"shard": str(shard), "images": images,
                                                               "stolen": stolen, "counts": counts})
        return {"schema": 1, "partial": True, "shard": str(shard), "images": images, "stolen": stolen,
                "counts": counts, "warnings": warnings_out}

    ref, ref_path, ref_keys = None, None, {}
    paired = paired_reference_rows(pair_refs, [m for m in chosen if m.paired], needs, cache, batch_size=batch_size,
                                   workers=workers, progress=progress, device=ex.device)
    if reference is not None and any(m.needs_reference and not m.paired for m in chosen):
        ref_path = build_reference(reference, device=device, patch_crops=patch_crops, patch_size=patch_size,
                                   crop_seed=crop_seed,
                                   batch_size=batch_size, workers=workers, cache_dir=cache.root, extractors=ex,
                                   progress=progress,
                                   metrics=[m.name for m in chosen if m.needs_reference and not m.paired],
                                   options=options)
        ref = load_reference(ref_path)
        ref_keys = _reference_rows(ref, ref_path, ex, chosen, options)

    counts = E.run_pass(tasks, pass_needs, cache, batch_size=batch_size, workers=workers, progress=progress,
                        device=ex.device)
    scored = Scored(ok, tasks, chosen, needs)
    collect(scored, cache, ex, run_dir, batch_size)
    out_dir.mkdir(parents=True, exist_ok=True)
    previous_rows = _read_per_image(out_dir / "per_image.parquet")  # columns of metrics not scored now
    write_per_image(scored, out_dir)
    sets, not_computed, w_sets = set_entries(scored, ref_keys, proto, bootstrap=bootstrap,
                                             bootstrap_seed=bootstrap_seed, paired=paired)
    groups = sorted({(r["method"], r["resolution"]) for r in scored.rows})
    not_computed += [{"method": m, "resolution": r, "metric": name, "protocol": None,
                      "reason": f"weights missing: {why}"} for name, why in unavailable.items() for m, r in groups]
    winrates, w_wins = win_rates(scored.rows, scored.metrics, reference_method, tau, bootstrap, bootstrap_seed, proto)
    warnings_out += w_sets + w_wins

    from ultrabench.runsummary import latency_rows, status_rows
    from ultrabench.scoring import freshness

    unreadable: dict[tuple, int] = defaultdict(int)
    for rec, t in zip(ok, tasks):
        if t.error:
            unreadable[(rec.method, rec.data.get("resolution"))] += 1
    # one line per kind of problem (an image that cannot be read, one smaller than the crop), not per image
    warnings_out += summarise_problems([(r["image"], r["error"]) for r in scored.rows if r["error"]])

    ref_block = None
    if ref is not None:
        rm = ref["meta"]
        ref_block = {"source": rm["source"], "n_images": rm["n_images"],
                     "n_patches": len(ref["patch"]) if "patch" in ref else None, "cache_key": rm["cache_key"],
                     "path": str(ref_path), "n_rows": {m: len(rows) for m, rows in sorted(ref_keys.items())}}
    truncated = truncated_prompts(scored)
    digests = freshness.unit_digests(all_recs)
    for e in sets + not_computed:
        e["units_digest"] = digests[(e["method"], e["resolution"])]["digest"]
    for w in winrates:
        w["units_digest"] = digests[(w["method"], w["resolution"])]["digest"]
        w["reference_digest"] = digests[(w["reference_method"], w["resolution"])]["digest"]
    summary = {
        "schema": 1,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "run_dir": str(run_dir),
        "plain_folder": plain,
        **({"images_dir": str(run_dir.resolve()), "results_dir": str(results)} if results != run_dir else {}),
        "random_weights": ex.random_weights,
        "stand_ins": bool(stand_ins),
        "metrics": names,
        "protocols": proto,
        "extractors": ex.info(),
        "reference": ref_block,
        "sets": sets,
        "not_computed": not_computed,
        "skipped": skipped,
        "truncated_prompts": truncated,
        "winrates": winrates,
        "units": freshness.as_rows(digests),
        "latency": latency_rows(all_recs),
        "status": status_rows(all_recs, unreadable),
        "counts": counts,
        "warnings": warnings_out,
    }
    keep_previous(summary, _read_summary(out_dir / "summary.json"), out_dir, previous_rows)
    try:
        atomic_write_json(out_dir / "summary.json", summary)
    except OSError as e:
        raise write_failure(out_dir / "summary.json", e) from None
    return summary


def _read_summary(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _read_per_image(path: Path):
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except (OSError, ValueError):
        return None


def keep_previous(summary: dict, previous: dict | None, out_dir: Path, previous_rows=None) -> None:
    """Scoring some metrics keeps the earlier results of the others (each set keeps the digest of the
    units it was computed on, so a report can tell which are stale), unless they cannot sit in one
    table with the new ones: other weights kind (stand-ins vs real) or another reference set."""
    if not previous or not previous.get("metrics"):
        return
    # a metric asked for this time is never kept, even when it was skipped (no reference given now)
    kept = [m for m in previous["metrics"]
            if m not in summary["metrics"] and m not in summary["skipped"] and m in METRICS]
    if not kept:
        return
    dropped: dict[str, str] = {}
    then = previous.get("stand_ins", previous.get("random_weights"))
    if bool(then) != summary["stand_ins"]:
        dropped = {m: "they were computed with " + ("random stand-in" if then else "real") + " weights" for m in kept}
    else:
        ref_now, ref_then = summary.get("reference"), previous.get("reference")
        for m in kept:
            if METRICS[m].needs_reference and ref_now and ref_then and ref_now["cache_key"] != ref_then["cache_key"]:
                dropped[m] = "they were computed against another reference set"
        if ref_now is None and ref_then is not None and any(METRICS[m].needs_reference for m in kept if m not in dropped):
            summary["reference"] = ref_then
    for why in dict.fromkeys(dropped.values()):
        names = [m for m in dropped if dropped[m] == why]
        summary["warnings"].append(f"dropped the earlier results of {', '.join(names)}: {why}")
    kept = [m for m in kept if m not in dropped]
    if not kept:
        return
    summary["random_weights"] = summary["random_weights"] or bool(previous.get("random_weights"))
    summary["metrics"] = list(summary["metrics"]) + kept
    for key in ("sets", "not_computed", "winrates"):
        summary[key] = summary[key] + [e for e in previous.get(key) or [] if e.get("metric", "pickscore") in kept]
    summary["protocols"].update({m: previous["protocols"][m] for m in kept if m in (previous.get("protocols") or {})})
    summary["truncated_prompts"].update({m: v for m, v in (previous.get("truncated_prompts") or {}).items() if m in kept})
    for name, info in (previous.get("extractors") or {}).items():
        summary["extractors"].setdefault(name, info)
    summary["kept_from"] = {m: previous.get("created") for m in kept}
    summary["warnings"].append(f"kept the earlier results of {', '.join(kept)} (scored {previous.get('created')}); "
                               "a report marks any whose images changed since")
    _keep_per_image_columns(out_dir, [METRICS[m] for m in kept if not METRICS[m].set_level], previous_rows)


def _keep_per_image_columns(out_dir: Path, metrics: list[Metric], old) -> None:
    """Carry the kept per-image metrics' columns over, for images whose content is unchanged."""
    import pandas as pd

    if not metrics or old is None:
        return
    new = pd.read_parquet(out_dir / "per_image.parquet")
    cols = [m.column for m in metrics if m.column in old.columns and m.column not in new.columns]
    if cols:
        new = new.merge(old[["image", "image_sha256", *cols]], on=["image", "image_sha256"], how="left")
        _write_parquet(new, out_dir / "per_image.parquet")


def _with_sources(needs):
    for n in needs:
        if n.source is not None:
            yield from _with_sources([n.source])
        yield n


def prompt_references(run_dir: Path, plain: bool, prompts, reference, prompt_ids: set) -> dict[str, Path]:
    """prompt id -> its reference image, from the `reference` column of the run's prompt set (or of
    `prompts` for a plain folder), for the prompts being scored. A relative path is looked up in the
    `reference` folder when one is given, else in the run folder; a named file that is not there is a
    one-line error."""
    if plain:
        from ultrabench.prompts import load_prompts

        rows = [p.to_dict() for p in load_prompts(str(prompts))] if prompts is not None else []
    else:
        from ultrabench.runstore import RunStore

        rows = RunStore(run_dir).read_prompts()
    base = Path(reference) if reference is not None and Path(str(reference)).is_dir() else Path(run_dir)
    out = {}
    for row in rows:
        if row.get("id") in prompt_ids and row.get("reference"):
            p = Path(row["reference"]).expanduser()
            p = p if p.is_absolute() else base / p
            if not p.is_file():
                raise UsageError(f"prompt {row['id']!r} names reference image {row['reference']!r}, which is not "
                                 f"at {p}")
            out[str(row["id"])] = p
    return out


def paired_reference_rows(refs: dict[str, Path], metrics: list[Metric], needs: dict, cache: E.FeatureCache,
                          **pass_kw) -> dict[str, dict[str, np.ndarray]]:
    """metric -> prompt id -> the features of that prompt's reference image under the metric's paired
    view (crops placed by prompt id, so at the coordinates of every image of the prompt)."""
    if not refs or not metrics:
        return {}
    tasks = {pid: E.ImageTask(path, key=pid) for pid, path in sorted(refs.items())}
    pass_needs = list({id(needs[m.name]): needs[m.name] for m in metrics}.values())
    E.run_pass(list(tasks.values()), pass_needs, cache, **pass_kw)
    bad = [f"{pid} ({t.error})" for pid, t in tasks.items() if t.error]
    if bad:
        raise UsageError(f"{len(bad)} reference image(s) named in the prompt file could not be read: " + "; ".join(bad[:3]))
    out: dict[str, dict[str, np.ndarray]] = {}
    for m in metrics:
        for pid, t in tasks.items():
            z = E.features(cache, needs[m.name], t)
            if z is None or "error" in z:
                raise UsageError(f"reference image of prompt {pid!r} ({t.path}): {(z or {}).get('error', 'no features')}")
            out.setdefault(m.name, {})[pid] = np.atleast_2d(z[m.feature]).reshape(len(z[m.feature]), -1)
    return out


def _reference_rows(ref: dict, ref_path, ex: E.Extractors, chosen: list[Metric], options) -> dict[str, np.ndarray]:
    """metric name -> reference rows for it; a reference file lacking a metric's features is one line."""
    from ultrabench.scoring.reference import feature_key

    out = {}
    for m in chosen:
        if not m.needs_reference or m.paired:  # paired metrics: the prompts' own reference images
            continue
        key = feature_key(ex.need_for(m, options), m.feature)
        if key not in ref["features"]:
            raise UsageError(f"reference statistics {ref_path} hold no features for {m.name} ({key}); build them "
                             f"with `ultrabench reference build SOURCE` for this metric, weights and protocol")
        out[m.name] = ref["features"][key]
    return out
