from __future__ import annotations

from pathlib import Path

import numpy as np

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def center_crop(img: np.ndarray, size: int, rounding: str) -> np.ndarray:
    """Centre crop of an (H, W, C) array; 'round' is torchvision's offset rule, 'floor' transformers'."""
    h, w = img.shape[:2]
    if h < size or w < size:
        raise ValueError(f"cannot centre-crop {h}x{w} to {size}")
    if rounding == "round":
        top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    else:
        top, left = (h - size) // 2, (w - size) // 2
    return img[top:top + size, left:left + size]


def normalize_batch(crops: list[np.ndarray], mean, std):
    import torch

    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255.0
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    return (x - m) / s


def path_sha256(path: str | Path) -> str:
    """One digest for a weight file, or for a model folder's weight and config files."""
    from ultrabench.hashing import combined_sha256

    return combined_sha256(path)


class EmbeddingScorer:
    """State shared by the CLIP and PickScore scorers: model on its device, provenance, text cache."""

    def __init__(self, model, tokenizer, device="cpu", model_id="", weights_sha256="injected",
                 random_weights=False, mean=OPENAI_MEAN, std=OPENAI_STD, image_size=224):
        import torch

        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.model_id = model_id
        self.weights_sha256 = weights_sha256
        self.random_weights = random_weights
        self.mean, self.std, self.image_size = mean, std, image_size
        self.calls = 0
        self._text_cache: dict = {}
