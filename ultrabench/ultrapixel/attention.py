"""Stable Cascade's attention computed through torch's multi-head attention, as the released models run it.

The official Stage B and Stage C attention blocks call `nn.MultiheadAttention(batch_first=True)`
with the key and value tensor shared. Under that path torch transposes the tokens to
(sequence, batch, channels), projects the query alone and key + value with one packed weight, and
projects the output from a (sequence x batch) matrix. diffusers' `Attention` projects the same
weights from (batch, sequence, channels) with three separate matmuls. In float32 the two agree to
rounding; under bf16 autocast the different matmul shapes round differently (measured on a CPU:
0.35% relative on the query projection of one block, 3% on a whole Stage C forward at full depth).
This processor feeds diffusers' weights to `torch.nn.functional.multi_head_attention_forward`, the
function `nn.MultiheadAttention` itself calls, with the arguments it passes, so each block rounds
as the official one does.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ultrabench.ultrapixel.configs import ATTENTION_BACKENDS


class MultiheadAttentionProcessor:
    """A diffusers attention processor for Stable Cascade's `SDCascadeAttnBlock` attention (4D image
    query, encoder states that already hold the image tokens when the block self-attends)."""

    def __call__(self, attn, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None, *args, **kwargs):
        if attention_mask is not None or attn.spatial_norm is not None or attn.group_norm is not None:
            raise ValueError("MultiheadAttentionProcessor serves Stable Cascade's attention blocks only")
        b, c, h, w = hidden_states.shape
        query = hidden_states.view(b, c, h * w).transpose(1, 2)
        kv = query if encoder_hidden_states is None else encoder_hidden_states
        # batch_first: nn.MultiheadAttention hands the function (sequence, batch, channels) views,
        # the key and the value being one tensor
        q, kv = query.transpose(0, 1), kv.transpose(0, 1)
        # the packed parameter nn.MultiheadAttention holds (a plain copy: autocast's cat refuses fp16
        # weights, Stage B's, under CPU bf16 autocast)
        with torch.autocast(hidden_states.device.type, enabled=False):
            weight = torch.cat([attn.to_q.weight, attn.to_k.weight, attn.to_v.weight])
            bias = torch.cat([attn.to_q.bias, attn.to_k.bias, attn.to_v.bias])
        out, _ = F.multi_head_attention_forward(
            q, kv, kv, c, attn.heads, weight, bias, None, None, False, 0.0,
            attn.to_out[0].weight, attn.to_out[0].bias, training=False, need_weights=False,
        )
        return out.transpose(0, 1).transpose(1, 2).reshape(b, c, h, w)


def use_multihead_attention(model: nn.Module) -> None:
    """Route every Stable Cascade attention block of `model` through `MultiheadAttentionProcessor`."""
    from diffusers.models.unets.unet_stable_cascade import SDCascadeAttnBlock

    proc = MultiheadAttentionProcessor()
    for m in model.modules():
        if isinstance(m, SDCascadeAttnBlock):
            m.attention.set_processor(proc)


# -- which scaled-dot-product kernel runs the attention ------------------------------------------------
# `F.multi_head_attention_forward` (need_weights=False) computes the attention with
# `scaled_dot_product_attention`, which picks a kernel per call from what the inputs allow. The
# choice is made explicit here: pinned for the whole stage with `sdpa_kernel` and recorded in every
# unit record. diffusers' `set_attention_backend` cannot do this: Stable Cascade's processors have no
# backend hook, so it silently does nothing.
_SDPA_NAMES = {"math": "MATH", "flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION", "cudnn": "CUDNN_ATTENTION"}


def _sdpa_backend(name: str):
    from torch.nn.attention import SDPBackend

    return getattr(SDPBackend, _SDPA_NAMES[name])


def _attention_shape(model: nn.Module) -> tuple[int, int] | None:
    """(heads, head width) of the model's first attention block; None if it has none."""
    for m in model.modules():
        if hasattr(m, "attention") and hasattr(m.attention, "heads"):
            heads = m.attention.heads
            return heads, m.attention.to_q.weight.shape[0] // heads
    return None


def resolve_attention_backend(name: str, model: nn.Module, device: torch.device, dtype: torch.dtype) -> str:
    """The kernel `name` stands for on this device: itself, or for "auto" the one torch's own dispatch
    would pick for this model's queries in `dtype` (the compute dtype: autocast's, else the weights'),
    which is what the official code gets without asking. Raises UsageError for an unknown name and
    for a named kernel that cannot run these queries here. "none" for a model without attention."""
    from ultrabench.errors import UsageError

    if name not in ATTENTION_BACKENDS:
        raise UsageError(f"ultrapixel: attention {name!r} is not one of {', '.join(ATTENTION_BACKENDS)}")
    shape = _attention_shape(model)
    if shape is None:
        return "none"
    heads, width = shape
    probe = torch.zeros(1, heads, 64, width, device=device, dtype=dtype)
    if name == "auto":
        from torch.nn.attention import SDPBackend

        chosen = SDPBackend(torch.ops.aten._fused_sdp_choice(probe, probe, probe))
        by_enum = {_sdpa_backend(k): k for k in _SDPA_NAMES}
        if chosen not in by_enum:
            return "math"
        return by_enum[chosen]
    try:
        with attention_kernel(name):
            F.scaled_dot_product_attention(probe, probe, probe)
    except RuntimeError as e:
        first = (str(e).splitlines() or [""])[0][:160]
        raise UsageError(f"ultrapixel: attention {name!r} cannot run {dtype} queries of width {width} on "
                         f"{device.type}: {first}") from None
    return name


def attention_kernel(name: str):
    """A context in which every `scaled_dot_product_attention` call runs kernel `name` (or fails)."""
    import contextlib

    from torch.nn.attention import sdpa_kernel

    return contextlib.nullcontext() if name == "none" else sdpa_kernel([_sdpa_backend(name)])
