"""Baseline adapters: the methods of the UltraPixel paper's Table 1 and those of 2025-2026.

Lazy import strings only: the CLI reads class attributes and `plan()` without importing torch.
"""

METHODS: dict[str, str] = {
    "pixart-sigma": "baselines.pixart_sigma:PixArtSigma",
    "base-sr": "baselines.base_sr:BaseSR",
    "demofusion": "baselines.demofusion:DemoFusion",
    "scalecrafter": "baselines.official:ScaleCrafter",
    "fouriscale": "baselines.official:FouriScale",
    "elasticdiffusion": "baselines.official:ElasticDiffusion",
    "import": "baselines.imported:Imported",
    # 2025-2026 (benchmarks/uhr2026.toml)
    "sana-4k": "baselines.sana:Sana4K",
    "sana-2k": "baselines.sana:Sana2K",
    "flux-dev-2k": "baselines.flux:FluxDev2K",
    "hiflow": "baselines.hiflow:HiFlow",
    "imax": "baselines.imax:IMax",
    "ultraflux": "baselines.ultraflux:UltraFlux",
    "hidiffusion": "baselines.hidiffusion:HiDiffusion",
    "stable-cascade-direct": "baselines.cascade_direct:StableCascadeDirect",
}


__all__ = ["METHODS"]
