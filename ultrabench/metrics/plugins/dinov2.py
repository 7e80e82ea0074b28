"""FD-DINOv2 (Stein et al., NeurIPS 2023) on the whole image and on the native crops of FID-patch."""

from __future__ import annotations

from ultrabench.metrics.plugin import FeatureExtractor, Metric

_FULL = "whole image squashed to 224x224 (PIL bicubic, antialiased)"
_PATCH = "299x299 native crops, each squashed to 224x224"


class DinoV2(FeatureExtractor):
    name = "dinov2"
    description = "DINOv2 ViT-L/14 CLS features, dgm-eval preprocessing (torch.hub file or facebook/dinov2-large)"
    extractor_module = "ultrabench.metrics.extractors.dinov2"
    extractor_class = "DinoV2Extractor"
    options_used = ("patch_crops", "crop_seed")
    metrics = (
        Metric("fd-dinov2", "FD-DINOv2", False, "set", _FULL, needs_reference=True, value_range=(0.0, None),
               description="Frechet distance on DINOv2 ViT-L/14 features (Stein et al. 2023; dgm-eval's protocol)",
               extractor="dinov2", view="full", feature="feat", statistic="frechet", decimals=1),
        Metric("fd-dinov2-patch", "FD-DINOv2-patch", False, "set", _PATCH, needs_reference=True,
               value_range=(0.0, None), description="FD-DINOv2 on the same native-resolution crops as FID-patch",
               extractor="dinov2", view="patch", feature="feat", statistic="frechet", decimals=1),
    )

    def views(self, net=None):
        from ultrabench.scoring.views import View

        # the patch view is FID-patch's own: one decode makes the crops for both networks
        return {"full": View.of("square", size=224, filter="bicubic"),
                "patch": View.of("crops-native", size=299, n=self.options["patch_crops"], seed=self.options["crop_seed"])}

    def forward(self, net, role, rows):
        return {"feat": net.model.image_features(rows)}

    def protocol(self, metric):
        view = ({"resize": "PIL bicubic (antialiased) squash to 224x224, uint8, as dgm-eval's torchvision Resize on "
                           "PIL images"} if metric.view == "full" else
                {"crop": [299, 299], "crops_per_image": self.options["patch_crops"], "crop_seed": self.options["crop_seed"],
                 "placement": "as FID-patch's crops", "resize": "each crop squashed to 224x224, PIL bicubic"})
        return {"version": f"{metric.name}@dgm-eval-v1", **view,
                "network": "DINOv2 ViT-L/14 (hub code), CLS token, /255, ImageNet mean/std",
                "stats": "mean, covariance ddof=1, float64; Frechet distance as FID's"}
