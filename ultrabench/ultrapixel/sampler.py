"""The official Stable Cascade / UltraPixel sampler (GDF), written from its behaviour.

Noise process: cosine schedule (s = 0.008, variance clamped to [1e-4, 0.9999]) in log-SNR, the
variance-preserving scalers a = sqrt(sigmoid(logSNR)), b = sqrt(1 - sigmoid(logSNR)), an epsilon
target, and the model conditioned on the "cosine t" recovered from log-SNR. Steps: DDIM with eta = 1
(DDPM). Guidance: `lerp(uncond, cond, cfg)` then a std rescale towards the conditional prediction,
`rho * cfg_pred * std(cond)/std(cfg_pred) + (1 - rho) * cfg_pred`.

This is *not* diffusers' `DDPMWuerstchenScheduler` + plain CFG: the rescale and the clamped
noise condition differ, so the sampler is re-implemented here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

COSINE_S = 0.008
VAR_CLAMP = (1e-4, 0.9999)


def _min_var(s: float = COSINE_S) -> torch.Tensor:
    st = torch.tensor([s])
    return torch.cos(st / (1 + st) * torch.pi * 0.5) ** 2


def cosine_logsnr(t: torch.Tensor, s: float = COSINE_S, clamp: tuple[float, float] = VAR_CLAMP) -> torch.Tensor:
    """log-SNR of the cosine schedule at continuous time t in [0, 1] (float32, like the official code)."""
    t = t.float().clamp(0, 1)
    st = torch.tensor([s], device=t.device)
    var = torch.cos((st + t) / (1 + st) * torch.pi * 0.5).clamp(0, 1) ** 2 / _min_var(s).to(t.device)
    var = var.clamp(*clamp)
    return (var / (1 - var)).log()


def cosine_noise_cond(logsnr: torch.Tensor, s: float = COSINE_S) -> torch.Tensor:
    """The time the network sees: the cosine t whose (unclamped) variance gives this log-SNR, in [0, 1]."""
    var = logsnr.sigmoid().clamp(0, 1)
    st = torch.tensor([s], device=logsnr.device)
    t = ((var * _min_var(s).to(logsnr.device)) ** 0.5).acos() / (torch.pi * 0.5) * (1 + st) - st
    return t.clamp(0, 1)


def vp_scalers(logsnr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    a2 = logsnr.sigmoid()
    return a2.sqrt(), (1 - a2).sqrt()


@dataclass(frozen=True)
class TimeGrid:
    r: torch.Tensor  # (steps + 1,) from t_start down to t_end
    logsnr: torch.Tensor  # (steps + 1,)
    noise_cond: torch.Tensor  # (steps + 1,) what the model is fed at each step


def time_grid(steps: int, t_start: float = 1.0, t_end: float = 0.0) -> TimeGrid:
    """`linspace(t_start, t_end, steps + 1)`: 1.0, 0.95, ..., 0.05, 0.0 for 20 steps."""
    r = torch.linspace(t_start, t_end, steps + 1)
    logsnr = cosine_logsnr(r)
    return TimeGrid(r, logsnr, cosine_noise_cond(logsnr))


def cfg_rescale(cond: torch.Tensor, uncond: torch.Tensor, cfg: float, rho: float) -> torch.Tensor:
    """Classifier-free guidance with the official std rescale.

    The official code takes the std over the whole (batch) tensor. For one sample (how UltraPixel is
    run and timed) so do we, with the same reduction, so that bf16 predictions round the same way;
    for a batch we take it per sample.
    """
    guided = torch.lerp(uncond, cond, cfg)
    if rho <= 0:
        return guided
    if cond.shape[0] == 1:
        std_cond, std_guided = cond.std(), guided.std()
    else:
        dims = tuple(range(1, cond.ndim))
        std_cond = cond.std(dim=dims, keepdim=True)
        std_guided = guided.std(dim=dims, keepdim=True)
    return rho * (guided * std_cond / (std_guided + 1e-9)) + guided * (1 - rho)


def ddpm_step(
    x: torch.Tensor, pred_eps: torch.Tensor, logsnr: torch.Tensor, logsnr_prev: torch.Tensor, noise: torch.Tensor,
    eta: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One DDIM step with eta (1 = DDPM) from log-SNR `logsnr` to `logsnr_prev`; returns (x_prev, x0).

    x0 = (x - b * eps) / a;  sigma = eta * sqrt(b'^2 / b^2) * sqrt(1 - a^2 / a'^2);
    x' = a' x0 + sqrt(b'^2 - sigma^2) eps + sigma * noise.
    """
    a, b = vp_scalers(logsnr)
    a_p, b_p = vp_scalers(logsnr_prev)
    # The official scalers are (batch, 1, 1, 1) float32 tensors, so a bf16 prediction (autocast) is
    # promoted to float32 in every product; our 0-dim scalers would keep it in bf16.
    pred_eps = pred_eps.float()
    x0 = (x - pred_eps * b) / a
    if eta > 0:
        sigma = eta * (b_p**2 / b**2).sqrt() * (1 - a**2 / a_p**2).sqrt()
    else:
        sigma = torch.zeros_like(a)
    x_prev = a_p * x0 + (b_p**2 - sigma**2).sqrt() * pred_eps + sigma * noise
    return x_prev, x0


