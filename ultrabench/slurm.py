"""`generate --slurm` / `score --slurm`: the command submits itself as a Slurm job array through
submitit, and watches it until the work is done.

Each array task runs the same command as `--shard <task>/<array>`: the CLI's own command function
in the job's process, with the options it was given, so a task does exactly what a hand-written
array task does, work stealing included (the tasks end together). This module is the CLI's
launcher: it sits on top with `ultrabench.cli`, which it calls only inside the job.

Tasks that die are resubmitted while the run has work left:
  - a time limit or a preemption: Slurm signals the task first; the task is checkpointable, so
    submitit requeues it (same job id) and it resumes from the run folder;
  - a node failure, a kill, anything that leaves no result: the launcher submits a new task for the
    same shard, at most `resubmit` times per shard;
  - a task that ended with an error (missing weights, a bad spec) is not resubmitted: it would fail
    the same way; the launcher names it.
`score --slurm` runs the feature-extraction array, then one more task that merges (set statistics).

Everything about the jobs is kept in the run folder: `<run>/slurm/jobs.jsonl` (one line per event:
submitted, started, finished, died, failed), which `ultrabench status` shows beside the units, and
submitit's own files (pickles, logs) under `<run>/slurm/submitit/`.
"""

from __future__ import annotations

import functools
import inspect
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from ultrabench.errors import UltrabenchError
from ultrabench.joblog import note

@dataclass(frozen=True)
class SlurmOptions:
    array: int = 4  # tasks (shards)
    gpus: int = 1  # per task
    cpus: int = 8  # per task
    mem_gb: float = 64.0  # per task
    partition: str | None = None
    time_min: int = 240  # per task; a task that reaches it is requeued and resumes
    resubmit: int = 3  # per shard, for tasks that died
    cluster: str = "slurm"  # "local": submitit's local executor, processes on this machine
    poll_s: float = 10.0


def _submitit():
    try:
        import submitit
    except ImportError:
        raise UltrabenchError("--slurm needs submitit: pip install 'ultrabench[slurm]'") from None
    return submitit


class CommandTask:
    """One array task: the CLI command `command` with `params`, as shard `shard` (None: the merge).

    Checkpointable (submitit calls `checkpoint` on the time-limit or preemption signal): the requeued
    task reruns the same command, which skips what is finished."""

    def __init__(self, command: str, params: dict[str, Any], globals_: dict[str, Any], run_dir: str) -> None:
        self.command, self.params, self.globals, self.run_dir = command, params, globals_, run_dir

    def __call__(self, shard: str | None) -> int:
        import typer

        from ultrabench import cli
        from ultrabench.runstore import HOST
        from ultrabench.shard import scheduler_job

        job = scheduler_job()
        note(self.run_dir, "started", job=job, shard=shard, host=HOST, pid=os.getpid())
        code = 0
        try:
            cli._main(**self.globals)
            getattr(cli, self.command)(**{**self.params, "shard": shard, "slurm": None})
        except typer.Exit as e:
            code = e.exit_code
        # a SystemExit is submitit requeueing the task (time limit, preemption): it must reach submitit
        note(self.run_dir, "finished", job=job, shard=shard, exit=code)
        if code:
            raise UltrabenchError(f"ultrabench {self.command} --shard {shard} exited with status {code}")
        return code

    def checkpoint(self, shard: str | None):
        return _submitit().helpers.DelayedSubmission(self, shard)


def executor(run_dir: Path, opts: SlurmOptions, name: str):
    submitit = _submitit()
    ex = submitit.AutoExecutor(folder=Path(run_dir) / "slurm" / "submitit", cluster=opts.cluster)
    params: dict[str, Any] = {"name": name, "timeout_min": int(opts.time_min), "nodes": 1, "tasks_per_node": 1,
                              "cpus_per_task": int(opts.cpus), "mem_gb": float(opts.mem_gb),
                              "gpus_per_node": int(opts.gpus), "slurm_array_parallelism": int(opts.array)}
    if opts.partition:
        params["slurm_partition"] = opts.partition
    ex.update_parameters(**params)
    return ex


def _submit(ex, task: CommandTask, shards: list, run_dir: Path, kind: str, opts: SlurmOptions,
            replaces: str | None = None) -> dict[str, tuple[Any, Any]]:
    jobs = ex.map_array(task, shards) if len(shards) > 1 else [ex.submit(task, shards[0])]
    out = {}
    for job, shard in zip(jobs, shards):
        if opts.cluster == "local":
            job._results_timeout_s = 1  # a local folder is never late with a result file (NFS may be)
        note(run_dir, "submitted", job=job.job_id, shard=shard, kind=kind, cluster=opts.cluster, replaces=replaces)
        out[job.job_id] = (job, shard)
    return out


def watch(ex, task: CommandTask, active: dict, run_dir: Path, kind: str, opts: SlurmOptions,
          work_left: Callable[[], bool], echo: Callable[[str], None]) -> list[str]:
    """Wait for every job in `active`; resubmit those that died while `work_left()`. Returns one line
    per task that failed with an error or died once too often."""
    submitit = _submitit()
    tries: dict[Any, int] = {}
    problems = []
    while active:
        time.sleep(opts.poll_s)
        for jid, (job, shard) in list(active.items()):
            if not job.done():
                continue
            del active[jid]
            exc = job.exception()
            if exc is None:
                continue
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if isinstance(exc, submitit.core.utils.FailedJobError):
                note(run_dir, "failed", job=jid, shard=shard)
                problems.append(f"task {jid} (shard {shard}) failed: see {job.paths.stderr}")
                continue
            note(run_dir, "died", job=jid, shard=shard, state=job.state)
            if not work_left():
                continue
            if tries.get(shard, 0) >= opts.resubmit:
                problems.append(f"task {jid} (shard {shard}) died and was resubmitted {opts.resubmit} times: {first}")
                continue
            tries[shard] = tries.get(shard, 0) + 1
            new = _submit(ex, task, [shard], run_dir, kind, opts, replaces=jid)
            echo(f"task {jid} (shard {shard}) died ({job.state}); resubmitted as {next(iter(new))}")
            active.update(new)
    return problems


