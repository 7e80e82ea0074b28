"""End to end on a tiny run folder with stand-in extractors: outputs, cache reuse, failures."""

import json
import os

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("eng")
    os.environ["ULTRABENCH_CACHE"] = str(root / "ubcache")
    from ultrabench.resolution import parse_resolution
    from ultrabench.runstore import RunStore, Unit

    run = root / "run"
    st = RunStore(run)
    res = parse_resolution("320x320")
    rng = np.random.default_rng(0)
    for m in ("ultrapixel", "other"):
        for i in range(3):
            img = Image.fromarray(rng.integers(0, 256, (320, 320, 3), dtype=np.uint8))
            st.write_unit(Unit(m, res, f"p{i}", "a cat " * (40 if i == 0 else 1), i),
                          {"status": "ok", "seconds": 1.0 + i, "stages": {"stage_b": 0.5}, "warmup": i == 0,
                           "peak_memory_bytes": 100 + i, "memory_kind": "cpu_rss"}, image=img)
    st.write_unit(Unit("other", res, "p9", "x", 9), {"status": "oom", "seconds": None, "stages": {}})
    ref = root / "ref"
    ref.mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (300, 310, 3), dtype=np.uint8)).save(ref / f"r{i}.png")
    from ultrabench.metrics.extractors.inception import InceptionExtractor, random_inception_file

    inc = InceptionExtractor(random_inception_file(root / "ubcache" / "stand-ins"), random_weights=True)
    return run, ref, inc, st, res, rng


def _score(run, ref, inc, **kw):
    from ultrabench.scoring import score_run

    kw.setdefault("workers", 0)
    return score_run(run, reference=ref, stand_ins=True, extractors={"inception": inc}, bootstrap=30,
                     progress=False, patch_crops=1, **kw)


def test_score_run_outputs_and_cache(setup):
    import pandas as pd

    run, ref, inc, st, res, rng = setup
    s = _score(run, ref, inc, workers=2)
    assert s["random_weights"] is True
    assert (run / "scores" / "summary.json").is_file()
    on_disk = json.loads((run / "scores" / "summary.json").read_text())
    assert on_disk["sets"] == json.loads(json.dumps(s["sets"]))
    metrics = {(x["method"], x["metric"]) for x in s["sets"]}
    for m in ("fid", "fid-patch", "is", "is-patch", "kid", "kid-patch", "clip", "pickscore", "glcm",
              "compression-ratio"):
        assert ("other", m) in metrics and ("ultrapixel", m) in metrics
    fid = next(x for x in s["sets"] if x["metric"] == "fid" and x["method"] == "other")
    assert fid["n"] == 3 and fid["protocol"].startswith("fid@") and fid["ci_method"].startswith("bootstrap")
    assert s["reference"]["n_images"] == 3 and s["reference"]["n_patches"] == 3
    assert s["extractors"]["inception"]["random_weights"] is True
    w = s["winrates"][0]
    assert (w["reference_method"], w["method"], w["n_pairs"]) == ("ultrapixel", "other", 3)
    lat = {x["method"]: x for x in s["latency"]}
    assert lat["other"]["n"] == 2 and lat["other"]["median_s"] == 2.5 and lat["other"]["stages"] == {"stage_b": 0.5}
    stat = {x["method"]: x for x in s["status"]}
    assert stat["other"]["oom"] == 1 and stat["other"]["ok"] == 3

    df = pd.read_parquet(run / "scores" / "per_image.parquet")
    assert len(df) == 6 and df["error"].isna().all()
    assert df.loc[df.prompt_id == "p0", "flags"].str.contains("prompt_truncated").all()
    crops = {m: json.loads(df[(df.method == m) & (df.prompt_id == "p1")].crops.iloc[0]) for m in ("other", "ultrapixel")}
    assert crops["other"] == crops["ultrapixel"]  # same key, same positions across methods
    for col in ("clip", "pickscore", "glcm", "compression_ratio"):
        assert df[col].notna().all()

    # adding a method computes only the new images
    for i in range(2):
        img = Image.fromarray(rng.integers(0, 256, (320, 320, 3), dtype=np.uint8))
        from ultrabench.runstore import Unit

        st.write_unit(Unit("newm", res, f"p{i}", "a dog", i), {"status": "ok", "seconds": 1.0, "stages": {}},
                      image=img)
    before = inc.calls
    s2 = _score(run, ref, inc)
    assert inc.calls - before == 2 * (1 + 1)  # two images: one full view and one crop each
    assert s2["counts"]["decoded"] == 2 and s2["counts"]["cached"] == 6
    fid2 = next(x for x in s2["sets"] if x["metric"] == "fid" and x["method"] == "other")
    assert fid2["value"] == pytest.approx(fid["value"], rel=1e-9)


def test_unreadable_and_small_images_are_counted(setup, tmp_path):
    import pandas as pd

    from ultrabench.resolution import parse_resolution
    from ultrabench.runstore import RunStore, Unit

    run, ref, inc, _, _, rng = setup
    st = RunStore(tmp_path / "r2")
    res = parse_resolution("320x320")
    for i in range(3):
        st.write_unit(Unit("a", res, f"p{i}", "x", i), {"status": "ok", "seconds": 1.0, "stages": {}},
                      image=Image.fromarray(rng.integers(0, 256, (320, 320, 3), dtype=np.uint8)))
    st.write_unit(Unit("a", parse_resolution("200x200"), "s", "x", 0), {"status": "ok", "seconds": 1.0, "stages": {}},
                  image=Image.fromarray(np.zeros((200, 200, 3), np.uint8)))
    bad = st.image_path(Unit("a", res, "p2", "x", 2))
    bad.write_bytes(bad.read_bytes()[:200])
    s = _score(tmp_path / "r2", None, inc, metrics=["is", "is-patch", "glcm"])
    stat = {x["resolution"]: x for x in s["status"]}
    assert stat["320x320"]["unreadable"] == 1
    assert any("p2__s2.png" in w for w in s["warnings"])
    assert any("smaller than the 299x299" in w for w in s["warnings"])
    df = pd.read_parquet(tmp_path / "r2" / "scores" / "per_image.parquet")
    assert df["error"].notna().sum() == 2
    is_set = next(x for x in s["sets"] if x["metric"] == "is" and x["resolution"] == "320x320")
    assert is_set["n"] == 2


