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
