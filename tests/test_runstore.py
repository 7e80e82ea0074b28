import json
import os

import pytest
from PIL import Image

from ultrabench.errors import UltrabenchError, UsageError
from ultrabench.resolution import Resolution
from ultrabench.runstore import RunStore, Unit, safe_id

R = Resolution(64, 96)


def _unit(pid="p1", seed=7, method="m"):
    return Unit(method, R, pid, "a prompt", seed)


def test_ids_never_escape_the_run_folder(tmp_path):
    store = RunStore(tmp_path)
    for evil in ("../../etc/passwd", "/abs/path", "a/b\\c", "x" * 500):
        u = _unit(pid=evil)
        path = store.image_path(u).resolve()
        assert tmp_path.resolve() in path.parents
        assert "/" not in safe_id(evil) and not safe_id(evil).startswith(".")
    assert safe_id("a/b") != safe_id("a_b") and safe_id("b0001") == "b0001"
    for empty in ("..", ""):
        with pytest.raises(UsageError, match="no usable characters"):
            safe_id(empty)
    with pytest.raises(UsageError, match="not usable as a run folder name"):
        store.unit_dir("scores", R)


def test_write_then_read_and_finished_rules(tmp_path):
    store = RunStore(tmp_path)
    u = _unit()
    assert not store.is_finished(u)
    store.write_unit(u, {"status": "ok", "seconds": 1.5}, image=Image.new("RGB", (96, 64), "red"))
    assert store.is_finished(u)
    rec = store.read_record(u)
    assert rec["delivered"] == [64, 96] and rec["image"] == "p1__s7.png" and rec["seconds"] == 1.5
    assert Image.open(store.image_path(u)).size == (96, 64)
    assert not [p for p in tmp_path.rglob(".tmp-*")]

    failed = _unit(pid="p2")
    store.write_unit(failed, {"status": "oom", "error": "CUDA out of memory"})
    assert store.is_finished(failed) and not store.is_finished(failed, retry_failed=True)

    # an ok record whose image vanished is redone
    store.image_path(u).unlink()
    assert not store.is_finished(u)


def test_corrupt_or_truncated_record_is_redone_and_skipped_when_listing(tmp_path):
    store = RunStore(tmp_path)
    u = _unit()
    store.write_unit(u, {"status": "ok"}, image=Image.new("RGB", (96, 64)))
    store.record_path(u).write_text('{"status": "ok", "meth')
    assert store.read_record(u) is None and not store.is_finished(u)
    assert list(store.records()) == []


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    u = _unit()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(UltrabenchError, match="No space left on device"):
        store.write_unit(u, {"status": "ok"}, image=Image.new("RGB", (96, 64)))
    assert list(tmp_path.rglob("*.png")) == [] and list(tmp_path.rglob(".tmp-*")) == []


def test_records_listing_is_filtered_and_ordered(tmp_path):
    store = RunStore(tmp_path)
    for m in ("b", "a"):
        for pid in ("p2", "p1"):
            store.write_unit(_unit(pid=pid, method=m), {"status": "ok"}, image=Image.new("RGB", (96, 64)))
    store.write_unit(_unit(pid="p3", method="a"), {"status": "unsupported"})
    (tmp_path / "scores").mkdir()
    (tmp_path / "scores" / "x.json").write_text(json.dumps({"method": "zzz"}))
    got = [(r.method, r.prompt_id) for r in store.records()]
    assert got == [("a", "p1"), ("a", "p2"), ("b", "p1"), ("b", "p2")]
    assert [r.status for r in store.records(method="a", statuses=None)] == ["ok", "ok", "unsupported"]
    assert store.methods() == ["a", "b"]


def test_read_only_folder_fails_with_one_clear_line(tmp_path, monkeypatch):
    from pathlib import Path

    def denied(self, data):
        raise PermissionError(13, "Permission denied")

    # chmod is no protection when the tests run as root, so the denial is simulated at the write.
    monkeypatch.setattr(Path, "write_bytes", denied)
    with pytest.raises(UltrabenchError, match="cannot write to run folder .*Permission denied"):
        RunStore(tmp_path / "run").ensure_writable()


def test_full_disk_mid_run_stops_with_one_line_and_keeps_finished_units(tmp_path, monkeypatch):
    from ultrabench import runstore

    store = RunStore(tmp_path)
    store.write_unit(_unit(pid="done"), {"status": "ok"}, image=Image.new("RGB", (96, 64)))

    def full(path, payload):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runstore, "atomic_write_bytes", full)
    with pytest.raises(UltrabenchError, match="cannot write unit m/64x96/p2__s7 .*No space left on device"):
        store.write_unit(_unit(pid="p2"), {"status": "ok"}, image=Image.new("RGB", (96, 64)))
    assert [r.prompt_id for r in store.records()] == ["done"]