def run_array(command: str, params: dict[str, Any], globals_: dict[str, Any], run_dir: Path, opts: SlurmOptions,
              work_left: Callable[[], bool], echo: Callable[[str], None], merge: bool = False) -> list[str]:
    """Submit `command` as an array of `opts.array` shards and watch it (then, with `merge`, one
    more unsharded task); returns the problems (empty: the work is done)."""
    _submitit()
    if opts.cluster == "slurm" and shutil.which("sbatch") is None:  # refused before anything is written
        raise UltrabenchError("--slurm needs Slurm's sbatch on PATH (run it on a login node); "
                              "--slurm-local runs the same array as processes on this machine")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    task = CommandTask(command, params, globals_, str(run_dir))
    ex = executor(run_dir, opts, f"ultrabench-{command}")
    shards = [f"{i}/{opts.array}" for i in range(opts.array)]
    active = _submit(ex, task, shards, run_dir, command, opts)
    echo(f"submitted {command} as {len(active)} task(s): {', '.join(active)}; waiting (Ctrl-C stops waiting, "
         "not the jobs)")
    problems = watch(ex, task, active, run_dir, command, opts, work_left, echo)
    if merge and not problems:
        merged = _submit(ex, task, [None], run_dir, command, opts)
        problems = watch(ex, task, merged, run_dir, command, opts, lambda: True, echo)
    if not problems and work_left():
        problems.append("the tasks ended but work is left (see `ultrabench status`)")
    return problems


# -- the options `generate` and `score` take ---------------------------------------------------
SLURM_OPT = typer.Option(
    False, "--slurm", help="Submit this command as a Slurm job array through submitit (pip install 'ultrabench[slurm]') "
                           "and wait: task i does --shard i/N, then the other shards' unclaimed work; tasks that die "
                           "are resubmitted. Jobs are kept in RUN/slurm/ (`ultrabench status` shows them).")
SLURM_ARRAY_OPT = typer.Option(4, "--slurm-array", min=1, help="--slurm: tasks in the array (N).")
SLURM_GPUS_OPT = typer.Option(1, "--slurm-gpus", min=0, help="--slurm: GPUs per task.")
SLURM_CPUS_OPT = typer.Option(8, "--slurm-cpus", min=1, help="--slurm: CPUs per task.")
SLURM_MEM_OPT = typer.Option(64.0, "--slurm-mem-gb", min=1, help="--slurm: memory per task, GB.")
SLURM_PARTITION_OPT = typer.Option(None, "--slurm-partition", help="--slurm: the partition (default: the cluster's).")
SLURM_TIME_OPT = typer.Option(
    240, "--slurm-time", min=1, help="--slurm: time limit per task in minutes; a task that reaches it is requeued and resumes.")
SLURM_RESUBMIT_OPT = typer.Option(
    3, "--slurm-resubmit", min=0, help="--slurm: how often a task that died (node failure, kill) is resubmitted while work is left.")
SLURM_LOCAL_OPT = typer.Option(
    False, "--slurm-local", help="--slurm: run the array as processes on this machine (submitit's local executor), "
                                 "to try a set-up without a cluster.")
_SLURM_PARAMS = (("slurm", bool, SLURM_OPT), ("array", int, SLURM_ARRAY_OPT), ("gpus", int, SLURM_GPUS_OPT),
                 ("cpus", int, SLURM_CPUS_OPT), ("mem_gb", float, SLURM_MEM_OPT),
                 ("partition", Optional[str], SLURM_PARTITION_OPT), ("time", int, SLURM_TIME_OPT),
                 ("resubmit", int, SLURM_RESUBMIT_OPT), ("local", bool, SLURM_LOCAL_OPT))


def slurm_options(fn):
    """Give a command the --slurm options; it receives them as one `slurm` dict (None without
    --slurm). A Slurm task calls the command with its own `slurm` (None) and the options pass through."""
    names = [("slurm" if n == "slurm" else f"slurm_{n}", n) for n, _, _ in _SLURM_PARAMS]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if "slurm" in kwargs and not isinstance(kwargs["slurm"], bool):
            return fn(*args, **kwargs)
        given = {short: kwargs.pop(name) for name, short in names}
        return fn(*args, slurm=given if given.pop("slurm") else None, **kwargs)

    sig = inspect.signature(fn)
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=ann)
             for (name, _), (_, ann, opt) in zip(names, _SLURM_PARAMS)]
    # typer reads __signature__ (inspect stops unwrapping there) and resolves the annotations in
    # the command's own module (get_type_hints follows __wrapped__ for that)
    wrapper.__signature__ = sig.replace(parameters=[p for p in sig.parameters.values() if p.name != "slurm"] + extra)
    wrapper.__annotations__ = {**{k: v for k, v in fn.__annotations__.items() if k != "slurm"},
                               **{p.name: p.annotation for p in extra}}
    return wrapper
