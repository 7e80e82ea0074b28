from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from ultrabench.resolution import PAPER_RESOLUTIONS, Resolution  # noqa: E402
from ultrabench.ultrapixel.method import STAGES, TinyUltraPixel, UltraPixel  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Toy-sized ops on a shared 2-core machine run ~10x faster on one thread.
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def pixels(img):
    import numpy as np

    return np.asarray(img)


@pytest.fixture(scope="module")
def tiny():
    m = TinyUltraPixel()
    m.load()
    return m


@pytest.mark.parametrize("hw", [(320, 320), (320, 576)])
def test_tiny_generates_deterministically(tiny, hw):
    res = Resolution(*hw)
    a = tiny.generate(["a red fox in snow"], [7], res)[0]
    b = tiny.generate(["a red fox in snow"], [7], res)[0]
    c = tiny.generate(["a red fox in snow"], [8], res)[0]
    assert a.image.size == (hw[1], hw[0])
    assert (pixels(a.image) == pixels(b.image)).all()
    assert (pixels(a.image) != pixels(c.image)).any()
    assert set(a.stages) == set(STAGES) and all(v >= 0 for v in a.stages.values())
    assert a.info["lr_latent"] and a.info["peak_memory_kind"]
    import numpy as np

    arr = np.asarray(a.image, dtype=np.float32)
    assert 5 < arr.std() < 120  # textured, neither flat nor saturated


def test_guidance_changes_hr_pass(tiny):
    """The captured LR features must reach the HR pass: dropping them changes the Stage C latent."""
    pipe = tiny._pipe
    tr = {}
    pipe.generate("a boat", 3, 320, 320, trace=tr)
    assert len(tr["lr"]) == 20 and len(tr["hr"]) == 20
    from ultrabench.ultrapixel import sampler as gdf

    cond, uncond = pipe.encode_text("a boat")
    inputs = pipe._stage_c_inputs(cond, uncond)
    noise = gdf.NoiseSource(3, "cpu")
    x_hr, x_lr = noise.initial(tuple(tr["hr"][0].shape)), noise.initial(tuple(tr["lr"][0].shape))
    grid = gdf.time_grid(20)
    _, guide = pipe.lr_pass(inputs, x_lr, noise, grid)
    hr = pipe.hr_pass(inputs, x_hr, guide, noise, grid).x0
    assert torch.equal(hr, tr["stage_c_latent"])  # same stream -> same result
    zero = type(guide)([torch.zeros_like(f) for f in guide.encoder], [torch.zeros_like(f) for f in guide.decoder])
    noise2 = gdf.NoiseSource(3, "cpu")
    x_hr2, x_lr2 = noise2.initial(tuple(x_hr.shape)), noise2.initial(tuple(x_lr.shape))
    pipe.lr_pass(inputs, x_lr2, noise2, grid)
    assert not torch.equal(pipe.hr_pass(inputs, x_hr2, zero, noise2, grid).x0, hr)


def test_plans():
    m = UltraPixel()
    for r in PAPER_RESOLUTIONS + (Resolution(6144, 3072),):
        assert m.plan(r).native == r
    assert m.plan(Resolution(8192, 8192)).native is None
    assert TinyUltraPixel().plan(Resolution(320, 320)).native == Resolution(320, 320)


def test_weight_files_and_missing_message(tmp_path):
    from ultrabench.errors import MissingWeightsError
    from ultrabench.weights import WeightResolver

    m = UltraPixel(weights=WeightResolver(weights_dir=tmp_path))
    names = {(w.repo_id, w.filename) for w in m.weight_files()}
    assert ("stabilityai/stable-cascade", "stage_c_bf16.safetensors") in names
    assert ("roubaofeipi/UltraPixel", "ultrapixel_t2i.safetensors") in names
    with pytest.raises(MissingWeightsError, match="stage_c_bf16.safetensors of hub repo stabilityai/stable-cascade"):
        m.load()


def test_tiled_decode_matches_whole():
    from ultrabench.ultrapixel.build import _stage_a
    from ultrabench.ultrapixel.configs import tiny_config
    from ultrabench.ultrapixel.decode import count_tiles, decode_stage_a, tile_starts
    from ultrabench.ultrapixel.random_init import randomize_

    assert count_tiles(1024, 1024) == 25  # 4096^2: 25 tiles, not the official 1369 windows
    assert tile_starts(100, 40, 8) == [0, 30, 60]
    vq = randomize_(_stage_a(tiny_config()), 1, gain=0.5).eval()
    lat = torch.randn(1, 4, 48, 72, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        whole = decode_stage_a(vq, lat, 0.43)
        tiled = decode_stage_a(vq, lat, 0.43, tiled=True, tile=32, overlap=16)
    assert tiled.shape == whole.shape == (1, 3, 192, 288)
    assert (tiled - whole).abs().max() < 0.05 * whole.abs().max()


def _tiny_image(**settings):
    import numpy as np

    from ultrabench.resolution import Resolution
    from ultrabench.ultrapixel.method import TinyUltraPixel

    m = TinyUltraPixel({"steps": 2, "decoder_steps": 2, **settings})
    m.load()
    return np.asarray(m.generate(["a lighthouse at dawn"], [7], Resolution(320, 320))[0].image).astype(int)


def test_model_offload_gives_the_same_image():
    import numpy as np

    assert np.array_equal(_tiny_image(), _tiny_image(offload=True))


@pytest.mark.slow
def test_compiled_stages_match_eager():
    # torch.compile on CPU (inductor + the C compiler) takes about a minute for the tiny stages.
    import numpy as np

    diff = np.abs(_tiny_image() - _tiny_image(compile=True))
    assert diff.max() <= 2 and diff.mean() < 0.05


def test_gpu_benchmark_script_plumbing_on_cpu(tmp_path):
    """The device check is one run with little time: its script must work the first time there.
    Tiny stages on CPU, one untiled and one tiled mode, a report written after every run."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("gpu_ultrapixel", Path(__file__).parents[1] / "benchmarks" / "gpu_ultrapixel.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--tiny", "--modes", "eager,eager+tiled", "--res", "320x320", "--runs", "1", "--warmup", "0",
                       "--out", str(tmp_path)]) == 0
    report = json.loads(next(tmp_path.glob("ultrapixel_*-tiny.json")).read_text())
    assert [(r["mode"], r["res"]) for r in report["results"]] == [("eager", "320x320"), ("eager+tiled", "320x320")]
    assert all(r["image"][-2:] == [320, 320] and r["stages_s"]["hr_pass"] > 0 for r in report["results"])
    md = next(tmp_path.glob("ultrapixel_*-tiny.md")).read_text()
    assert "| eager+tiled | 320x320 |" in md
    # a budget already spent starts nothing and says so
    assert bench.main(["--tiny", "--modes", "eager", "--res", "320x320", "--runs", "1", "--warmup", "0",
                       "--budget-s", "1e-9", "--out", str(tmp_path / "b")]) == 0
    report = json.loads(next((tmp_path / "b").glob("*.json")).read_text())
    assert report["results"] == [] and report["skipped"] == [{"mode": "eager", "res": "320x320", "run": 0}]
    # the official code's turn without a checkout is skipped, saying why, in the report
    assert bench.main(["--tiny", "--modes", "official", "--res", "320x320", "--out", str(tmp_path / "o")]) == 0
    report = json.loads(next((tmp_path / "o").glob("*.json")).read_text())
    assert report["results"] == [] and report["skipped"] == [{"mode": "official", "why": "no --official checkout given"}]
    assert "Not run: official: no --official checkout given" in next((tmp_path / "o").glob("*.md")).read_text()
