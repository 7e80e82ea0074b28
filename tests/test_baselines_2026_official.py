"""The 2025-2026 official-code adapters (UltraFlux, HiFlow, I-Max, HiDiffusion): the job protocol against
stand-in checkouts that offer the names our runners use and enforce the real code's size rules, on
tiny random-weight FLUX / SDXL folders laid out like the hub repos (CPU, no downloads)."""

import json
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from baselines.official import OfficialProtocolError, collect  # noqa: E402
from ultrabench.errors import UsageError  # noqa: E402
from ultrabench.methods.base import SizePlan, Support  # noqa: E402
from ultrabench.resolution import Resolution  # noqa: E402
from ultrabench.weights import WeightResolver  # noqa: E402


def _method(cls, folder, **kw):
    return cls({"repo": str(folder / "checkouts" / cls.name), "python": sys.executable, "dtype": "float32",
                "timeout_s": 600, **kw}, weights=WeightResolver(folder / "weights"))


@pytest.mark.slow
def test_ultraflux_job_carries_the_v11_transformer_and_the_stand_in_floors_like_the_fork(stand_in_folder, tmp_path):
    from baselines.ultraflux import UltraFlux

    m = _method(UltraFlux, stand_in_folder, num_inference_steps=1)
    assert [wf.label for wf in m.weight_files()] == ["Owen777/UltraFlux-v1", "Owen777/UltraFlux-v1-1-Transformer"]
    res = Resolution(136, 256)  # like 2160x3840: not a multiple of 32
    plan = m.plan(res)
    assert plan.support is Support.RESIZED and plan.native == Resolution(128, 256)
    assert UltraFlux({"transformer": None}).weight_files()[-1].label == "Owen777/UltraFlux-v1"  # v1: <model>/transformer
    m.load()
    # Bypass the plan and ask for 136x256: the fork works in 32-pixel units and returns 128x256.
    job = m.make_job(["a glacier"], [2], res, tmp_path, res)
    assert job["weights"] == {"transformer": str(stand_in_folder / "weights" / "Owen777" / "UltraFlux-v1-1-Transformer")}
    s = job["settings"]
    assert (s["guidance_scale"], s["max_sequence_length"], s["use_dynamic_shifting"], s["time_shift"]) == (4.0, 512, False, 4)
    assert "transformer" not in s and "repo" not in s
    response = m.run_job(job, tmp_path)
    info = response["items"][0]["info"]
    assert info["transformer"] == "v1.1 repository" and info["use_dynamic_shifting"] is False
    with pytest.raises(OfficialProtocolError, match="image is 128x256, the job asked for 136x256"):
        collect(job, response, SizePlan.native_at(res), res)
    # what the plan asks for comes back, resized to the request
    out = Path(job["output_dir"])
    job2 = {**job, "height": 128, "width": 256}
    g = collect(job2, json.loads((out / "response.json").read_text()), plan, res)[0]
    assert g.image.size == (256, 136) and g.native_size == Resolution(128, 256)


@pytest.mark.slow
def test_hiflow_stages_and_per_stage_lists(stand_in_folder, tmp_path):
    from baselines.hiflow import HiFlow, hiflow_stages

    real = HiFlow()
    # the script's own case: 1024 base, stages 2048 then 4096, with its per-stage values
    s = real.job_settings(Resolution(4096, 4096))
    assert (s["base"], s["target_heights"], s["target_widths"]) == ([1024, 1024], [2048, 4096], [2048, 4096])
    assert (s["num_inference_steps_highres"], s["guidance_scale_highres"], s["alphas"]) == ([16, 10], [4.5, 6.0], [1.0, 0.25])
    s2 = real.job_settings(Resolution(2048, 2048))
    assert s2["target_heights"] == [2048] and s2["num_inference_steps_highres"] == [16]
    assert [r.key for r in hiflow_stages(Resolution(2160, 3840), real.base_size(Resolution(2160, 3840)))] == [
        "1536x2688", "2160x3840"]
    assert real.plan(Resolution(1024, 1024)).support is Support.UNSUPPORTED  # no stage above its base
    assert HiFlow({"ntk_factor": [10.0]}).plan(Resolution(4096, 4096)).support is Support.UNSUPPORTED

    m = _method(HiFlow, stand_in_folder, num_inference_steps=2, base_pixels=64 * 128)
    res = Resolution(128, 256)
    assert m.base_size(res) == Resolution(64, 128) and [r.key for r in m.stages(res)] == ["128x256"]
    g = m.generate(["a canyon"], [1], res)[0]
    assert g.image.size == (256, 128) and g.info["official"] == {"base": [64, 128], "stages": [[128, 256]]}
    assert not (stand_in_folder / "checkouts" / "hiflow" / "results").exists()  # its stage PNGs went to scratch


