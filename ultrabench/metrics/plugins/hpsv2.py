"""HPS v2.1 (xswu/HPSv2, HPS_v2.1_compressed.pt) on open_clip ViT-H-14, and its win rates."""

from __future__ import annotations

from ultrabench.metrics.plugin import WINRATE_PROTOCOL, Metric, TextImageExtractor


class HPSv2(TextImageExtractor):
    name = "hpsv2"
    description = "HPS v2.1 human preference score: open_clip ViT-H-14 with the HPS v2.1 checkpoint"
    extractor_module = "ultrabench.metrics.extractors.hpsv2"
    extractor_class = "HPSv2Extractor"
    metrics = (
        Metric("hpsv2.1", "HPSv2.1", True, "per_image", "longest side 224, zero padding", needs_prompt=True,
               description="HPS v2.1: 100 * cos(image, prompt) as the reference scores; win rates on matched pairs",
               extractor="hpsv2", view="full", feature="emb", preference=True),
    )

    def views(self, net=None):
        from ultrabench.scoring.views import View

        size = int(getattr(net.model, "image_size", 224)) if net is not None else 224
        return {"full": View.of("longest-side-pad", size=size)}

    def protocol(self, metric):
        return {"version": "hpsv2.1@open_clip-v1",
                "input": "longest side to 224 (bicubic on float pixels, antialiased as torchvision >= 0.17), "
                         "zero padding, /255, OpenAI mean/std",
                "score": "100 * cos(image, text), not clamped", "winrate": WINRATE_PROTOCOL}
