"""The generation loop: plan units, skip finished ones, generate the rest, record everything.

Every unit ends in exactly one record with a final status (ok, oom, error, unsupported); an OOM or
an exception inside a method is recorded and the loop goes on. A first Ctrl-C finishes the current
batch and stops; a second stops at once (atomic writes mean no half-written files either way).
"""

from __future__ import annotations

import datetime as _dt
import os
import signal
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from ultrabench.config import BenchmarkSpec, MethodEntry
from ultrabench.errors import UltrabenchError, UsageError
from ultrabench.methods.base import Method, PartialBatchError, Support
from ultrabench.methods.registry import canonical_method, get_method_class, method_kind
from ultrabench.progress import progress as make_progress
from ultrabench.prompts import Prompt, load_prompts, sample_prompts
from ultrabench.resolution import Resolution
from ultrabench.runspec import check_spec, settings_hash, unit_spec
from ultrabench.runstore import FAILED, RunStore, Unit
from ultrabench.seeding import seed_everything, unit_seed
from ultrabench.shard import Shard, launcher_shard, scheduler_job


@dataclass
class GenerateSummary:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # "method HxW" -> status -> n
    skipped: int = 0  # already finished before this invocation
    unsupported_before: int = 0  # of those, recorded as unsupported
    failed_before: int = 0  # recorded as oom/error by an earlier invocation and not retried
    elsewhere: int = 0  # claimed by another live process (an overlapping launch)
    stolen: int = 0  # units of other shards this process made once its own share was done
    shard: str | None = None
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # methods that could not run at all
    interrupted: bool = False
    stopped_by: str = "Ctrl-C"  # or "SIGTERM"
    first_error: str | None = None  # "method HxW: text" of the first unit that failed here

    def add(self, key: str, status: str, n: int = 1, error: str | None = None) -> None:
        self.counts.setdefault(key, {}).setdefault(status, 0)
        self.counts[key][status] += n
        if error and self.first_error is None:
            self.first_error = f"{key}: {error}"

    @property
    def generated(self) -> int:
        return sum(v.get("ok", 0) for v in self.counts.values())

    @property
    def failed(self) -> int:
        """Units of this invocation recorded as oom or error."""
        return sum(v.get(s, 0) for v in self.counts.values() for s in FAILED)


def select_work(
    spec: BenchmarkSpec, methods: Sequence[str] | None = None, resolutions: Sequence[Resolution] | None = None
) -> list[tuple[MethodEntry, tuple[Resolution, ...]]]:
    """Which (method entry, resolutions) to run.

    With no `methods`, every spec entry runs at its own resolutions, narrowed to `resolutions` when
    given (so `--res 2160x3840` runs what the spec lists at 2160x3840). A method named explicitly
    runs at the requested resolutions even if the spec does not list it there.
    """
    work = []
    if methods:
        for name in methods:
            # "PixArt-Sigma" or "pixart_sigma" on the command line mean the registered "pixart-sigma"
            canon = canonical_method(name) or name
            entry = spec.entry(name) or spec.entry(canon) or MethodEntry(name=canon)
            get_method_class(entry.registry_name)  # fail early on a typo
            if any(e.name == entry.name for e, _ in work):
                continue  # named twice (or under two spellings): run once
            res = tuple(resolutions) if resolutions else spec.resolutions_for(entry)
            work.append((entry, res))
    else:
        for entry in spec.methods:
            res = spec.resolutions_for(entry)
            if resolutions:
                res = tuple(r for r in res if r in resolutions)
            if res:
                work.append((entry, res))
        if resolutions and not work:
            listed = sorted({r.key for e in spec.methods for r in spec.resolutions_for(e)})
            raise UsageError(
                f"spec {spec.name!r} lists no method at {', '.join(r.key for r in resolutions)} "
                f"(it has {', '.join(listed) or 'none'}); name one with --method"
            )
    if not work:
        raise UsageError(f"spec {spec.name!r} lists no methods; name one with --method")
    return work


def spec_prompts(spec: BenchmarkSpec) -> list[Prompt]:
    return sample_prompts(load_prompts(spec.prompts), spec.num_prompts, spec.prompt_seed, spec.prompts)


