"""Repetition score on DINOv2 patch tokens (definition: `ultrabench.metrics.repetition`). The
weights are FD-DINOv2's (ViT-L/14 hub file or facebook/dinov2-large)."""

from __future__ import annotations

from ultrabench.metrics.plugin import FeatureExtractor, Metric, Net


class Repetition(FeatureExtractor):
    name = "repetition"
    version = "v2"  # the cached features changed (v1 caches must not be read as v2)
    description = "DINOv2 ViT-L/14 patch tokens of the whole image (FD-DINOv2's weights), far-vs-near self-similarity"
    options_used = ("repetition_size",)
    metrics = (
        Metric("repetition", "Repetition", False, "per_image", "448x448 squash (PIL bicubic), 32x32 DINOv2 patch tokens",
               description="how much better a token's 3x3 block matches the block at its best distant match (any "
                           "distance past its neighbours) than it matches its own shifted or turned surroundings (mean "
                           "of the top 10% of tokens); high where an object is duplicated; threshold unvalidated",
               extractor="repetition", view="grid", feature="rep"),
    )

    def views(self, net=None):
        from ultrabench.scoring.views import View

        size = int(self.options["repetition_size"])
        if size % 14:
            from ultrabench.errors import UsageError

            raise UsageError(f"repetition_size {size} is not a multiple of DINOv2's 14-pixel patch")
        return {"grid": View.of("square", size=size, filter="bicubic")}

    def weight_files(self):
        from ultrabench.metrics.extractors import dinov2

        return dinov2.weight_files()

    @staticmethod
    def _wrap(ext) -> Net:
        info = ext.info()
        return Net(ext, ext.id, ext.weights_sha256, ext.random_weights,
                   {"layout": info["layout"], "arch": info["arch"], "input": "RGB squashed to a square with PIL "
                    "bicubic (uint8), /255, ImageNet mean/std, no further resize",
                    "features": "patch tokens after the final LayerNorm (x_norm_patchtokens)"}, device=ext.device)

    def load(self, resolver, device):
        from ultrabench.metrics.extractors import dinov2

        return self._wrap(dinov2.load(resolver, device))

    def standin(self, cache_dir, device):
        from ultrabench.metrics.extractors.dinov2 import DinoV2Extractor

        return self._wrap(DinoV2Extractor.standin(cache_dir, device))

    def forward(self, net, role, rows):
        import numpy as np

        from ultrabench.metrics.repetition import repetition_features

        # the token grids are reduced here: (n, 32*32, 1024) floats per image are not worth caching
        return {"rep": np.stack([repetition_features(t, 1.0, 1.0) for t in net.model.patch_tokens(rows)])}

    def per_image(self, net, metric, feats, prompts):
        return feats["rep"].reshape(len(prompts), -1)[:, 0].astype("float64")

    def details(self, net, metric, feats, n):
        from ultrabench.metrics.repetition import FIRES

        return [{"fraction_repeated": float(r[1]), "fires_above": FIRES,
                 "best_pair": [[round(float(r[2]), 4), round(float(r[3]), 4)], [round(float(r[4]), 4), round(float(r[5]), 4)]],
                 "best_pair_units": "(y, x) token centres as fractions of the image height and width"}
                for r in feats["rep"].reshape(n, -1)]

    def protocol(self, metric):
        from ultrabench.metrics import repetition as rep

        size = int(self.options["repetition_size"])
        return {"version": f"repetition@dinov2-block-s{size}-v2",
                "definition": "ultrabench.metrics.repetition (module docstring)",
                "view": f"whole image squashed to {size}x{size}, PIL bicubic", "grid": [size // 14, size // 14],
                "contrast": f"3x3-block mean cos at the best match farther than {rep.NEAR} cell, minus the best of the "
                            "block at the 8 unit shifts and the partner's block turned by 180 degrees (per-image null)",
                "score": f"mean of the top {rep.TOP:.0%} contrasts",
                "fires_above": f"{rep.FIRES} (unvalidated: no real DINOv2 weights have run it)"}
