"""A run folder's job log, `<run>/slurm/jobs.jsonl`: one line per event of a scheduler job that
works on the run (submitted, started, finished, died, failed), written by the launcher
(`ultrabench.slurm`) and by the tasks themselves, read by `ultrabench status`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterable

JOBS_FILE = Path("slurm") / "jobs.jsonl"


def note(run_dir: Path, event: str, **fields: Any) -> None:
    """Append one event (one write call, so lines of concurrent tasks never interleave)."""
    path = Path(run_dir) / JOBS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"event": event, "time": time.time(), **fields}, sort_keys=True, default=str) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_events(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / JOBS_FILE
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
    return out


def job_rows(run_dir: Path, records: Iterable) -> list[dict]:
    """One row per job, in submission order: job id, shard ("merge" for a score merge), command,
    state (queued, running, done, failed, died), units whose records name the job (None for
    scoring tasks), host, and what replaced a job that died."""
    from ultrabench.runstore import HOST, _pid_alive

    jobs: dict[str, dict] = {}
    for e in read_events(run_dir):
        jid = str(e.get("job"))
        if e["event"] == "submitted":
            jobs[jid] = {"job": jid, "shard": e.get("shard") or "merge", "command": e.get("kind"), "state": "queued",
                         "units": 0, "host": None, "pid": None, "note": ""}
            if e.get("replaces") in jobs:
                jobs[e["replaces"]]["note"] = f"resubmitted as {jid}"
        elif jid in jobs:
            j = jobs[jid]
            if e["event"] == "started":
                j.update(state="running", host=e.get("host"), pid=e.get("pid"))
            elif e["event"] == "finished":
                j["state"] = "done" if not e.get("exit") else "failed"
            elif e["event"] in ("died", "failed"):
                j["state"] = e["event"]
    for j in jobs.values():  # a task on this machine that is gone without a word has died
        if j["state"] == "running" and j["host"] == HOST and j["pid"] and not _pid_alive(int(j["pid"])):
            j["state"] = "died"
    for rec in records:
        jid = (rec.data.get("made_by") or {}).get("job")
        if jid is not None and str(jid) in jobs:
            jobs[str(jid)]["units"] += 1
    for j in jobs.values():
        if j["command"] != "generate":
            j["units"] = None  # a scoring task makes features, not units
    return [{k: v for k, v in j.items() if k != "pid"} for j in jobs.values()]
