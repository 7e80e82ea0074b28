"""ImageReward v1.0 (THUDM/ImageReward): a BLIP text encoder cross-attending to the image, one reward
per (image, prompt); win rates on matched pairs."""

from __future__ import annotations

import numpy as np

from ultrabench.metrics.plugin import WINRATE_PROTOCOL, FeatureExtractor, Metric


class ImageReward(FeatureExtractor):
    name = "imagereward"
    description = "ImageReward v1.0: BLIP ViT-L image tokens, BERT text encoder with cross-attention, MLP head"
    extractor_module = "ultrabench.metrics.extractors.imagereward"
    extractor_class = "ImageRewardScorer"
    prompted = True  # the prompt enters the forward (cross-attention), so features are per (image, prompt)
    metrics = (
        Metric("imagereward", "ImageReward", True, "per_image", "224x224 centre crop", needs_prompt=True,
               description="ImageReward v1.0 reward, standardised as the reference; win rates on matched pairs",
               extractor="imagereward", view="full", feature="reward", preference=True),
    )

    def views(self, net=None):
        from ultrabench.scoring.views import View

        size = int(getattr(net.model, "image_size", 224)) if net is not None else 224
        return {"full": View.of("short-side", size=size)}

    def forward(self, net, role, rows):
        views, prompts = [r[0] for r in rows], [r[1] for r in rows]
        return {"reward": np.asarray(net.model.rewards(views, prompts), dtype=np.float64)}

    def prompt_flags(self, net, prompt):
        return ["prompt_truncated"] if net.model.truncated(prompt) else []

    def protocol(self, metric):
        from ultrabench.metrics.extractors.imagereward import PROMPT_TOKENS, REWARD_MEAN, REWARD_STD

        return {"version": "imagereward@v1.0-v1",
                "input": "short side 224 PIL bicubic, centre crop, OpenAI mean/std",
                "text": f"bert-base-uncased, padded and truncated to {PROMPT_TOKENS} tokens",
                "score": f"(head(text encoder [CLS] | image tokens) - {REWARD_MEAN}) / {REWARD_STD}",
                "winrate": WINRATE_PROTOCOL}
