"""The job/response protocol of the official-code adapters, with a fake checkout in a temp folder.

The stand-in checkout (`baselines.standin_checkouts`) offers the names our ScaleCrafter runner uses and
denoises with a tiny random SDXL, so the runner, the child process and the validation all run for real
on CPU.
"""

import json
import os
import sys
from pathlib import Path

import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from baselines.official import (OfficialProtocolError, OfficialRunError, ScaleCrafter, collect,  # noqa: E402
                                read_config_sizes)
from ultrabench.methods.base import SizePlan, Support  # noqa: E402
from ultrabench.resolution import Resolution  # noqa: E402


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    from baselines.standin_checkouts import write_checkout
    from baselines.testing import build_tiny_sdxl

    root = tmp_path_factory.mktemp("official")
    model = build_tiny_sdxl(root / "sdxl")
    repo = write_checkout("scalecrafter", root / "ScaleCrafter")
    return repo, model


def _method(checkout, **kw):
    repo, model = checkout
    return ScaleCrafter({"repo": str(repo), "python": sys.executable, "model": str(model), "dtype": "float32",
                         "timeout_s": 300, **kw})


def test_configs_come_from_the_checkout(checkout):
    m = _method(checkout)
    assert read_config_sizes(checkout[0]) == {(128, 256): "configs/sdxl_128x256.yaml"}
    assert m.plan(Resolution(128, 256)).support is Support.NATIVE
    assert m.plan(Resolution(256, 128)).support is Support.NATIVE  # transposed config
    assert m.plan(Resolution(2048, 2048)).support is Support.UNSUPPORTED  # not in this checkout


def test_success_item_error_and_crash(checkout):
    m = _method(checkout)
    m.load()
    res = Resolution(128, 256)
    # One child for everything: two identical units, an item raising, a hard crash, one never reached.
    with pytest.raises(OfficialRunError) as e:
        m.generate(["a red car", "a red car", "RAISE it", "CRASH now", "never reached"], [5, 5, 2, 3, 4], res)
    err = e.value
    ok = err.partial[0]
    assert ok is not None and ok.image.size == (256, 128) and ok.native_size == res
    assert set(ok.stages) == {"generate"} and ok.stages["generate"] > 0
    assert ok.info["official"]["config"] == "configs/sdxl_128x256.yaml"
    assert ok.info["child_versions"]["python"] and ok.info["runner_load_seconds"] > 0
    # Same seed, same image: the child seeds every RNG per item.
    assert err.partial[1].image.tobytes() == ok.image.tobytes()
    assert err.partial[2] is None and "boom in the official code" in err.errors[2]
    assert err.partial[3] is None and "nothing for item 0003" in err.errors[3]
    assert err.partial[4] is None
    assert err.errors[:2] == [None, None]
    assert "\n" not in str(err)


def test_crash_without_response(checkout, tmp_path):
    repo, model = checkout
    broken = tmp_path / "broken"
    (broken / "configs").mkdir(parents=True)
    for f in (repo / "configs").iterdir():
        (broken / "configs" / f.name).write_text(f.read_text())
    (broken / "text2image_xl.py").write_text("import os\nos._exit(7)\n")
    m = ScaleCrafter({"repo": str(broken), "python": sys.executable, "model": str(model), "timeout_s": 120})
    with pytest.raises(OfficialRunError, match="exited with code 7"):
        m.generate(["x"], [0], Resolution(128, 256))
    broken_import = tmp_path / "broken2"
    (broken_import / "configs").mkdir(parents=True)
    (broken_import / "configs" / "sdxl_128x256.yaml").write_text((repo / "configs" / "sdxl_128x256.yaml").read_text())
    (broken_import / "text2image_xl.py").write_text("import no_such_module_of_an_old_diffusers\n")
    m2 = ScaleCrafter({"repo": str(broken_import), "python": sys.executable, "model": str(model), "timeout_s": 120})
    with pytest.raises(OfficialRunError, match="load failed: ModuleNotFoundError"):
        m2.generate(["x"], [0], Resolution(128, 256))


def test_missing_environment_is_one_line(checkout):
    from ultrabench.errors import UsageError

    m = ScaleCrafter({"repo": str(checkout[0])})
    with pytest.raises(UsageError, match="env create scalecrafter"):
        m.load()