def units_for(entry: MethodEntry, res: Resolution, prompts: Sequence[Prompt], spec: BenchmarkSpec) -> list[Unit]:
    return [
        Unit(entry.name, res, p.id, p.text, unit_seed(spec.seed, p.id, k), k)
        for p in prompts
        for k in range(spec.samples_per_prompt)
    ]


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    return name == "OutOfMemoryError" or (isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


class Terminated(KeyboardInterrupt):
    """SIGTERM (Slurm's stop, `kill`): raised where the process is, since a scheduler kills soon after."""


class _StopFlag:
    """First SIGINT asks to stop after the current batch; the second interrupts at once. SIGTERM
    stops at once (the unit under way is not written; finished ones are kept) and `generate`
    returns its summary with `stopped_by = "SIGTERM"`."""

    def __init__(self) -> None:
        self.requested = False
        self.terminated = False

    @contextmanager
    def installed(self) -> Iterator["_StopFlag"]:
        def handler(signum, frame):
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True

        def terminate(signum, frame):
            self.requested = True
            raise Terminated

        try:
            previous = signal.signal(signal.SIGINT, handler)
            previous_term = signal.signal(signal.SIGTERM, terminate)
        except ValueError:  # not the main thread: leave signals alone
            yield self
            return
        try:
            yield self
        except Terminated:
            self.terminated = True  # the summary says what is done; the caller exits 143
        finally:
            # stopping on request: a further signal while the process exits must not kill it mid-exit
            signal.signal(signal.SIGINT, signal.SIG_IGN if self.requested else previous)
            signal.signal(signal.SIGTERM, signal.SIG_IGN if self.requested else previous_term)


def _merged_prompts(store: RunStore, prompts: Sequence[Prompt]) -> list[Prompt]:
    """The run's prompt file with `prompts` added; refused when an id would change its text."""
    existing = {p["id"]: p for p in store.read_prompts()}
    for p in prompts:
        old = existing.get(p.id)
        if old is not None and old.get("prompt") != p.text:
            raise UsageError(
                f"run folder {store.root} already holds prompt {p.id!r} with a different text; "
                "use another --out for a different prompt set"
            )
    merged = [Prompt(d["id"], d["prompt"], d.get("reference")) for d in existing.values()]
    return merged + [p for p in prompts if p.id not in existing]


def _weights_provenance(method: Method) -> dict[str, Any]:
    from ultrabench.weights import sha256_path

    out = {}
    for wf in method.weight_files():
        st = method.weights.status(wf)
        if st.path is not None:
            out[wf.role] = {"repo_id": wf.repo_id, "filename": wf.filename, "path": str(st.path),
                            "source": st.source, "sha256": sha256_path(st.path)}
    return out


def generate(
    spec: BenchmarkSpec,
    *,
    methods: Sequence[str] | None = None,
    resolutions: Sequence[Resolution] | None = None,
    device: str = "cpu",
    dtype: str | None = None,
    weights=None,
    overwrite: bool = False,
    retry_failed: bool = False,
    progress: bool = True,
    console=None,
    shard: Shard | None = None,
    spec_change: str | None = None,
    steal: bool = True,
) -> GenerateSummary:
    """Generate every pending unit of `spec` into its run folder.

    `spec_change` ("extend" or "new-spec") accepts a spec that differs from the one the run folder
    was made with (see `ultrabench.runspec`); without it such a spec is refused. `dtype` (--dtype)
    overrides each method's own precision where its spec entry gives none; None keeps the authors'.
    With a `shard`, the process does its own share first and then, unless `steal` is False, every
    unclaimed unit of the other shards (`Shard.steal_order`).
    """
    from ultrabench import provenance
    from ultrabench.timing import free_cached_memory

    shard = shard or launcher_shard()
    work = select_work(spec, methods, resolutions)
    prompts = spec_prompts(spec)
    store = RunStore(spec.out)
    # Everything that can refuse the request does so before the first write: a rejected spec
    # leaves no run folder, run.json, prompts.jsonl or invocation behind.
    from ultrabench.weights import WeightResolver

    built = []
    for entry, res_list in work:
        cls = get_method_class(entry.registry_name)
        scoped = (weights or WeightResolver()).with_hint(f"--method {cls.name}")
        method = None if method_kind(cls) == "import" else cls(entry.settings, device=device, dtype=dtype, weights=scoped)
        built.append((entry, res_list, method))
    bound = {e.name: {"method": m.name, "settings": dict(m.settings), "hash": settings_hash(m.name, m.hashed_settings())}
             for e, _, m in built if m is not None}
    run_info = store.read_run_info()
    accepted = check_spec(run_info, spec.to_dict(), bound, root=store.root, prompt_ids=[p.id for p in prompts],
                          change=spec_change)
    merged = _merged_prompts(store, prompts)

    store.ensure_writable()
    store.clean_leftovers()
    store.write_prompts(merged)
    info = {
        "kind": "generate",
        "spec": spec.to_dict(),
        # exactly what this invocation covers, so `ultrabench status` can count what is still pending
        "work": [{"name": e.name, "method": e.registry_name, "resolutions": [r.key for r in rs]} for e, rs in work],
        "prompt_ids": [p.id for p in prompts],
        # method settings the run's units are made with (see ultrabench.runspec), kept across invocations
        "settings": {**run_info.get("settings", {}), **bound},
        "spec_change": {"kind": spec_change, "differences": [f"{f} {w}" for f, w in accepted]} if accepted else None,
        "shard": str(shard) if shard else None,
        "device": device,
        "dtype": dtype,  # --dtype as given (None: each method's own); what each method ran in is in its records
        "provenance": provenance.collect(device),
        "weights": dict(run_info.get("weights", {})),
    }
    store.write_run_info(info)
    store.log_invocation(info)

    summary = GenerateSummary(shard=str(shard) if shard else None)
    if accepted:
        summary.notes.append(f"spec changed with --{spec_change}: " + "; ".join(f"{f} {w}" for f, w in accepted))
    plan_rows = []
    everything = [u for entry, res_list in work for res in res_list for u in units_for(entry, res, prompts, spec)]
    owner = shard.owners(everything, key=lambda u: u.unit_id) if shard else None
    made_under = {name: {"unit_spec": unit_spec(spec.to_dict()), "settings_hash": b["hash"]} for name, b in bound.items()}
    for entry, res_list, method in built:
        if method is None:
            summary.notes.append(f"{entry.name}: images of closed models are brought in with `ultrabench import`, not generated")
            continue
        h = bound[entry.name]["hash"]
        for res in res_list:
            units = [u for u in units_for(entry, res, prompts, spec) if owner is None or owner[u.unit_id] == shard.index]
            pending = []
            for u in units:
                if overwrite or not store.is_finished(u, retry_failed, h):
                    pending.append(u)
                elif store.read_record(u)["status"] in FAILED:
                    summary.failed_before += 1
                else:
                    summary.skipped += 1
                    summary.unsupported_before += store.read_record(u)["status"] == "unsupported"
            plan_rows.append((entry, method, res, pending, None))
    methods_of = {entry.name: (entry, method) for entry, _, method in built if method is not None}

    def stolen_rows():
        """The other shards' units with no final record, in this shard's steal order, one row per run
        of units of the same (method, resolution, owner); each is checked again once claimed."""
        rows = []
        for victim, u in shard.steal_order(everything, key=lambda u: u.unit_id):
            if u.method not in methods_of:  # images of closed models are imported, not generated
                continue
            if store.is_finished(u, False, bound[u.method]["hash"]):
                continue
            if rows and rows[-1][0].name == u.method and rows[-1][2] == u.resolution and rows[-1][4] == victim:
                rows[-1][3].append(u)
            else:
                entry, method = methods_of[u.method]
                rows.append((entry, method, u.resolution, [u], victim))
        return rows

    total = sum(len(p) for *_, p, _ in plan_rows)
    prog = make_progress(console, progress)
    task = prog.add_task("generating", total=total) if prog else None
    stop = _StopFlag()
    with stop.installed(), (prog or _null()):
        loaded: set[int] = set()
        broken: set[int] = set()
        batches_done: dict[str, int] = {}  # per (method, resolution) in this process, for the warm-up
        for entry, method, res, pending, victim in _own_then_stolen(plan_rows, stolen_rows if shard and steal else None,
                                                                     stop, prog, task):
            key = f"{entry.name} {res.key}"
            if not pending:
                continue
            plan = method.plan(res)
            who = _made_by(shard, victim)
            if plan.support is Support.UNSUPPORTED:
                base = _base_record(entry, method, plan, device, made_under[entry.name], who)
                for u in pending:
                    if store.claim(u):
                        if victim is None or not store.is_finished(u, False, bound[entry.name]["hash"]):
                            store.write_unit(u, {**base, "status": "unsupported", "error": plan.reason,
                                                 "finished_at": _now()})
                            summary.add(key, "unsupported")
                            summary.stolen += victim is not None
                        store.release(u)
                    elif victim is None:
                        summary.elsewhere += 1
                if prog:
                    prog.advance(task, len(pending))
                continue
            if id(method) in broken:
                continue
            if id(method) not in loaded:
                if prog:
                    prog.update(task, description=f"loading {entry.name}")
                try:
                    method.load()
                except UltrabenchError as e:
                    broken.add(id(method))
                    msg = str(e)
                    summary.failures.append(msg if msg.startswith(f"{entry.name}") else f"{entry.name}: {msg}")
                    continue
                loaded.add(id(method))
                _quiet_model_libraries()
                info["weights"][entry.name] = _weights_provenance(method)
                store.write_run_info(info)
            if prog:
                prog.update(task, description=f"{entry.name} {res.key}")
            # after load(): some settings (the scheduler a checkpoint ships, the SR model) are known only then
            base = _base_record(entry, method, plan, device, made_under[entry.name], who)
            bs = max(1, min(spec.batch_size, method.max_batch_size))
            for i in range(0, len(pending), bs):
                if stop.requested:  # a Ctrl-C while the model loaded: not one unit more
                    summary.interrupted = True
                    break
                # A stolen unit is one with no final record: its owner alone redoes or retries it
                # (--overwrite, --retry-failed), so a redo is never done twice.
                batch = _claim(store, pending[i : i + bs], overwrite and victim is None,
                               retry_failed and victim is None, summary, bound[entry.name]["hash"],
                               stealing=victim is not None)
                if batch:
                    warm = batches_done.get(key, 0) < spec.warmup
                    try:
                        _run_batch(method, batch, res, store, base, warm, summary, key, device)
                    finally:
                        for u in batch:
                            store.release(u)
                    batches_done[key] = batches_done.get(key, 0) + 1
                    summary.stolen += len(batch) if victim is not None else 0
                    free_cached_memory(device)
                if prog:
                    prog.advance(task, len(pending[i : i + bs]))
            if stop.requested:
                summary.interrupted = True
                break
    # after the `with`: a SIGTERM leaves its body at once, and `installed` records it
    if stop.terminated:
        summary.interrupted, summary.stopped_by = True, "SIGTERM"
    for m in {id(m): m for _, _, m in built if m is not None}.values():
        m.unload()
    return summary


def _own_then_stolen(own_rows, stolen_rows, stop: "_StopFlag", prog, task):
    """This process's own rows, then (when `stolen_rows` is given and no stop was asked for) the rows
    of other shards' units it steals, listed only once its own are done."""
    yield from own_rows
    if stolen_rows is None or stop.requested:
        return
    rows = stolen_rows()
    if prog and rows:
        prog.update(task, total=prog.tasks[0].total + sum(len(r[3]) for r in rows))
    yield from rows


def _made_by(shard: Shard | None, victim: int | None) -> dict[str, Any]:
    """Which process made a unit: host and pid, the scheduler job, its shard, and the shard whose
    share the unit was in when this process took it from there (None: its own)."""
    from ultrabench.runstore import HOST

    return {"host": HOST, "pid": os.getpid(), "job": scheduler_job(), "shard": str(shard) if shard else None,
            "stolen_from": str(Shard(victim, shard.count)) if victim is not None else None}


def _base_record(entry: MethodEntry, method: Method, plan, device: str,
                 made_under: dict[str, Any], made_by: dict[str, Any]) -> dict[str, Any]:
    """Fields every unit record of one (method, resolution) shares; `made_under` ties the record
    to the spec and settings it was made with (`ultrabench.runspec`), `made_by` to the process."""
    return {
        **made_under,
        "made_by": made_by,
        "display_name": entry.display_name or method.display_name or entry.name,
        "method_registry": method.name,
        "support": plan.support.value,
        "native": [plan.native.height, plan.native.width] if plan.native else None,
        "resize_filter": plan.resize_filter,
        "reason": plan.reason,
        # whether this is the method as its authors ran it, and if not what runs instead (a report footnote)
        "as_run": plan.as_run.value,
        "as_run_note": plan.as_run_note or None,
        "device": device,
        "dtype": method.dtype,  # the precision this unit was made in
        "dtype_from": method.dtype_from,  # "authors" (the method's default), "spec", "--dtype" or "default"
        "settings": method.recorded_settings(),
    }


def _claim(store: RunStore, units: list[Unit], overwrite: bool, retry_failed: bool, summary,
           settings_hash: str, stealing: bool = False) -> list[Unit]:
    """Claim each unit; drop those another process holds or finished since the listing (counted
    only for this process's own share: a stolen unit's owner holding or finishing it is the norm)."""
    mine = []
    for u in units:
        if not store.claim(u):
            summary.elsewhere += not stealing
        elif not overwrite and store.is_finished(u, retry_failed, settings_hash):
            store.release(u)
            summary.skipped += not stealing
        else:
            mine.append(u)
    return mine


def _run_batch(method, batch, res, store, base, warm, summary, key, device) -> None:
    from ultrabench.timing import PeakMemory, cuda_sync

    seed_everything(batch[0].seed)
    error = None
    images = []
    t0 = time.perf_counter()
    with PeakMemory(device) as mem:
        try:
            images = method.generate_units(batch, res)
            cuda_sync(device)
        except KeyboardInterrupt:
            raise
        except Exception as e:  # recorded per unit; the run goes on
            error = e
    wall = time.perf_counter() - t0
    common = {**base, "batch_size": len(batch), "batch_seconds": wall, "seconds": wall / len(batch),
              "peak_memory_bytes": mem.bytes, "memory_kind": mem.kind, "warmup": warm}
    per_unit_errors: list[str | None] = [None] * len(batch)
    if isinstance(error, PartialBatchError) and len(error.partial) == len(batch):
        # Some images of the batch exist: keep them, and record each failure with its own reason.
        images = list(error.partial)
        per_unit_errors = [None if im is not None else str(msg or error) for im, msg in
                           zip(images, list(error.errors) + [None] * len(batch))]
        error = None
    if error is None and len(images) != len(batch):
        error = UltrabenchError(f"{method.name} returned {len(images)} images for {len(batch)} prompts")
    if error is not None:
        status = "oom" if _is_oom(error) else "error"
        text = f"{type(error).__name__}: {error}".splitlines()[0][:2000]
        for u in batch:
            store.write_unit(u, {**common, "status": status, "error": text,
                                 "traceback": traceback.format_exception(error)[-5:], "finished_at": _now()})
        summary.add(key, status, len(batch), text)
        return
    for u, gi, unit_error in zip(batch, images, per_unit_errors):
        if unit_error is not None:
            text = unit_error.splitlines()[0][:2000]
            store.write_unit(u, {**common, "status": "error", "error": text, "finished_at": _now()})
            summary.add(key, "error", error=text)
            continue
        rec = {**common, "stages": gi.stages, "info": gi.info, "finished_at": _now()}
        if gi.info.get("peak_memory_bytes") is not None:
            # A method that measures per image (or in a child process) knows better than the batch.
            rec.update(peak_memory_bytes=gi.info["peak_memory_bytes"],
                       memory_kind=gi.info.get("peak_memory_kind", rec["memory_kind"]))
        if gi.native_size is not None:
            rec["native"] = [gi.native_size.height, gi.native_size.width]
        if (gi.image.height, gi.image.width) != (res.height, res.width):
            rec.update(status="error", error=f"method delivered {gi.image.height}x{gi.image.width}, not {res.key}")
            store.write_unit(u, rec)
            summary.add(key, "error", error=rec["error"])
            continue
        store.write_unit(u, {**rec, "status": "ok", "error": None}, image=gi.image.convert("RGB"))
        summary.add(key, "ok")


def _quiet_model_libraries() -> None:
    # Per-prompt warnings (e.g. CLIP's 77-token truncation) would bury the progress bar; the
    # scorer flags truncated prompts per image instead.
    import sys

    for name in ("transformers", "diffusers"):
        mod = sys.modules.get(name)
        if mod is not None:
            mod.logging.set_verbosity_error()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@contextmanager
def _null():
    yield
