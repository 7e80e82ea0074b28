"""CLIP score with open_clip (ViT-L-14/openai by default): 100 * max(cos(image, prompt), 0)."""

from __future__ import annotations

from pathlib import Path

from ultrabench.metrics.plugin import Metric, TextImageExtractor


class Clip(TextImageExtractor):
    name = "clip"
    description = "open_clip CLIP image and text towers (ViT-L-14/openai by default, `clip_model` to change)"
    options_used = ("clip_model",)
    metrics = (
        Metric("clip", "CLIP", True, "per_image", "224x224 centre crop", needs_prompt=True, paper=True,
               description="100 * max(cos, 0) between image and prompt, open_clip ViT-L-14/openai by default",
               value_range=(0.0, 100.0), extractor="clip", view="full", feature="emb"),
    )

    @property
    def model_tag(self) -> tuple[str, str]:
        name, tag = self.options["clip_model"]
        return str(name), str(tag)

    def weight_files(self):
        """The hub file open_clip loads for (model, tag): the safetensors one, or the .bin when present."""
        return clip_weight_files(self.model_tag)[:1]

    def load(self, resolver, device):
        from ultrabench.metrics.extractors.clip import ClipScorer

        name, tag = self.model_tag
        tag_is_file = Path(tag).expanduser().is_file()
        return self.wrap(ClipScorer.from_pretrained(name, resolve_clip(resolver, (name, tag)), device,
                                                    tag=None if tag_is_file else tag))

    def standin(self, cache_dir, device):
        from ultrabench.metrics.extractors.clip import ClipScorer

        return self.wrap(ClipScorer.standin(cache_dir, device))

    def protocol(self, metric):
        return {"version": "clip@open_clip-v1"}


def clip_weight_files(clip_model=("ViT-L-14", "openai")):
    """The hub files open_clip may load for a (model, tag); the first present one is used."""
    from open_clip.pretrained import get_pretrained_cfg

    from ultrabench.weights import WeightFile

    hub = (get_pretrained_cfg(*clip_model) or {}).get("hf_hub", "").rstrip("/")
    if not hub:
        return []
    return [WeightFile(hub, fn, role="clip", size_hint="1.7 GB")
            for fn in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")]


def resolve_clip(resolver, clip_model) -> Path:
    """A local path for open_clip: an existing file path as the tag, or the tag's HF hub file."""
    name, tag = clip_model
    if Path(str(tag)).expanduser().is_file():
        return Path(tag).expanduser()
    from ultrabench.errors import MissingWeightsError

    files = clip_weight_files(clip_model)
    if not files:
        raise MissingWeightsError(f"open_clip has no hub location for {name}/{tag}; pass a local weights file as the tag")
    for wf in files:
        found = resolver.status(wf).path
        if found is not None:
            return found
    return resolver.resolve(files[0])
