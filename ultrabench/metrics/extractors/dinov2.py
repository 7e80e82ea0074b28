"""DINOv2 ViT-L/14 image features for FD-DINOv2 (Stein et al., NeurIPS 2023), as dgm-eval computes them.

Feature: the CLS token after the final LayerNorm (`x_norm_clstoken`, what the torch.hub model's
forward returns and what dgm-eval and torch-fidelity take), 1024 values, float32 forward.

Input protocol (dgm-eval's, `dgm_eval/models/dinov2.py` without `--clean_resize`): the RGB image
squashed to 224x224 with PIL bicubic (antialiased, uint8; see `ultrabench.scoring.views.resize_square`), /255, ImageNet
mean/std. torch-fidelity's `FeatureExtractorDinoV2` feeds the same network differently: it resizes
uint8 tensors to 224x224 with TF1-style bilinear interpolation (`align_corners=False`, i.e. source
coordinate = dst * in/out with no half-pixel offset, no antialiasing, no re-quantisation) and
normalises with mean*255 / std*255. So the two agree only on inputs that are already 224x224, where
that resize is the identity (tested equal there). Other sizes (the 299 native crops of
FD-DINOv2-patch) get the same PIL bicubic resize to 224 that dgm-eval gives a 299x299 file.

The network is the torch.hub `facebookresearch/dinov2` ViT: 518-pixel position grid (37x37) that is
resized to the input's patch grid with bicubic interpolation at scale (n + 0.1) / 37 (the hub
code's `interpolate_offset`); transformers' `Dinov2Model` resizes the same grid to an exact size
instead, which shifts the embeddings slightly, so the `facebook/dinov2-large` weights are mapped into
this module rather than run through transformers. Parameter names are the hub file's
(`dinov2_vitl14_pretrain.pth`); the HF layout is converted (q, k, v concatenated into qkv).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ultrabench.metrics.extractors._common import normalize_batch, path_sha256
from ultrabench.scoring.views import resize_square

DINOV2_SIZE = 224

VIEW = ("square", {"size": DINOV2_SIZE, "filter": "bicubic"})
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HUB_FILENAME = "dinov2_vitl14_pretrain.pth"
HUB_URL = "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/" + HUB_FILENAME
HF_REPO = "facebook/dinov2-large"
INTERPOLATE_OFFSET = 0.1


@dataclass(frozen=True)
class DinoArch:
    embed_dim: int = 1024
    depth: int = 24
    heads: int = 16
    patch: int = 14
    img_size: int = 518
    mlp_ratio: float = 4.0
    eps: float = 1e-6


VITL14 = DinoArch()
STANDIN = DinoArch(embed_dim=64, depth=2, heads=2)


class Block(nn.Module):
    def __init__(self, a: DinoArch):
        super().__init__()
        d, hidden = a.embed_dim, int(a.embed_dim * a.mlp_ratio)
        self.heads = a.heads
        self.norm1 = nn.LayerNorm(d, eps=a.eps)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(d, 3 * d)
        self.attn.proj = nn.Linear(d, d)
        self.ls1 = nn.Module()
        self.ls1.gamma = nn.Parameter(torch.ones(d))
        self.norm2 = nn.LayerNorm(d, eps=a.eps)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(d, hidden)
        self.mlp.fc2 = nn.Linear(hidden, d)
        self.ls2 = nn.Module()
        self.ls2.gamma = nn.Parameter(torch.ones(d))

    def forward(self, x):
        b, n, d = x.shape
        qkv = self.attn.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        x = x + self.attn.proj(y.transpose(1, 2).reshape(b, n, d)) * self.ls1.gamma
        h = self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))
        return x + h * self.ls2.gamma


class DinoViT(nn.Module):
    """DINOv2 backbone without registers; forward -> CLS token after the final norm."""

    def __init__(self, a: DinoArch = VITL14):
        super().__init__()
        self.arch = a
        grid = a.img_size // a.patch
        self.cls_token = nn.Parameter(torch.zeros(1, 1, a.embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, a.embed_dim))
        self.mask_token = nn.Parameter(torch.zeros(1, a.embed_dim))  # in the file; unused at inference
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, a.embed_dim, a.patch, stride=a.patch)
        self.blocks = nn.ModuleList(Block(a) for _ in range(a.depth))
        self.norm = nn.LayerNorm(a.embed_dim, eps=a.eps)

    def pos_for(self, rows: int, cols: int) -> torch.Tensor:
        n = self.pos_embed.shape[1] - 1
        m = int(math.sqrt(n))
        if rows * cols == n and rows == cols:
            return self.pos_embed
        pos = self.pos_embed.float()
        grid = pos[:, 1:].reshape(1, m, m, -1).permute(0, 3, 1, 2)
        # a scale factor, not a size: the hub code's offset moves every sample point slightly
        grid = F.interpolate(grid, scale_factor=((rows + INTERPOLATE_OFFSET) / m, (cols + INTERPOLATE_OFFSET) / m),
                             mode="bicubic", antialias=False)
        if grid.shape[-2:] != (rows, cols):
            raise ValueError(f"position grid {m}x{m} resized to {tuple(grid.shape[-2:])}, expected {rows}x{cols}")
        grid = grid.permute(0, 2, 3, 1).reshape(1, rows * cols, -1)
        return torch.cat([pos[:, :1], grid], dim=1).to(self.pos_embed.dtype)

    def forward(self, x):
        h, w = x.shape[-2:]
        p = self.arch.patch
        if h % p or w % p:
            raise ValueError(f"DINOv2 input {h}x{w} is not a multiple of the patch size {p}")
        t = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], dim=1) + self.pos_for(h // p, w // p)
        for blk in self.blocks:
            t = blk(t)
        return self.norm(t)[:, 0]


# --------------------------------------------------------------------------------------------
# the two published layouts
def hub_state_dict_from_hf(sd: dict, depth: int) -> dict:
    """transformers' on-disk Dinov2Model names -> the torch.hub file's names (every key consumed)."""
    sd = dict(sd)
    out = {"cls_token": sd.pop("embeddings.cls_token"), "mask_token": sd.pop("embeddings.mask_token"),
           "pos_embed": sd.pop("embeddings.position_embeddings"),
           "patch_embed.proj.weight": sd.pop("embeddings.patch_embeddings.projection.weight"),
           "patch_embed.proj.bias": sd.pop("embeddings.patch_embeddings.projection.bias"),
           "norm.weight": sd.pop("layernorm.weight"), "norm.bias": sd.pop("layernorm.bias")}
    for i in range(depth):
        hf, hub = f"encoder.layer.{i}.", f"blocks.{i}."
        for kind in ("weight", "bias"):
            out[hub + f"attn.qkv.{kind}"] = torch.cat(
                [sd.pop(hf + f"attention.attention.{n}.{kind}") for n in ("query", "key", "value")])
            out[hub + f"attn.proj.{kind}"] = sd.pop(hf + f"attention.output.dense.{kind}")
            for n in ("norm1", "norm2", "mlp.fc1", "mlp.fc2"):
                out[hub + f"{n}.{kind}"] = sd.pop(hf + f"{n}.{kind}")
        out[hub + "ls1.gamma"] = sd.pop(hf + "layer_scale1.lambda1")
        out[hub + "ls2.gamma"] = sd.pop(hf + "layer_scale2.lambda1")
    if sd:
        raise ValueError(f"unexpected keys in the DINOv2 HF checkpoint: {sorted(sd)[:5]}")
    return out


def arch_from_hf_config(cfg: dict) -> DinoArch:
    from ultrabench.errors import UsageError

    if cfg.get("use_swiglu_ffn") or cfg.get("num_register_tokens") or cfg.get("hidden_act", "gelu") != "gelu" \
            or not cfg.get("qkv_bias", True) or cfg.get("model_type", "dinov2") != "dinov2":
        raise UsageError("DINOv2 HF config: only the ViT-S/B/L layout (GELU MLP, qkv bias, no registers) is "
                         "implemented (facebook/dinov2-large)")
    return DinoArch(embed_dim=cfg["hidden_size"], depth=cfg["num_hidden_layers"], heads=cfg["num_attention_heads"],
                    patch=cfg["patch_size"], img_size=cfg["image_size"], mlp_ratio=float(cfg.get("mlp_ratio", 4)),
                    eps=float(cfg.get("layer_norm_eps", 1e-6)))


def _read_hf_folder(d: Path) -> tuple[dict, DinoArch]:
    from ultrabench.errors import MissingWeightsError

    cfg = json.loads((d / "config.json").read_text())
    arch = arch_from_hf_config(cfg)
    if (d / "model.safetensors").is_file():
        from safetensors.torch import load_file

        sd = load_file(str(d / "model.safetensors"))
    elif (d / "pytorch_model.bin").is_file():
        sd = torch.load(str(d / "pytorch_model.bin"), map_location="cpu", weights_only=True)
    else:
        raise MissingWeightsError(f"DINOv2 folder {d} has config.json but no model.safetensors or pytorch_model.bin")
    try:
        return hub_state_dict_from_hf(sd, arch.depth), arch
    except (KeyError, ValueError) as e:
        from ultrabench.errors import UsageError

        raise UsageError(f"{d} is not a transformers Dinov2Model checkpoint: {e}") from None


def load_dinov2(path: str | Path, arch: DinoArch = VITL14) -> tuple[DinoViT, DinoArch, str]:
    """(module, architecture, layout) from a hub .pth file or a transformers folder, loaded strictly."""
    p = Path(path)
    if p.is_dir():
        sd, arch, layout = *_read_hf_folder(p), "transformers Dinov2Model folder"
    else:
        sd, layout = torch.load(str(p), map_location="cpu", weights_only=True), "torch.hub state dict"
    with torch.device("meta"):  # no 1.2 GB of initial weights to overwrite
        m = DinoViT(arch)
    try:
        m.load_state_dict(sd, strict=True, assign=True)
    except RuntimeError as e:
        from ultrabench.errors import UsageError

        what = "the DINOv2 ViT-L/14 hub file" if arch == VITL14 else f"a DINOv2 {arch}"
        first = str(e).split("\n\t")[1].strip() if "\n\t" in str(e) else str(e).splitlines()[0]
        raise UsageError(f"{p} is not {what}: {first}") from None
    return m.eval().requires_grad_(False), arch, layout


# --------------------------------------------------------------------------------------------
def build_random_dinov2(arch: DinoArch = STANDIN, seed: int = 0) -> DinoViT:
    """The architecture with seeded random weights whose activations stay O(1) through the blocks."""
    g = torch.Generator().manual_seed(seed)
    m = DinoViT(arch)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("gamma"):
                p.copy_(0.5 + 0.5 * torch.rand(p.shape, generator=g))
            elif p.dim() >= 2 and "token" not in name and "pos_embed" not in name:
                p.copy_(torch.randn(p.shape, generator=g) / p[0].numel() ** 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * (0.02 if "pos_embed" in name or "bias" in name else 1.0))
        for blk in m.blocks:  # LayerNorms start near identity, as trained ones roughly are
            for ln in (blk.norm1, blk.norm2):
                ln.weight.add_(1.0 - ln.weight.mean())
        m.norm.weight.add_(1.0 - m.norm.weight.mean())
    return m.eval()


def standin_dinov2_file(cache_dir: Path, seed: int = 0) -> Path:
    p = Path(cache_dir) / f"standin-dinov2-vit-tiny-seed{seed}.pth"
    if not p.is_file():
        p.parent.mkdir(parents=True, exist_ok=True)
        from ultrabench.metrics.extractors.inception import _write_state_dict

        _write_state_dict(build_random_dinov2(STANDIN, seed).state_dict(), p)
    return p


class DinoV2Extractor:
    def __init__(self, module: DinoViT, device="cpu", weights_sha256="injected", random_weights=False,
                 layout="injected"):
        self.module = module.to(device).eval()
        self.device = torch.device(device)
        self.weights_sha256 = weights_sha256
        self.random_weights = random_weights
        self.layout = layout
        self.calls = 0
        a = module.arch
        self.id = "dinov2:vitl14" if a == VITL14 else f"dinov2:vit-d{a.embed_dim}x{a.depth}-p{a.patch}"

    @classmethod
    def from_files(cls, path: str | Path, device="cpu", arch: DinoArch = VITL14, random_weights=False):
        """`path`: the torch.hub file (dinov2_vitl14_pretrain.pth) or a facebook/dinov2-large folder."""
        m, arch, layout = load_dinov2(path, arch)
        return cls(m, device, path_sha256(path), random_weights, layout)

    @classmethod
    def standin(cls, cache_dir: Path, device="cpu"):
        return cls.from_files(standin_dinov2_file(cache_dir), device, arch=STANDIN, random_weights=True)

    def info(self) -> dict:
        a = self.module.arch
        return {"id": self.id, "weights_sha256": self.weights_sha256, "random_weights": self.random_weights,
                "layout": self.layout, "arch": asdict(a),
                "input": "dgm-eval: RGB squashed to 224x224 with PIL bicubic (antialiased, uint8), /255, "
                         "ImageNet mean/std; other view sizes (299 native crops) get the same PIL resize",
                "features": f"CLS token after the final LayerNorm (x_norm_clstoken), {a.embed_dim}, float32 forward",
                "position_grid": f"{a.img_size // a.patch}^2 bicubic to the patch grid, scale (n + 0.1) / "
                                 f"{a.img_size // a.patch} (torch.hub code)",
                "differs_from_torch_fidelity": "torch-fidelity resizes to 224 with TF1 bilinear (no half-pixel "
                                               "offset, no antialias, float); equal on 224x224 inputs"}

    def preprocess(self, views: list[np.ndarray]) -> torch.Tensor:
        rows = []
        for v in views:
            if v.dtype != np.uint8 or v.ndim != 3 or v.shape[2] != 3:
                raise ValueError(f"DINOv2 views are uint8 (H, W, 3) arrays, got {v.dtype} {v.shape}")
            rows.append(v if v.shape[:2] == (DINOV2_SIZE, DINOV2_SIZE) else resize_square(v, DINOV2_SIZE))
        return normalize_batch(rows, IMAGENET_MEAN, IMAGENET_STD)

    @torch.inference_mode()
    def image_features(self, views: list[np.ndarray]) -> np.ndarray:
        x = self.preprocess(views).to(self.device)
        self.calls += x.shape[0]
        return self.module(x).double().cpu().numpy()


def weight_files():
    from ultrabench.weights import WeightFile

    return [WeightFile("facebookresearch/dinov2", HUB_FILENAME, role="dinov2", size_hint="1.2 GB", url=HUB_URL),
            WeightFile(HF_REPO, None, role="dinov2", size_hint="1.2 GB",
                       allow_patterns=("config.json", "model.safetensors"))]


def load(resolver, device="cpu") -> DinoV2Extractor:
    from ultrabench.metrics.extractors._resolve import resolve_first

    return DinoV2Extractor.from_files(resolve_first(resolver, weight_files()), device)
