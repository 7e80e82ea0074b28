from PIL import Image

from ultrabench.resolution import Resolution
from ultrabench.runstore import RunStore, Unit
from ultrabench.runsummary import latency_rows, status_rows


def _store(tmp_path):
    store = RunStore(tmp_path)
    r = Resolution(64, 64)
    img = Image.new("RGB", (64, 64))
    rows = [  # (prompt, status, seconds, warmup, batch, stages)
        ("p0", "ok", 9.0, True, 1, {"a": 8.0}),
        ("p1", "ok", 2.0, False, 2, {"a": 3.0, "b": 1.0}),
        ("p2", "ok", 4.0, False, 2, {"a": 5.0, "b": 3.0}),
        ("p3", "oom", None, False, 1, {}),
        ("p4", "unsupported", None, False, 1, {}),
    ]
    for pid, status, secs, warm, batch, stages in rows:
        rec = {"status": status, "warmup": warm, "batch_size": batch, "stages": stages,
               "peak_memory_bytes": 100 if secs else None, "memory_kind": "cpu_peak_rss"}
        if secs is not None:
            rec["seconds"] = secs
        store.write_unit(Unit("m", r, pid, "x", 1), rec, image=img if status == "ok" else None)
    return store


def test_latency_leaves_out_warmup_and_failures_and_gives_stages_per_image(tmp_path):
    (row,) = latency_rows(_store(tmp_path).records(statuses=None))
    assert row["n"] == 2 and row["mean_s"] == 3.0 and row["median_s"] == 3.0 and row["min_s"] == 2.0
    assert row["stages"] == {"a": 2.0, "b": 1.0}  # (3/2 + 5/2) / 2 and (1/2 + 3/2) / 2
    assert row["peak_memory_bytes"] == 100 and row["memory_kind"] == "cpu_peak_rss"


def test_status_counts_every_unit_warmup_included(tmp_path):
    rows = status_rows(_store(tmp_path).records(statuses=None), {("m", "64x64"): 1})
    assert rows == [{"method": "m", "resolution": "64x64", "ok": 3, "oom": 1, "error": 0, "unsupported": 1,
                     "unreadable": 1}]
