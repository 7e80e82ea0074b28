"""Sequences the reliability state machine (tests/test_reliability_stateful.py) and its soak
(benchmarks/soak.py) found failing, shrunk, kept as regular tests: each runs its steps through
`reliability_harness.Machine`, which checks every invariant after every step (including the
uninterrupted twin of each interrupted command). The faults are named by what happens at their
moment (`--only replace --match ...`), so they stay at that moment when the code around them
changes its writes."""

from __future__ import annotations

from pathlib import Path

import pytest

import reliability_harness as H


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    r = H.Runner(cache=tmp_path_factory.mktemp("reliability-cache"))
    yield r
    r.close()


@pytest.fixture
def machine(runner, tmp_path):
    sandbox = H.Sandbox(tmp_path / "seq", runner.cache)
    yield H.Machine(runner, sandbox)
    sandbox.close()


def _leftovers(m: H.Machine, folder: str = "run") -> list[str]:
    return [str(p.relative_to(m.fs)) for p in (m.fs / folder).rglob("*") if H.is_leftover(p)]


@pytest.mark.slow
def test_a_score_killed_as_it_renames_a_feature_file_leaves_no_temporary_file_after_the_next(machine):
    """Found: a kill -9 between a feature file's temporary write and its rename left
    `<sha>.npz.tmp<pid>.npz` in scores/cache for good (no command removed it; nothing else but the
    run store's own names were ever cleaned, and only at two depths, and only by generate)."""
    m = machine
    m.do(H.Step(H.gen_cmd("run", n=2)))
    kill = H.Fault("KILL", 1, only="replace", match="/inception")
    h = m.r.run(H.score_cmd("run", ("is",), "refA"), m.s, kill)
    assert h["rc"] == -9
    assert any("inception" in p and ".tmp" in p for p in _leftovers(m))  # what the kill left
    m.steps.append(H.Step(H.score_cmd("run", ("is",), "refA"), kill))
    m.do(H.Step(H.score_cmd("run", ("is", "glcm"), "refA")))  # the next command: nothing of it survives
    assert _leftovers(m) == []


@pytest.mark.slow
def test_a_score_killed_while_probing_its_folder_leaves_no_probe_file(machine):
    """Found: a kill -9 between the write probe's creation and its removal left
    scores/.write-probe-<pid> for good."""
    m = machine
    m.do(H.Step(H.gen_cmd("run", n=2)))
    m.do(H.Step(H.score_cmd("run", ("glcm",), None), H.Fault("KILL", 1, only="unlink", match=".write-probe")))
    assert _leftovers(m) == []


@pytest.mark.slow
def test_the_claim_of_a_generate_killed_mid_unit_is_gone_after_the_next_command(machine):
    """Found: a generate killed while it held a unit's claim left `<unit>.lock` until some later
    generate happened to claim that very unit; a score run in between left it there."""
    m = machine
    m.do(H.Step(H.gen_cmd("run", n=2)))
    gen = H.gen_cmd("run", n=3, mode="extend")
    h = m.r.run(gen, m.s, H.Fault("KILL", 1, only="replace", match=".png"))
    assert h["rc"] == -9
    assert any(p.endswith(".lock") for p in _leftovers(m))
    m.steps.append(H.Step(gen, H.Fault("KILL", 1, only="replace", match=".png")))
    m.do(H.Step(H.score_cmd("run", ("glcm",), None)))
    assert _leftovers(m) == []
    m.do(H.Step(gen))  # and the unit it held is made as if nothing happened
    assert len(H.current_images(m.fs / "run")[("tiny-sd", H.RES)]) == 3


def test_the_fault_hook_counts_only_the_named_operation_on_the_named_path(tmp_path):
    import subprocess
    import sys

    code = ("import os, sys; sys.path.insert(0, %r); import cli_fault; "
            "cli_fault.install('KILL', 2, 'replace', 'b'); "
            "[open(p, 'w').close() for p in ('a', 'b', 'c')]; "
            "os.replace('a', 'a2'); os.replace('b', 'b2'); os.replace('c', 'c2'); os.replace('b2', 'b3'); "
            "open('after', 'w').close()") % str(Path(H.TESTS))
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path)
    assert r.returncode == -9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a2", "b2", "c2"]  # killed before the 2nd replace of b


def test_clean_leftovers_removes_dead_writers_files_at_any_depth_and_nothing_else(tmp_path):
    import json
    import subprocess
    import sys
    import time

    from ultrabench.runstore import HOST, clean_leftovers

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    live = str(__import__("os").getpid())
    run = tmp_path / "run"
    files = {
        f"scores/cache/inception/v1/01/.tmp-{HOST}-{dead}-abc.npz.x1.npz": False,  # removed
        f"scores/.tmp-{HOST}-{dead}-summary.json.x2": False,
        f"tiny-sd/64x64/.tmp-{HOST}-{dead}-b1__s1.png.x3": False,
        f"scores/.write-probe-{HOST}-{dead}": False,
        f"tiny-sd/64x64/b1__s1.lock.stale-{HOST}-{dead}": False,
        f"report/.tmp-{HOST}-{live}-table1.json.x4": True,  # kept: its writer lives
        "scores/.tmp-otherhost-1-summary.json.x5": True,  # kept: another host, not silent long enough
        "scores/cache/sha256-index.json.lock": True,  # an flock file, no claim
        "tiny-sd/64x64/b1__s1.png": True,
    }
    for rel in files:
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_bytes(b"x")
    (run / "tiny-sd/64x64/b2__s2.lock").write_text(json.dumps({"host": HOST, "pid": int(dead), "time": time.time()}))
    (run / "tiny-sd/64x64/b3__s3.lock").write_text(json.dumps({"host": HOST, "pid": int(live), "time": time.time()}))
    files.update({"tiny-sd/64x64/b2__s2.lock": False, "tiny-sd/64x64/b3__s3.lock": True})
    assert clean_leftovers(run, claims=True) == sum(not keep for keep in files.values())
    assert {rel: (run / rel).exists() for rel in files} == files