class NoiseSource:
    """Gaussian noise drawn the way the official script draws it.

    Initial latents come from a CPU generator (so they are the same on any device); the per-step
    DDPM noise comes from a generator on the compute device. `NoiseSource(seed, device)` seeds both
    with `seed` (the per-unit default): on a CPU the two are one stream, exactly like
    `torch.manual_seed(seed)` + `torch.randn` + `randn_like` there; on CUDA they reproduce the official
    CPU stream and CUDA stream of a fresh process. `official_noise.official_noise_source` builds one
    from generators advanced the way the official script advances them.
    """

    def __init__(self, seed: int, device: torch.device | str, cpu: torch.Generator | None = None,
                 step: torch.Generator | None = None) -> None:
        self.device = torch.device(device)
        self.cpu = cpu if cpu is not None else torch.Generator("cpu").manual_seed(int(seed))
        if step is not None:
            self.step_gen = step
        elif self.device.type == "cpu":
            self.step_gen = self.cpu
        else:
            self.step_gen = torch.Generator(self.device).manual_seed(int(seed))

    def initial(self, shape: Sequence[int]) -> torch.Tensor:
        return torch.randn(*shape, generator=self.cpu).to(self.device)

    def step(self, like: torch.Tensor) -> torch.Tensor:
        return torch.randn(like.shape, generator=self.step_gen, device=self.device, dtype=torch.float32)


# The model call: (x batched as [cond; uncond], noise_cond (2B,), step index) -> eps prediction (2B, ...)
GuidedModel = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


def _guided_eps(model: GuidedModel, x: torch.Tensor, t: torch.Tensor, cfg: float, rho: float, i: int) -> torch.Tensor:
    out = model(torch.cat([x, x], dim=0), t.expand(2 * x.shape[0]), i)
    cond, uncond = out.chunk(2)
    return cfg_rescale(cond, uncond, cfg, rho)


@dataclass(frozen=True)
class SampleOutput:
    """The end of one GDF loop: `x` after the last step, and `x0`, the model's prediction of the clean
    latent at that step (t = 0.05 for 20 steps). The official code hands `x0` on to the next stage
    (`generation_c` and `decode_b` keep the first element the sampler yields); the two differ by the
    last step's noise term."""

    x: torch.Tensor
    x0: torch.Tensor


def sample(
    model: GuidedModel,
    x: torch.Tensor,
    grid: TimeGrid,
    noise: NoiseSource,
    cfg: float,
    rho: float,
    on_step: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
) -> SampleOutput:
    """The plain GDF loop (Stage B, and each Stage C pass): x is float32 noise at t = 1."""
    steps = len(grid.r) - 1
    logsnr = grid.logsnr.to(x.device)
    tcond = cosine_noise_cond(logsnr)  # on the compute device, where the official code computes it
    x0 = x
    for i in range(steps):
        eps = _guided_eps(model, x, tcond[i : i + 1], cfg, rho, i)
        x, x0 = ddpm_step(x, eps, logsnr[i], logsnr[i + 1], noise.step(x))
        if on_step is not None:
            on_step(i, x, x0)
    return SampleOutput(x, x0)


def lr_capture_step(steps: int) -> int:
    """The LR step whose features guide the HR pass: the last (t = 0.05 for 20 steps), as in training."""
    return steps - 1


def guide_time(steps: int) -> float:
    return 1.0 - lr_capture_step(steps) / steps
