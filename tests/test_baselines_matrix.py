"""The support matrix of every baseline adapter at the paper's five resolutions, against a fixed table."""

import os
import subprocess
import sys

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from baselines import METHODS  # noqa: E402
from ultrabench.methods.registry import get_method_class as load_class  # noqa: E402
from ultrabench.methods.base import Support  # noqa: E402
from ultrabench.resolution import PAPER_RESOLUTIONS, Resolution  # noqa: E402

N, R, U = "native", "native-then-resized", "unsupported"
# (support, native size) per paper resolution: 1024x1792, 2048x2048, 2160x3840, 4096x2048, 4096x4096 (H x W).
EXPECTED = {
    # 2K-MS buckets; nothing public above 2K.
    "pixart-sigma": [(R, "1536x2688"), (N, "2048x2048"), (R, "1536x2688"), (R, "2816x1408"), (R, "2048x2048")],
    # ~1 MP SDXL bucket, x4, then resized (1024^2 x4 is exactly 4096^2).
    "base-sr": [(R, "3072x5376"), (R, "4096x4096"), (R, "3072x5376"), (R, "5632x2816"), (N, "4096x4096")],
    # Whole multiples of 1024 on the long side.
    # The pipeline refuses a long side that is not a whole multiple of 1024: 1792 -> 1024, 3840 -> 3072.
    "demofusion": [(R, "584x1024"), (N, "2048x2048"), (R, "1728x3072"), (N, "4096x2048"), (N, "4096x4096")],
    # Configs: 2048^2, 2560^2, (H2048, W4096) -- served transposed for H4096 x W2048 -- and 4096^2.
    "scalecrafter": [(U, None), (N, "2048x2048"), (U, None), (N, "4096x2048"), (N, "4096x4096")],
    # Any size through its bucket rule.
    "fouriscale": [(N, "1024x1792"), (N, "2048x2048"), (N, "2160x3840"), (N, "4096x2048"), (N, "4096x4096")],
    # At most 2048 per side.
    "elasticdiffusion": [(N, "1024x1792"), (N, "2048x2048"), (U, None), (U, None), (U, None)],
    "import": [(N, "1024x1792"), (N, "2048x2048"), (N, "2160x3840"), (N, "4096x2048"), (N, "4096x4096")],
    # -- 2025-2026 --
    # SanaPipeline's binning: the 4096 table (sample_size 128) or the 2048 one (64), then resized.
    "sana-4k": [(R, "3072x5376"), (R, "4096x4096"), (R, "3072x5376"), (R, "5632x2816"), (N, "4096x4096")],
    "sana-2k": [(R, "1536x2688"), (N, "2048x2048"), (R, "1536x2688"), (R, "2816x1408"), (R, "2048x2048")],
    # Native up to 2048^2 pixels in 16-pixel units, above that the largest same-aspect size, resized.
    "flux-dev-2k": [(N, "1024x1792"), (N, "2048x2048"), (R, "1536x2720"), (R, "2896x1440"), (R, "2048x2048")],
    # Multiples of 16 above the 1 MP base.
    "hiflow": [(N, "1024x1792"), (N, "2048x2048"), (N, "2160x3840"), (N, "4096x2048"), (N, "4096x4096")],
    "imax": [(N, "1024x1792"), (N, "2048x2048"), (N, "2160x3840"), (N, "4096x2048"), (N, "4096x4096")],
    # 32-pixel units: 2160 is generated at 2176.
    "ultraflux": [(N, "1024x1792"), (N, "2048x2048"), (R, "2176x3840"), (N, "4096x2048"), (N, "4096x4096")],
    # Multiples of 64 for even window-attention feature maps: 2160 at 2176.
    "hidiffusion": [(N, "1024x1792"), (N, "2048x2048"), (R, "2176x3840"), (N, "4096x2048"), (N, "4096x4096")],
    # Stage C directly at any size up to UltraPixel's 6144.
    "stable-cascade-direct": [(N, "1024x1792"), (N, "2048x2048"), (N, "2160x3840"), (N, "4096x2048"),
                              (N, "4096x4096")],
}
# Whether what runs at each paper resolution is the method as its authors ran it: A (as-authors),
# S (a size or orientation they never ran), O (another method in disguise). Methods not listed: A.
A, S, O = "as-authors", "new-size", "other-method"
AS_RUN = {
    # One phase below a long side of 2 x 1024: plain SDXL at 584x1024, resized.
    "demofusion": [O, A, A, A, A],
    # sdxl_4096x2048.yaml is 2048 high, 4096 wide: 4096x2048 (H x W) is the transposed config.
    "scalecrafter": [A, A, A, S, A],
    # Its configs' sizes only; the others reuse a config with its sizes replaced (4096x2048: transposed).
    "fouriscale": [S, A, S, S, A],
    # Its script, README and demo run 2048x2048 and 13 other sizes, not 1024x1792.
    "elasticdiffusion": [S, A, A, A, A],
    # run_hiflow.py runs square 1024 -> 2048 -> 4096 only.
    "hiflow": [S, A, S, S, A],
    # The README's SDXL examples: 2048x2048 and 4096x4096.
    "hidiffusion": [S, A, S, S, A],
    # The README's 4096x4096 call and the demo's squares of 2048, 3072, 4096.
    "imax": [S, A, S, S, A],
}
DISPLAY = {"pixart-sigma": "PixArt-Sigma", "base-sr": "Base + BSRGAN", "demofusion": "DemoFusion",
           "scalecrafter": "ScaleCrafter", "fouriscale": "FouriScale", "elasticdiffusion": "ElasticDiffusion"}


