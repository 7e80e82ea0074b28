"""Reference sets: real images -> cached feature rows for every metric that compares against them.

`build_reference(source)` takes a folder of images, `hf:<dataset>` (read offline from datasets'
cache or a hub-cache snapshot) or an existing reference `.npz`. The features of each reference
metric's extractor and view are computed in one pass (crops are placed by image content, so renamed
copies of a set give the same rows) and stored in one `.npz` whose name is the cache key: the
sorted image content hashes and the feature keys (network, weights hash, protocol, view).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np

from ultrabench.errors import UsageError, write_failure
from ultrabench.scoring import engine as E

REFERENCE_METRICS = ("fid", "kid", "fid-patch", "kid-patch")
FORMAT = 2


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in E.IMAGE_EXTS
                  and "scores" not in p.relative_to(folder).parts[:1])


def feature_key(need: E.Need, feature: str) -> str:
    """Names one metric input in a reference file: network + weights, protocol and view, array."""
    return f"{need.cache_id}|{need.protocol}|{feature}"


def reference_inputs(ex: E.Extractors, metrics, options) -> dict[str, tuple[E.Need, str]]:
    """feature key -> (need, feature array name) for every metric that compares against a reference."""
    from ultrabench.metrics.registry import get_metric

    out = {}
    for name in metrics:
        m = get_metric(name)
        if m.needs_reference:
            need = ex.need_for(m, options)
            out.setdefault(feature_key(need, m.feature), (need, m.feature))
    return out


def build_reference(source, *, out=None, device="cpu", patch_crops=3, patch_size=299, crop_seed=0, stand_ins=False, weights=None,
                    batch_size=16, workers=None, cache_dir=None, extractors=None, progress=False, split="train",
                    image_column=None, limit=None, metrics=REFERENCE_METRICS, options=None) -> Path:
    """Compute (or find cached) reference features for the given metrics; returns the `.npz` path.

    `extractors`: ready networks by extractor name (as for `score_run`), or an `engine.Extractors`
    the caller already opened.
    """
    src = str(source)
    if src.endswith(".npz") and Path(src).is_file():
        return Path(src)
    from ultrabench.metrics.plugin import DEFAULT_OPTIONS
    from ultrabench.weights import cache_root as ub_cache

    opts = {**DEFAULT_OPTIONS, **(options or {}), "patch_crops": patch_crops, "patch_size": int(patch_size),
            "crop_seed": crop_seed}
    from ultrabench.metrics.registry import get_metric

    metrics = [m for m in metrics if get_metric(m).needs_reference]
    if not metrics:
        raise UsageError("none of the metrics asked for compares against reference images")
    ex = extractors if isinstance(extractors, E.Extractors) else \
        E.open_extractors(metrics, opts, device=device, stand_ins=stand_ins, weights=weights, given=extractors)
    inputs = reference_inputs(ex, metrics, opts)
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
    files = list_images(folder)
    if limit:
        files = files[:limit]
    if len(files) < 2:
        raise UsageError(f"reference folder {folder} holds {len(files)} image{'' if len(files) == 1 else 's'}; "
                         "at least 2 are needed")
    tasks = [E.ImageTask(p, key=E.CONTENT_KEY) for p in files]

    def key_and_path():
        key_src = json.dumps({"format": FORMAT, "images": sorted(t.sha for t in tasks), "features": sorted(inputs)},
                             sort_keys=True)
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
    needs = list({id(n): n for n, _ in inputs.values()}.values())
    counts = E.run_pass(tasks, needs, cache, batch_size=batch_size, workers=workers, progress=progress,
                        device=ex.device)
    bad = [t.error for t in tasks if t.error]
    if bad:
        raise UsageError(f"{len(bad)} reference image(s) could not be read: " + "; ".join(bad[:5]))
    cache_key, out_path = key_and_path()
    arrays, small = {}, []
    for key, (need, feature) in inputs.items():
        rows = []
        for t in tasks:
            f = E.features(cache, need, t)
            if f is None:
                continue
            if "error" in f:
                small.append(f"{t.path.name}: {f['error']}")
                continue
            rows.append(np.atleast_2d(f[feature]).reshape(len(f[feature]), -1))
        arrays[key] = np.concatenate(rows) if rows else np.zeros((0, 0))
    if small:
        from ultrabench.metrics.crops import CropError

        raise CropError(f"{len(small)} reference image(s) cannot give every view: " + "; ".join(sorted(set(small))[:5]))
    names: dict[str, str] = {}
    for key in sorted(arrays):  # readable array names: <extractor>_<role>_<feature>
        need, feature = inputs[key]
        base = f"{need.ext.name}_{need.role}_{feature}"
        names[key] = base if base not in names.values() else f"{base}_{len(names)}"
    meta = {"format": FORMAT, "source": src, "n_images": len(tasks), "cache_key": cache_key,
            "features": {key: {"array": names[key], "rows": int(len(arrays[key])), "extractor": need.net.info(),
                               "protocol": need.protocol} for key, (need, _) in inputs.items()},
            "crop_seed": crop_seed, "patch_crops": patch_crops, "patch_size": int(patch_size),
            "random_weights": ex.random_weights,
            "decoded": counts["decoded"]}
    _write_npz(out_path, {names[k]: v for k, v in arrays.items()}, meta)
    return out_path


def _write_npz(path: Path, arrays: dict, meta: dict) -> None:
    from ultrabench.runstore import atomic_file

    try:
        with atomic_file(path, ".npz") as f:
            np.savez(f, **arrays, meta=np.array(json.dumps(meta)))
    except OSError as e:
        raise write_failure(path, e) from None


def load_reference(path: Path) -> dict:
    """{"features": {feature key: rows}, "meta": ..., plus "full"/"patch": the Inception pool rows}."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != FORMAT:
                raise UsageError(f"reference statistics {path} were written by an older ultrabench; "
                                 "rebuild them with `ultrabench reference build`")
            feats = {key: z[info["array"]] for key, info in meta["features"].items()}
    except (OSError, ValueError, KeyError) as e:
        raise UsageError(f"reference statistics {path} cannot be read ({type(e).__name__}: {e})".splitlines()[0]) \
            from None
    out = {"features": feats, "meta": meta}
    for key, rows in feats.items():  # the names tests and older callers use
        if key.startswith("inception-") and key.endswith("|pool"):
            out["patch" if "crops-native" in key else "full"] = rows
    return out


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


