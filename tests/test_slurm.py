"""`generate --slurm` through submitit's local executor (the real submitit code path, no cluster):
a job array of processes on this machine completes a run, a task killed mid-unit is resubmitted,
and `ultrabench status` shows the jobs beside the units (issue #26)."""

import collections
import json
import os
import re
import signal
import time

import pytest

from ultrabench.runstore import RunStore
from ultrabench.status import COLUMNS

from stealing_helpers import log_events, plugin_env, ub

pytest.importorskip("submitit")


def _events(out):
    path = out / "slurm" / "jobs.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []


def test_a_local_job_array_completes_the_run_and_a_killed_task_is_resubmitted(tmp_path):
    env = plugin_env(tmp_path)
    out = tmp_path / "run"
    launcher = ub(env, "generate", "-m", "ub-slow", "--res", "64x64", "-n", 12, "--out", out, "--slurm",
                  "--slurm-local", "--slurm-array", 2, "--slurm-gpus", 0, "--slurm-time", 10, seconds=0.8, wait=False)
    deadline, victim = time.time() + 300, None
    while time.time() < deadline and victim is None:  # kill -9 the first task seen inside a unit
        tasks = {e["pid"]: e for e in _events(out) if e["event"] == "started"}
        per = collections.Counter((e["pid"], e["event"]) for e in log_events(env))
        inside = [pid for pid in tasks if per[(pid, "start")] > per[(pid, "end")]]
        if inside:
            victim = tasks[inside[0]]
            os.kill(victim["pid"], signal.SIGKILL)
        assert launcher.poll() is None, launcher.communicate()
        time.sleep(0.02)
    assert victim is not None, "no task started a unit"
    # the other task is preempted (Slurm's warning signal, USR2): submitit requeues it, same job id
    other = next(e for e in _events(out) if e["event"] == "started" and e["pid"] != victim["pid"])
    os.kill(other["pid"], signal.SIGUSR2)
    stdout, stderr = launcher.communicate(timeout=600)
    assert launcher.returncode == 0, stderr
    assert f"task {victim['job']} (shard {victim['shard']}) died" in stdout

    events = _events(out)
    submitted = [e for e in events if e["event"] == "submitted"]
    assert [e["shard"] for e in submitted[:2]] == ["0/2", "1/2"]
    again = [e for e in submitted if e.get("replaces") == victim["job"]]
    assert len(again) == 1 and again[0]["shard"] == victim["shard"]
    assert {"job": victim["job"], "event": "died"}.items() <= next(
        e for e in events if e["event"] == "died").items()

    restarts = [e for e in events if e["event"] == "started" and e["job"] == other["job"]]
    assert len(restarts) == 2 and restarts[0]["pid"] != restarts[1]["pid"]
    assert not [e for e in submitted if e.get("replaces") == other["job"]]  # requeued, not resubmitted

    recs = list(RunStore(out).records(statuses=None))
    assert len(recs) == 12 and all(r.status == "ok" for r in recs)
    ends = collections.Counter((e["prompt"], e["seed"]) for e in log_events(env) if e["event"] == "end")
    assert len(ends) == 12 and set(ends.values()) == {1}
    assert not list(out.rglob("*.lock"))
    jobs_of_units = collections.Counter(r.data["made_by"]["job"] for r in recs)
    assert set(jobs_of_units) <= {e["job"] for e in submitted}

    st = ub(env, "status", out)
    assert st.returncode == 0, st.stderr
    # two rich tables: the units (with a jobs column) and the jobs (job, shard, command, state, units, host, note)
    rows = [[c.strip() for c in re.split("[│┃]", x)[1:-1]] for x in st.stdout.splitlines() if re.search("[│┃]", x)]
    assert ["method", "H x W", *COLUMNS, "jobs"] in rows
    by_job = {r[0]: r for r in rows if len(r) == 7}
    killed = by_job[victim["job"]]
    assert killed[3] == "died" and f"resubmitted as {again[0]['job']}" in killed[6]
    for e in submitted:
        row = by_job[e["job"]]
        assert row[1] == e["shard"] and int(row[4]) == jobs_of_units.get(e["job"], 0)
        assert row[3] == ("died" if e["job"] == victim["job"] else "done")


def test_slurm_without_a_cluster_says_so_in_one_line_and_writes_nothing(tmp_path):
    from cli_helpers import invoke

    out = tmp_path / "run"
    r = invoke("-q", "generate", "-m", "tiny-sd", "--res", "64x64", "-n", 2, "--out", out, "--slurm")
    assert r.exit_code == 1
    assert r.output.strip().splitlines()[-1] == ("error: --slurm needs Slurm's sbatch on PATH (run it on a login "
                                                 "node); --slurm-local runs the same array as processes on this machine")
    assert not out.exists()


def test_the_array_is_submitted_with_the_options_asked_for(tmp_path, monkeypatch):
    """submitit's real Slurm path up to sbatch (a stand-in that keeps the script it is given)."""
    from ultrabench.slurm import CommandTask, SlurmOptions, _submit, executor

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\n")
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {tmp_path / "script.sh"}\necho "Submitted batch job 4242"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    run = tmp_path / "run"
    opts = SlurmOptions(array=3, gpus=2, cpus=6, mem_gb=48, partition="gpu", time_min=90)
    ex = executor(run, opts, "ultrabench-generate")
    jobs = _submit(ex, CommandTask("generate", {}, {}, str(run)), ["0/3", "1/3", "2/3"], run, "generate", opts)
    assert list(jobs) == ["4242_0", "4242_1", "4242_2"]
    script = (tmp_path / "script.sh").read_text()
    for line in ("--array=0-2%3", "--gpus-per-node=2", "--cpus-per-task=6", "--mem=48GB", "--partition=gpu",
                 "--time=90", "--signal=USR2@"):
        assert f"#SBATCH {line}" in script
    assert [(e["job"], e["shard"]) for e in _events(run)] == [("4242_0", "0/3"), ("4242_1", "1/3"), ("4242_2", "2/3")]
