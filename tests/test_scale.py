"""Sharding, overlapping launches, claims and crash safety (issue: scale out and survive faults)."""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from ultrabench.errors import UsageError
from ultrabench.resolution import Resolution
from ultrabench.runstore import HOST, RunStore, Unit
from ultrabench.shard import Shard, parse_shard

ARGS = ["-q", "--device", "cpu", "generate", "-m", "tiny-sd", "-m", "tiny-sd-sr", "--res", "64x64,64x96", "-n", "6"]


def cli(out, *extra, wait=True, env=None):
    cmd = [sys.executable, "-m", "ultrabench", *ARGS, "--out", str(out), *extra]
    e = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=600)


def snapshot(root):
    """Every finished unit: name -> (record without timings, image pixels hash)."""
    out = {}
    for rec in RunStore(root).records(statuses=None):
        d = {k: v for k, v in rec.data.items() if k in ("method", "resolution", "prompt_id", "seed", "status", "delivered")}
        pix = np.asarray(Image.open(rec.image_path)).tobytes() if rec.image_path else b""
        out[rec.record_path.relative_to(root).as_posix()] = (json.dumps(d, sort_keys=True), hash(pix))
    return out


def test_shard_parsing_and_split_are_exact():
    assert parse_shard("1/4") == Shard(1, 4)
    for bad in ("4/4", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(UsageError):
            parse_shard(bad)
    items = [f"u{i:03d}" for i in range(23)]
    for n in (1, 2, 3, 5):
        parts = [Shard(i, n).take(reversed(items)) for i in range(n)]
        assert sorted(sum(parts, [])) == items  # no gaps, no duplicates, order-independent


def test_parallel_shards_equal_one_process_bit_for_bit(tmp_path):
    single = cli(tmp_path / "single")
    assert single.returncode == 0, single.stderr
    procs = [cli(tmp_path / "sharded", "--shard", f"{i}/3", wait=False) for i in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    a, b = snapshot(tmp_path / "single"), snapshot(tmp_path / "sharded")
    assert len(a) == 24 and a == b
    # a rerun with another shard count finds nothing left to do
    again = cli(tmp_path / "sharded", "--shard", "0/2")
    assert "0 generated" in again.stdout


def test_launcher_environment_selects_the_shard(tmp_path):
    r = cli(tmp_path / "run", "--no-steal", env={"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"})
    assert r.returncode == 0, r.stderr
    assert "(shard 1/2)" in r.stdout and len(snapshot(tmp_path / "run")) == 12
    # without --no-steal, a rank alone goes on with the other rank's share once its own is done
    r = cli(tmp_path / "run", env={"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"})
    assert "12 generated, 12 already done (shard 1/2, 12 of them from other shards)" in r.stdout
    assert len(snapshot(tmp_path / "run")) == 24


def test_kill_nine_at_random_moments_then_resume(tmp_path):
    out = tmp_path / "run"
    rng = random.Random(7)
    for _ in range(3):
        p = cli(out, wait=False)
        time.sleep(rng.uniform(4.0, 9.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
    final = cli(out)
    assert final.returncode == 0, final.stderr
    store = RunStore(out)
    recs = list(store.records(statuses=None))
    assert len(recs) == 24 and all(r.status == "ok" for r in recs)
    for r in recs:
        Image.open(r.image_path).load()  # complete PNGs only
    names = [p.name for p in out.rglob("*") if p.is_file()]
    assert not [n for n in names if n.startswith(".tmp-") or n.endswith(".lock")]
    assert len([n for n in names if n.endswith(".png")]) == 24


def test_claims_keep_two_processes_off_the_same_unit(tmp_path):
    store = RunStore(tmp_path)
    u = Unit("m", Resolution(64, 64), "p1", "x", 1)
    assert store.claim(u) and not store.claim(u)
    store.release(u)
    # a lock left by a dead process on this host is recovered
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    store.lock_path(u).write_text(json.dumps({"host": HOST, "pid": int(dead.stdout), "time": time.time()}))
    assert store.claim(u)
    # a fresh lock from another machine is honoured; a very old one is not
    store.lock_path(u).write_text(json.dumps({"host": "other", "pid": 1, "time": time.time()}))
    assert not store.claim(u)
    store.lock_path(u).write_text(json.dumps({"host": "other", "pid": 1, "time": time.time()}))
    os.utime(store.lock_path(u), (time.time() - 3600, time.time() - 3600))  # its holder stopped refreshing it
    assert store.claim(u)
    # a lock file cut short by a crash is recovered, once it is older than a payload takes to write
    store.lock_path(u).write_text('{"host": "vm", "pi')
    assert not store.claim(u)  # it may be a claim whose payload is being written this instant
    os.utime(store.lock_path(u), (time.time() - 60, time.time() - 60))
    assert store.claim(u)


def test_leftover_temp_files_of_dead_writers_are_removed(tmp_path):
    store = RunStore(tmp_path)
    d = tmp_path / "m" / "64x64"
    d.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = d / f".tmp-{HOST}-{int(dead.stdout)}-p1__s1.png.abc"
    live = d / f".tmp-{HOST}-{os.getpid()}-p2__s1.png.abc"
    stale.write_bytes(b"half a png")
    live.write_bytes(b"being written")
    assert store.clean_leftovers() == 1
    assert not stale.exists() and live.exists()
    assert list(store.records(statuses=None)) == []


def test_status_counts_pending_from_recorded_invocations(tmp_path):
    r = cli(tmp_path / "run", "--shard", "0/2", "--no-steal")
    assert r.returncode == 0, r.stderr
    from ultrabench.status import run_status

    rows = run_status(tmp_path / "run")
    assert sum(x["done"] for x in rows) == 12 and sum(x["pending"] for x in rows) == 12
    assert {(x["method"], x["resolution"]) for x in rows} == {
        (m, res) for m in ("tiny-sd", "tiny-sd-sr") for res in ("64x64", "64x96")}


# -- scoring: sharded extraction merges to the single-process numbers; kills lose nothing ----------
SCORE = ["-q", "--device", "cpu", "score", "--stand-ins", "--metric", "fid", "--metric", "is-patch",
         "--metric", "clip", "--metric", "glcm", "--reference"]


def _synthetic_run(root, n=6):
    rng = np.random.default_rng(0)
    store = RunStore(root)
    for m in ("a", "b"):
        for i in range(n):
            u = Unit(m, Resolution(320, 352), f"p{i}", f"prompt number {i}", 100 + i)
            img = Image.fromarray(rng.integers(0, 255, (320, 352, 3), dtype=np.uint8))
            store.write_unit(u, {"status": "ok", "seconds": 1.0, "stages": {}, "warmup": False}, image=img)
    ref = root.parent / f"{root.name}-ref"
    ref.mkdir()
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (320, 320, 3), dtype=np.uint8)).save(ref / f"r{i}.png")
    return ref


def _score(run, ref, *extra, wait=True):
    cmd = [sys.executable, "-m", "ultrabench", *SCORE, str(ref), *extra, str(run)]
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def _sets(run):
    s = json.loads((run / "scores" / "summary.json").read_text())
    return sorted((x["method"], x["resolution"], x["metric"], x["value"]) for x in s["sets"]), s


def _same_numbers(a, b):
    # Features are float32 network outputs: a different batch composition may move the last bits.
    assert [x[:3] for x in a] == [x[:3] for x in b]
    for x, y in zip(a, b):
        assert y[3] == pytest.approx(x[3], rel=1e-6, abs=1e-9), x[:3]


def test_sharded_scoring_merges_to_the_single_process_result(tmp_path):
    ref_a, ref_b = _synthetic_run(tmp_path / "single"), _synthetic_run(tmp_path / "sharded")
    assert _score(tmp_path / "single", ref_a).returncode == 0
    procs = [_score(tmp_path / "sharded", ref_b, "--shard", f"{i}/2", wait=False) for i in range(2)]
    images = 0
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        images += int(re.search(rb"features of (\d+) images cached", out).group(1))
    assert images == 12  # with stealing too, no image is done by both shards
    assert not (tmp_path / "sharded" / "scores" / "summary.json").exists()
    merged = _score(tmp_path / "sharded", ref_b)
    assert merged.returncode == 0, merged.stderr
    a, _ = _sets(tmp_path / "single")
    b, summary = _sets(tmp_path / "sharded")
    assert len(a) == 8
    _same_numbers(a, b)
    assert summary["counts"]["decoded"] == 0  # the merge found every image's features cached


def test_a_scoring_shard_alone_goes_on_with_the_other_shards_images(tmp_path):
    ref = _synthetic_run(tmp_path / "run")
    alone = _score(tmp_path / "run", ref, "--shard", "1/3", "--no-steal")
    assert alone.returncode == 0, alone.stderr
    assert "shard 1/3: features of 4 images cached" in alone.stdout
    alone = _score(tmp_path / "run", ref, "--shard", "1/3")  # its own four are done: it takes the other eight
    assert "shard 1/3: features of 8 images cached (8 of them from other shards)" in alone.stdout
    again = _score(tmp_path / "run", ref, "--shard", "0/3")
    assert "shard 0/3: features of 0 images cached" in again.stdout
    merged = _score(tmp_path / "run", ref)
    assert merged.returncode == 0, merged.stderr
    assert _sets(tmp_path / "run")[1]["counts"]["decoded"] == 0
    assert not list((tmp_path / "run" / "scores" / "shards").rglob("*.lock"))


def test_scoring_killed_at_random_moments_resumes_to_the_same_numbers(tmp_path):
    ref_a, ref_b = _synthetic_run(tmp_path / "clean"), _synthetic_run(tmp_path / "killed")
    assert _score(tmp_path / "clean", ref_a).returncode == 0
    rng = random.Random(3)
    for _ in range(3):
        p = _score(tmp_path / "killed", ref_b, wait=False)
        time.sleep(rng.uniform(3.0, 8.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
    final = _score(tmp_path / "killed", ref_b)
    assert final.returncode == 0, final.stderr
    _same_numbers(_sets(tmp_path / "clean")[0], _sets(tmp_path / "killed")[0])


def _wait_for_first_image(out, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if list(out.glob("*/*/*.png")):
            return
        time.sleep(0.2)
    raise AssertionError("no image appeared")


def _all_valid(out):
    recs = list(RunStore(out).records(statuses=None))
    for r in recs:
        Image.open(r.image_path).load()
    assert not [p for p in out.rglob("*") if p.name.startswith(".tmp-") or p.name.endswith(".lock")]
    return recs


def test_first_ctrl_c_finishes_the_unit_and_prints_a_summary(tmp_path):
    out = tmp_path / "run"
    p = cli(out, "--num-prompts", "40", wait=False)
    _wait_for_first_image(out)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 130, stderr
    assert b"stopped early on request" in stdout and b"generated" in stdout
    recs = _all_valid(out)
    assert 0 < len(recs) < 160


def test_second_ctrl_c_stops_at_once_without_corrupt_files(tmp_path):
    out = tmp_path / "run"
    # Units of a few seconds, so both signals land inside the second unit's generation.
    cmd = [sys.executable, "-m", "ultrabench", "-q", "--device", "cpu", "generate", "-m", "tiny-sd",
           "--res", "768x1024", "-n", "20", "--out", str(out)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_first_image(out)
    time.sleep(2.0)  # well inside the second unit (about 10 s at one torch thread), past writing the first
    # Signals that arrive during one long torch op reach Python as one (with one torch thread a conv
    # can outlast any fixed gap), so Ctrl-C is pressed again every 0.3 s until the process is gone,
    # as an impatient user would
    p.send_signal(signal.SIGINT)
    for _ in range(100):
        time.sleep(0.3)
        if p.poll() is not None:
            break
        p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 130
    assert b"interrupted; finished units are kept" in stderr and b"generated" not in stdout
    assert len(_all_valid(out)) == 1


def test_torchrun_splits_generation_across_processes(tmp_path):
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    if not os.path.exists(torchrun):
        pytest.skip("torchrun is not installed beside this Python")
    out = tmp_path / "run"
    cmd = [torchrun, "--standalone", "--nproc_per_node", "3", "-m", "ultrabench", *ARGS, "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    # each rank reports its shard, "(shard i/3)" or, when it stole, "(shard i/3, K of them from other shards)"
    assert {f"{i}/3" for i in range(3)} <= set(re.findall(r"\(shard (\d+/3)[,)]", r.stdout))
    single = cli(tmp_path / "single")
    assert single.returncode == 0
    assert snapshot(out) == snapshot(tmp_path / "single")
