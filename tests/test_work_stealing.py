"""Work stealing across shards (issue #26): a shard that is done takes the other shards' unclaimed
units, so two shards of unequal speed finish together; a killed stealer loses nothing.

The method is a test plugin (tests/slow_method_plugin.py) whose pace is set per process, so one
shard is ten times slower than the other. Times are measured from the plugin's own log of each
generation in the same test run, never against fixed seconds.
"""

import collections
import json
import os
import signal
import time


from ultrabench.runstore import RunStore
from ultrabench.shard import Shard

from stealing_helpers import log_events, plugin_env, ub

N = 16
SLOW, FAST = 1.0, 0.1  # seconds each unit of shard 0 and shard 1 sleeps, on top of the loop's own work


def test_steal_order_walks_each_other_share_from_its_end_and_keeps_stealers_apart():
    items = [f"u{i:02d}" for i in range(12)]
    owners = Shard(0, 3).owners(items)
    assert [owners[x] for x in items[:4]] == [0, 1, 2, 0]
    order = Shard(0, 3).steal_order(items)
    assert order == [(1, x) for x in ["u10", "u07", "u04", "u01"]] + [(2, x) for x in ["u11", "u08", "u05", "u02"]]
    # two stealers begin on different shares; together with their own shares every item is covered
    assert Shard(1, 3).steal_order(items)[0][0] == 2 and Shard(2, 3).steal_order(items)[0][0] == 0
    for i in range(3):
        mine = [x for x in items if owners[x] == i]
        assert sorted(mine + [x for _, x in Shard(i, 3).steal_order(items)]) == items


def _spans(events):
    """(span of the run, {pid: (first start, seconds per unit, units)}), from the plugin's log."""
    per = collections.defaultdict(lambda: {"start": [], "end": []})
    events = [e for e in events if e["event"] in ("start", "end")]
    for e in events:
        per[e["pid"]][e["event"]].append(e["t"])
    procs = {}
    for pid, ev in per.items():
        first, last, n = min(ev["start"]), max(ev["end"]), len(ev["end"])
        procs[pid] = (first, (last - first) / n, n)
    t0 = min(e["t"] for e in events if e["event"] == "start")
    return max(e["t"] for e in events if e["event"] == "end") - t0, procs, t0


def _ideal(procs, t0, n):
    """The earliest end of n units for processes that come up when they did, each at its own pace:
    the smallest T with sum over processes of (T - start) / pace >= n."""
    lo, hi = 0.0, 1e4
    for _ in range(100):
        mid = (lo + hi) / 2
        done = sum(max(0.0, t0 + mid - first) / pace for first, pace, _ in procs.values())
        lo, hi = (mid, hi) if done < n else (lo, mid)
    return hi


def _run_two_shards(env, out, *extra):
    """Both shards, released together once both have loaded the method."""
    go = out.parent / f"{out.name}.go"
    env = {**env, "UB_SLOW_BARRIER": str(go)}
    procs = [ub(env, "generate", "-m", "ub-slow", "--res", "64x64", "-n", N, "--out", out, "--shard", f"{i}/2",
                *extra, seconds=pace, wait=False) for i, pace in enumerate((SLOW, FAST))]
    deadline = time.time() + 300
    while len({e["pid"] for e in log_events(env) if e["event"] == "ready"}) < 2 and time.time() < deadline:
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.05)
    go.touch()
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    return [o for o, _ in outs]


