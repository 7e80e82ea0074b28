"""The FID Inception-v3 (TensorFlow graph of 2015-12-05) as a plain torch module.

The parameter names match torch-fidelity's `weights-inception-2015-12-05-6726825d.pth`, so that
file loads with `strict=True`. TF-specific details of that graph: BatchNorm eps 1e-3, average
pools that exclude padding, a max pool (not average) in the last block's pool branch, 1008 logits,
and input scaling (x - 128) / 128 on [0, 255] data. This module takes 299x299 inputs already
(resizing is the caller's protocol); one forward returns pool3 (2048) and the unbiased logits.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ultrabench.hashing import sha256_file
from ultrabench.weights import cache_root

WEIGHTS_FILENAME = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + WEIGHTS_FILENAME
EXTRACTOR_ID = "inception-v3-tf-2015-12-05"


class Conv(nn.Module):
    def __init__(self, cin, cout, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg3(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    def __init__(self, cin, pool):
        super().__init__()
        self.branch1x1 = Conv(cin, 64, 1)
        self.branch5x5_1 = Conv(cin, 48, 1)
        self.branch5x5_2 = Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = Conv(cin, 64, 1)
        self.branch3x3dbl_2 = Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = Conv(96, 96, 3, padding=1)
        self.branch_pool = Conv(cin, pool, 1)

    def forward(self, x):
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg3(x)),
        ], 1)


class BlockB(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3 = Conv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = Conv(cin, 64, 1)
        self.branch3x3dbl_2 = Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = Conv(96, 96, 3, stride=2)

    def forward(self, x):
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, stride=2),
        ], 1)


class BlockC(nn.Module):
    def __init__(self, cin, c7):
        super().__init__()
        self.branch1x1 = Conv(cin, 192, 1)
        self.branch7x7_1 = Conv(cin, c7, 1)
        self.branch7x7_2 = Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = Conv(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = Conv(cin, c7, 1)
        self.branch7x7dbl_2 = Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = Conv(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = Conv(cin, 192, 1)

    def forward(self, x):
        b2 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b3 = self.branch7x7dbl_1(x)
        for m in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            b3 = m(b3)
        return torch.cat([self.branch1x1(x), b2, b3, self.branch_pool(_avg3(x))], 1)


class BlockD(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3_1 = Conv(cin, 192, 1)
        self.branch3x3_2 = Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = Conv(cin, 192, 1)
        self.branch7x7x3_2 = Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = Conv(192, 192, 3, stride=2)

    def forward(self, x):
        b2 = x
        for m in (self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b2 = m(b2)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b2, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):
    def __init__(self, cin, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = Conv(cin, 320, 1)
        self.branch3x3_1 = Conv(cin, 384, 1)
        self.branch3x3_2a = Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = Conv(cin, 448, 1)
        self.branch3x3dbl_2 = Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = Conv(cin, 192, 1)

    def forward(self, x):
        a = self.branch3x3_1(x)
        b = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        # the TF graph's last block pools with max where torchvision uses average
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg3(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(a), self.branch3x3_2b(a),
            self.branch3x3dbl_3a(b), self.branch3x3dbl_3b(b),
            self.branch_pool(pooled),
        ], 1)


class FIDInceptionV3(nn.Module):
    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = Conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = Conv(80, 192, 3)
        self.Mixed_5b = BlockA(192, 32)
        self.Mixed_5c = BlockA(256, 64)
        self.Mixed_5d = BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b = BlockC(768, 128)
        self.Mixed_6c = BlockC(768, 160)
        self.Mixed_6d = BlockC(768, 160)
        self.Mixed_6e = BlockC(768, 192)
        self.Mixed_7a = BlockD(768)
        self.Mixed_7b = BlockE(1280, max_pool=False)
        self.Mixed_7c = BlockE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, 3, 299, 299) float in [0, 255] -> (pool3 (B, 2048), logits_unbiased (B, 1008))."""
        if x.shape[-2:] != (299, 299):
            raise ValueError(f"FID Inception expects 299x299 inputs (the protocol resizes or crops), got {tuple(x.shape)}")
        x = (x - 128) / 128
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                     "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"):
            x = getattr(self, name)(x)
        pool = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return pool, pool @ self.fc.weight.T


def build_random_inception(seed: int = 0) -> FIDInceptionV3:
    """Same architecture, seeded random weights scaled so activations neither vanish nor explode."""
    g = torch.Generator().manual_seed(seed)
    m = FIDInceptionV3()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.Conv2d):
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.zero_()
                mod.running_var.fill_(1.0)
                mod.weight.fill_(1.0)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=g) * 0.1)
        m.fc.weight.copy_(torch.randn(m.fc.weight.shape, generator=g) / 2048 ** 0.5)
        m.fc.bias.copy_(torch.randn(m.fc.bias.shape, generator=g) * 0.1)
    return m.eval()


def random_inception_file(cache_dir: str | Path | None = None, seed: int = 0) -> Path:
    """A random-weight state dict with the real file's keys, written once so its hash is stable."""
    d = Path(cache_dir) if cache_dir else cache_root() / "stand-ins"
    p = d / f"random-inception-2015-12-05-seed{seed}.pth"
    if not p.is_file():
        d.mkdir(parents=True, exist_ok=True)
        _write_state_dict(build_random_inception(seed).state_dict(), p)
    return p


def _write_state_dict(sd, p: Path) -> None:
    # through memory: torch.save names the archive after the file, so a temp name would change the hash
    import io

    buf = io.BytesIO()
    torch.save(sd, buf)
    from ultrabench.runstore import atomic_write_bytes

    atomic_write_bytes(p, buf.getvalue())


def load_inception(path: str | Path) -> FIDInceptionV3:
    m = FIDInceptionV3()
    sd = torch.load(str(path), map_location="cpu", weights_only=True)
    m.load_state_dict(sd, strict=True)
    return m.eval().requires_grad_(False)


class InceptionExtractor:
    """Batched forwards on a device; accepts a weights path or an injected module."""

    def __init__(self, weights: str | Path | None = None, module: nn.Module | None = None, device="cpu",
                 weights_sha256: str | None = None, random_weights: bool = False):
        if module is None and weights is None:
            raise ValueError("InceptionExtractor needs a weights path or a module")
        self.module = (module if module is not None else load_inception(weights)).to(device).eval()
        self.device = torch.device(device)
        self.weights_sha256 = weights_sha256 or (sha256_file(weights) if weights else "injected")
        self.random_weights = random_weights
        self.calls = 0  # images forwarded, for tests of the cache
        self.id = EXTRACTOR_ID

    def info(self) -> dict:
        return {"id": self.id, "weights_sha256": self.weights_sha256, "random_weights": self.random_weights,
                "input": "299x299 float [0,255], (x-128)/128", "features": ["pool3 2048", "logits_unbiased 1008"]}

    @torch.inference_mode()
    def __call__(self, batch_hwc) -> tuple:
        """(B, 299, 299, 3) array in [0, 255] (uint8 or float) -> numpy (pool (B, 2048), logits (B, 1008))."""
        import numpy as np

        x = torch.from_numpy(np.ascontiguousarray(batch_hwc)).to(self.device, torch.float32).permute(0, 3, 1, 2)
        self.calls += x.shape[0]
        pool, logits = self.module(x)
        return pool.double().cpu().numpy(), logits.double().cpu().numpy()