def test_no_reference_skips_with_warning(setup):
    run, _, inc, *_ = setup
    s = _score(run, None, inc, metrics=["fid", "is"], methods=["other"])
    assert any("skipped fid" in w for w in s["warnings"])
    # the other metrics scored earlier in this folder are kept; fid was asked for, so its old result is not
    assert "fid" not in s["kept_from"] and "fid" not in {x["metric"] for x in s["sets"]}
    assert {x["metric"] for x in s["sets"] if x["metric"] not in s["kept_from"]} == {"is"}


def test_missing_real_weights_is_one_line(tmp_path, monkeypatch):
    from ultrabench.errors import MissingWeightsError
    from ultrabench.scoring.engine import open_extractors
    from ultrabench.weights import WeightResolver

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(MissingWeightsError, match="weights-inception-2015-12-05-6726825d.pth"):
        open_extractors(["fid"], {}, weights=WeightResolver(weights_dir=tmp_path))


def test_a_new_image_is_read_once_and_known_by_content_afterwards(tmp_path, monkeypatch, setup):
    """No separate hashing pass: the decoder hashes the bytes it decodes, the index remembers them."""
    from ultrabench import hashing
    from ultrabench.metrics.registry import get_metric
    from ultrabench.scoring import engine as E

    _, _, inc, *_ = setup
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(7)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (300, 320, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    cache = E.FeatureCache(tmp_path / "cache")
    opts = {"patch_crops": 2, "crop_seed": 0}
    ex = E.open_extractors(["fid", "fid-patch"], opts, given={"inception": inc})
    full, patch = (ex.need_for(get_metric(m), opts) for m in ("fid", "fid-patch"))

    def tasks():
        return [E.ImageTask(p, key=p.stem) for p in sorted(folder.glob("*.png"))]

    def run(ts, c=cache):
        return E.run_pass(ts, [full, patch], c, batch_size=4, workers=0, progress=False)

    def no_second_read(path):
        raise AssertionError(f"{path} read again just to hash it")

    monkeypatch.setattr(hashing, "sha256_file", no_second_read)
    first = tasks()
    assert run(first) == {"decoded": 3, "cached": 0, "unreadable": 0}
    import hashlib

    for t in first:
        assert t.sha == hashlib.sha256(t.path.read_bytes()).hexdigest()
        assert E.features(cache, full, t)["pool"].shape == (1, 2048)
        assert E.features(cache, patch, t)["pool"].shape == (2, 2048)
    again = tasks()  # a new process would load the same index from disk
    cache2 = E.FeatureCache(tmp_path / "cache")
    assert run(again, cache2)["decoded"] == 0
    assert [t.sha for t in again] == [t.sha for t in first]
    # an edited file is decoded (and hashed) again; the others stay cached
    Image.fromarray(np.zeros((300, 320, 3), np.uint8)).save(folder / "1.png")
    third = tasks()
    assert run(third, cache2)["decoded"] == 1
    assert third[1].sha != first[1].sha and third[0].sha == first[0].sha


def test_hash_indexes_saved_by_two_processes_keep_both_entries(tmp_path):
    from ultrabench.hashing import HashIndex

    files = []
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(name.encode())
        files.append(tmp_path / name)
    one, two = HashIndex(tmp_path / "index.json"), HashIndex(tmp_path / "index.json")  # both start empty
    for idx, f in zip((one, two), files):
        st = f.stat()
        idx.remember(f, st.st_size, st.st_mtime_ns, f"digest-{f.name}")
    one.save()
    two.save()  # merges with what `one` wrote instead of replacing it
    again = HashIndex(tmp_path / "index.json")
    assert [again.known(f) for f in files] == ["digest-a.png", "digest-b.png"]
    files[0].write_bytes(b"changed!")
    assert again.known(files[0]) is None


@pytest.mark.parametrize("cpus,device,expected", [(2, "cpu", 2), (8, "cuda", 7), (8, "cuda:1", 7), (64, "cpu", 16),
                                                   (1, "cuda", 1)])
def test_default_decode_workers_follow_the_cpus_this_process_may_use(monkeypatch, cpus, device, expected):
    from ultrabench.scoring.engine import default_workers

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    assert default_workers(device) == expected


def test_a_reference_built_before_is_found_without_reading_an_image(tmp_path, monkeypatch, setup):
    from ultrabench import hashing
    from ultrabench.scoring import engine as E
    from ultrabench.scoring.api import build_reference

    _, ref, inc, *_ = setup
    kw = dict(workers=0, patch_crops=2, cache_dir=tmp_path / "c", extractors={"inception": inc})
    first = build_reference(ref, **kw)

    def no_read(*a, **k):
        raise AssertionError("an image was read")

    monkeypatch.setattr(E, "prepare", no_read)
    monkeypatch.setattr(hashing, "sha256_file", no_read)
    assert build_reference(ref, **kw) == first
