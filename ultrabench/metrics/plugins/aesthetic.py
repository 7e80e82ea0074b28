"""LAION aesthetic predictor v2 on the CLIP score's own ViT-L/14 image embeddings (no second forward)."""

from __future__ import annotations

import numpy as np

from ultrabench.metrics.plugin import FeatureExtractor, Metric

EMBEDDER = ("ViT-L-14", "openai")


class LaionAesthetic(FeatureExtractor):
    name = "laion-aesthetic"
    description = "LAION improved aesthetic predictor (sac+logos+ava1-l14-linearMSE) on CLIP ViT-L/14 embeddings"
    options_used = ("clip_model",)
    extractor_module = "ultrabench.metrics.extractors.aesthetic"
    extractor_class = "LaionAestheticHead"  # its stand-in takes the stand-in CLIP's 64-wide embeddings
    source = "clip"  # a derived extractor: it reads the clip extractor's cached embeddings
    metrics = (
        Metric("aesthetic", "Aesthetic", True, "per_image", "CLIP ViT-L/14 image embedding (224 centre crop)",
               description="LAION aesthetic v2: linear MLP on the L2-normalised CLIP ViT-L/14 image embedding",
               value_range=(0.0, 10.0), extractor="laion-aesthetic", view="full", feature="score",
               extractor_options=(("clip_model", EMBEDDER),)),
    )

    def load(self, resolver, device):
        from ultrabench.errors import UsageError

        if tuple(self.options["clip_model"]) != EMBEDDER:
            raise UsageError(f"the LAION aesthetic predictor was trained on CLIP {EMBEDDER[0]}/{EMBEDDER[1]} "
                             f"embeddings, not {self.options['clip_model'][0]}/{self.options['clip_model'][1]}")
        return super().load(resolver, device)

    def forward(self, net, role, rows):
        emb = np.stack([np.asarray(r["emb"], dtype=np.float64) for r in rows])
        return {"score": net.model.image_features(emb)[:, 0]}

    def protocol(self, metric):
        return {"version": "aesthetic@laion-v2-v1",
                "input": "the clip metric's cached ViT-L/14 (openai) image embeddings, L2-normalised",
                "head": "Linear 768-1024-128-64-16-1, no activations, dropout off (improved-aesthetic-predictor)"}
