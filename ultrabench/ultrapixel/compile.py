"""How the two UNets are compiled: not at all, by region, whole, or whole with CUDA graphs.

- "regional" (what `compile = true` means): `compile_repeated_blocks`, diffusers' regional
  compilation, on the block classes each UNet declares in `_repeated_blocks`. Every block of both UNets is one
  of three classes (residual, timestep, attention) plus Stage C's guidance blocks, so torch compiles
  each class once per input shape instead of tracing the whole network, for about the same speed.
- "full": `torch.compile` of the whole forward, one graph per latent shape (fullgraph: the
  forwards have no graph breaks, tested).
- "reduce-overhead": "full" replayed as CUDA graphs, for the fixed-shape sampling loops. The
  pipeline marks each model call as a new step and copies what it keeps from one (CUDA graphs reuse
  their output memory on the next replay).

Compiling changes the kernels, not the computation; it is not bit-identical to eager (inductor
fuses and reorders), which the GPU benchmark measures.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ultrabench.ultrapixel.configs import COMPILE_MODES

# Stage B's four levels differ in width, and blocks with and without a skip input trace apart: more
# shapes than dynamo's default of 8 compiled versions per code object, after which it would quietly
# run the blocks eagerly.
_RECOMPILE_LIMIT = 64


def compile_mode(value) -> str:
    """A method's `compile` setting (a bool or a mode name) as one of COMPILE_MODES."""
    if value is True:
        return "regional"
    if value is False or value is None:
        return "off"
    if value not in COMPILE_MODES:
        from ultrabench.errors import UsageError

        raise UsageError(f"ultrapixel: compile {value!r} is not true, false or one of {', '.join(COMPILE_MODES)}")
    return value


def uncompile(model: nn.Module) -> None:
    """Undo a regional compile of `model` (`nn.Module.compile` keeps the compiled call on each block)."""
    for m in model.modules():
        if getattr(m, "_compiled_call_impl", None) is not None:
            m._compiled_call_impl = None


def compile_stage(model: nn.Module, mode: str, backend: str = "inductor") -> Callable:
    """What the pipeline calls for this UNet under `mode`: the model itself (off, regional; regional
    compiles its blocks in place) or a compiled wrapper. `backend` other than inductor is for tests
    (`aot_eager` traces the same graphs without generating code)."""
    mode = compile_mode(mode)
    uncompile(model)  # the same modules may have been compiled by an earlier pipeline
    if mode == "off":
        return model
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, _RECOMPILE_LIMIT)
    if mode == "regional":
        model.compile_repeated_blocks(fullgraph=True, dynamic=False, backend=backend)
        return model
    if mode == "full":
        return torch.compile(model, fullgraph=True, dynamic=False, backend=backend)
    return torch.compile(model, fullgraph=True, dynamic=False, mode="reduce-overhead")
