"""PickScore_v1 through transformers: per-image score logit_scale.exp() * cos(image, text).

Image input: short side 224 with PIL bicubic, centre crop with transformers' (floor) offsets,
the processor's mean/std: the PIL ("slow") path of CLIPImageProcessor, which is what the
PickScore authors ran (transformers 5 calls it CLIPImageProcessorPil; its default, torchvision-backed
CLIPImageProcessor moves about 0.5% of pixels by one grey level). Text: padding, truncation at 77
tokens. The processor's settings are checked on load: another short side or resample is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ultrabench.metrics.extractors._common import (
    EmbeddingScorer,
    center_crop,
    normalize_batch,
    path_sha256,
)

MODEL_REPO = "yuvalkirstain/PickScore_v1"
PROCESSOR_REPO = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
CONTEXT = 77


def _unwrap(out):
    # transformers >= 5 returns a ModelOutput whose pooler_output is the projected embedding
    return getattr(out, "pooler_output", out)


def build_standin_pickscore(seed: int = 0):
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(seed)
    cfg = CLIPConfig(
        text_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                         max_position_embeddings=CONTEXT, vocab_size=49408, eos_token_id=49407, bos_token_id=49406,
                         pad_token_id=0),
        vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                           image_size=224, patch_size=32),
        projection_dim=64,
    )
    return CLIPModel(cfg).eval()


def standin_pickscore_dir(cache_dir: Path, seed: int = 0) -> Path:
    d = Path(cache_dir) / f"standin-pickscore-clip-tiny-seed{seed}"
    if not (d / "config.json").is_file():
        tmp = d.with_name(d.name + f".tmp{os.getpid()}")
        build_standin_pickscore(seed).save_pretrained(tmp)
        if d.exists():
            import shutil

            shutil.rmtree(d)
        os.replace(tmp, d)
    return d


class _HFTokenizer:
    def __init__(self, tok):
        self.tok = tok

    def __call__(self, texts):
        enc = self.tok(texts, padding=True, truncation=True, max_length=CONTEXT, return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def count(self, text: str) -> int:
        # verbose=False: measuring a long prompt is the point here, so no "indexing errors" warning
        return len(self.tok(text, truncation=False, verbose=False)["input_ids"])


class PickScorer(EmbeddingScorer):
    def __init__(self, model, tokenizer, device="cpu", model_id=MODEL_REPO, *args, **kw):
        super().__init__(model, tokenizer, device, model_id, *args, **kw)

    @classmethod
    def standin(cls, cache_dir: Path, device="cpu"):
        from transformers import CLIPModel

        from ultrabench.tiny.tokenizer import build_clip_tokenizer

        d = standin_pickscore_dir(cache_dir)
        # The same tokenizer class and vocabulary as the real processor's, built offline.
        return cls(CLIPModel.from_pretrained(d), _HFTokenizer(build_clip_tokenizer()), device, "standin-clip-tiny (transformers)",
                   path_sha256(d), random_weights=True)

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, processor_dir: str | Path, device="cpu"):
        from transformers import AutoTokenizer, CLIPImageProcessor, CLIPModel

        from ultrabench.errors import UsageError
        from ultrabench.scoring.decode import CLIP_SHORT_SIDE

        model = CLIPModel.from_pretrained(model_dir)
        ip = CLIPImageProcessor.from_pretrained(processor_dir)
        # transformers 4 keeps sizes as dicts, 5 as SizeDict (indexable too); very old configs as ints
        crop = ip.crop_size if isinstance(ip.crop_size, int) else ip.crop_size["height"]
        short = ip.size if isinstance(ip.size, int) else ip.size["shortest_edge"]
        # the engine hands every scorer the one short-side-224 bicubic resize it made while decoding
        if short != CLIP_SHORT_SIDE or int(ip.resample) != 3 or not ip.do_center_crop:
            raise UsageError(f"PickScore processor in {processor_dir} resizes the short side to {short} with "
                             f"resample {int(ip.resample)}; the pickscore metric implements {CLIP_SHORT_SIDE}, "
                             "bicubic (3), centre crop")
        return cls(model, _HFTokenizer(AutoTokenizer.from_pretrained(processor_dir)), device, MODEL_REPO,
                   path_sha256(model_dir), mean=tuple(ip.image_mean), std=tuple(ip.image_std), image_size=crop)

    @property
    def id(self) -> str:
        return f"transformers:{self.model_id}"

    def info(self) -> dict:
        return {"id": self.id, "weights_sha256": self.weights_sha256, "random_weights": self.random_weights,
                "processor": PROCESSOR_REPO, "score": "logit_scale.exp() * cos",
                "input": f"short side {self.image_size} PIL bicubic, centre crop (transformers floor), processor mean/std"}

    def preprocess(self, short_side_images: list[np.ndarray]):
        return normalize_batch([center_crop(a, self.image_size, "floor") for a in short_side_images], self.mean, self.std)

    @torch.inference_mode()
    def image_embeddings(self, short_side_images: list[np.ndarray]) -> np.ndarray:
        x = self.preprocess(short_side_images).to(self.device)
        self.calls += x.shape[0]
        e = _unwrap(self.model.get_image_features(pixel_values=x))
        return torch.nn.functional.normalize(e.float(), dim=-1).double().cpu().numpy()

    def truncated(self, text: str) -> bool:
        return self.tokenizer.count(text) > CONTEXT

    @torch.inference_mode()
    def text_embeddings(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._text_cache]
        if missing:
            enc = {k: v.to(self.device) for k, v in self.tokenizer(missing).items()}
            e = _unwrap(self.model.get_text_features(**enc))
            e = torch.nn.functional.normalize(e.float(), dim=-1).double().cpu().numpy()
            self._text_cache.update(zip(missing, e))
        return np.stack([self._text_cache[t] for t in texts])

    @property
    def logit_scale(self) -> float:
        return float(self.model.logit_scale.detach().exp())

    def score(self, img_emb: np.ndarray, txt_emb: np.ndarray) -> np.ndarray:
        return self.logit_scale * (img_emb * txt_emb).sum(axis=1)
