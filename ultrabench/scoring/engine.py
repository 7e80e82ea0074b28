"""One-pass scoring: decode each image once in worker processes, batch the network forwards,
cache features by (image content hash, extractor id + weights hash, protocol), then compute
set metrics, per-image metrics, win rates, latency and status from the cache.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ultrabench.metrics import crops as cropmod
from ultrabench.metrics import texture
from ultrabench.scoring.decode import prepare

CONTENT_KEY = ""  # an ImageTask key meaning "place crops by the image's sha256"
INCEPTION_SPLITS = 10
IS_SEED = 2020
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KID_SEED = 2020
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm", ".pgm"}


# --------------------------------------------------------------------------------------------
# protocols
def protocols(patch_crops: int, crop_seed: int, codec: str, clip_info: dict | None, pick_info: dict | None) -> dict:
    full = {"resize": "PIL bicubic (antialiased) on float32 per channel, squash to 299x299, clipped to [0,255], "
                      "no re-quantisation (clean-fid 'clean')",
            "network": "Inception-v3 TF 2015-12-05 port (torch-fidelity weights layout), (x-128)/128"}
    patch = {"crop": [299, 299], "crops_per_image": patch_crops, "crop_seed": crop_seed, "resize": "none (native pixels)",
             "placement": "uniform random top-left; rng = numpy default_rng([crop_seed, crc32(key)]), "
                          "key = '<prompt_id>__s<seed>'; reference images: their sha256, so renaming or "
                          "moving a reference set changes nothing",
             "network": full["network"]}
    fid = {"features": "pool3 2048", "stats": "mean, covariance ddof=1, float64",
           "sqrt": "tr((A S2 A)^1/2), A = S1^1/2, symmetric eigh, eigenvalues clipped at 0"}
    is_ = {"features": "logits_unbiased 1008", "splits": INCEPTION_SPLITS, "shuffle": f"numpy RandomState({IS_SEED})",
           "kl": "xlogy (0 log 0 = 0)", "splits_capped_at_n": True}
    kid = {"features": "pool3 2048", "kernel": "polynomial (x.y/d + 1)^3", "subsets": KID_SUBSETS,
           "subset_size": f"min({KID_SUBSET_SIZE}, n, n_ref)", "subset_rng": f"numpy RandomState({KID_SEED})",
           "estimator": "unbiased MMD^2"}
    out = {
        "fid": {"version": "fid@clean-v1", **full, **fid},
        "kid": {"version": "kid@clean-v1", **full, **kid},
        "is": {"version": "is@clean-v1", **full, **is_},
        "fid-patch": {"version": f"fid-patch@native299-p{patch_crops}-v2", **patch, **fid},
        "kid-patch": {"version": f"kid-patch@native299-p{patch_crops}-v2", **patch, **kid},
        "is-patch": {"version": f"is-patch@native299-p{patch_crops}-v2", **patch, **is_},
        "clip": {"version": "clip@open_clip-v1", **(clip_info or {})},
        "pickscore": {"version": "pickscore@v1", **(pick_info or {}),
                      "winrate": "pairs matched on (prompt_id, seed); win if s_A - s_B > tau, tie (0.5) if "
                                 "|s_A - s_B| <= tau; mean_pref = mean sigmoid(s_A - s_B); p = two-sided sign test "
                                 "on untied pairs"},
        "glcm": {"version": "glcm@diffusion4k-v1", "grey": "cv2 fixed-point BT.601, v // 4 -> 64 levels",
                 "patches": "non-overlapping 64x64, floor(H/64) x floor(W/64) grid", "distances": [1, 2, 3, 4],
                 "angles": "0, pi/4, pi/2, 3pi/4", "entropy": "skimage shannon_entropy of the normed GLCM array"},
        "compression-ratio": {"version": f"compression-ratio@{codec}-v1", "ratio": "H*W*3 / encoded bytes",
                              "source": "decoded pixels of the stored (lossless PNG) image",
                              **texture.codec_settings(codec)},
    }
    return out


# --------------------------------------------------------------------------------------------
# caches
def _slug(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in s)[:80]


class FeatureCache:
    """npz files under <root>/<extractor>-<weights hash>/<protocol>/<sha[:2]>/<sha>[__<key crc>].npz."""

    def __init__(self, root: Path):
        from ultrabench.hashing import HashIndex

        self.root = Path(root)
        self._hashes = HashIndex(self.root / "sha256-index.json")

    def path(self, extractor: str, protocol: str, sha: str, key: str | None = None) -> Path:
        name = sha if key is None else f"{sha}__{zlib.crc32(key.encode()):08x}"
        return self.root / _slug(extractor) / _slug(protocol) / sha[:2] / f"{name}.npz"

    def get(self, extractor, protocol, sha, key=None) -> dict | None:
        p = self.path(extractor, protocol, sha, key)
        try:
            with np.load(p, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (FileNotFoundError, OSError, ValueError):
            return None

    def has(self, extractor, protocol, sha, key=None) -> bool:
        return self.path(extractor, protocol, sha, key).is_file()

    def put(self, extractor, protocol, sha, arrays: dict, key=None) -> None:
        p = self.path(extractor, protocol, sha, key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + f".tmp{os.getpid()}.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, p)

    def known_sha256(self, path: Path) -> str | None:
        """The content hash remembered for this (path, size, mtime); None if the file is new or changed."""
        return self._hashes.known(path)

    def remember_sha256(self, path: Path, stat: tuple[int, int], digest: str) -> None:
        self._hashes.remember(path, stat[0], stat[1], digest)

    def save_index(self) -> None:
        self._hashes.save()


# --------------------------------------------------------------------------------------------
# extractors
@dataclass
class Extractors:
    inception: Any = None
    clip: Any = None
    pickscore: Any = None

    def info(self) -> dict:
        return {k: getattr(self, k).info() for k in ("inception", "clip", "pickscore") if getattr(self, k) is not None}

    @property
    def random_weights(self) -> bool:
        return any(getattr(self, k).random_weights for k in ("inception", "clip", "pickscore")
                   if getattr(self, k) is not None)

    def key(self, name: str) -> str:
        e = getattr(self, name)
        return f"{e.id}-{e.weights_sha256[:16]}"


def _standin_dir() -> Path:
    from ultrabench.weights import cache_root

    return cache_root() / "stand-ins"


def inception_weight_file():
    from ultrabench.metrics.extractors.inception import WEIGHTS_FILENAME, WEIGHTS_URL
    from ultrabench.weights import WeightFile

    return WeightFile("toshas/torch-fidelity", WEIGHTS_FILENAME, role="inception", size_hint="92 MB", url=WEIGHTS_URL)


def pickscore_weight_files():
    from ultrabench.metrics.extractors import pickscore as ps
    from ultrabench.weights import WeightFile

    return (
        WeightFile(ps.MODEL_REPO, None, role="pickscore", size_hint="3.9 GB",
                   allow_patterns=("*.json", "*.safetensors", "*.txt")),
        WeightFile(ps.PROCESSOR_REPO, None, role="pickscore_processor", allow_patterns=("*.json", "*.txt")),
    )


def clip_weight_files(clip_model=("ViT-L-14", "openai")):
    """The hub files open_clip may load for a (model, tag); the first present one is used."""
    from open_clip.pretrained import get_pretrained_cfg

    from ultrabench.weights import WeightFile

    hub = (get_pretrained_cfg(*clip_model) or {}).get("hf_hub", "").rstrip("/")
    if not hub:
        return []
    return [WeightFile(hub, fn, role="clip", size_hint="1.7 GB")
            for fn in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")]


def weight_files_for(metrics=None, clip_model=("ViT-L-14", "openai")):
    """(metric group, weight file) pairs the given metrics need, for `doctor` and `weights`."""
    from ultrabench.metrics.registry import METRICS

    names = set(metrics or METRICS)
    out = []
    if names & {"fid", "fid-patch", "is", "is-patch", "kid", "kid-patch"}:
        out.append(("inception", inception_weight_file()))
    if "clip" in names:
        out += [("clip", wf) for wf in clip_weight_files(clip_model)[:1]]
    if "pickscore" in names:
        out += [("pickscore", wf) for wf in pickscore_weight_files()]
    return out


def make_extractors(need: set[str], *, device="cpu", stand_ins=False, weights=None,
                    clip_model=("ViT-L-14", "openai"), given: dict | None = None) -> Extractors:
    """need: subset of {"inception", "clip", "pickscore"}; `given` injects ready extractors."""
    given = given or {}
    ex = Extractors(**{k: v for k, v in given.items() if k in ("inception", "clip", "pickscore")})
    sdir = _standin_dir()
    if "inception" in need and ex.inception is None:
        from ultrabench.metrics.extractors import inception as inc

        if stand_ins:
            p = inc.random_inception_file(sdir)
            ex.inception = inc.InceptionExtractor(p, device=device, random_weights=True)
        else:
            ex.inception = inc.InceptionExtractor(_resolver(weights).resolve(inception_weight_file()), device=device)
    if "clip" in need and ex.clip is None:
        from ultrabench.metrics.extractors.clip import ClipScorer

        if stand_ins:
            ex.clip = ClipScorer.standin(sdir, device)
        else:
            name, tag = clip_model
            tag_is_file = Path(str(tag)).expanduser().is_file()
            ex.clip = ClipScorer.from_pretrained(name, _resolve_clip(weights, clip_model), device,
                                                 tag=None if tag_is_file else tag)
    if "pickscore" in need and ex.pickscore is None:
        from ultrabench.metrics.extractors import pickscore as ps

        if stand_ins:
            ex.pickscore = ps.PickScorer.standin(sdir, device)
        else:

            r = _resolver(weights)
            model_wf, proc_wf = pickscore_weight_files()
            ex.pickscore = ps.PickScorer.from_pretrained(r.resolve(model_wf), r.resolve(proc_wf), device)
    return ex


def _resolver(weights):
    from ultrabench.weights import WeightResolver

    return weights if weights is not None else WeightResolver()


def _resolve_clip(weights, clip_model) -> Path:
    """A local path for open_clip: an existing file path as the tag, or the tag's HF hub file."""
    name, tag = clip_model
    if Path(str(tag)).expanduser().is_file():
        return Path(tag).expanduser()
    from ultrabench.errors import MissingWeightsError

    files = clip_weight_files(clip_model)
    if not files:
        raise MissingWeightsError(f"open_clip has no hub location for {name}/{tag}; pass a local weights file as the tag")
    r = _resolver(weights)
    for wf in files:
        found = r.status(wf).path
        if found is not None:
            return found
    return r.resolve(files[0])