def _job(tmp_path, n=1):
    out = tmp_path / "out"
    out.mkdir()
    return {"method": "scalecrafter", "output_dir": str(out),
            "items": [{"id": f"{i:04d}", "prompt": "p", "seed": i} for i in range(n)]}


PLAN = SizePlan.native_at(Resolution(16, 32))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r.update(protocol=2), "protocol"),
        (lambda r: r.pop("items"), "no 'items'"),
        (lambda r: r["items"][0].update(stages={"generate": -1}), "seconds >= 0"),
        (lambda r: r["items"][0].update(stages="fast"), "seconds >= 0"),
        (lambda r: r["items"][0].update(file="../escape.png"), "outside the output folder"),
        (lambda r: r["items"][0].update(file="missing.png"), "does not exist"),
        (lambda r: r["items"][0].update(file="img.jpg"), "expected PNG"),
        (lambda r: r["items"][0].update(file="junk.png"), "not a readable image"),
        (lambda r: r["items"].append(dict(r["items"][0])), "appears twice"),
        (lambda r: r["items"].append({"id": "9999", "file": "0000.png", "stages": {"g": 1}}), "not in the job"),
        (lambda r: r["items"].append({"file": "0000.png"}), "string 'id'"),
        (lambda r: r["items"][0].update(file="small.png"), "image is 16x16, the job asked for 16x32"),
    ],
)
def test_malformed_responses_are_rejected(tmp_path, mutate, message):
    job = _job(tmp_path)
    out = Path(job["output_dir"])
    Image.new("RGB", (32, 16)).save(out / "0000.png")
    Image.new("RGB", (32, 16)).save(out / "img.jpg")
    Image.new("RGB", (16, 16)).save(out / "small.png")
    (out / "junk.png").write_bytes(b"not an image")
    resp = {"protocol": 1, "items": [{"id": "0000", "file": "0000.png", "stages": {"generate": 1.5}}]}
    assert collect(job, json.loads(json.dumps(resp)), PLAN, PLAN.requested)[0].stages == {"generate": 1.5}
    mutate(resp)
    with pytest.raises(OfficialProtocolError, match=message):
        collect(job, resp, PLAN, PLAN.requested)


def test_env_create_dry_run(tmp_path):
    from baselines.envs import create_env

    sc = tmp_path / "sc"
    sc.mkdir()
    (sc / "requirements.txt").write_text(
        "diffusers==0.20.2\ntorch~=2.0.0\nscipy~=1.9.1\nomegaconf~=2.1.1\naccelerate~=0.16.0\n"
        "transformers~=4.25.1\ntqdm\nxformers~=0.0.18\neinops\naccelerate==0.16.0\n"
    )
    cmds = create_env("scalecrafter", sc, python="/usr/bin/python3.11", dry_run=True)
    assert cmds[0] == ["/usr/bin/python3.11", "-m", "venv", str(sc.resolve() / ".ultrabench-venv")]
    install = cmds[-1]
    assert install[:4] == [str(sc.resolve() / ".ultrabench-venv" / "bin" / "python"), "-m", "pip", "install"]
    reqs = install[4:]
    for pin in ("diffusers==0.20.2", "torch~=2.0.0", "transformers~=4.25.1", "accelerate~=0.16.0",
                "huggingface_hub<0.26", "numpy<2"):
        assert pin in reqs
    assert not any(r.startswith("xformers") for r in reqs)
    assert sum(r.startswith("accelerate") for r in reqs) == 1
    assert not (sc / ".ultrabench-venv").exists()

    ed = tmp_path / "ed"
    ed.mkdir()
    (ed / "environment.yaml").write_text(
        "name: elasticdiffusion\ndependencies:\n  - python=3.8.5\n  - pytorch=1.11.0\n  - pip:\n"
        "    - transformers==4.34.1\n    - diffusers==0.21.4\n    - gradio==4.7.1\n"
        "    - -e git+https://github.com/openai/CLIP.git@main#egg=clip\n    - -e .\n"
    )
    reqs = create_env("elasticdiffusion", ed, dry_run=True)[-1][4:]
    assert "diffusers==0.21.4" in reqs and "transformers==4.34.1" in reqs and "torch<2.2" in reqs
    assert not any("gradio" in r or "git+" in r or r == "-e ." for r in reqs)

    from ultrabench.errors import UsageError

    with pytest.raises(UsageError):
        create_env("demofusion", ed, dry_run=True)
    with pytest.raises(UsageError):
        create_env("fouriscale", tmp_path / "nope", dry_run=True)


