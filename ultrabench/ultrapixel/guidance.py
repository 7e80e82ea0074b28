"""UltraPixel's guidance block: INR upsampling of LR features, fusion, timestep and scale modulation.

Written from the paper (Sec. 3.1-3.2) and the official module's behaviour. Module and parameter
names follow the official `TransInr_withnorm` so that the released checkpoint loads strictly:

    input_layer                1x1 conv, Stage C width -> token width
    tokenizer.{prefc,posemb}   per-token linear + learned position table (<= 1024 LR tokens)
    transformer_encoder        one pre-norm layer: attention without output projection + MLP
    wtokens, base_params.wbI,  weight tokens that modulate the base weights of a 2-layer MLP
    wtoken_postfc.wbI          (the implicit function) evaluated on Fourier features of the HR grid
    output_layer               1x1 conv back to Stage C width (plus a nearest-upsampled LR residual)
    toout                      fusion: Linear(concat(upsampled guide, HR feature))
    mapp_t.mapper              modulation by the HR timestep embedding, then a LayerNorm
    hr_norm.mapping.mapper     scale-aware modulation by sin-embedded s = sqrt(log_576(H*W))
    hr_norm.{alpha,gamma}      present in the checkpoint but unused by the official forward

The `Linear` in the official module is `nn.Linear`; `Sequential` indices are kept (e.g. `toout.0`,
`toout.2`, `fn.to_q.1`) because they are part of the checkpoint keys.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ultrabench.ultrapixel.configs import GuidanceConfig
from ultrabench.ultrapixel.sizes import SCALE_BASE_AREA


def sinusoidal_embedding(r: torch.Tensor, dim: int, max_positions: int = 10000) -> torch.Tensor:
    """Stable Cascade's embedding of a scalar per sample (the same one Stage C uses for time)."""
    r = r * max_positions
    half = dim // 2
    freq = math.log(max_positions) / (half - 1)
    freqs = torch.arange(half, device=r.device).float().mul(-freq).exp()
    emb = r[:, None] * freqs[None, :]
    emb = torch.cat([emb.sin(), emb.cos()], dim=1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1))
    return emb


def hr_coordinate_grid(h: int, w: int, device: torch.device) -> torch.Tensor:
    """Pixel-centre coordinates of an h x w grid in [-1, 1], shape (h, w, 2), (row, column) order."""
    axes = [(-1 + 2 * (0.5 + torch.arange(n, device=device)) / n) for n in (h, w)]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over channels of an NCHW tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class Modulation(nn.Module):
    """x * (1 + a) + b with (a, b) = Linear(embedding): the official `TimestepBlock_res` without extra conds."""

    def __init__(self, channels: int, emb_dim: int) -> None:
        super().__init__()
        self.mapper = nn.Linear(emb_dim, channels * 2)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        a, b = self.mapper(emb)[:, :, None, None].chunk(2, dim=1)
        return x * (1 + a) + b