# --------------------------------------------------------------------------------------------
# the one pass
@dataclass
class ImageTask:
    path: Path
    key: str  # crop key: prompt_id__s<seed>, or CONTENT_KEY (reference images: their sha256)
    sha: str | None = None
    want: dict = field(default_factory=dict)
    error: str | None = None
    crop_error: str | None = None
    flags: list[str] = field(default_factory=list)


class _Batcher:
    """Rows from several images -> forwards of `batch_size` rows -> per-image results."""

    def __init__(self, fn: Callable, batch_size: int, on_done: Callable[[Any, list], None]):
        self.fn, self.bs, self.on_done = fn, max(1, batch_size), on_done
        self.items: list[tuple[Any, list]] = []
        self.rows = 0

    def add(self, owner, rows: list) -> None:
        self.items.append((owner, rows))
        self.rows += len(rows)
        if self.rows >= self.bs:
            self.flush()

    def flush(self) -> None:
        if not self.items:
            return
        flat = [r for _, rows in self.items for r in rows]
        outs = []
        for s in range(0, len(flat), self.bs):
            outs.append(self.fn(flat[s:s + self.bs]))
        # each fn returns a tuple of arrays or one array
        if isinstance(outs[0], tuple):
            merged = tuple(np.concatenate([o[i] for o in outs]) for i in range(len(outs[0])))
        else:
            merged = np.concatenate(outs)
        pos = 0
        for owner, rows in self.items:
            n = len(rows)
            part = tuple(m[pos:pos + n] for m in merged) if isinstance(merged, tuple) else merged[pos:pos + n]
            self.on_done(owner, part)
            pos += n
        self.items, self.rows = [], 0