def test_unequal_shards_finish_within_one_slow_unit_of_the_ideal(tmp_path):
    base = plugin_env(tmp_path)
    static_env = {**base, "UB_SLOW_LOG": str(tmp_path / "static.jsonl")}
    steal_env = {**base, "UB_SLOW_LOG": str(tmp_path / "steal.jsonl")}
    _run_two_shards(static_env, tmp_path / "static", "--no-steal")
    stdout = _run_two_shards(steal_env, tmp_path / "steal")

    static_span, static_procs, t0 = _spans(log_events(static_env))
    slow_unit = max(pace for _, pace, _ in static_procs.values())  # as measured here, overheads included
    # the static split ends with its slow shard, more than one slow unit after the two could have
    assert static_span > _ideal(static_procs, t0, N) + slow_unit

    events = log_events(steal_env)
    span, procs, t0 = _spans(events)
    print(f"static {static_span:.2f} s (ideal {_ideal(static_procs, *_spans(log_events(static_env))[2:], N):.2f}), "
          f"stealing {span:.2f} s (ideal {_ideal(procs, t0, N):.2f}), slow unit {slow_unit:.2f} s")
    assert span <= _ideal(procs, t0, N) + slow_unit
    assert span < static_span - slow_unit

    # every unit made once, by the process its record names; the fast shard took the slow one's units
    ends = [(e["prompt"], e["seed"], e["pid"]) for e in events if e["event"] == "end"]
    assert len(ends) == N and len({(p, s) for p, s, _ in ends}) == N
    recs = list(RunStore(tmp_path / "steal").records())
    assert len(recs) == N
    made = {(r.prompt, r.seed): r.data["made_by"] for r in recs}
    assert {(p, s): pid for p, s, pid in ends} == {k: v["pid"] for k, v in made.items()}
    stolen = [m for m in made.values() if m["stolen_from"]]
    assert stolen and all(m["stolen_from"] == "0/2" and m["shard"] == "1/2" for m in stolen)
    assert f"{len(stolen)} of them from other shards" in stdout[1]
    assert not list((tmp_path / "steal").rglob("*.lock"))


def test_a_stealer_killed_mid_unit_loses_nothing_and_holds_nothing(tmp_path):
    env = plugin_env(tmp_path)
    out = tmp_path / "run"
    args = ("generate", "-m", "ub-slow", "--res", "64x64", "-n", 8, "--out", out)
    owner = ub(env, *args, "--shard", "0/2", seconds=2.0, wait=False)
    stealer = ub(env, *args, "--shard", "1/2", seconds=0.5, wait=False)
    deadline = time.time() + 300
    while time.time() < deadline:  # the stealer's fifth start is its first stolen unit (four are its own)
        starts = [e for e in log_events(env) if e["pid"] == stealer.pid and e["event"] == "start"]
        if len(starts) == 5:
            break
        assert stealer.poll() is None, stealer.communicate()
        time.sleep(0.02)
    else:
        raise AssertionError("the stealer never started a stolen unit")
    victim = (starts[-1]["prompt"], starts[-1]["seed"])
    os.kill(stealer.pid, signal.SIGKILL)
    stealer.wait()
    # its claim is still on disk, held by a dead process (beside the owner's claim of its current unit)
    held = [json.loads(p.read_text())["pid"] for p in out.rglob("*.lock")]
    assert stealer.pid in held and set(held) <= {stealer.pid, owner.pid}

    _, err = owner.communicate(timeout=600)
    assert owner.returncode == 0, err
    recs = list(RunStore(out).records(statuses=None))
    assert len(recs) == 8 and all(r.status == "ok" for r in recs)
    assert not list(out.rglob("*.lock")) and not list(out.rglob(".tmp-*"))
    events = log_events(env)
    ends = collections.Counter((e["prompt"], e["seed"]) for e in events if e["event"] == "end")
    assert len(ends) == 8 and set(ends.values()) == {1}  # each unit finished exactly once
    # the unit the stealer died in was made by its owner, whose record says so
    made = {(r.prompt, r.seed): r.data["made_by"] for r in recs}
    assert made[victim]["pid"] == owner.pid and made[victim]["stolen_from"] is None


def test_a_live_claim_is_refreshed_so_other_machines_honour_it(tmp_path):
    """Another machine cannot see whether a lock's process lives: it reads the lock's age since its
    holder last touched it, so a live holder refreshes its locks and a dead node's expire."""
    import subprocess
    import sys

    lock = tmp_path / "u.lock"
    code = ("import os, sys, time; import ultrabench.runstore as r; r.HEARTBEAT_SECONDS = 0.1; "
            f"assert r.claim_file({str(lock)!r}); old = time.time() - 3600; os.utime({str(lock)!r}, (old, old)); "
            "time.sleep(1.0); print(time.time() - os.stat(" + repr(str(lock)) + ").st_mtime)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout) < 5  # touched again after being made an hour old
    from ultrabench import runstore

    lock.write_text(json.dumps({"host": "elsewhere", "pid": 1, "time": time.time()}))
    assert not runstore.claim_file(lock)  # fresh: its holder may be alive
    old = time.time() - runstore.STALE_CLAIM_SECONDS - 60
    os.utime(lock, (old, old))
    assert runstore.claim_file(lock)  # not refreshed for longer than the margin: a dead node's
    runstore.release_file(lock)
    assert not lock.exists()
