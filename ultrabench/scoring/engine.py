"""One-pass scoring: decode each image once in worker processes, make every view some requested
extractor needs once, batch each extractor's forwards, and cache the features by (image content
hash, network id + weights hash, extractor version + view). Set and per-image metrics are then
computed from the cache (`ultrabench.scoring.api`).

The engine knows no extractor by name: it works on `Need`s, one per (extractor, view role) that a
requested metric reads, as the plugins in `ultrabench.metrics.plugins` declare them.
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

from ultrabench.metrics.plugin import FeatureExtractor, Metric, Net
from ultrabench.progress import bar as progress_bar
from ultrabench.scoring.decode import prepare
from ultrabench.scoring.views import CONTENT_KEY, VIEW_KINDS, View

# CONTENT_KEY (from views): an ImageTask key meaning "place crops by the image's sha256"
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm", ".pgm"}
META = ("meta", "decode-v2")  # (cache extractor, protocol) of the per-image decode facts


# --------------------------------------------------------------------------------------------
# caches
def _slug(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in s)[:80]


class FeatureCache:
    """npz files under <root>/<extractor>/<protocol>/<sha[:2]>/<sha>[__<key crc>].npz."""

    def __init__(self, root: Path):
        from ultrabench.hashing import HashIndex

        self.root = Path(root)
        self._hashes = HashIndex(self.root / "sha256-index.json")

    def path(self, extractor: str, protocol: str, sha: str, key: str | None = None) -> Path:
        name = sha if key is None else f"{sha}__{zlib.crc32(key.encode()):08x}"
        # a long protocol is kept readable and made unique by its crc
        proto = _slug(protocol) if len(protocol) <= 80 else f"{_slug(protocol)[:70]}-{zlib.crc32(protocol.encode()):08x}"
        return self.root / _slug(extractor) / proto / sha[:2] / f"{name}.npz"

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
        from ultrabench.errors import write_failure

        from ultrabench.runstore import atomic_file

        p = self.path(extractor, protocol, sha, key)
        try:
            with atomic_file(p, ".npz") as f:
                np.savez(f, **arrays)
        except OSError as e:
            raise write_failure(p, e) from None

    def known_sha256(self, path: Path) -> str | None:
        """The content hash remembered for this (path, size, mtime); None if the file is new or changed."""
        return self._hashes.known(path)

    def remember_sha256(self, path: Path, stat: tuple[int, int], digest: str) -> None:
        self._hashes.remember(path, stat[0], stat[1], digest)

    def save_index(self) -> None:
        from ultrabench.errors import write_failure

        try:
            self._hashes.save()
        except OSError as e:
            raise write_failure(self._hashes.path, e) from None


# --------------------------------------------------------------------------------------------
# what the pass computes
@dataclass(eq=False)
class Need:
    """One extractor's features from one view (or, for a derived extractor, from its source's)."""

    ext: FeatureExtractor
    net: Net
    role: str
    view: View | None  # None for a derived extractor
    source: "Need | None" = None

    @property
    def cache_id(self) -> str:
        return f"{self.net.id}-{self.net.weights_sha256[:16]}"

    @property
    def protocol(self) -> str:
        base = self.view.key if self.view is not None else f"from-{self.source.cache_id}-{self.source.protocol}"
        return f"{self.ext.version}-{base}"

    @property
    def keyed(self) -> bool:
        return self.view.keyed if self.view is not None else self.source.keyed

    @property
    def _tiled(self) -> bool:
        return VIEW_KINDS[self.view.kind].tiled if self.view is not None else self.source._tiled

    def cache_key(self, task: "ImageTask") -> str | None:
        key = task.key if self.keyed else None
        if task.tiling and self._tiled:  # the record's tiling changes the features of the same pixels
            key = f"{key or ''}|tiling={task.tiling}"
        if self.ext.prompted:  # features of (image, prompt): the same image under another prompt is another entry
            import hashlib

            key = f"{key or ''}|prompt={hashlib.sha256((task.prompt or '').encode()).hexdigest()[:16]}"
        return key

    def forward(self, rows: list) -> dict:
        return self.ext.forward(self.net, self.role, rows)


@dataclass
class Extractors:
    """The extractor declarations and loaded networks one scoring call uses, keyed by declaration key."""

    by_key: dict[str, tuple[FeatureExtractor, Net]] = field(default_factory=dict)
    needs: dict[tuple[str, str], Need] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # declaration key -> why its weights are not here

    def unavailable(self, metric: Metric, options) -> str | None:
        """Why a metric cannot be computed (its extractor's or its source's weights are missing)."""
        from ultrabench.metrics.registry import EXTRACTORS, extractor_for

        ext = extractor_for(metric, options)
        while ext is not None:
            if ext.key in self.missing:
                return self.missing[ext.key]
            ext = EXTRACTORS[ext.source](ext.source_options()) if ext.source is not None else None
        return None

    def need(self, ext: FeatureExtractor, role: str) -> Need:
        k = (ext.key, role)
        if k not in self.needs:
            ext, net = self.by_key[ext.key]
            source = None
            if ext.source is not None:
                from ultrabench.metrics.registry import EXTRACTORS

                src = EXTRACTORS[ext.source](ext.source_options())
                source = self.need(src, ext.source_role)
            view = None if source is not None else ext.views(net)[role]
            self.needs[k] = Need(ext, net, role, view, source)
        return self.needs[k]

    def need_for(self, metric: Metric, options) -> Need:
        from ultrabench.metrics.registry import extractor_for

        return self.need(extractor_for(metric, options), metric.view)

    def model(self, name: str):
        """The loaded model of the (only) extractor called `name`, e.g. the CLIP scorer."""
        found = [net for ext, net in self.by_key.values() if ext.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} extractors named {name!r} are open")
        return found[0].model

    def names(self) -> dict[str, str]:
        """declaration key -> the name it is reported under (the plain name when it is unique)."""
        counts: dict[str, int] = {}
        for ext, _ in self.by_key.values():
            counts[ext.name] = counts.get(ext.name, 0) + 1
        return {k: (ext.name if counts[ext.name] == 1 else k) for k, (ext, _) in self.by_key.items()}

    def info(self) -> dict:
        names = self.names()
        return {names[k]: net.info() for k, (_, net) in sorted(self.by_key.items())}

    @property
    def random_weights(self) -> bool:
        return any(net.random_weights for _, net in self.by_key.values())

    @property
    def device(self) -> str:
        return next((str(net.device) for _, net in self.by_key.values() if net.model is not None), "cpu")


def _standin_dir() -> Path:
    from ultrabench.weights import cache_root

    return cache_root() / "stand-ins"


def declarations(metrics, options) -> list[FeatureExtractor]:
    """Every extractor declaration the metrics need, sources of derived extractors included, once each."""
    from ultrabench.metrics.registry import EXTRACTORS, extractor_for, get_metric

    out: dict[str, FeatureExtractor] = {}

    def add(ext: FeatureExtractor) -> None:
        if ext.source is not None:
            add(EXTRACTORS[ext.source](ext.source_options()))
        out.setdefault(ext.key, ext)

    for m in metrics:
        add(extractor_for(get_metric(m), options))
    return list(out.values())


def _users(decl: FeatureExtractor, metrics, options) -> list[str]:
    """The metrics among `metrics` whose inputs come from `decl` (for the fetch command a miss names)."""
    from ultrabench.metrics.registry import get_metric

    return [get_metric(m).name for m in metrics if decl.key in {d.key for d in declarations([m], options)}]


def weight_files_for(metrics=None, clip_model=("ViT-L-14", "openai"), options=None):
    """(extractor name, weight file) pairs the given metrics need, for `doctor` and `weights`."""
    from ultrabench.metrics.registry import METRICS

    opts = {**(options or {}), "clip_model": tuple(clip_model)}
    return [(ext.name, wf) for ext in declarations(list(metrics or METRICS), opts) for wf in ext.weight_files()]


def open_extractors(metrics, options, *, device="cpu", stand_ins=False, weights=None, given=None,
                    keep_going=False) -> Extractors:
    """Load the network of every extractor the metrics need. `given` maps an extractor name to a ready
    network (a `Net`, or a model object carrying id/weights_sha256/random_weights/info) to use as is.
    `keep_going`: an extractor whose weights are missing is noted in `missing` (its one-line reason)
    and the others still load; otherwise the first missing file raises."""
    from ultrabench.errors import MissingWeightsError

    given = given or {}
    ex = Extractors()
    resolver = weights
    for decl in declarations(metrics, options):
        if decl.name in given and given[decl.name] is not None:
            net = given[decl.name]
            net = net if isinstance(net, Net) else decl.wrap(net)
        elif stand_ins:
            net = decl.standin(_standin_dir(), device)
        else:
            if resolver is None:
                from ultrabench.weights import WeightResolver

                resolver = WeightResolver()
            try:
                net = decl.load(resolver.with_hint(f"--metric {','.join(_users(decl, metrics, options))}"), device)
            except MissingWeightsError as e:
                if not keep_going:
                    raise
                ex.missing[decl.key] = str(e)
                continue
        ex.by_key[decl.key] = (decl, net)
    return ex


# --------------------------------------------------------------------------------------------
# the one pass
@dataclass
class ImageTask:
    path: Path
    key: str  # crop key: prompt_id__s<seed>, or CONTENT_KEY (reference images: their sha256)
    prompt: str | None = None  # for prompt-conditioned extractors (ImageReward)
    tiling: str = ""  # "<tile>/<stride>" when the unit record names its tiling (seams.tiling_of)
    sha: str | None = None
    missing: list[Need] = field(default_factory=list)
    want_meta: bool = False
    error: str | None = None
    flags: list[str] = field(default_factory=list)


class _Batcher:
    """Rows from several images -> forwards of `batch_size` rows -> per-image dicts of arrays."""

    def __init__(self, fn: Callable[[list], dict], batch_size: int, on_done: Callable[[Any, dict], None]):
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
        outs = [self.fn(flat[s:s + self.bs]) for s in range(0, len(flat), self.bs)]
        merged = {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}
        pos = 0
        for owner, rows in self.items:
            n = len(rows)
            self.on_done(owner, {k: v[pos:pos + n] for k, v in merged.items()})
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


def _plan_task(t: ImageTask, needs: list[Need], cache: FeatureCache) -> None:
    """What the decoder must produce for `t`: each pixel need whose features are not cached yet.

    A file never hashed gets all of them: the decode worker hashes the bytes it decodes, so a new
    file is read once (at 35 MB per 4096^2 PNG, a separate hashing pass doubled the reads). Content
    already cached under another path is then recomputed.
    """
    t.missing = [n for n in needs if n.view is not None
                 and (t.sha is None or not cache.has(n.cache_id, n.protocol, t.sha, n.cache_key(t)))]
    t.want_meta = t.sha is None or not cache.has(*META, t.sha)


def _decode_worker_init(parent_pid: int) -> None:
    """Decoders yield the CPU to the forwards: when a decoder preempts one of torch's intra-op threads,
    the other waits at the next barrier. At lower priority the decoders fill the gaps instead
    (16 4096^2 PNGs, ViT-L-14, 2 cores: 25.9 s -> 25.3 s, and 24.9 s with the window below at 3).

    A worker also dies with the scoring process: after a `kill -9` of the parent, workers blocked on a
    pipe write would otherwise live on under PID 1 holding their decoded images (~700 MB each)."""
    try:
        os.nice(10)
    except (AttributeError, OSError):  # no nice() on Windows; a sandbox may refuse it
        pass
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)


def _open_pool(workers: int):
    import multiprocessing as mp

    # fork where available: workers run numpy/PIL only (never torch), and spawn would re-import an
    # unguarded __main__ script; elsewhere spawn imports only ultrabench.scoring.decode's light deps
    method = "fork" if "fork" in mp.get_all_start_methods() and sys.platform.startswith("linux") else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method),
                               initializer=_decode_worker_init, initargs=(os.getpid(),))


def run_pass(tasks: list[ImageTask], needs: list[Need], cache: FeatureCache, *, batch_size: int,
             workers: int | None, progress: bool, device: str = "cpu") -> dict:
    """Fill the cache with every need's features for every task; returns counters."""
    counts = {"decoded": 0, "cached": 0, "unreadable": 0}
    todo: list[ImageTask] = []
    for t in tasks:
        if t.sha is None:
            t.sha = cache.known_sha256(t.path)
        if t.sha is not None and t.key == CONTENT_KEY:
            t.key = t.sha
        _plan_task(t, needs, cache)
        if t.missing or t.want_meta:
            todo.append(t)
        else:
            counts["cached"] += 1

    def store(owner, part: dict) -> None:
        t, need, boxes = owner
        if boxes is not None:
            part = {**part, "boxes": np.asarray(boxes, dtype=np.int64)}
        cache.put(need.cache_id, need.protocol, t.sha, part, need.cache_key(t))

    batchers = {id(n): _Batcher(n.forward, batch_size, store) for n in needs if n.view is not None}

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
        if t.want_meta:
            cache.put(*META, t.sha, {"meta": np.array(json.dumps(
                {"flags": r.flags, "height": r.height, "width": r.width}))})
        for n in t.missing:
            k = n.view.key
            if k in r.view_errors:  # remembered, so an image too small for a crop is not decoded again for it
                cache.put(n.cache_id, n.protocol, t.sha, {"error": np.array(r.view_errors[k])}, n.cache_key(t))
            elif k in r.views:
                arr = r.views[k]
                rows = list(arr) if VIEW_KINDS[n.view.kind].multi else [arr]
                if n.ext.prompted:
                    rows = [(row, t.prompt or "") for row in rows]
                batchers[id(n)].add((t, n, r.boxes.get(k)), rows)

    bar = progress_bar("scoring", len(todo), progress)
    if workers is None:
        workers = default_workers(device)
    pool = _open_pool(workers) if workers and workers > 0 and len(todo) > 1 else None
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
                views = list(dict.fromkeys(n.view for n in t.missing))
                fut = None if pool is None else pool.submit(prepare, str(t.path), views, t.key, t.tiling)
                pending.append((t, views, fut))
            if not pending:
                break
            t, views, fut = pending.pop(0)  # in order: batches stay deterministic
            consume(t, prepare(str(t.path), views, t.key, t.tiling) if fut is None else fut.result())
            if bar is not None:
                bar.update(1)
        for b in batchers.values():
            b.flush()
    except BaseException:
        try:  # keep the hashes learnt so far, without hiding the error that stopped the pass
            cache.save_index()
        except Exception:
            pass
        raise
    else:
        cache.save_index()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if bar is not None:
            bar.close()
    _run_derived(tasks, needs, cache, batch_size)
    return counts


