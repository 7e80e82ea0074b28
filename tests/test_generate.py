"""The generation loop on tiny methods and on fakes that fail in controlled ways."""

import json

import numpy as np
import pytest
from PIL import Image

from ultrabench.config import spec_from_dict
from ultrabench.generate import generate
from ultrabench.methods import GeneratedImage, Method, SizePlan
from ultrabench.resolution import Resolution
from ultrabench.runstore import RunStore

R = Resolution(64, 96)


def _spec(tmp_path, methods, **kw):
    return spec_from_dict({"name": "t", "out": str(tmp_path / "run"), "num_prompts": 3, "resolutions": ["64x96"],
                           "methods": [{"name": m} for m in methods], **kw})


class Flaky(Method):
    """Fails for one prompt (error), runs out of memory for another, works for the rest."""

    name = "flaky"
    calls: list = []

    def generate(self, prompts, seeds, res):
        Flaky.calls.append(list(prompts))
        if "b0003" in prompts[0] or prompts[0].startswith("oom"):
            import torch

            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        if prompts[0].startswith("boom"):
            raise ValueError("something broke\nsecond line")
        return [GeneratedImage(Image.new("RGB", (res.width, res.height), (s % 255, 0, 0)), {"only": 0.0}) for s in seeds]


class Shrinks(Method):
    name = "shrinks"

    def plan(self, res):
        return SizePlan.unsupported(res, "too big for this method") if res.width > 100 else SizePlan.native_at(res)

    def generate(self, prompts, seeds, res):
        return [GeneratedImage(Image.new("RGB", (8, 8)), {}) for _ in prompts]


@pytest.fixture
def prompt_file(tmp_path):
    p = tmp_path / "p.jsonl"
    p.write_text("".join(json.dumps({"id": i, "prompt": t}) + "\n" for i, t in
                         [("ok1", "a fox"), ("oom", "oom please"), ("err", "boom now"), ("ok2", "a car")]))
    return str(p)


def test_tiny_generation_records_everything_and_resumes(tmp_path):
    spec = _spec(tmp_path, ["tiny-sd", "tiny-sd-sr"])
    first = generate(spec, progress=False)
    assert first.generated == 6 and first.skipped == 0
    store = RunStore(spec.out)
    recs = list(store.records())
    assert len(recs) == 6
    for r in recs:
        assert r.status == "ok" and r.image_path.suffix == ".png"
        assert Image.open(r.image_path).size == (96, 64)
        d = r.data
        assert d["delivered"] == [64, 96] and d["requested"] == [64, 96]
        assert d["seconds"] > 0 and set(d["stages"]) >= {"text_encode", "denoise", "decode"}
        assert d["memory_kind"] == "cpu_peak_rss" and d["peak_memory_bytes"] > 0
        assert d["settings"]["steps"] == 4
    sr = [r for r in recs if r.method == "tiny-sd-sr"]
    assert all(r.data["support"] == "native-then-resized" and r.data["native"] == [32, 48] for r in sr)
    # the first unit of each (method, resolution) is the warm-up
    assert sorted(r.warmup for r in recs) == [False] * 4 + [True] * 2
    # same prompt -> same seed for every method (paired comparisons need it)
    seeds = {(r.prompt_id, r.seed) for r in recs}
    assert len(seeds) == 3
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["spec"]["num_prompts"] == 3 and info["provenance"]["packages"]["torch"]
    assert len((tmp_path / "run" / "prompts.jsonl").read_text().splitlines()) == 3
    mtimes = {r.image_path: r.image_path.stat().st_mtime_ns for r in recs}

    second = generate(spec, progress=False)
    assert second.generated == 0 and second.skipped == 6
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes

    third = generate(spec, methods=["tiny-sd"], progress=False, overwrite=True)
    assert third.generated == 3


def test_generation_is_deterministic_for_a_seed(tmp_path):
    a = _spec(tmp_path / "a", ["tiny-sd"])
    b = _spec(tmp_path / "b", ["tiny-sd"])
    generate(a, progress=False)
    generate(b, progress=False)
    for ra, rb in zip(RunStore(a.out).records(), RunStore(b.out).records()):
        assert np.array_equal(np.asarray(Image.open(ra.image_path)), np.asarray(Image.open(rb.image_path)))