@pytest.mark.slow
def test_imax_guidance_rule_and_run(stand_in_folder, tmp_path):
    from baselines.imax import IMax, imax_guidance_size

    assert imax_guidance_size(Resolution(4096, 4096)) == Resolution(1024, 1024)
    assert imax_guidance_size(Resolution(2160, 3840)) == Resolution(720, 1280)
    assert imax_guidance_size(Resolution(4096, 2048)) == Resolution(1360, 672)
    assert IMax().plan(Resolution(2160, 3848)).support is Support.UNSUPPORTED  # 3848 is not a multiple of 16
    m = _method(IMax, stand_in_folder, native_resolution=64)
    res = Resolution(128, 256)
    m.load()
    job = m.make_job(["a tram"], [3], res, tmp_path, res)
    assert job["settings"]["guidance_size"] == [32, 80] and job["settings"]["time_shift_2"] == 6.0
    g = collect(job, m.run_job(job, tmp_path), m.plan(res), res)[0]
    # the native pass's size as the pipeline asked for its latents, by the same rule as the job's record;
    # the guidance it returns is that image resized to the request, as the real pipeline returns it
    assert g.image.size == (256, 128) and g.info["official"] == {"native_pass": [32, 80], "guidance_returned": [128, 256]}


@pytest.mark.slow
def test_hidiffusion_runs_and_records_the_window_attention_warning(stand_in_folder, tmp_path):
    from baselines.hidiffusion import HiDiffusion

    m = _method(HiDiffusion, stand_in_folder, num_inference_steps=2)
    assert m.plan(Resolution(2160, 3840)).native == Resolution(2176, 3840)
    assert m.plan(Resolution(4096, 2048)).support is Support.NATIVE
    m.load()
    odd = Resolution(96, 256)  # latent 12x32: the 1/32 feature map is 3 high, so window attention warns
    job = m.make_job(["a harbour"], [1], odd, tmp_path, odd)
    s = job["settings"]
    assert (s["guidance_scale"], s["eta"], s["apply_raunet"], s["apply_window_attn"]) == (7.5, 1.0, True, True)
    assert s["negative_prompt"].startswith("blurry, ugly, duplicate")
    got = collect(job, m.run_job(job, tmp_path), SizePlan.native_at(odd), odd)[0]
    assert got.image.size == (256, 96)
    assert got.info["official"]["hidiffusion_warnings"][0].startswith("HiDiffusion Warning: The feature size is (3, 8)")


@pytest.mark.parametrize("name, repo", [("ultraflux", "W2GenAI-Lab/UltraFlux"), ("hiflow", "Bujiazi/HiFlow"),
                                        ("imax", "PRIS-CV/I-Max"), ("hidiffusion", "megvii-research/HiDiffusion")])
def test_a_missing_checkout_is_one_line_naming_the_repository_and_env_create(name, repo, monkeypatch):
    from ultrabench.methods.registry import get_method_class

    cls = get_method_class(name)
    monkeypatch.delenv(cls.repo_env(), raising=False)
    with pytest.raises(UsageError) as e:
        cls().load()
    msg = str(e.value)
    assert "\n" not in msg and f"github.com/{repo}" in msg and f"ultrabench env create {name} --repo PATH" in msg


def test_env_create_recipes(tmp_path):
    from baselines.envs import create_env
    from baselines.standin_checkouts import write_checkout

    def reqs(method):
        return create_env(method, write_checkout(method, tmp_path / method), python="/usr/bin/python3.11",
                          dry_run=True)[-1][4:]

    hd = reqs("hidiffusion")
    assert "diffusers==0.40.0" in hd and not any(r.startswith(("xformers", "diffusers>=")) for r in hd)
    uf = reqs("ultraflux")  # no requirements file: the recipe from its imports
    assert "diffusers>=0.35" in uf and "sqlalchemy" in uf and "sentencepiece" in uf
    hf = reqs("hiflow")
    assert "diffusers==0.32.1" in hf and "torch==2.3.0" in hf and not any(r.startswith("opencv") for r in hf)
    (tmp_path / "imax").mkdir()
    im = create_env("imax", tmp_path / "imax", python="/usr/bin/python3.11", dry_run=True)[-1][4:]
    assert "diffusers==0.30.3" in im and "PyWavelets" in im


def test_hiflow_record_says_what_the_scheduler_does():
    """run_hiflow.py sets `scheduler.use_dynamic_shifting = False`, an attribute diffusers never reads:
    with FLUX.1-dev's scheduler config the sigmas are still time-shifted by mu, and the record says so."""
    import numpy as np
    from diffusers import FlowMatchEulerDiscreteScheduler

    from baselines.hiflow import HiFlow

    flux_dev = dict(shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15, base_image_seq_len=256,
                    max_image_seq_len=4096)  # FLUX.1-dev's scheduler/scheduler_config.json
    n, mu = 30, 1.15  # the script's base steps; calculate_shift at 1024^2 (4096 tokens) is max_shift
    sigmas = np.linspace(1.0, 1 / n, n)
    scripted = FlowMatchEulerDiscreteScheduler(**flux_dev)
    scripted.use_dynamic_shifting = False  # the authors' line, copied by our runner
    scripted.set_timesteps(sigmas=sigmas, mu=mu)
    shifted = np.exp(mu) / (np.exp(mu) + (1 / sigmas - 1))
    np.testing.assert_allclose(scripted.sigmas[:-1].numpy(), shifted, rtol=1e-6)
    really_off = FlowMatchEulerDiscreteScheduler(**{**flux_dev, "use_dynamic_shifting": False})
    really_off.set_timesteps(sigmas=sigmas, mu=mu)
    # "off" would be the config's static shift 3, close to e^1.15 = 3.16 at 1024^2 but another schedule
    assert np.abs(really_off.sigmas[:-1].numpy() - shifted).max() > 1e-2
    sampler = HiFlow().recorded_settings()["sampler"]
    assert "dynamic shifting on" in sampler and "off" not in sampler.replace("never reads", "")
