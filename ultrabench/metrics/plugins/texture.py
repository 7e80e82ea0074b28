"""Diffusion-4K's GLCM score and compression ratio, computed from native pixels in the decode workers."""

from __future__ import annotations

from ultrabench.metrics.plugin import FeatureExtractor, Metric, Net


class Texture(FeatureExtractor):
    name = "texture"
    description = "no network: GLCM entropy and re-encode size of the native pixels (numpy, in the decode workers)"
    options_used = ("codec",)
    metrics = (
        Metric("glcm", "GLCM", True, "per_image", "native, 64x64 patches of 64 grey levels",
               description="Diffusion-4K GLCM score (texture richness)", extractor="texture", view="glcm",
               feature="value", value_range=(0.0, None), decimals=3),
        Metric("compression-ratio", "Compression ratio", False, "per_image", "native, lossless PNG re-encode in memory",
               description="Diffusion-4K compression ratio: raw RGB bytes / encoded bytes (PNG level 6 by default, "
                           "JPEG q95 optional; detail compresses badly)", extractor="texture", view="compression",
               feature="value", value_range=(1.0, None)),
        Metric("noise-sigma", "Noise sigma", False, "per_image", "native, grey, Immerkaer's Laplacian difference",
               description="estimated sd of pixel noise (grey levels), beside GLCM and compression ratio, which noise "
                           "raises: above 2 an image's fine 'detail' is largely noise (flagged in details)",
               extractor="texture", view="noise", feature="value", value_range=(0.0, None), decimals=2),
    )

    def views(self, net=None):
        from ultrabench.scoring.views import View

        return {"glcm": View.of("glcm"), "compression": View.of("compression", codec=self.options["codec"]),
                "noise": View.of("noise")}

    def _net(self) -> Net:
        return Net(None, "texture", "none", False, {"input": "native pixels"})

    def load(self, resolver, device):
        return self._net()

    def standin(self, cache_dir, device):
        return self._net()

    def forward(self, net, role, rows):
        import numpy as np

        return {"value": np.asarray(rows, dtype=np.float64).reshape(len(rows), 1)}

    def details(self, net, metric, feats, n):
        if metric.name != "noise-sigma":
            return None
        from ultrabench.metrics.texture import NOISE_FLAG

        return [{"noise_dominated": bool(v > NOISE_FLAG), "flag_above": NOISE_FLAG}
                for v in feats["value"].reshape(n, -1)[:, 0]]

    def protocol(self, metric):
        from ultrabench.metrics import texture

        if metric.name == "noise-sigma":
            return {"version": "noise-sigma@immerkaer-median-v1", "grey": "0.299 R + 0.587 G + 0.114 B, float",
                    "operator": "[[1,-2,1],[-2,4,-2],[1,-2,1]] (Immerkaer 1996)",
                    "estimate": "median |N * I| / (0.6745 * 6)", "flag_above": texture.NOISE_FLAG}
        if metric.name == "glcm":
            return {"version": "glcm@diffusion4k-v1", "grey": "cv2 fixed-point BT.601, v // 4 -> 64 levels",
                    "patches": "non-overlapping 64x64, floor(H/64) x floor(W/64) grid", "distances": [1, 2, 3, 4],
                    "angles": "0, pi/4, pi/2, 3pi/4", "entropy": "skimage shannon_entropy of the normed GLCM array"}
        codec = self.options["codec"]
        return {"version": f"compression-ratio@{codec}-v1", "ratio": "H*W*3 / encoded bytes",
                "source": "decoded pixels of the stored (lossless PNG) image", **texture.codec_settings(codec)}
