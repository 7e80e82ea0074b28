"""Baseline adapters for the methods of the UltraPixel paper's Table 1.

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
}


__all__ = ["METHODS"]