class ScaleAwareNorm(nn.Module):
    """Scale-aware normalisation (paper Eq. 4 as the released code applies it: x + modulate(x, e_s)).

    `alpha`, `gamma` and `norm` exist only so the checkpoint loads; the released forward never uses them.
    """

    def __init__(self, channels: int, scale_dim: int) -> None:
        super().__init__()
        self.scale_dim = scale_dim
        self.mapping = Modulation(channels, scale_dim)
        self.alpha = nn.Conv2d(channels, channels, kernel_size=1)
        self.gamma = nn.Conv2d(channels, channels, kernel_size=1)

    def scale_embedding(self, batch: int, h: int, w: int, device: torch.device) -> torch.Tensor:
        s = math.sqrt(math.log(h * w, SCALE_BASE_AREA))
        return sinusoidal_embedding(torch.full((batch,), s, device=device), self.scale_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        emb = self.scale_embedding(x.shape[0], x.shape[-2], x.shape[-1], x.device)
        return self.mapping(x, emb) + x


class LRTokenizer(nn.Module):
    """1x1 patches of the reduced LR feature -> tokens with a learned position table."""

    def __init__(self, dim: int, max_tokens: int) -> None:
        super().__init__()
        self.prefc = nn.Linear(dim, dim)
        self.posemb = nn.Parameter(torch.randn(max_tokens, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # contiguous, as the released unfold + permute().contiguous(): under bf16 autocast a matmul on
        # the transposed view takes another kernel and rounds differently (measured: 0.6% on the tokens)
        tokens = x.flatten(2).transpose(1, 2).contiguous()
        if tokens.shape[1] > self.posemb.shape[0]:
            raise ValueError(
                f"UltraPixel guidance: {tokens.shape[1]} low-resolution tokens exceed the {self.posemb.shape[0]} "
                "positions the released model has (the LR pass must stay at or under 32x32 latents)"
            )
        return self.prefc(tokens) + self.posemb[: tokens.shape[1]].unsqueeze(0)


class TokenAttention(nn.Module):
    """Multi-head self-attention on SiLU'd inputs, no output projection (as released).

    Computed as the released module computes it: `matmul(q, k^T)` then the scale, softmax, `matmul`
    with v. Under bf16 autocast the scores are rounded to bf16 before the softmax and the weights
    before the second product; a fused attention kernel keeps them in float32, which moves the
    guided Stage C output by several percent."""

    def __init__(self, dim: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.to_q = nn.Sequential(nn.SiLU(), nn.Linear(dim, dim))
        self.to_kv = nn.Sequential(nn.SiLU(), nn.Linear(dim, dim * 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q = self.to_q(x)
        k, v = self.to_kv(x).chunk(2, dim=-1)
        head_dim = d // self.n_head
        q, k, v = (t.view(b, n, self.n_head, head_dim).transpose(1, 2) for t in (q, k, v))
        scores = torch.matmul(q, k.transpose(-1, -2)) * head_dim**-0.5
        out = torch.matmul(F.softmax(scores, dim=-1), v)
        return out.transpose(1, 2).reshape(b, n, d)


class TokenMLP(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x))


class TokenTransformer(nn.Module):
    def __init__(self, dim: int, depth: int, n_head: int, ff_dim: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([PreNorm(dim, TokenAttention(dim, n_head)), PreNorm(dim, TokenMLP(dim, ff_dim))])
            for _ in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for attn, mlp in self.layers:
            x = x + attn(x)
            x = x + mlp(x)
        return x


class GuidanceBlock(nn.Module):
    """One UltraPixel guidance block (official name `TransInr_withnorm`).

    forward(hr_shape, hr_feature, lr_feature, t_emb) -> the guide that Stage C adds to `hr_feature`.
    """

    def __init__(self, cfg: GuidanceConfig) -> None:
        super().__init__()
        if cfg.ch != cfg.f_dim:
            raise ValueError("UltraPixel guidance: token width ch must equal f_dim")
        self.cfg = cfg
        self.input_layer = nn.Conv2d(cfg.ind, cfg.ch, 1)
        self.tokenizer = LRTokenizer(cfg.ch, cfg.max_lr_tokens)
        self.transformer_encoder = TokenTransformer(cfg.f_dim, depth=1, n_head=cfg.n_head, ff_dim=cfg.f_dim)
        # Implicit MLP: Fourier features of (row, col) -> hidden f_dim -> ch. Each layer's weights are
        # (in + 1, out) with the bias as the last row, modulated per sample by `groups` weight tokens.
        in_dim = 2 * cfg.pe_dim
        self.layer_shapes: dict[str, tuple[int, int]] = {}
        for i in range(cfg.hypo_depth):
            out_dim = cfg.f_dim if i < cfg.hypo_depth - 1 else cfg.ch
            self.layer_shapes[f"wb{i}"] = (in_dim + 1, out_dim)
            in_dim = out_dim
        self.base_params = nn.ParameterDict()
        self.wtoken_postfc = nn.ModuleDict()
        self.wtoken_ranges: dict[str, tuple[int, int]] = {}
        n_tokens = 0
        for name, (rows, cols) in self.layer_shapes.items():
            groups = min(cfg.n_groups, cols)
            if cols % groups:
                raise ValueError(f"UltraPixel guidance: {cols} columns not divisible into {groups} groups")
            self.base_params[name] = nn.Parameter(torch.zeros(rows, cols))
            self.wtoken_postfc[name] = nn.Sequential(nn.LayerNorm(cfg.f_dim), nn.Linear(cfg.f_dim, rows - 1))
            self.wtoken_ranges[name] = (n_tokens, n_tokens + groups)
            n_tokens += groups
        self.wtokens = nn.Parameter(torch.randn(n_tokens, cfg.f_dim))
        self.output_layer = nn.Conv2d(cfg.ch, cfg.ind, 1)
        self.mapp_t = Modulation(cfg.ind, cfg.time_dim)
        self.hr_norm = ScaleAwareNorm(cfg.ind, cfg.scale_dim)
        self.normalize_final = nn.Sequential(LayerNorm2d(cfg.ind, elementwise_affine=False, eps=1e-6))
        self.toout = nn.Sequential(nn.Linear(cfg.ind * 2, cfg.ind // 4), nn.GELU(), nn.Linear(cfg.ind // 4, cfg.ind))

    def fourier_features(self, coord: torch.Tensor) -> torch.Tensor:
        """(..., 2) -> (..., 2 * pe_dim): cos/sin of pi * x * exp(linspace(0, ln sigma, pe_dim / 2)).

        The coordinate x frequency product is a `matmul` on purpose: the released weights were
        trained with the official `convert_posenc`, whose matmul bf16 autocast runs in bf16 (both
        factors and the product rounded to bf16, then cos/sin of a bf16 argument). An elementwise
        product would stay float32 and give different features (a third of them off by > 0.1).
        """
        freqs = torch.exp(torch.linspace(0, math.log(self.cfg.pe_sigma), self.cfg.pe_dim // 2, device=coord.device))
        x = torch.matmul(coord.unsqueeze(-1), freqs.unsqueeze(0)).view(*coord.shape[:-1], -1)
        return torch.cat([torch.cos(math.pi * x), torch.sin(math.pi * x)], dim=-1)

    def implicit_weights(self, weight_tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        batch = weight_tokens.shape[0]
        params = {}
        for name in self.layer_shapes:
            wb = self.base_params[name].unsqueeze(0).expand(batch, -1, -1)
            w, b = wb[:, :-1, :], wb[:, -1:, :]
            lo, hi = self.wtoken_ranges[name]
            mod = self.wtoken_postfc[name](weight_tokens[:, lo:hi, :]).transpose(-1, -2)  # (B, in, groups)
            # Column j of the weight is scaled by group j % groups, then columns are L2-normalised.
            w = F.normalize(w * mod.repeat(1, 1, w.shape[2] // mod.shape[2]), dim=1)
            params[name] = torch.cat([w, b], dim=1)
        return params

    def implicit_mlp(self, params: dict[str, torch.Tensor], h: int, w: int, batch: int, device) -> torch.Tensor:
        x = self.fourier_features(hr_coordinate_grid(h, w, device)).reshape(1, h * w, -1).expand(batch, -1, -1)
        names = list(self.layer_shapes)
        for i, name in enumerate(names):
            ones = torch.ones(*x.shape[:-1], 1, device=x.device)
            x = torch.matmul(torch.cat([x, ones], dim=-1), params[name])
            if i < len(names) - 1:
                x = torch.relu(x)
        return x.view(batch, h, w, -1).permute(0, 3, 1, 2)

    def forward(self, hr_shape, hr_feature: torch.Tensor, lr_feature: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        batch = lr_feature.shape[0]
        h, w = hr_shape[-2], hr_shape[-1]
        tokens = self.tokenizer(self.input_layer(lr_feature))
        seq = torch.cat([tokens, self.wtokens.unsqueeze(0).expand(batch, -1, -1)], dim=1)
        weight_tokens = self.transformer_encoder(seq)[:, -self.wtokens.shape[0] :, :]
        params = self.implicit_weights(weight_tokens)
        guide = self.output_layer(self.implicit_mlp(params, h, w, batch, lr_feature.device))
        guide = guide + F.interpolate(lr_feature.float(), size=(h, w))  # nearest, in float32 as released
        fused = torch.cat((guide, hr_feature), dim=1).permute(0, 2, 3, 1)
        out = self.toout(fused).permute(0, 3, 1, 2)
        out = self.mapp_t(out, t_emb)
        out = self.normalize_final(out)
        return self.hr_norm(out)


def guidance_parameter_count(cfg: GuidanceConfig) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in GuidanceBlock(cfg).parameters())