def test_oom_and_errors_are_recorded_and_the_run_goes_on(tmp_path, register_method, prompt_file):
    register_method(Flaky)
    spec = _spec(tmp_path, ["flaky"], prompts=prompt_file, num_prompts=4)
    s = generate(spec, progress=False)
    assert s.counts["flaky 64x96"] == {"ok": 2, "oom": 1, "error": 1}
    recs = {r.prompt_id: r for r in RunStore(spec.out).records(statuses=None)}
    assert recs["oom"].status == "oom" and "out of memory" in recs["oom"].data["error"]
    assert recs["err"].status == "error" and recs["err"].data["error"] == "ValueError: something broke"
    assert recs["err"].image_path is None
    # failures are final unless retried
    Flaky.calls.clear()
    again = generate(spec, progress=False)  # failures are not counted as done
    assert (again.skipped, again.failed_before) == (2, 2) and Flaky.calls == []
    generate(spec, progress=False, retry_failed=True)
    assert sorted(c[0] for c in Flaky.calls) == ["boom now", "oom please"]


def test_unsupported_sizes_and_wrong_deliveries(tmp_path, register_method):
    register_method(Shrinks)
    spec = _spec(tmp_path, ["shrinks"], resolutions=["64x96", "64x128"])
    s = generate(spec, progress=False)
    assert s.counts["shrinks 64x128"] == {"unsupported": 3}
    assert s.counts["shrinks 64x96"] == {"error": 3}
    rec = next(RunStore(spec.out).records(resolution=Resolution(64, 96), statuses=None))
    assert "delivered 8x8, not 64x96" in rec.data["error"]


def test_resolution_filter_follows_the_spec(tmp_path):
    from ultrabench.errors import UsageError
    from ultrabench.generate import select_work

    spec = spec_from_dict({"name": "t", "methods": [{"name": "tiny-sd", "resolutions": ["64x64"]},
                                                    {"name": "tiny-sd-sr", "resolutions": ["64x64", "32x32"]}]})
    work = select_work(spec, resolutions=[Resolution(32, 32)])
    assert [(e.name, [r.key for r in rs]) for e, rs in work] == [("tiny-sd-sr", ["32x32"])]
    with pytest.raises(UsageError, match="lists no method at 16x16"):
        select_work(spec, resolutions=[Resolution(16, 16)])
    # a method named explicitly runs where asked
    work = select_work(spec, methods=["tiny-sd"], resolutions=[Resolution(32, 32)])
    assert [(e.name, [r.key for r in rs]) for e, rs in work] == [("tiny-sd", ["32x32"])]


class HalfFails(Method):
    """Like an official-code child that wrote some images before one item raised."""

    name = "half-fails"
    max_batch_size = 4

    def generate(self, prompts, seeds, res):
        from ultrabench.methods.base import PartialBatchError

        images = [GeneratedImage(Image.new("RGB", (res.width, res.height)), {"child": 1.0}) for _ in prompts]
        images[1] = None
        raise PartialBatchError("item 1 failed", images, [None, "RuntimeError: NaN in latents\ntraceback", None])


def test_partial_batch_failures_keep_the_good_images(tmp_path, register_method):
    register_method(HalfFails)
    spec = _spec(tmp_path, ["half-fails"], batch_size=3)
    s = generate(spec, progress=False)
    assert s.counts["half-fails 64x96"] == {"ok": 2, "error": 1}
    recs = sorted(RunStore(spec.out).records(statuses=None), key=lambda r: r.data["error"] or "")
    assert [r.status for r in recs] == ["ok", "ok", "error"]
    assert recs[2].data["error"] == "RuntimeError: NaN in latents"


def test_method_aliases_on_the_command_line_use_the_registered_name():
    from ultrabench.config import load_spec
    from ultrabench.generate import select_work

    spec = load_spec("table1")
    work = select_work(spec, methods=["PixArt-Sigma", "UltraPixel"], resolutions=[Resolution(2048, 2048)])
    assert [e.name for e, _ in work] == ["pixart-sigma", "ultrapixel"]
