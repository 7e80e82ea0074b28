"""Long-prompt alignment: Long-CLIP-L's 248-token text context beside the CLIP score's 77."""

from __future__ import annotations

from ultrabench.metrics.plugin import Metric, TextImageExtractor


class LongClip(TextImageExtractor):
    name = "longclip"
    description = "Long-CLIP-L (BeichenZhang/LongCLIP-L): CLIP score with a 248-token text context"
    extractor_module = "ultrabench.metrics.extractors.longclip"
    extractor_class = "LongClipScorer"
    metrics = (
        Metric("longclip", "Long-CLIP", True, "per_image", "224x224 centre crop", needs_prompt=True,
               description="100 * max(cos, 0) with Long-CLIP-L, whose text context is 248 tokens (CLIP: 77)",
               value_range=(0.0, 100.0), extractor="longclip", view="full", feature="emb"),
    )

    def protocol(self, metric):
        return {"version": "longclip@248-v1", "context_length": 248,
                "positions": "the first 20 positional embeddings as trained, later ones from the stretched table",
                "score": "100 * max(cos(image, text), 0), as the CLIP score"}
