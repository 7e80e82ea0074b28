"""LAION aesthetic predictor v2 (the "improved aesthetic predictor", `sac+logos+ava1-l14-linearMSE.pth`)
as a head on the CLIP ViT-L/14 (OpenAI) image embedding that the CLIP score already computes.

Upstream (christophschuhmann/improved-aesthetic-predictor, `simple_inference.py`): OpenAI
`clip.load("ViT-L/14")` and its preprocess (short side to 224 with PIL bicubic, centre crop 224,
OpenAI mean/std), `encode_image`, L2 normalisation (a zero norm left as is), then five Linear
layers 768 -> 1024 -> 128 -> 64 -> 16 -> 1 with Dropout after the first three (identity at
inference) and no activation at all: the score is an affine function of the unit embedding. The
file is that MLP's state dict, keys `layers.{0,2,4,6,7}.{weight,bias}`, float32.

`ClipScorer` with ("ViT-L-14", "openai") produces exactly that embedding: `resize_short_side` plus
the torchvision-rounded centre crop is what `Resize(224)` + `CenterCrop(224)` do to a PIL image, the
OpenAI mean/std, open_clip's ViT-L-14 with QuickGELU and the OpenAI weights, L2-normalised. Two
differences, both outside generated RGB images at fp32: upstream converts to RGB after resizing (an
RGBA file is resized premultiplied by Pillow; the decode worker drops alpha first), and on CUDA
`clip.load` keeps fp16 weights, so upstream's own embeddings carry fp16 rounding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ultrabench.metrics.extractors._common import path_sha256

EMBEDDER = ("ViT-L-14", "openai")  # the ClipScorer whose image_embeddings feed this head
VIEW = ("short-side", {"size": 224})  # that scorer's view; the head adds no forward of its own
FILENAME = "sac+logos+ava1-l14-linearMSE.pth"
GITHUB_REPO = "christophschuhmann/improved-aesthetic-predictor"
GITHUB_URL = f"https://github.com/{GITHUB_REPO}/raw/main/sac%2Blogos%2Bava1-l14-linearMSE.pth"
# sha256 of the file in the GitHub repository (commit 6934dd8); hub copies are compared with it
PUBLISHED_SHA256 = "21dd590f3ccdc646f0d53120778b296013b096a035a2718c9cb0d511bff0f1e0"
HF_MIRRORS = ("camenduru/improved-aesthetic-predictor", "sitatech/aesthetic-predictor-v2")
LAYER_INDEX = (0, 2, 4, 6, 7)  # positions of the Linear layers in upstream's nn.Sequential
WIDTHS = (1024, 128, 64, 16, 1)
EMBED_DIM = 768


def layer_shapes(input_dim: int = EMBED_DIM) -> dict[str, tuple[int, ...]]:
    out, fan_in = {}, input_dim
    for i, w in zip(LAYER_INDEX, WIDTHS):
        out[f"layers.{i}.weight"], out[f"layers.{i}.bias"] = (w, fan_in), (w,)
        fan_in = w
    return out


def _check_state_dict(sd: dict, path, input_dim: int | None) -> int:
    """The embedding width the file expects; any other key set or shape is refused in one line."""
    from ultrabench.errors import UsageError

    if not isinstance(sd, dict) or "layers.0.weight" not in sd:
        raise UsageError(f"{path} is not an aesthetic-predictor MLP state dict (no layers.0.weight)")
    dim = int(sd["layers.0.weight"].shape[1]) if input_dim is None else input_dim
    want = layer_shapes(dim)
    extra, missing = sorted(set(sd) - set(want)), sorted(set(want) - set(sd))
    if extra or missing:
        raise UsageError(f"{path}: unexpected keys {extra[:3]}, missing keys {missing[:3]} for the "
                         f"aesthetic MLP {dim}-{'-'.join(map(str, WIDTHS))}")
    bad = [k for k, s in want.items() if tuple(sd[k].shape) != s]
    if bad:
        raise UsageError(f"{path}: {bad[0]} has shape {tuple(sd[bad[0]].shape)}, expected {want[bad[0]]}")
    return dim


class LaionAestheticHead:
    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]], device="cpu", weights_sha256="injected",
                 random_weights=False):
        self.layers = layers
        self.input_dim = layers[0][0].shape[1]
        self.device = device  # numpy on the host: five small matmuls per batch
        self.weights_sha256 = weights_sha256
        self.random_weights = random_weights
        self.id = "laion-aesthetic-v2:" + ("standin" if random_weights else "sac+logos+ava1-l14-linearMSE")

    @classmethod
    def from_files(cls, path: str | Path, device="cpu", input_dim: int | None = EMBED_DIM, random_weights=False):
        import torch

        sd = torch.load(str(path), map_location="cpu", weights_only=True)
        _check_state_dict(sd, path, input_dim)
        layers = [(sd[f"layers.{i}.weight"].double().numpy(), sd[f"layers.{i}.bias"].double().numpy())
                  for i in LAYER_INDEX]
        return cls(layers, device, path_sha256(path), random_weights)

    @classmethod
    def standin(cls, cache_dir: Path, device="cpu", input_dim: int = 64):
        """The real MLP widths on the stand-in CLIP's embedding width (64), seeded random weights."""
        return cls.from_files(standin_aesthetic_file(cache_dir, input_dim), device, input_dim, random_weights=True)

    def info(self) -> dict:
        return {"id": self.id, "weights_sha256": self.weights_sha256, "random_weights": self.random_weights,
                "published_file": self.weights_sha256 == PUBLISHED_SHA256,
                "input": f"L2-normalised CLIP {EMBEDDER[0]}/{EMBEDDER[1]} image embedding ({self.input_dim}) from "
                         "the clip metric's forward: short side 224 PIL bicubic, centre crop (torchvision rounding), "
                         "OpenAI mean/std",
                "score": f"linear MLP {self.input_dim}-{'-'.join(map(str, WIDTHS))} (no activations; dropout off)"}

    def check_embedder(self, scorer) -> None:
        """Refuse a CLIP whose embeddings this head was not trained on."""
        from ultrabench.errors import UsageError

        width = int(getattr(scorer.model, "embed_dim", 0) or scorer.model.visual.output_dim)
        if width != self.input_dim:
            raise UsageError(f"the aesthetic head takes {self.input_dim}-wide CLIP embeddings; "
                             f"{scorer.id} gives {width}")
        if not self.random_weights and tuple(scorer.model_id) != EMBEDDER:
            raise UsageError(f"the LAION aesthetic predictor was trained on CLIP {EMBEDDER[0]}/{EMBEDDER[1]} "
                             f"embeddings, not {scorer.id} (clip_model={EMBEDDER})")

    def image_features(self, clip_embeddings: np.ndarray) -> np.ndarray:
        """(n, d) image embeddings of the EMBEDDER ClipScorer -> (n, 1) aesthetic scores, float64."""
        x = np.asarray(clip_embeddings, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValueError(f"aesthetic head: expected (n, {self.input_dim}) embeddings, got {x.shape}")
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.where(norm == 0, 1.0, norm)  # upstream's normalized(): idempotent on unit rows
        for w, b in self.layers:
            x = x @ w.T + b
        return x

    @staticmethod
    def score(feats: np.ndarray) -> np.ndarray:
        return np.asarray(feats)[:, 0]


def standin_aesthetic_file(cache_dir: Path, input_dim: int = 64, seed: int = 0) -> Path:
    p = Path(cache_dir) / f"standin-laion-aesthetic-d{input_dim}-seed{seed}.pth"
    if not p.is_file():
        import torch

        from ultrabench.metrics.extractors.inception import _write_state_dict

        g = torch.Generator().manual_seed(seed)
        sd = {}
        for k, shape in layer_shapes(input_dim).items():
            # unit gain per layer except the last (x4): unit embeddings score about 5 +- 0.5, the real range
            gain = 4.0 if k == "layers.7.weight" else 1.0
            sd[k] = torch.randn(shape, generator=g) * (gain / shape[1] ** 0.5 if len(shape) == 2 else 0.01)
        sd["layers.7.bias"] = torch.tensor([5.0])
        p.parent.mkdir(parents=True, exist_ok=True)
        _write_state_dict(sd, p)
    return p


def weight_files():
    from ultrabench.weights import WeightFile

    github = WeightFile(GITHUB_REPO, FILENAME, role="laion_aesthetic", size_hint="3.7 MB", url=GITHUB_URL)
    return [github] + [WeightFile(r, FILENAME, role="laion_aesthetic", size_hint="3.7 MB") for r in HF_MIRRORS]


def load(resolver, device="cpu") -> LaionAestheticHead:
    from ultrabench.metrics.extractors._resolve import resolve_first

    return LaionAestheticHead.from_files(resolve_first(resolver, weight_files()), device)
