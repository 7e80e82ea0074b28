"""HPSv2.1 (Human Preference Score v2.1, Wu et al. 2023) on open_clip: 100 * cos(image, text).

Model: open_clip's CLIP built with the ViT-H-14 architecture (GELU, not QuickGELU; the HPS
repository's copy of that config is identical to open_clip's) and loaded with the HPS v2.1 file
`xswu/HPSv2/HPS_v2.1_compressed.pt`. That file is a dict whose "state_dict" entry holds exactly the
tensors of that CLIP, unprefixed: the reference scorer (`hpsv2/img_score.py`, `evaluation.py`)
loads it with a strict `model.load_state_dict(checkpoint['state_dict'])`. Loaded strictly here too;
other top-level entries of the dict are ignored.

Image input: the `longest-side-pad` view (`ultrabench.scoring.views.longest_side_pad`: longest side to 224, bicubic on float
pixels, black padding), /255, OpenAI mean/std. Text: open_clip's tokenizer, context 77, EOT kept
last when truncated.

Score: 100 * <image_features, text_features> with both L2-normalised, as `hpsv2.evaluate` and the
README benchmark tables report it (`hpsv2.score()` returns the same number / 100). No clamping,
unlike CLIP score. The reference runs under CUDA autocast (fp16); this runs in float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ultrabench.metrics.extractors._checkpoint import load_strict
from ultrabench.metrics.extractors._common import normalize_batch, path_sha256
from ultrabench.metrics.extractors.clip import CONTEXT, ClipScorer

VIEW_KIND = "longest-side-pad"

HUB_REPO = "xswu/HPSv2"
FILENAME = "HPS_v2.1_compressed.pt"
IMAGE_SIZE = 224
VIEW = (VIEW_KIND, {"size": IMAGE_SIZE})

# open_clip's ViT-H-14 (model_configs/ViT-H-14.json), which HPS v2.1 fine-tunes
ARCH = {"embed_dim": 1024,
        "vision_cfg": {"image_size": IMAGE_SIZE, "layers": 32, "width": 1280, "head_width": 80, "patch_size": 14},
        "text_cfg": {"context_length": CONTEXT, "vocab_size": 49408, "width": 1024, "heads": 16, "layers": 24}}
STANDIN_ARCH = {"embed_dim": 64,
                "vision_cfg": {"image_size": IMAGE_SIZE, "layers": 2, "width": 64, "head_width": 32, "patch_size": 14},
                "text_cfg": {"context_length": CONTEXT, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2}}


def weight_files():
    from ultrabench.weights import WeightFile

    return [WeightFile(HUB_REPO, FILENAME, role="hpsv2.1")]


def build_clip(arch: dict):
    from open_clip.model import CLIP

    return CLIP(embed_dim=arch["embed_dim"], vision_cfg=dict(arch["vision_cfg"]), text_cfg=dict(arch["text_cfg"]),
                quick_gelu=False)


def read_state_dict(path: str | Path) -> dict:
    from ultrabench.errors import UsageError

    ck = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(ck, dict) or not isinstance(ck.get("state_dict"), dict):
        raise UsageError(f"{path} is not an HPS checkpoint: expected a dict with a 'state_dict' entry, "
                         f"as {HUB_REPO}/{FILENAME} holds")
    return ck["state_dict"]


def standin_file(cache_dir: Path, seed: int = 0) -> Path:
    """A random stand-in laid out like the real file: {'state_dict': <open_clip CLIP state dict>}."""
    p = Path(cache_dir) / f"standin-hpsv2.1-vit-tiny-seed{seed}.pt"
    if not p.is_file():
        from ultrabench.metrics.extractors.inception import _write_state_dict

        p.parent.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(seed)
        _write_state_dict({"state_dict": build_clip(STANDIN_ARCH).state_dict()}, p)
    return p


class HPSv2Extractor(ClipScorer):
    """The CLIP scorer's model, text path and cache; HPS's own image view and score."""

    @classmethod
    def from_files(cls, checkpoint: str | Path, device="cpu", arch: dict = ARCH, random_weights=False,
                   name="ViT-H-14"):
        from open_clip.tokenizer import SimpleTokenizer

        model = build_clip(arch)
        load_strict(model, read_state_dict(checkpoint), checkpoint, "HPS v2.1 (open_clip ViT-H-14)")
        return cls(model, SimpleTokenizer(context_length=CONTEXT), device, (name, Path(checkpoint).name),
                   path_sha256(checkpoint), random_weights=random_weights, image_size=arch["vision_cfg"]["image_size"])

    @classmethod
    def standin(cls, cache_dir: Path, device="cpu"):
        return cls.from_files(standin_file(cache_dir), device, arch=STANDIN_ARCH, random_weights=True,
                              name="standin-vit-tiny")

    @property
    def id(self) -> str:
        return f"hpsv2.1:{self.model_id[0]}"

    def info(self) -> dict:
        return {"id": self.id, "weights_sha256": self.weights_sha256, "random_weights": self.random_weights,
                "input": f"longest side {self.image_size} (bicubic on float pixels, antialiased), zero padding "
                         "to a square, /255, OpenAI mean/std",
                "score": "100 * cos(image, text), not clamped", "context_length": CONTEXT, "precision": "float32"}

    def preprocess(self, views: list[np.ndarray]):
        return normalize_batch(views, self.mean, self.std)  # float views: no crop, /255 and mean/std

    def image_features(self, views: list[np.ndarray]) -> np.ndarray:
        return self.image_embeddings(views)

    def text_features(self, texts: list[str]) -> np.ndarray:
        return self.text_embeddings(texts)

    @staticmethod
    def score(img_feats: np.ndarray, txt_feats: np.ndarray) -> np.ndarray:
        return 100.0 * (img_feats * txt_feats).sum(axis=1)


def load(resolver, device="cpu") -> HPSv2Extractor:
    (wf,) = weight_files()
    return HPSv2Extractor.from_files(resolver.resolve(wf), device)