def default_workers(device: str | None = None) -> int:
    """Decode workers: one per CPU this process may use (its affinity: what SLURM or taskset gave it),
    at most 16, one fewer when the forwards run on a GPU and the main process only feeds it.
    On the 2-core development VM with CPU forwards that is 2, the measured best (reports/perf)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    on_gpu = device is not None and not str(device).startswith("cpu")
    return max(1, min(16, cpus - (1 if on_gpu else 0)))


def _inputs_to_make(t: ImageTask, need: dict, ex: Extractors, cache: FeatureCache, pk_full: str, pk_patch: str,
                    patch_crops: int, crop_seed: int, codec: str) -> dict:
    """What the decoder must produce for `t`: each needed input whose features are not cached yet.

    A file never hashed gets all of them: the decode worker hashes the bytes it decodes, so a new
    file is read once (at 35 MB per 4096^2 PNG, a separate hashing pass doubled the reads). Content
    already cached under another path is then recomputed.
    """
    def missing(extractor: str, protocol: str, key: str | None = None) -> bool:
        return t.sha is None or not cache.has(extractor, protocol, t.sha, key)

    w: dict = {}
    if need.get("full") and missing(ex.key("inception"), pk_full):
        w["resize"] = True
    if need.get("patch") and missing(ex.key("inception"), pk_patch, t.key):
        w["crops"] = {"key": t.key, "n": patch_crops, "seed": crop_seed, "size": cropmod.PATCH_SIZE}
    if need.get("clip") and missing(ex.key("clip"), "short224-centre-v1"):
        w["short224"] = True
    if need.get("pickscore") and missing(ex.key("pickscore"), "short224-centre-v1"):
        w["short224"] = True
    if need.get("texture") and missing("texture", f"glcm-v1-{codec}"):
        w["glcm"], w["compression"] = True, codec
    # flags and crop errors are cached with the texture-independent "meta" entry
    if missing("meta", "decode-v1", t.key if need.get("patch") else None):
        w["meta"] = True
    return w


def _decode_worker_init() -> None:
    """Decoders yield the CPU to the forwards: when a decoder preempts one of torch's intra-op threads,
    the other waits at the next barrier. At lower priority the decoders fill the gaps instead
    (16 4096^2 PNGs, ViT-L-14, 2 cores: 25.9 s -> 25.3 s, and 24.9 s with the window below at 3)."""
    try:
        os.nice(10)
    except (AttributeError, OSError):  # no nice() on Windows; a sandbox may refuse it
        pass


def run_pass(tasks: list[ImageTask], ex: Extractors, cache: FeatureCache, *, need: dict, patch_crops: int,
             crop_seed: int, codec: str, batch_size: int, workers: int | None, progress: bool, proto: dict) -> dict:
    """Fill the cache for every task; returns counters. `need` flags: full, patch, clip, pickscore, texture."""
    counts = {"decoded": 0, "cached": 0, "unreadable": 0}
    pk_full, pk_patch = proto["fid"]["version"].split("@")[1], proto["fid-patch"]["version"].split("@")[1]
    todo: list[ImageTask] = []
    for t in tasks:
        if t.sha is None:
            t.sha = cache.known_sha256(t.path)
        if t.sha is not None and t.key == CONTENT_KEY:
            t.key = t.sha
        w = _inputs_to_make(t, need, ex, cache, pk_full, pk_patch + f"-seed{crop_seed}", patch_crops, crop_seed, codec)
        if w:
            t.want = w
            todo.append(t)
        else:
            counts["cached"] += 1

    def on_full(t, part):
        cache.put(ex.key("inception"), pk_full, t.sha, {"pool": part[0][0], "logits": part[1][0]})

    def on_patch(t, part):
        cache.put(ex.key("inception"), pk_patch + f"-seed{crop_seed}", t.sha,
                  {"pool": part[0], "logits": part[1], "boxes": np.asarray(t._boxes, dtype=np.int64)}, t.key)

    def on_clip(t, part):
        cache.put(ex.key("clip"), "short224-centre-v1", t.sha, {"emb": part[0]})

    def on_pick(t, part):
        cache.put(ex.key("pickscore"), "short224-centre-v1", t.sha, {"emb": part[0]})

    b_full = b_patch = b_clip = b_pick = None
    if ex.inception is not None:
        b_full = _Batcher(lambda rows: ex.inception(np.stack(rows)), batch_size, on_full)
        b_patch = _Batcher(lambda rows: ex.inception(np.stack(rows)), batch_size, on_patch)
    if ex.clip is not None:
        b_clip = _Batcher(lambda rows: ex.clip.image_embeddings(rows), batch_size, on_clip)
    if ex.pickscore is not None:
        b_pick = _Batcher(lambda rows: ex.pickscore.image_embeddings(rows), batch_size, on_pick)

    def consume(t: ImageTask, r) -> None:
        counts["decoded"] += 1
        t.sha = r.sha256 or t.sha  # of the bytes decoded, even if the file changed since it was last hashed
        if t.key == CONTENT_KEY and r.sha256:
            t.key = r.sha256
        if r.error:
            t.error = r.error
            counts["unreadable"] += 1
            return
        if r.stat is not None:
            cache.remember_sha256(t.path, r.stat, r.sha256)
        t.flags = r.flags
        t.crop_error = r.crop_error
        if "meta" in t.want:
            cache.put("meta", "decode-v1", t.sha, {"meta": np.array(json.dumps(
                {"flags": r.flags, "crop_error": r.crop_error, "height": r.height, "width": r.width}))},
                t.key if need.get("patch") else None)
        if r.x299 is not None and b_full is not None:
            b_full.add(t, [r.x299])
        if r.crops is not None and b_patch is not None:
            t._boxes = r.boxes
            b_patch.add(t, list(r.crops))
        if r.short224 is not None:
            if need.get("clip") and b_clip is not None and "short224" in t.want:
                b_clip.add(t, [r.short224])
            if need.get("pickscore") and b_pick is not None and "short224" in t.want:
                b_pick.add(t, [r.short224])
        if r.glcm is not None or r.compression_ratio is not None:
            cache.put("texture", f"glcm-v1-{codec}", t.sha,
                      {"glcm": np.float64(np.nan if r.glcm is None else r.glcm),
                       "compression_ratio": np.float64(np.nan if r.compression_ratio is None else r.compression_ratio)})

    bar = None
    if progress and todo:
        try:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), desc="scoring", unit="img", file=sys.stderr)
        except ImportError:
            bar = None
    if workers is None:
        workers = default_workers(str(getattr(ex.inception or ex.clip or ex.pickscore, "device", "cpu")))
    if workers and workers > 0 and len(todo) > 1:
        import multiprocessing as mp

        # fork where available: workers run numpy/PIL only (never torch), and spawn would re-import an
        # unguarded __main__ script; elsewhere spawn imports only ultrabench.scoring.decode's light deps
        method = "fork" if "fork" in mp.get_all_start_methods() and sys.platform.startswith("linux") else "spawn"
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method), initializer=_decode_worker_init)
    else:
        pool = None
    try:
        window = max(2, 3 * (workers or 1))  # decoded inputs are ~2 MB each; keep the forwards fed
        pending: list = []
        it = iter(todo)
        exhausted = False
        while True:
            while not exhausted and len(pending) < window:
                t = next(it, None)
                if t is None:
                    exhausted = True
                    break
                if pool is None:
                    pending.append((t, None))
                else:
                    pending.append((t, pool.submit(prepare, str(t.path), t.want)))
            if not pending:
                break
            t, fut = pending.pop(0)  # in order: batches stay deterministic
            r = prepare(str(t.path), t.want) if fut is None else fut.result()
            consume(t, r)
            if bar is not None:
                bar.update(1)
        for b in (b_full, b_patch, b_clip, b_pick):
            if b is not None:
                b.flush()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if bar is not None:
            bar.close()
        cache.save_index()
    return counts


def load_meta(cache: FeatureCache, t: ImageTask, patch: bool) -> dict:
    z = cache.get("meta", "decode-v1", t.sha, t.key if patch else None)
    return json.loads(str(z["meta"])) if z is not None else {}
