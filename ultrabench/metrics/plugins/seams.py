"""Seam score: the step at tile lines, against every other placement of the grid (definition:
`ultrabench.metrics.seams`); a unit record's tiling arrives as `ViewContext.tiling`."""

from __future__ import annotations

from ultrabench.metrics.plugin import FeatureExtractor, Metric, Net


class Seams(FeatureExtractor):
    name = "seams"
    version = "v2"  # the cached features changed (v1 caches must not be read as v2)
    description = "no network: colour steps and blurred bands at tile lines of the native pixels (numpy, in the decode workers)"
    options_used = ("seam_strides",)
    metrics = (
        Metric("seam", "Seam score", False, "per_image", "native, Y/Cb/Cr steps and blur at tile lines",
               description="median step (grey levels) at the tile lines detected against every other placement of "
                           "the grid; 0 without seams; axis, stride, offset, kind and z per image",
               value_range=(0.0, None), extractor="seams", view="seams", feature="seams"),
    )

    def views(self, net=None):
        from ultrabench.scoring.views import View

        return {"seams": View.of("seams", strides=self.options["seam_strides"])}

    def _net(self) -> Net:
        return Net(None, "seams", "none", False, {"input": "native pixels"})

    def load(self, resolver, device):
        return self._net()

    def standin(self, cache_dir, device):
        return self._net()

    def forward(self, net, role, rows):
        import numpy as np

        return {"seams": np.stack([np.asarray(r, dtype=np.float64) for r in rows])}

    def per_image(self, net, metric, feats, prompts):
        return feats["seams"].reshape(len(prompts), -1)[:, 0].astype("float64")

    def details(self, net, metric, feats, n):
        from ultrabench.metrics import seams

        rows = feats["seams"].reshape(n, -1)
        axes = ("columns", "rows")
        out = []
        for r in rows:
            found = int(r[3]) > 0
            out.append({"step_grey_levels": float(r[0]), "z": round(float(r[1]), 3),
                        "axis": axes[int(r[2])] if found else None, "stride": int(r[3]) if found else None,
                        "offset": int(r[4]) if found else None, "kind": seams.KINDS[int(r[5])] if found else None,
                        "z_columns": round(float(r[6]), 3), "z_rows": round(float(r[7]), 3)})
        return out

    def protocol(self, metric):
        from ultrabench.metrics import seams

        return {"version": "seam@step-null-v2", "definition": "ultrabench.metrics.seams (module docstring)",
                "channels": "Y, Cb, Cr (BT.601, grey levels), native pixels", "band_rows": seams.BAND,
                "step": f"{seams.WINDOW}-pixel means either side, less a linear ramp; squared, less the median "
                        f"{seams.BASE_NEAR}..{seams.BASE_FAR} boundaries away, median over bands, signed sqrt",
                "blur": "loss of mean |dY| over 5 boundaries against the same baseline",
                "strides": self.options["seam_strides"], "offsets": "0 (lines from the image corner)",
                "null_phase": seams.PHASE,
                "known_tiling": "from the unit record (info.vae_tiling or info.seam_tiling): that stride only, "
                                "offsets 0 and (tile - stride) mod stride, from one line",
                "null": "robust z against the offsets of the same stride in the same phase modulo null_phase", "detect_z": seams.DETECT_Z,
                "detect_z_known_tiling": seams.DETECT_Z_KNOWN, "min_step": seams.MIN_STEP,
                "periodic_refused": f"luma periodic at stride or twice it ({seams.PERIODIC} of nearby shifts)",
                "value": "median step at the detected lines in grey levels; 0 when none detected"}
