"""CLIP score with open_clip: 100 * max(cos(image, text), 0) per image.

Image input: short side to 224 with PIL bicubic, then torchvision's centre crop (offsets rounded),
OpenAI mean/std: the eval transform of open_clip's `resize_mode='shortest'` models. Text: open_clip's
tokenizer with context 77; longer prompts are truncated (EOT kept last) and flagged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ultrabench.metrics.extractors._common import (
    OPENAI_MEAN,
    OPENAI_STD,
    EmbeddingScorer,
    center_crop,
    normalize_batch,
    path_sha256,
)

CONTEXT = 77


def build_standin_clip(seed: int = 0):
    """A small open_clip CLIP (ViT image tower, transformer text tower, BPE vocab 49408)."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    torch.manual_seed(seed)
    m = CLIP(embed_dim=64,
             vision_cfg=CLIPVisionCfg(layers=2, width=64, head_width=32, patch_size=32, image_size=224),
             text_cfg=CLIPTextCfg(context_length=CONTEXT, vocab_size=49408, width=64, heads=2, layers=2))
    return m.eval()


def standin_clip_file(cache_dir: Path, seed: int = 0) -> Path:
    p = Path(cache_dir) / f"standin-open-clip-vit-tiny-seed{seed}.pt"
    if not p.is_file():
        p.parent.mkdir(parents=True, exist_ok=True)
        from ultrabench.metrics.extractors.inception import _write_state_dict

        _write_state_dict(build_standin_clip(seed).state_dict(), p)
    return p


def token_count(tokenizer, text: str) -> int:
    """Tokens including start and end markers, before truncation."""
    return len(tokenizer.encode(text)) + 2


class ClipScorer(EmbeddingScorer):
    def __init__(self, model, tokenizer, device="cpu", model_id=("ViT-L-14", "openai"), *args, **kw):
        super().__init__(model, tokenizer, device, tuple(model_id), *args, **kw)

    @classmethod
    def standin(cls, cache_dir: Path, device="cpu"):
        from open_clip.tokenizer import SimpleTokenizer

        p = standin_clip_file(cache_dir)
        m = build_standin_clip()
        m.load_state_dict(torch.load(p, map_location="cpu", weights_only=True))
        return cls(m, SimpleTokenizer(context_length=CONTEXT), device, ("standin-vit-tiny", "random"),
                   path_sha256(p), random_weights=True)

    @classmethod
    def from_pretrained(cls, model_name: str, weights_path: str | Path, device="cpu", tag: str | None = None):
        """open_clip `model_name` with the weights file at `weights_path`.

        `tag` (e.g. "openai") supplies what a bare file cannot: open_clip reads QuickGELU and the
        preprocessing from the tag's pretrained config, and given only a path it builds plain GELU,
        which changes every score of the OpenAI weights without a word.
        """
        import open_clip
        from open_clip.pretrained import get_pretrained_cfg

        from ultrabench.errors import UsageError

        cfg = (get_pretrained_cfg(model_name, tag) if tag else None) or {}
        pre = {k: cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in cfg}
        model = open_clip.create_model(model_name, pretrained=str(weights_path), device=device,
                                       force_quick_gelu=bool(cfg.get("quick_gelu")), force_preprocess_cfg=pre or None)
        pp = getattr(model.visual, "preprocess_cfg", None) or {}
        if pp.get("interpolation", "bicubic") != "bicubic" or pp.get("resize_mode", "shortest") != "shortest":
            raise UsageError(f"open_clip {model_name}/{tag or Path(weights_path).name} preprocesses with "
                             f"{pp.get('interpolation')} interpolation and resize mode {pp.get('resize_mode')!r}; "
                             "the clip metric implements bicubic, shortest-side resize only")
        size = model.visual.image_size
        return cls(model, open_clip.get_tokenizer(model_name), device, (model_name, tag or Path(weights_path).name),
                   path_sha256(weights_path), mean=tuple(pp.get("mean", OPENAI_MEAN)),
                   std=tuple(pp.get("std", OPENAI_STD)), image_size=int(size[0] if isinstance(size, (tuple, list)) else size))

    @property
    def id(self) -> str:
        return f"open_clip:{self.model_id[0]}/{self.model_id[1]}"

    def info(self) -> dict:
        return {"id": self.id, "weights_sha256": self.weights_sha256, "random_weights": self.random_weights,
                "input": f"short side {self.image_size} PIL bicubic, centre crop (torchvision rounding), OpenAI mean/std",
                "score": "100 * max(cos, 0)", "context_length": CONTEXT}

    def preprocess(self, short_side_images: list[np.ndarray]):
        return normalize_batch([center_crop(a, self.image_size, "round") for a in short_side_images], self.mean, self.std)

    @torch.inference_mode()
    def image_embeddings(self, short_side_images: list[np.ndarray]) -> np.ndarray:
        x = self.preprocess(short_side_images).to(self.device)
        self.calls += x.shape[0]
        e = self.model.encode_image(x)
        return torch.nn.functional.normalize(e.float(), dim=-1).double().cpu().numpy()

    def truncated(self, text: str) -> bool:
        enc = getattr(self.tokenizer, "encode", None)
        return enc is not None and token_count(self.tokenizer, text) > CONTEXT

    @torch.inference_mode()
    def text_embeddings(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._text_cache]
        if missing:
            tok = self.tokenizer(missing).to(self.device)
            e = torch.nn.functional.normalize(self.model.encode_text(tok).float(), dim=-1).double().cpu().numpy()
            self._text_cache.update(zip(missing, e))
        return np.stack([self._text_cache[t] for t in texts])

    @staticmethod
    def score(img_emb: np.ndarray, txt_emb: np.ndarray) -> np.ndarray:
        return 100.0 * np.maximum((img_emb * txt_emb).sum(axis=1), 0.0)