def _run_derived(tasks: list[ImageTask], needs: list[Need], cache: FeatureCache, batch_size: int) -> None:
    """Derived extractors (e.g. an aesthetic head) run on their source's cached features, no decode."""
    for n in needs:
        if n.source is None:
            continue
        b = _Batcher(n.forward, batch_size, lambda t, part, n=n: cache.put(n.cache_id, n.protocol, t.sha, part,
                                                                          n.cache_key(t)))
        for t in tasks:
            if t.error or t.sha is None or cache.has(n.cache_id, n.protocol, t.sha, n.cache_key(t)):
                continue
            src = cache.get(n.source.cache_id, n.source.protocol, t.sha, n.source.cache_key(t))
            if src is None:
                continue
            if "error" in src:
                cache.put(n.cache_id, n.protocol, t.sha, {"error": src["error"]}, n.cache_key(t))
                continue
            feats = {k: v for k, v in src.items() if k != "boxes"}
            rows = [{k: v[i] for k, v in feats.items()} for i in range(len(next(iter(feats.values()))))]
            b.add(t, rows)
        b.flush()


def load_meta(cache: FeatureCache, t: ImageTask) -> dict:
    z = cache.get(*META, t.sha)
    return json.loads(str(z["meta"])) if z is not None else {}


def features(cache: FeatureCache, need: Need, t: ImageTask) -> dict | None:
    """The cached arrays of one need for one image ({"error": ...} when the view could not be made)."""
    if t.sha is None:
        return None
    z = cache.get(need.cache_id, need.protocol, t.sha, need.cache_key(t))
    if z is not None and "error" in z:
        return {"error": str(z["error"])}
    return z