# -- ElasticDiffusion and FouriScale against their stand-ins (the real code's signatures and size rules) --
def _sdxl_method(cls, folder, **kw):
    from ultrabench.weights import WeightResolver

    return cls({"repo": str(folder / "checkouts" / cls.name), "python": sys.executable, "dtype": "float32",
                "timeout_s": 600, **kw}, weights=WeightResolver(folder / "weights"))


def test_elasticdiffusion_settings_are_the_scripts_and_the_examples_per_size():
    from baselines.official import ElasticDiffusion

    m = ElasticDiffusion({})
    ex = m.job_settings(Resolution(2048, 2048))  # the authors' 2048x2048 example (app_gradio.py:108, :49)
    assert (ex["resampling_steps"], ex["new_p"], ex["rrg_scale"], ex["rrg_stop_t"]) == (10, 0.3, 2000.0, 0.4)
    assert ex["negative_prompt"] == "blurry, ugly, poorly drawn, deformed"
    assert ex["settings_source"].startswith("authors' example at 2048x2048 (app_gradio.py:108")
    wide = m.job_settings(Resolution(1024, 2048))  # README's and the app's 1024x2048 (H x W) example
    assert (wide["resampling_steps"], wide["rrg_scale"], wide["rrg_stop_t"]) == (7, 1000.0, 0.4)
    main = m.job_settings(Resolution(1024, 1792))  # no example: the script's __main__
    assert (main["resampling_steps"], main["new_p"], main["rrg_scale"], main["rrg_stop_t"]) == (10, 0.3, 4000.0, 0.2)
    assert main["negative_prompt"] == "blurry, ugly, duplicate, no details, deformed"
    assert (main["guidance_scale"], main["cosine_scale"], main["num_inference_steps"], main["view_batch_size"]) == \
        (10.0, 10.0, 50, 16)
    own = ElasticDiffusion({"rrg_scale": 3000}).job_settings(Resolution(2048, 2048))
    assert own["rrg_scale"] == 3000 and own["resampling_steps"] == 10 and "set in the spec: rrg_scale" in own["settings_source"]


def test_elasticdiffusion_precision_is_the_classs():
    from baselines.official import ElasticDiffusion
    from ultrabench.errors import UsageError

    assert ElasticDiffusion({}).settings["dtype"] == "float32"
    with pytest.raises(UsageError, match="dtype"):
        ElasticDiffusion({"dtype": "bfloat16"})


@pytest.mark.slow
def test_elasticdiffusion_runs_with_the_head_constructor(stand_in_folder, tmp_path):
    from baselines.official import ElasticDiffusion

    m = _sdxl_method(ElasticDiffusion, stand_in_folder, num_inference_steps=2)
    m.load()
    res = Resolution(128, 256)
    job = m.make_job(["a lake"], [3], res, tmp_path, res)
    got = collect(job, m.run_job(job, tmp_path), SizePlan.native_at(res), res)[0]
    assert got.image.size == (256, 128)
    used = got.info["official"]
    assert (used["rrg_scale"], used["resampling_steps"], used["low_vram"]) == (4000.0, 10, False)
    assert used["settings_source"].startswith("elastic_diffusion.py __main__ defaults")


@pytest.mark.slow
def test_fouriscale_takes_its_bucket_and_dilation_from_the_real_rule(stand_in_folder, tmp_path):
    from baselines.official import FouriScale

    m = _sdxl_method(FouriScale, stand_in_folder)
    m.load()
    res = Resolution(128, 256)
    job = m.make_job(["a lake"], [3], res, tmp_path, res)
    got = collect(job, m.run_job(job, tmp_path), SizePlan.native_at(res), res)[0]
    # SDXL's table at 1/8 scale: 0.78:896,1152 -> 112x144 pads 128x256 least (2 x 112 = 224, 2 x 144 = 288).
    assert got.info["official"]["base_size"] == [112, 144] and got.info["official"]["dilation"] == 2
    own = tmp_path / "own.yaml"
    own.write_text((stand_in_folder / "checkouts" / "fouriscale" / "configs" / "sdxl_128x256.yaml").read_text())
    s = _sdxl_method(FouriScale, stand_in_folder, config=str(own)).job_settings(Resolution(2048, 2048))
    assert (s["config"], s["config_source"]) == (str(own), "user config")
