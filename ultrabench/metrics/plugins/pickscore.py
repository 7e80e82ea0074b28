"""PickScore_v1 (transformers CLIP) per image, and its win rates on matched (prompt id, sample index) pairs."""

from __future__ import annotations

from ultrabench.metrics.plugin import Metric, TextImageExtractor


class PickScore(TextImageExtractor):
    name = "pickscore"
    description = "PickScore_v1 (yuvalkirstain/PickScore_v1) with the CLIP-H processor"
    metrics = (
        Metric("pickscore", "PickScore", True, "per_image", "224x224 centre crop", needs_prompt=True,
               description="PickScore_v1; win rates of the reference method on matched (prompt, sample) pairs",
               extractor="pickscore", view="full", feature="emb", preference=True),
    )

    def weight_files(self):
        from ultrabench.metrics.extractors import pickscore as ps
        from ultrabench.weights import WeightFile

        return [WeightFile(ps.MODEL_REPO, None, role="pickscore", size_hint="3.9 GB",
                           allow_patterns=("*.json", "*.safetensors", "*.txt")),
                WeightFile(ps.PROCESSOR_REPO, None, role="pickscore_processor", allow_patterns=("*.json", "*.txt"))]

    def load(self, resolver, device):
        from ultrabench.metrics.extractors import pickscore as ps

        model_wf, proc_wf = self.weight_files()
        return self.wrap(ps.PickScorer.from_pretrained(resolver.resolve(model_wf), resolver.resolve(proc_wf), device))

    def standin(self, cache_dir, device):
        from ultrabench.metrics.extractors import pickscore as ps

        return self.wrap(ps.PickScorer.standin(cache_dir, device))

    def protocol(self, metric):
        return {"version": "pickscore@v1",
                "winrate": "pairs matched on (prompt_id, sample_index); win if s_A - s_B > tau, tie (0.5) if "
                           "|s_A - s_B| <= tau; mean_pref = mean sigmoid(s_A - s_B); p = two-sided sign test "
                           "on untied pairs"}