def test_registry_names_and_contract():
    assert set(METHODS) == set(EXPECTED)
    for name in METHODS:
        cls = load_class(name)
        assert cls.name == name
        assert cls.kind == ("import" if name == "import" else "generate")
        assert cls.description and isinstance(cls.aliases, tuple)
        if name in DISPLAY:
            assert cls.display_name == DISPLAY[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_support_matrix(name):
    m = load_class(name)()
    got = []
    for res in PAPER_RESOLUTIONS:
        p = m.plan(res)
        assert p.requested == res
        if p.support is Support.UNSUPPORTED:
            assert p.native is None and p.reason
        if p.support is Support.RESIZED:
            assert p.resize_filter and p.reason and p.native != res
        got.append((p.support.value, p.native.key if p.native else None))
    assert got == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_support_matrix_says_whether_the_authors_method_runs(name):
    m = load_class(name)()
    if name == "import":
        return
    plans = [m.plan(res) for res in PAPER_RESOLUTIONS]
    assert [p.as_run.value for p in plans] == AS_RUN.get(name, [A] * 5)
    for p in plans:  # a cell that is not the authors' method says what runs instead, naming the size
        assert bool(p.as_run_note) == (p.as_run.value != A)
        assert not p.as_run_note or p.requested.key in p.as_run_note


def test_plan_is_cheap_no_torch_import():
    code = (
        "import sys\nfrom baselines import METHODS\nfrom ultrabench.methods.registry import get_method_class as load_class\nfrom ultrabench.resolution import PAPER_RESOLUTIONS\n"
        "for n in METHODS:\n    m = load_class(n)()\n    [m.plan(r) for r in PAPER_RESOLUTIONS]\n"
        "assert 'torch' not in sys.modules and 'diffusers' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_settings_change_the_plan():
    from baselines.official import ScaleCrafter

    cog = ScaleCrafter({"unlisted": "cog"})
    assert cog.plan(Resolution(1024, 1792)).support is Support.NATIVE
    assert cog.job_settings(Resolution(2160, 3840))["config"] == "configs/sdxl_2048x2048.yaml"
    strict = ScaleCrafter({"transposed_configs": False})
    assert strict.plan(Resolution(4096, 2048)).support is Support.UNSUPPORTED
    assert strict.plan(Resolution(2048, 4096)).support is Support.NATIVE
    pix1k = load_class("pixart-sigma")({"model_size": "1024"})
    assert pix1k.plan(Resolution(2048, 2048)).native == Resolution(1024, 1024)
    lz = load_class("base-sr")({"upscaler": "lanczos"})
    assert lz.plan(Resolution(2160, 3840)).native == Resolution(768, 1344)
    assert load_class("demofusion")().plan(Resolution(512, 768)).support is Support.UNSUPPORTED


def test_unknown_setting_is_a_usage_error():
    from ultrabench.errors import UsageError

    with pytest.raises(UsageError):
        load_class("demofusion")({"steps": 3})


def test_pixart_bins_match_diffusers():
    """The tables read from diffusers' source equal the ones diffusers itself uses."""
    from diffusers.pipelines.pixart_alpha.pipeline_pixart_alpha import ASPECT_RATIO_1024_BIN
    from diffusers.pipelines.pixart_alpha.pipeline_pixart_sigma import ASPECT_RATIO_2048_BIN

    from baselines._common import aspect_bins

    assert aspect_bins("2048") == {k: (int(v[0]), int(v[1])) for k, v in ASPECT_RATIO_2048_BIN.items()}
    assert aspect_bins("1024") == {k: (int(v[0]), int(v[1])) for k, v in ASPECT_RATIO_1024_BIN.items()}


def test_demofusion_phase_rule():
    from baselines.demofusion import demofusion_phases

    assert [p.key for p in demofusion_phases(2160, 3840)] == ["720x1280", "1152x2048", "1728x3072"]
    assert [p.key for p in demofusion_phases(4096, 2048)] == ["1024x512", "2048x1024", "3072x1536", "4096x2048"]
    assert [p.key for p in demofusion_phases(1024, 1792)] == ["1024x1792"]


def test_every_baseline_declares_its_weights_licence_and_hub_files():
    from ultrabench.methods.registry import NO_LICENCE, method_licence

    for name in METHODS:
        cls = load_class(name)
        assert method_licence(cls) != NO_LICENCE and len(method_licence(cls)) > 10, name
        if name != "import":
            labels = [wf.label for wf in cls().weight_files()]
            assert labels and all("/" in label for label in labels), (name, labels)  # hub owner/repo[/file]
