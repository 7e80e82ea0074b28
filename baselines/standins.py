"""A benchmark spec on tiny stand-ins: every method mapped to its random-weight twin (`run --stand-in-methods`).

A twin is the same adapter class (the same code path: `from_pretrained` on a folder laid out like the
hub repository, the same runner script and job protocol) with settings that point it at tiny weights
and stand-in checkouts built here, and fewer steps; `ultrapixel`, whose full-size architecture is fixed,
maps to `tiny-ultrapixel` (the same pipeline code on toy-width stages). The spec's own settings are
first checked by the real adapter, so a typo fails here as it would on a GPU cluster. Every method
runs at the stand-in resolutions (the spec's are real-world sizes), into `<out>-stand-ins`.

The weights live under `<folder>/weights/<repo_id>/...`, read through the ordinary `WeightResolver`
(`--weights-dir`), and the checkouts under `<folder>/checkouts/<method>/`; both are built once.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

from ultrabench.errors import UsageError
from ultrabench.resolution import Resolution, parse_resolutions

STAND_IN_RESOLUTIONS = ("128x256",)
_BUILT = ".built-v3"  # marker: everything below it was written completely (v3: stand-ins as the real entry points)


def _official(method: str, **steps: Any) -> Callable[[Path], dict[str, Any]]:
    def twin(folder: Path) -> dict[str, Any]:
        return {"repo": str(folder / "checkouts" / method), "python": sys.executable, "dtype": "float32",
                "timeout_s": 900, **steps}
    return twin


# registry name -> (twin registry name, settings overrides given the stand-in folder)
TWINS: dict[str, tuple[str, Callable[[Path], dict[str, Any]]]] = {
    "ultrapixel": ("tiny-ultrapixel", lambda f: {"steps": 2, "decoder_steps": 2}),
    # The twins run in float32 (the authors' float16/bfloat16 is a GPU precision; CPU half kernels are slow
    # and partial), so each twin sets its dtype like a spec entry would.
    "pixart-sigma": ("pixart-sigma", lambda f: {"dtype": "float32", "resolution_binning": False, "num_inference_steps": 2,
                                                "clean_caption": False}),
    # Lanczos instead of the tiny BSRGAN: the SR network at 4x of a 512-bucket image costs half a minute
    # on a CPU (its path is tested in tests/test_baselines_models.py).
    "base-sr": ("base-sr", lambda f: {"dtype": "float32", "bins": "512", "num_inference_steps": 2, "upscaler": "lanczos"}),
    "demofusion": ("demofusion", lambda f: {"dtype": "float32", "pipeline_file": str(f / "checkouts" / "pipeline_demofusion_sdxl.py"),
                                            "base_size": 128, "num_inference_steps": 2}),
    "scalecrafter": ("scalecrafter", _official("scalecrafter")),
    "fouriscale": ("fouriscale", _official("fouriscale")),
    "elasticdiffusion": ("elasticdiffusion", _official("elasticdiffusion")),
    "sana-4k": ("sana-4k", lambda f: {"bins": "512", "dtype": "float32", "num_inference_steps": 2,
                                      "vae_tile": 256, "vae_tile_stride": 224}),
    "sana-2k": ("sana-2k", lambda f: {"bins": "512", "dtype": "float32", "num_inference_steps": 2}),
    "flux-dev-2k": ("flux-dev-2k", lambda f: {"dtype": "float32", "num_inference_steps": 2,
                                              "max_pixels": 128 * 128}),
    "ultraflux": ("ultraflux", _official("ultraflux", num_inference_steps=2)),
    "hidiffusion": ("hidiffusion", _official("hidiffusion", num_inference_steps=2)),
    "hiflow": ("hiflow", _official("hiflow", num_inference_steps=2, base_pixels=64 * 128)),
    "imax": ("imax", _official("imax", native_resolution=64)),
    "stable-cascade-direct": ("stable-cascade-direct", lambda f: {"layout": "diffusers", "precision": "fp32",
                                                                  "steps": 2, "decoder_steps": 2}),
}


def twin_of(registry_name: str, folder: Path) -> tuple[str, dict[str, Any]]:
    if registry_name.startswith("tiny-"):
        return registry_name, {}
    if registry_name not in TWINS:
        raise UsageError(f"method {registry_name!r} has no tiny stand-in; add one to baselines.standins.TWINS")
    name, settings = TWINS[registry_name]
    return name, settings(folder)


def build_stand_ins(folder: str | Path) -> Path:
    """Tiny weights laid out like the hub repos and stand-in checkouts, built once under `folder`."""
    import torch

    from baselines import testing as T
    from baselines.standin_checkouts import CHECKOUTS, write_checkout, write_demofusion_file

    folder = Path(folder)
    if (folder / _BUILT).is_file():
        return folder
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    w = tmp / "weights"
    sdxl = T.build_tiny_sdxl(w / "stabilityai" / "stable-diffusion-xl-base-1.0")
    pixart = T.build_tiny_pixart(w / "PixArt-alpha" / "pixart_sigma_sdxlvae_T5_diffusers")
    shutil.copytree(pixart, w / "PixArt-alpha" / "PixArt-Sigma-XL-2-2K-MS")
    for repo in ("Sana_1600M_4Kpx_BF16_diffusers", "Sana_1600M_2Kpx_BF16_diffusers"):
        T.build_tiny_sana(w / "Efficient-Large-Model" / repo)
    flux = T.build_tiny_flux(w / "black-forest-labs" / "FLUX.1-dev")
    shutil.copytree(flux, w / "Owen777" / "UltraFlux-v1")
    shutil.copytree(flux / "transformer", w / "Owen777" / "UltraFlux-v1-1-Transformer")
    T.build_tiny_cascade_repos(w)
    (w / "cszn" / "KAIR").mkdir(parents=True)
    torch.save(T.bsrgan_state_dict(), w / "cszn" / "KAIR" / "BSRGAN.pth")
    for method in CHECKOUTS:
        write_checkout(method, tmp / "checkouts" / method)
    write_demofusion_file(tmp / "checkouts" / "pipeline_demofusion_sdxl.py")
    assert sdxl.is_dir()
    (tmp / _BUILT).write_text("complete\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def stand_in_spec(spec, folder: str | Path, resolutions: tuple[Resolution, ...] | None = None, out: str | None = None):
    """`spec` with every method replaced by its twin, run at `resolutions`, into `out` (default
    `<spec.out>-stand-ins`). Reference images are dropped (FID/KID are skipped with a note)."""
    from ultrabench.methods.registry import get_method_class, method_kind

    folder = Path(folder)
    entries = []
    for e in spec.methods:
        cls = get_method_class(e.registry_name)
        cls(e.settings)  # the real adapter checks the spec's settings
        if method_kind(cls) == "import":
            entries.append(dataclasses.replace(e, resolutions=()))
            continue
        name, overrides = twin_of(cls.name, folder)
        twin = get_method_class(name)
        settings = {k: v for k, v in e.settings.items() if k in twin.default_settings}
        settings.update(overrides)
        entries.append(dataclasses.replace(e, method=name, settings=settings, resolutions=(),
                                           display_name=e.display_name or cls.display_name or e.name))
    res = tuple(resolutions) if resolutions else parse_resolutions(list(STAND_IN_RESOLUTIONS))
    return dataclasses.replace(spec, methods=tuple(entries), resolutions=res, reference=None,
                               out=out or f"{spec.out}-stand-ins",
                               description=f"{spec.description} [tiny stand-ins: numbers mean nothing]")
