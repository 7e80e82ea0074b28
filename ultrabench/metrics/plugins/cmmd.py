"""CMMD (Jayasumana et al., CVPR 2024): RBF MMD^2 between CLIP ViT-L/14-336 embedding sets, x1000."""

from __future__ import annotations

import numpy as np

from ultrabench.metrics import statistics as st
from ultrabench.metrics.plugin import FeatureExtractor, Metric

# The paper's estimator; the released code's `distance.mmd` is the biased one (diagonal included),
# larger by (1 - u_XX)/m + (1 - u_YY)/n (see ultrabench.metrics.cmmd).
ESTIMATOR = "unbiased"


def mmd_rbf(inp: st.SetInput) -> st.SetValue:
    from ultrabench.metrics.cmmd import CMMDBootstrap, cmmd

    if len(inp.rows) < 2:
        raise st.NotComputed("needs at least 2 embeddings")
    value = cmmd(inp.rows, inp.ref, estimator=ESTIMATOR)
    ci = st._ci(inp, CMMDBootstrap(inp.rows, inp.ref, estimator=ESTIMATOR).value) if inp.resamples > 0 else None
    return st.SetValue(value, ci, st._describe(inp, " (reference fixed)"), st._reference_extra(inp))


st.register_statistic("mmd-rbf", mmd_rbf)


class CmmdClip(FeatureExtractor):
    name = "cmmd-clip"
    description = "open_clip ViT-L-14-336/openai image embeddings on the original CMMD code's 336x336 view"
    extractor_module = "ultrabench.metrics.extractors.cmmd_clip"
    extractor_class = "CmmdClipExtractor"
    options_used = ("patch_crops", "crop_seed")
    metrics = (
        Metric("cmmd", "CMMD", False, "set", "largest centred square resized to 336x336 (PIL bicubic)",
               needs_reference=True, description="RBF-kernel MMD^2 (sigma 10, x1000, unbiased) on CLIP "
               "ViT-L/14-336 embeddings", extractor="cmmd-clip", view="full", feature="emb", statistic="mmd-rbf",
               decimals=3),
        Metric("cmmd-patch", "CMMD-patch", False, "set", "299x299 native crops resized to 336x336",
               needs_reference=True, description="CMMD on the same native-resolution crops as FID-patch",
               extractor="cmmd-clip", view="patch", feature="emb", statistic="mmd-rbf", decimals=3),
    )

    def views(self, net=None):
        from ultrabench.scoring.views import View

        return {"full": View.of("centre-square", size=336),
                "patch": View.of("crops-native", size=299, n=self.options["patch_crops"], seed=self.options["crop_seed"])}

    def forward(self, net, role, rows):
        return {"emb": np.asarray(net.model.image_features(rows), dtype=np.float64)}

    def protocol(self, metric):
        from ultrabench.metrics.cmmd import SCALE, SIGMA
        from ultrabench.metrics.extractors.cmmd_clip import RESIZE_NOTE, MEASURED

        return {"version": f"{metric.name}@{ESTIMATOR}-antialiased-v1",
                "kernel": f"exp(-||x-y||^2 / (2 sigma^2)), sigma {SIGMA}", "scale": SCALE, "estimator": ESTIMATOR,
                "resize": "PIL bicubic (antialiased), as the original code reads files; common PyTorch ports resize "
                          "without antialiasing, which changes embeddings of large images",
                "resize_vs_original": RESIZE_NOTE.format(**MEASURED),
                "network": "CLIP ViT-L/14-336 (openai), L2-normalised image embeddings, float64"}
