"""Long-CLIP-L (Zhang et al., ECCV 2024) through open_clip: CLIP score with a 248-token text context.

What differs from OpenAI CLIP ViT-L/14 (read from beichenzbc/Long-CLIP, `model/model_longclip.py`
and `model/longclip.py`): the text context is 248 tokens, and the text tower holds two positional
tables of 248 rows, `positional_embedding` and `positional_embedding_res`; a token at position
p < 20 gets the first table's row, one at p >= 20 the second's (`x + pos * mask1 + pos_res * mask2`,
masks of ones/zeros). The tables started as CLIP's 77 positions kept for the first 20 and stretched
4x by linear interpolation after them; fine-tuning then moved `positional_embedding_res` only.
Everything else (ViT-L/14 at 224, QuickGELU, EOT pooling, projections) is OpenAI CLIP.

So the checkpoint (`BeichenZhang/LongCLIP-L/longclip-L.pt`, a bare OpenAI-layout state dict) loads
into open_clip exactly: the two tables are merged row-wise into one 248-row `positional_embedding`
(bit-identical to the masked sum), after which `open_clip.model.build_model_from_openai_state_dict`
infers the 248-token context from its shape and loads every tensor strictly. As in the reference
(and open_clip's OpenAI loader) the linear weights are rounded to float16 on load; scoring runs in
float32 (the reference's CPU path; on CUDA it would run in float16).

Image input and score are those of the CLIP score: short side 224 (PIL bicubic), centre crop,
OpenAI mean/std, 100 * max(cos, 0). Text: the CLIP BPE tokenizer at 248 tokens; a longer prompt is
cut with EOT kept last (the reference's `tokenize(..., truncate=True)`; without it, it raises) and
flagged by `truncated()`.

Default weights: the authors' own release, BeichenZhang/LongCLIP-L, which the paper evaluates.
`zer0int/LongCLIP-L-Diffusers` is a third-party conversion to a transformers CLIPModel (and its
author also publishes fine-tuned variants under similar names); it is not read here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ultrabench.metrics.extractors._common import path_sha256
from ultrabench.metrics.extractors.clip import ClipScorer, token_count

HUB_REPO = "BeichenZhang/LongCLIP-L"
FILENAME = "longclip-L.pt"
CONTEXT = 248
KEEP = 20  # positions read from `positional_embedding`; later ones from `positional_embedding_res`
VIEW = ("short-side", {"size": 224})


def weight_files():
    from ultrabench.weights import WeightFile

    return [WeightFile(HUB_REPO, FILENAME, role="longclip", size_hint="about 1.7 GB")]


def merge_positional(state_dict: dict, source) -> dict:
    """The two positional tables as the one table the text tower adds (rows < KEEP from the first)."""
    from ultrabench.errors import UsageError

    pos, res = state_dict.get("positional_embedding"), state_dict.get("positional_embedding_res")
    if pos is None or res is None:
        raise UsageError(f"{source} is not a Long-CLIP checkpoint: it lacks "
                         f"{'positional_embedding' if pos is None else 'positional_embedding_res'}")
    if pos.shape != res.shape or pos.shape[0] != CONTEXT:
        raise UsageError(f"{source} is not a Long-CLIP checkpoint: positional tables of shape "
                         f"{tuple(pos.shape)} and {tuple(res.shape)}, expected {CONTEXT} rows each")
    out = {k: v for k, v in state_dict.items() if k != "positional_embedding_res"}
    out["positional_embedding"] = torch.cat([pos[:KEEP], res[KEEP:]])
    return out


def build_from_file(path: str | Path):
    """open_clip CLIP from a Long-CLIP state dict file; every tensor of the file is loaded."""
    return build_from_state_dict(torch.load(str(path), map_location="cpu", weights_only=True), path)


def build_from_state_dict(sd, source):
    from open_clip.model import build_model_from_openai_state_dict

    from ultrabench.errors import UsageError

    if not isinstance(sd, dict) or "visual.proj" not in sd:
        raise UsageError(f"{source} is not a Long-CLIP checkpoint: expected an OpenAI-layout ViT state dict")
    sd = merge_positional(sd, source)
    try:
        model = build_model_from_openai_state_dict(sd, quick_gelu=True, cast_dtype=None)
    except (RuntimeError, KeyError) as e:  # strict load_state_dict / a tensor the layout needs
        raise UsageError(f"{source} is not a Long-CLIP checkpoint: {str(e).strip().splitlines()[-1].strip()}") from e
    return model.float().eval()


def standin_file(cache_dir: Path, seed: int = 0) -> Path:
    """A random Long-CLIP laid out like longclip-L.pt: OpenAI keys, two 248-row positional tables."""
    p = Path(cache_dir) / f"standin-longclip-vit-tiny-seed{seed}.pt"
    if not p.is_file():
        from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

        from ultrabench.metrics.extractors.inception import _write_state_dict

        torch.manual_seed(seed)
        # heads = width // 64, the rule the OpenAI-layout loader infers them by
        m = CLIP(embed_dim=64, quick_gelu=True,
                 vision_cfg=CLIPVisionCfg(layers=2, width=64, patch_size=14, image_size=224),
                 text_cfg=CLIPTextCfg(context_length=CONTEXT, vocab_size=49408, width=64, heads=1, layers=2))
        sd = m.state_dict()
        pos = sd["positional_embedding"]
        sd["positional_embedding_res"] = pos + 0.01 * torch.randn_like(pos)  # fine-tuned apart from the first table
        p.parent.mkdir(parents=True, exist_ok=True)
        _write_state_dict(sd, p)
    return p


class LongClipScorer(ClipScorer):
    """The CLIP score with Long-CLIP's model and its 248-token context."""

    @classmethod
    def from_files(cls, checkpoint: str | Path, device="cpu", random_weights=False, name="LongCLIP-L"):
        from open_clip.tokenizer import SimpleTokenizer

        model = build_from_file(checkpoint)
        size = model.visual.image_size
        return cls(model, SimpleTokenizer(context_length=CONTEXT), device, (name, Path(checkpoint).name),
                   path_sha256(checkpoint), random_weights=random_weights,
                   image_size=int(size[0] if isinstance(size, (tuple, list)) else size))

    @classmethod
    def standin(cls, cache_dir: Path, device="cpu"):
        return cls.from_files(standin_file(cache_dir), device, random_weights=True, name="standin-vit-tiny")

    @property
    def id(self) -> str:
        return f"longclip:{self.model_id[0]}"

    def info(self) -> dict:
        return {**super().info(), "id": self.id, "context_length": CONTEXT, "precision": "float32",
                "weights": "linear weights rounded to float16 on load, as the reference and open_clip's OpenAI "
                           "loader do"}

    def truncated(self, text: str) -> bool:
        return token_count(self.tokenizer, text) > CONTEXT

    def image_features(self, views: list[np.ndarray]) -> np.ndarray:
        return self.image_embeddings(views)

    def text_features(self, texts: list[str]) -> np.ndarray:
        return self.text_embeddings(texts)


def load(resolver, device="cpu") -> LongClipScorer:
    (wf,) = weight_files()
    return LongClipScorer.from_files(resolver.resolve(wf), device)
