"""Super-resolution with spandrel (BSRGAN, Real-ESRGAN, any arch it detects), tiled so 4K fits anywhere.

Tiling: the low-resolution image is cut into `tile`-pixel squares, each run with up to `pad` pixels
of real context on every side (the idea of Real-ESRGAN's tiled inference), and only the centre of
each upscaled tile is kept. With enough context the result matches untiled
inference up to the network's receptive field.
"""

from __future__ import annotations

from pathlib import Path


def load_sr_model(path: str | Path, device: str = "cpu", dtype: str = "float32"):
    """A spandrel `ImageModelDescriptor` in eval mode (BSRGAN.pth, RealESRGAN_x4plus.pth, ...)."""
    from spandrel import ImageModelDescriptor, ModelLoader

    from ultrabench.errors import UsageError

    desc = ModelLoader().load_from_file(str(path))
    if not isinstance(desc, ImageModelDescriptor):
        raise UsageError(f"{path}: not a single-image super-resolution model (spandrel found {type(desc).__name__})")
    return _prepare(desc, device, dtype)


def load_sr_state_dict(state_dict: dict, device: str = "cpu", dtype: str = "float32"):
    from spandrel import ModelLoader

    return _prepare(ModelLoader().load_from_state_dict(state_dict), device, dtype)


def _prepare(desc, device: str, dtype: str):
    from baselines._common import torch_dtype

    desc.to(device)
    dt = torch_dtype(dtype)
    if dt.is_floating_point and dt != torch_dtype("float32"):
        ok = desc.supports_half if dt == torch_dtype("float16") else desc.supports_bfloat16
        if ok:
            desc.to(dt)
    desc.eval()
    return desc


def pil_to_tensor(image):
    import numpy as np
    import torch

    arr = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous()


def tensor_to_pil(t):
    import numpy as np
    from PIL import Image

    arr = (t.squeeze(0).permute(1, 2, 0).float().clamp(0, 1).cpu().numpy() * 255.0).round().astype(np.uint8)
    return Image.fromarray(arr)


def upscale_tensor(desc, x, tile: int = 0, pad: int = 16):
    """Upscale a (1, 3, H, W) tensor in [0, 1]; `tile` = 0 runs the whole image at once."""
    import torch

    p = next(desc.model.parameters())
    x = x.to(device=p.device, dtype=p.dtype)
    scale = int(desc.scale)
    _, c, h, w = x.shape
    with torch.inference_mode():
        if tile <= 0 or (h <= tile and w <= tile):
            return desc(x)
        out = torch.zeros((1, c, h * scale, w * scale), dtype=x.dtype, device=x.device)
        for top in range(0, h, tile):
            for left in range(0, w, tile):
                bottom, right = min(top + tile, h), min(left + tile, w)
                t0, l0 = max(top - pad, 0), max(left - pad, 0)
                b0, r0 = min(bottom + pad, h), min(right + pad, w)
                # At the image border the network sees what untiled inference sees (its own zero
                # padding), so no artificial context is added there.
                up = desc(x[:, :, t0:b0, l0:r0])
                oy, ox = (top - t0) * scale, (left - l0) * scale
                out[:, :, top * scale:bottom * scale, left * scale:right * scale] = up[
                    :, :, oy:oy + (bottom - top) * scale, ox:ox + (right - left) * scale
                ]
        return out


def upscale_image(desc, image, tile: int = 0, pad: int = 16):
    return tensor_to_pil(upscale_tensor(desc, pil_to_tensor(image), tile, pad))
