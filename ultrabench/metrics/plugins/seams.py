"""Seam score: periodic gradient energy at tile strides (definition: `ultrabench.metrics.seams`)."""

from __future__ import annotations

from ultrabench.metrics.plugin import FeatureExtractor, Metric, Net


class Seams(FeatureExtractor):
    name = "seams"
    description = "no network: periodic gradient energy at tile strides of the native pixels (numpy, in the decode workers)"
    options_used = ("seam_strides",)
    metrics = (
        Metric("seam", "Seam score", False, "per_image", "native, luma gradient profiles",
               description="periodic gradient excess at tile strides (128..1024 px); ~0 without seams, about the "
                           "step in grey levels with one; the detected axis, stride and offset per image",
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
        rows = feats["seams"].reshape(n, -1)
        axes = ("columns", "rows")
        return [{"axis": axes[int(r[1])], "stride": int(r[2]), "offset": int(r[3]),
                 "score_columns": float(r[4]), "score_rows": float(r[5])} if int(r[2]) else
                {"axis": None, "stride": None, "offset": None, "score_columns": float(r[4]), "score_rows": float(r[5])}
                for r in rows]

    def protocol(self, metric):
        from ultrabench.metrics import seams

        return {"version": "seam@grad-q25-v1", "definition": "ultrabench.metrics.seams (module docstring)",
                "luma": "0.299 R + 0.587 G + 0.114 B, native pixels", "band_rows": seams.BAND,
                "baseline": f"median of the {2 * seams.NEIGHBOURS} nearest boundaries",
                "normalisation": "(g - baseline) / (mean g + 1)", "strides": self.options["seam_strides"],
                "per_stride": f"max over offsets of the lower quartile over >= {seams.MIN_REPEATS} repeats, less "
                              "the same over the texture periods 2..min(stride)/2",
                "detected_stride": f"smallest stride within {seams.FUNDAMENTAL} of the best; none below "
                                   f"{seams.DETECTED}"}
