"""Public API: `score_run` (a run folder -> scores/) and `build_reference` (real images -> stats)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ultrabench.errors import UsageError
from ultrabench.metrics import bootstrap as bs
from ultrabench.metrics.frechet import FrechetToReference
from ultrabench.metrics.inception_score import inception_score
from ultrabench.metrics.kid import KIDBootstrap, kernel_inception_distance
from ultrabench.metrics.registry import METRICS, PAPER_METRICS, get_metric
from ultrabench.metrics.winrate import win_rate
from ultrabench.scoring import engine as E

DEFAULT_METRICS = tuple(PAPER_METRICS) + ("kid", "kid-patch", "pickscore", "glcm", "compression-ratio")
INCEPTION_METRICS = {"fid", "kid", "is", "fid-patch", "kid-patch", "is-patch"}
REF_METRICS = {"fid", "kid", "fid-patch", "kid-patch"}


def _needs(metrics: set[str]) -> tuple[set[str], dict]:
    ext = set()
    if metrics & INCEPTION_METRICS:
        ext.add("inception")
    if "clip" in metrics:
        ext.add("clip")
    if "pickscore" in metrics:
        ext.add("pickscore")
    need = {"full": bool(metrics & {"fid", "kid", "is"}), "patch": bool(metrics & {"fid-patch", "kid-patch", "is-patch"}),
            "clip": "clip" in metrics, "pickscore": "pickscore" in metrics,
            "texture": bool(metrics & {"glcm", "compression-ratio"})}
    return ext, need


def _list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in E.IMAGE_EXTS
                  and "scores" not in p.relative_to(folder).parts[:1])


# --------------------------------------------------------------------------------------------
# reference
def build_reference(source, *, out=None, device="cpu", patch_crops=3, crop_seed=0, stand_ins=False, weights=None,
                    batch_size=16, workers=None, cache_dir=None, extractors=None, progress=False, split="train",
                    image_column=None, limit=None, metrics=("fid", "kid", "fid-patch", "kid-patch")) -> Path:
    """Compute (or find cached) reference features for the full-image and patch protocols.

    source: a folder of real images, `hf:<dataset>` (read from the local HF cache when offline), or an
    existing reference `.npz` (returned as is). The file name is the cache key: sha256 over the sorted
    image content hashes, both protocols and the Inception weights hash.
    """
    src = str(source)
    if src.endswith(".npz") and Path(src).is_file():
        return Path(src)
    metrics = set(metrics)
    ext_need, need = _needs(metrics & REF_METRICS)
    ex = E.make_extractors(ext_need | {"inception"}, device=device, stand_ins=stand_ins, weights=weights,
                           given=extractors)
    from ultrabench.weights import cache_root as ub_cache

    cache_root = Path(cache_dir) if cache_dir else ub_cache() / "features"
    cache = E.FeatureCache(cache_root)
    if src.startswith("hf:"):
        from ultrabench.hfdata import parse_hf_source

        name, hf_split, hf_column = parse_hf_source(src)
        folder = _materialise_hf(name, hf_split if ":" in src[3:] else split, hf_column or image_column, limit,
                                 cache_root)
    else:
        folder = Path(src).expanduser()
        if not folder.is_dir():
            raise UsageError(f"reference source {src} is neither a folder of images, hf:<dataset>, nor a .npz file")
    files = _list_images(folder)
    if limit:
        files = files[:limit]
    if len(files) < 2:
        raise UsageError(f"reference folder {folder} has {len(files)} images; at least 2 are needed")
    tasks = [E.ImageTask(p, key=E.CONTENT_KEY) for p in files]
    proto = E.protocols(patch_crops, crop_seed, "png", None, None)

    def key_and_path():
        key_src = json.dumps({"images": sorted(t.sha for t in tasks), "full": proto["fid"]["version"],
                              "patch": proto["fid-patch"]["version"] + f"-seed{crop_seed}",
                              "inception": ex.inception.weights_sha256}, sort_keys=True)
        key = hashlib.sha256(key_src.encode()).hexdigest()
        path = Path(out) if out else cache_root / "reference" / f"ref-{key[:24]}.npz"
        return key, (path / f"ref-{key[:24]}.npz" if path.is_dir() else path)

    def stored(path, key) -> bool:
        try:
            with np.load(path, allow_pickle=False) as z:
                return json.loads(str(z["meta"])).get("cache_key") == key
        except Exception:
            return False

    # Images hashed before are known by (size, mtime); if all are, a stored result is found without
    # reading any image. Otherwise the pass hashes each new file from the bytes it decodes.
    for t in tasks:
        t.sha = cache.known_sha256(t.path)
    if all(t.sha for t in tasks):
        cache_key, out_path = key_and_path()
        if stored(out_path, cache_key):
            return out_path
    counts = E.run_pass(tasks, ex, cache, need={"full": True, "patch": need["patch"] or True}, patch_crops=patch_crops,
                        crop_seed=crop_seed, codec="png", batch_size=batch_size, workers=workers, progress=progress,
                        proto=proto)
    bad = [t.error for t in tasks if t.error]
    if bad:
        raise UsageError(f"{len(bad)} reference image(s) could not be read: " + "; ".join(bad[:5]))
    cache_key, out_path = key_and_path()
    pk_full, pk_patch = proto["fid"]["version"].split("@")[1], proto["fid-patch"]["version"].split("@")[1] + f"-seed{crop_seed}"
    full, patch, small = [], [], []
    for t in tasks:
        meta = E.load_meta(cache, t, True)
        if meta.get("crop_error"):
            small.append(meta["crop_error"])
        f = cache.get(ex.key("inception"), pk_full, t.sha)
        full.append(f["pool"])
        p = cache.get(ex.key("inception"), pk_patch, t.sha, t.key)
        if p is not None:
            patch.append(p["pool"])
    if small:
        raise E.cropmod.CropError(f"{len(small)} reference image(s) are smaller than the 299x299 patch crop: "
                                  + "; ".join(small[:5]))
    full_a = np.stack(full)
    patch_a = np.concatenate(patch) if patch else np.zeros((0, full_a.shape[1]))
    meta = {"source": src, "n_images": len(full_a), "n_patches": int(len(patch_a)), "cache_key": cache_key,
            "protocols": {"fid": proto["fid"]["version"], "fid-patch": proto["fid-patch"]["version"]},
            "crop_seed": crop_seed, "patch_crops": patch_crops, "inception": ex.inception.info(),
            "random_weights": ex.random_weights, "decoded": counts["decoded"]}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + f".tmp{os.getpid()}.npz")
    np.savez(tmp, full=full_a, patch=patch_a, meta=np.array(json.dumps(meta)))
    os.replace(tmp, out_path)
    return out_path


def _materialise_hf(name: str, split: str, column, limit, cache_root: Path) -> Path:
    """Write a HF dataset's images once, as the files they were (JPEG stays JPEG), so that they go
    through the same decoder and RGB conversion as any folder of reference images."""
    import datasets
    from PIL import Image

    from ultrabench.hfdata import load_hf_dataset
    from ultrabench.runstore import atomic_write_bytes

    ds = load_hf_dataset(name, split)
    col = column or next((k for k, f in ds.features.items() if isinstance(f, datasets.Image)), None)
    if col is None or col not in ds.column_names:
        raise UsageError(f"dataset {name!r} has no image column{f' {column!r}' if column else ''}; "
                         f"columns: {', '.join(ds.column_names)} (pass image_column)")
    if isinstance(ds.features[col], datasets.Image):
        ds = ds.cast_column(col, datasets.Image(decode=False))  # the stored bytes, not a re-encoding
    folder = cache_root / "hf-datasets" / _slug_name(name) / split
    folder.mkdir(parents=True, exist_ok=True)
    n = len(ds) if not limit else min(limit, len(ds))
    done = {p.stem for p in folder.iterdir() if p.suffix.lower() in E.IMAGE_EXTS}
    for i in range(n):
        if f"{i:07d}" in done:
            continue
        item = ds[i][col]
        if isinstance(item, Image.Image):  # a column of decoded images that is not an Image feature
            buf = io.BytesIO()
            item.save(buf, format="PNG")
            data, ext = buf.getvalue(), "png"
        else:
            data = item["bytes"] if item.get("bytes") is not None else Path(item["path"]).read_bytes()
            try:
                with Image.open(io.BytesIO(data)) as im:
                    ext = {"JPEG": "jpg"}.get(im.format, (im.format or "").lower())
                    if f".{ext}" not in E.IMAGE_EXTS:  # e.g. GIF, MPO: the first frame, losslessly as PNG
                        from ultrabench.scoring.decode import to_rgb

                        buf = io.BytesIO()
                        Image.fromarray(to_rgb(im)[0]).save(buf, format="PNG")
                        data, ext = buf.getvalue(), "png"
            except Exception as e:
                raise UsageError(f"dataset {name!r} ({split}) row {i}: unreadable image in column {col!r}: "
                                 f"{type(e).__name__}: {e}") from None
        atomic_write_bytes(folder / f"{i:07d}.{ext}", data)
    return folder


def _slug_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "__" for c in name.strip("/"))[-120:]


def load_reference(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {"full": z["full"], "patch": z["patch"], "meta": json.loads(str(z["meta"]))}


# --------------------------------------------------------------------------------------------
# set statistics
def _fid_set(feats, groups, ref: FrechetToReference, resamples, seed):
    fb = ref.bind(feats)
    value = fb.value(np.arange(len(feats)))
    ci = None
    if resamples > 0:
        ci = bs.bootstrap_ci(len(groups), lambda idx: fb.value(np.concatenate([groups[i] for i in idx])), resamples, seed)
    return value, ci


def _kid_set(feats, groups, ref, resamples, seed):
    value, _, _ = kernel_inception_distance(feats, ref, subsets=E.KID_SUBSETS, subset_size=E.KID_SUBSET_SIZE,
                                            seed=E.KID_SEED)
    ci = None
    if resamples > 0:
        kb = KIDBootstrap(feats, ref)
        ci = bs.bootstrap_ci(len(groups), lambda idx: kb.value(np.concatenate([groups[i] for i in idx])), resamples, seed)
    return value, ci


def _is_set(logits, groups, resamples, seed):
    value, _, _ = inception_score(logits, E.INCEPTION_SPLITS, True, E.IS_SEED)
    ci = None
    if resamples > 0:
        ci = bs.bootstrap_ci(len(groups), lambda idx: inception_score(
            logits[np.concatenate([groups[i] for i in idx])], E.INCEPTION_SPLITS, True, E.IS_SEED)[0], resamples, seed)
    return value, ci


# --------------------------------------------------------------------------------------------
def _select_records(run_dir, methods=None, resolutions=None) -> list:
    from ultrabench.resolution import parse_resolution
    from ultrabench.runstore import RunStore

    res_keys = {parse_resolution(r).key if not hasattr(r, "key") else r.key for r in resolutions} if resolutions else None
    return [r for r in RunStore(run_dir).records(statuses=None)
            if (not methods or r.method in methods) and (not res_keys or r.data.get("resolution") in res_keys)]


def shard_marker(out_dir: Path, tasks, shard) -> Path:
    """A file saying shard i/n finished this exact image list (so stale markers never count)."""
    token = hashlib.sha1("\n".join(sorted(str(t.path) for t in tasks)).encode()).hexdigest()[:12]
    return Path(out_dir) / "shards" / f"{token}-{shard.index}-of-{shard.count}.done"


def wait_for_shards(run_dir, shard, *, methods=None, resolutions=None, timeout_s: float = 24 * 3600,
                    poll_s: float = 2.0) -> None:
    """Block until every shard of this launch has written its marker (rank 0 under torchrun)."""
    import time

    from ultrabench.shard import Shard

    ok = [r for r in _select_records(run_dir, methods, resolutions) if r.status == "ok" and r.image_path is not None]
    tasks = [E.ImageTask(r.image_path, key="") for r in ok]
    out_dir = Path(run_dir) / "scores"

    markers = [shard_marker(out_dir, tasks, Shard(i, shard.count)) for i in range(shard.count)]
    deadline = time.monotonic() + timeout_s
    while not all(m.exists() for m in markers):
        if time.monotonic() > deadline:
            missing = [m.name for m in markers if not m.exists()]
            raise UsageError(f"timed out waiting for scoring shards: {', '.join(missing)}")
        time.sleep(poll_s)


def score_run(run_dir, *, metrics=None, reference=None, methods=None, resolutions=None, device="cpu", batch_size=16,
              workers=None, patch_crops=3, crop_seed=0, reference_method="ultrapixel", tau=0.0, stand_ins=False,
              weights=None, clip_model=("ViT-L-14", "openai"), bootstrap=1000, progress=True, cache_dir=None,
              extractors=None, codec="png", bootstrap_seed=0, shard=None) -> dict:
    """Score a run folder into <run_dir>/scores/{per_image.parquet, summary.json}; returns the summary.

    Extra keyword arguments beyond the contract: `cache_dir` (a shared feature cache), `extractors`
    (inject ready extractor objects: {"inception", "clip", "pickscore"}), `codec` for the compression
    ratio ("png" lossless, or "jpeg-q95" as Diffusion-4K), `bootstrap_seed`, and `shard`
    (an `ultrabench.shard.Shard`): then only that shard's images are decoded and their features
    cached, and a partial summary is returned; an unsharded call afterwards merges from the cache.
    """
    import pandas as pd

    from ultrabench.runstore import atomic_write_json

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"run folder {run_dir} does not exist")
    names = [get_metric(m).name for m in (metrics or DEFAULT_METRICS)]
    warnings_out: list[str] = []
    ref_path = None
    if reference is None:
        skipped = [m for m in names if METRICS[m].needs_reference]
        if skipped:
            warnings_out.append(f"no reference images given: skipped {', '.join(skipped)}")
        names = [m for m in names if not METRICS[m].needs_reference]
    metric_set = set(names)
    ext_need, need = _needs(metric_set)
    out_dir = run_dir / "scores"
    cache = E.FeatureCache(Path(cache_dir) if cache_dir else out_dir / "cache")
    if patch_crops < 1:
        raise UsageError("patch_crops must be >= 1")
    if reference is not None and metric_set & REF_METRICS:
        ext_need.add("inception")
    ex = E.make_extractors(ext_need, device=device, stand_ins=stand_ins, weights=weights, clip_model=clip_model,
                           given=extractors)
    proto = E.protocols(patch_crops, crop_seed, codec, ex.clip.info() if ex.clip else None,
                        ex.pickscore.info() if ex.pickscore else None)

    all_recs = _select_records(run_dir, methods, resolutions)
    ok = [r for r in all_recs if r.status == "ok" and r.image_path is not None]
    tasks = [E.ImageTask(r.image_path, key=E.cropmod.image_key(r.prompt_id, r.seed)) for r in ok]

    if shard is not None:
        # Feature extraction only: set statistics need every image, so the merge run computes them.
        mine = shard.take(tasks, key=lambda t: str(t.path))
        counts = E.run_pass(mine, ex, cache, need=need, patch_crops=patch_crops, crop_seed=crop_seed, codec=codec,
                            batch_size=batch_size, workers=workers, progress=progress, proto=proto)
        cache.save_index()
        marker = shard_marker(out_dir, tasks, shard)
        atomic_write_json(marker, {"shard": str(shard), "images": len(mine), "counts": counts})
        return {"schema": 1, "partial": True, "shard": str(shard), "images": len(mine), "counts": counts,
                "warnings": warnings_out}

    ref = None
    if reference is not None and metric_set & REF_METRICS:
        ref_path = build_reference(reference, device=device, patch_crops=patch_crops, crop_seed=crop_seed,
                                   stand_ins=stand_ins, weights=weights, batch_size=batch_size, workers=workers,
                                   cache_dir=cache.root, extractors={"inception": ex.inception}, progress=progress)
        ref = load_reference(ref_path)
        rp = ref["meta"]
        if rp.get("inception", {}).get("weights_sha256") != ex.inception.weights_sha256:
            raise UsageError(f"reference stats {ref_path} were computed with other Inception weights")
        if rp.get("protocols", {}).get("fid-patch") != proto["fid-patch"]["version"] or rp.get("crop_seed") != crop_seed:
            if metric_set & {"fid-patch", "kid-patch"}:
                raise UsageError(f"reference stats {ref_path} use patch protocol {rp.get('protocols')} "
                                 f"(crop seed {rp.get('crop_seed')}), not {proto['fid-patch']['version']} seed {crop_seed}")

    counts = E.run_pass(tasks, ex, cache, need=need, patch_crops=patch_crops, crop_seed=crop_seed, codec=codec,
                        batch_size=batch_size, workers=workers, progress=progress, proto=proto)

    # ---------------- per-image rows
    pk_full = proto["fid"]["version"].split("@")[1]
    pk_patch = proto["fid-patch"]["version"].split("@")[1] + f"-seed{crop_seed}"
    rows, feats = [], []
    for rec, t in zip(ok, tasks):
        row = {"method": rec.method, "resolution": rec.data.get("resolution"), "prompt_id": rec.prompt_id,
               "seed": rec.seed, "image": str(t.path.relative_to(run_dir)), "image_sha256": t.sha,
               "clip": None, "pickscore": None, "glcm": None, "compression_ratio": None, "crops": None,
               "flags": "", "error": t.error}
        f: dict[str, Any] = {}
        if not t.error:
            meta = E.load_meta(cache, t, need["patch"])
            flags = list(meta.get("flags", []))
            if need["full"]:
                z = cache.get(ex.key("inception"), pk_full, t.sha)
                if z is not None:
                    f["full_pool"], f["full_logits"] = z["pool"], z["logits"]
            if need["patch"]:
                if meta.get("crop_error"):
                    row["error"] = meta["crop_error"]
                else:
                    z = cache.get(ex.key("inception"), pk_patch, t.sha, t.key)
                    if z is not None:
                        f["patch_pool"], f["patch_logits"] = z["pool"], z["logits"]
                        row["crops"] = json.dumps(z["boxes"].tolist())
            if need["clip"]:
                z = cache.get(ex.key("clip"), "short224-centre-v1", t.sha)
                if z is not None:
                    f["clip"] = z["emb"]
                if ex.clip.truncated(rec.prompt):
                    flags.append("prompt_truncated")
            if need["pickscore"]:
                z = cache.get(ex.key("pickscore"), "short224-centre-v1", t.sha)
                if z is not None:
                    f["pick"] = z["emb"]
                if ex.pickscore.truncated(rec.prompt) and "prompt_truncated" not in flags:
                    flags.append("prompt_truncated")
            if need["texture"]:
                z = cache.get("texture", f"glcm-v1-{codec}", t.sha)
                if z is not None:
                    if "glcm" in metric_set:
                        row["glcm"] = float(z["glcm"])
                    if "compression-ratio" in metric_set:
                        row["compression_ratio"] = float(z["compression_ratio"])
            row["flags"] = ",".join(flags)
        rows.append(row)
        feats.append(f)
    # CLIP and PickScore text embeddings in batches, scores per image
    for key, scorer, col in (("clip", ex.clip, "clip"), ("pick", ex.pickscore, "pickscore")):
        if scorer is None or col not in metric_set:
            continue
        idx = [i for i, f in enumerate(feats) if key in f]
        for s in range(0, len(idx), max(1, batch_size)):
            chunk = idx[s:s + batch_size]
            te = scorer.text_embeddings([ok[i].prompt for i in chunk])
            ie = np.stack([feats[i][key] for i in chunk])
            for i, v in zip(chunk, scorer.score(ie, te)):
                rows[i][col] = float(v)

    out_dir.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows, columns=["method", "resolution", "prompt_id", "seed", "image", "image_sha256", "clip",
                                     "pickscore", "glcm", "compression_ratio", "crops", "flags", "error"])
    for c in ("clip", "pickscore", "glcm", "compression_ratio"):
        df[c] = df[c].astype("float64")
    df["seed"] = df["seed"].astype("int64")
    tmp = out_dir / f".per_image.parquet.tmp{os.getpid()}"
    df.to_parquet(tmp, index=False)
    os.replace(tmp, out_dir / "per_image.parquet")

    # ---------------- sets
    ci_desc = bs.describe(bootstrap, bootstrap_seed)
    sets = []
    fref: dict[int, FrechetToReference] = {}
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[(r["method"], r["resolution"])].append(i)
    for (method, res), idxs in sorted(groups.items()):
        good = [i for i in idxs if not rows[i]["error"] or (rows[i]["error"] and "full_pool" in feats[i])]

        def entry(metric, value, n, ci, how=ci_desc, **extra):
            sets.append({"method": method, "resolution": res, "metric": metric, "value": value, "n": n,
                         "ci95": ci, "ci_method": how if ci is not None else None,
                         "protocol": proto[metric]["version"], **extra})

        full_i = [i for i in good if "full_pool" in feats[i]]
        patch_i = [i for i in idxs if "patch_pool" in feats[i]]
        for kind, ids, pool_key, logit_key in (("", full_i, "full_pool", "full_logits"),
                                               ("-patch", patch_i, "patch_pool", "patch_logits")):
            if not ids:
                continue
            pools = [np.atleast_2d(feats[i][pool_key]) for i in ids]
            logits = [np.atleast_2d(feats[i][logit_key]) for i in ids]
            grp, pos = [], 0
            for p in pools:
                grp.append(np.arange(pos, pos + len(p)))
                pos += len(p)
            X, L = np.concatenate(pools), np.concatenate(logits)
            how = ci_desc if kind == "" else bs.describe(bootstrap, bootstrap_seed, "images (all crops of a drawn image)")
            extra = {"n_images": len(ids)} if kind else {}
            if "is" + kind in metric_set:
                v, ci = _is_set(L, grp, bootstrap, bootstrap_seed)
                entry("is" + kind, v, len(X), ci, how, splits=min(E.INCEPTION_SPLITS, len(X)), **extra)
            if ref is not None:
                R = ref["full"] if kind == "" else ref["patch"]
                if "fid" + kind in metric_set:
                    if len(X) < 2:
                        warnings_out.append(f"{method} {res}: fid{kind} needs at least 2 feature rows")
                    else:
                        if id(R) not in fref:
                            fref[id(R)] = FrechetToReference(R)
                        v, ci = _fid_set(X, grp, fref[id(R)], bootstrap, bootstrap_seed)
                        entry("fid" + kind, v, len(X), ci, how + " (reference statistics fixed)", n_ref=len(R), **extra)
                if "kid" + kind in metric_set and len(X) >= 2:
                    v, ci = _kid_set(X, grp, R, bootstrap, bootstrap_seed)
                    entry("kid" + kind, v, len(X), ci, how + " (reference fixed; full-set unbiased MMD^2 per resample)",
                          n_ref=len(R), **extra)
        for metric, col in (("clip", "clip"), ("glcm", "glcm"), ("compression-ratio", "compression_ratio")):
            if metric not in metric_set:
                continue
            vals = np.array([rows[i][col] for i in idxs if rows[i][col] is not None and np.isfinite(rows[i][col])])
            if len(vals):
                entry(metric, float(vals.mean()), len(vals), bs.mean_ci(vals, bootstrap, bootstrap_seed))
        if "pickscore" in metric_set:
            vals = np.array([rows[i]["pickscore"] for i in idxs if rows[i]["pickscore"] is not None])
            if len(vals):
                entry("pickscore", float(vals.mean()), len(vals), bs.mean_ci(vals, bootstrap, bootstrap_seed))
    # FID/KID values are only comparable at equal N
    for metric in ("fid", "fid-patch", "kid", "kid-patch", "is", "is-patch"):
        ns = {(s["method"], s["resolution"]): s["n"] for s in sets if s["metric"] == metric}
        if len(set(ns.values())) > 1:
            warnings_out.append(f"{metric} is compared across different N: "
                                + ", ".join(f"{m} {r}: {n}" for (m, r), n in sorted(ns.items())))

    # ---------------- win rates
    winrates = []
    if "pickscore" in metric_set:
        by = defaultdict(dict)
        for r in rows:
            if r["pickscore"] is not None:
                by[(r["method"], r["resolution"])][(r["prompt_id"], r["seed"])] = r["pickscore"]
        for (method, res), scores in sorted(by.items()):
            if method == reference_method:
                continue
            base = by.get((reference_method, res))
            if not base:
                continue
            keys = sorted(set(base) & set(scores))
            if not keys:
                continue
            w = win_rate([base[k] for k in keys], [scores[k] for k in keys], tau, bootstrap, bootstrap_seed)
            winrates.append({"reference_method": reference_method, "method": method, "resolution": res,
                             **{k: w[k] for k in ("win_rate", "mean_pref", "ci95", "p_value", "n_pairs", "ties", "tau")},
                             "ci_method": bs.describe(bootstrap, bootstrap_seed, "matched pairs")})
        if not winrates and by:
            warnings_out.append(f"no PickScore win rates: reference method {reference_method!r} has no matched pairs")

    # ---------------- latency and status
    from ultrabench.runsummary import latency_rows, status_rows

    unreadable: dict[tuple, int] = defaultdict(int)
    for rec, t in zip(ok, tasks):
        if t.error:
            unreadable[(rec.method, rec.data.get("resolution"))] += 1
    latency, status = latency_rows(all_recs), status_rows(all_recs, unreadable)
    warnings_out.extend(t.error for t in tasks if t.error)
    decode_errors = {str(t.path.relative_to(run_dir)): t.error for t in tasks if t.error}
    for r in rows:  # errors after decoding (e.g. an image smaller than the crop), each named once
        if r["error"] and r["error"] != decode_errors.get(r["image"]):
            warnings_out.append(f"{r['image']}: {r['error']}")

    ref_block = None
    if ref is not None:
        ref_block = {"source": ref["meta"]["source"], "n_images": ref["meta"]["n_images"],
                     "n_patches": ref["meta"]["n_patches"], "cache_key": ref["meta"]["cache_key"], "path": str(ref_path)}
    summary = {
        "schema": 1,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "run_dir": str(run_dir),
        "random_weights": ex.random_weights,
        "metrics": names,
        "protocols": {m: proto[m] for m in names},
        "extractors": ex.info(),
        "reference": ref_block,
        "sets": sets,
        "winrates": winrates,
        "latency": latency,
        "status": status,
        "counts": counts,
        "warnings": warnings_out,
    }
    atomic_write_json(out_dir / "summary.json", summary)
    return summary
