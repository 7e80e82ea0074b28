"""Official checkpoint layouts -> the module names used here, and strict loading with clear errors.

Official files and what changes:
- `stage_c_bf16.safetensors`, `stage_b_lite_bf16.safetensors` (StableCascade layout): each attention's
  fused `attn.in_proj_{weight,bias}` is split in three (`to_q`, `to_k`, `to_v`) and
  `attn.out_proj.*` becomes `to_out.0.*`, as diffusers' `scripts/convert_stable_cascade.py` does;
  Stage B's `clip_mapper` becomes `clip_txt_pooled_mapper`. Files already in diffusers layout pass as they are.
- `stage_a.safetensors`: the VQ codebook `vquantizer.codebook.weight` becomes `vquantizer.embedding.weight`.
- `ultrapixel_t2i.safetensors` (a pickle, despite the name): `module.64.<level>.*` are the encoder
  guidance blocks -> `agg_net.<level>.*`, `module.65.<level>.*` the decoder ones -> `agg_net_up.<level>.*`
  (indices 0..63 of the official `train_norm` list are parameter-free placeholders).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Mapping

from ultrabench.errors import UltrabenchError


class CheckpointMismatchError(UltrabenchError):
    """A state dict does not fit the model: names the missing / unexpected / mis-shaped keys."""


def _describe(keys: Iterable[str], limit: int = 5) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f" (and {len(keys) - limit} more)" if len(keys) > limit else "")


def split_attention(state: Mapping, extra_renames: Mapping[str, str] | None = None) -> dict:
    """StableCascade attention layout -> diffusers' (`to_q/to_k/to_v`, `to_out.0`); other keys unchanged."""
    out: dict = {}
    renames = dict(extra_renames or {})
    for key, value in state.items():
        if key.endswith("attn.in_proj_weight") or key.endswith("attn.in_proj_bias"):
            kind = "weight" if key.endswith("weight") else "bias"
            stem = key[: -len(f"attn.in_proj_{kind}")]
            if value.shape[0] % 3:
                raise CheckpointMismatchError(f"{key}: first dimension {value.shape[0]} is not divisible by 3")
            q, k, v = value.chunk(3, dim=0)
            out[f"{stem}to_q.{kind}"], out[f"{stem}to_k.{kind}"], out[f"{stem}to_v.{kind}"] = q, k, v
        elif key.endswith("attn.out_proj.weight") or key.endswith("attn.out_proj.bias"):
            out[key.replace("attn.out_proj.", "to_out.0.")] = value
        else:
            for old, new in renames.items():
                if key.startswith(old):
                    key = new + key[len(old) :]
                    break
            out[key] = value
    return out


def convert_stage_c(state: Mapping) -> dict:
    return split_attention(state)


def convert_stage_b(state: Mapping) -> dict:
    return split_attention(state, {"clip_mapper.": "clip_txt_pooled_mapper."})


def convert_stage_a(state: Mapping) -> dict:
    return {("vquantizer.embedding.weight" if k == "vquantizer.codebook.weight" else k): v for k, v in state.items()}


_UP_KEY = re.compile(r"^(?:module\.)?(64|65)\.(\d+)\.(.+)$")


def convert_ultrapixel(state: Mapping) -> dict:
    """`module.64.L.*` -> `agg_net.L.*`, `module.65.L.*` -> `agg_net_up.L.*`; anything else is an error."""
    out: dict = {}
    for key, value in state.items():
        m = _UP_KEY.match(key)
        if m is None:
            if key.startswith(("agg_net.", "agg_net_up.")):  # already converted (e.g. re-saved by us)
                out[key] = value
                continue
            raise CheckpointMismatchError(
                f"UltraPixel checkpoint: unexpected key {key!r} (expected module.64.<level>.* or module.65.<level>.*)"
            )
        group, level, rest = m.groups()
        out[f"{'agg_net' if group == '64' else 'agg_net_up'}.{level}.{rest}"] = value
    return out


def check_state_dict(expected: Mapping[str, tuple], state: Mapping, what: str) -> None:
    """Raise one message naming missing, unexpected and mis-shaped keys (strict loading)."""
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} key(s): {_describe(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} key(s): {_describe(unexpected)}")
    shapes = [
        f"{k} {tuple(state[k].shape)} != {tuple(expected[k])}"
        for k in sorted(set(expected) & set(state))
        if tuple(state[k].shape) != tuple(expected[k])
    ]
    if shapes:
        problems.append(f"{len(shapes)} shape mismatch(es): {'; '.join(shapes[:3])}")
    if problems:
        raise CheckpointMismatchError(f"{what}: " + "; ".join(problems))


def load_strict(module, state: Mapping, what: str, only=None, assign: bool = False) -> None:
    """Check `state` against `module`'s keys (those for which `only(key)` holds, default all), then load."""
    own = module.state_dict()
    expected = {k: tuple(v.shape) for k, v in own.items() if only is None or only(k)}
    check_state_dict(expected, state, what)
    module.load_state_dict(state, strict=only is None, assign=assign)


def is_guidance_key(key: str) -> bool:
    return key.startswith(("agg_net.", "agg_net_up."))


_SHARD_NAME = re.compile(r"^(?P<base>[^.]+?)(?:\.(?P<variant>[A-Za-z0-9_]+))?(?:-\d+-of-\d+)?\.safetensors$")


def variant_shards(folder: Path, prefer: tuple[str | None, ...] = ("bf16", None)) -> list[Path]:
    """The shards of one weight variant in a diffusers model folder.

    A folder can hold several (`diffusion_pytorch_model-0000k-of-0000n.safetensors` next to
    `diffusion_pytorch_model.bf16-0000k-of-0000m.safetensors`). Reading them all would cost their sum
    in memory, and whichever sorts last would win key by key: an fp32 run would silently get
    bf16-rounded weights. The first variant of `prefer` that is present is used (None: no variant);
    with no match, a folder holding a single variant uses it and any other folder is refused.
    """
    groups: dict[str | None, list[Path]] = {}
    for p in sorted(folder.glob("*.safetensors")):
        m = _SHARD_NAME.match(p.name)
        groups.setdefault(m.group("variant") if m else p.name, []).append(p)
    if not groups:
        raise CheckpointMismatchError(f"{folder} holds no .safetensors weights")
    for v in prefer:
        if v in groups:
            return groups[v]
    if len(groups) == 1:
        return next(iter(groups.values()))
    names = ", ".join(sorted("(none)" if v is None else v for v in groups))
    raise CheckpointMismatchError(f"{folder} holds several weight variants ({names}); none of "
                                  f"{', '.join('(none)' if v is None else v for v in prefer)} is among them")


def read_state_dict(path: str | Path, prefer: tuple[str | None, ...] = ("bf16", None)) -> dict:
    """Read a real safetensors file, a pickle (the UltraPixel file) with `weights_only=True` only, or a
    diffusers model folder (`prior/`, `decoder_lite/`, `vqgan/`: the shards of one variant, see
    `variant_shards`)."""
    import torch

    path = Path(path)
    if path.is_dir():
        shards = variant_shards(path, prefer)
        from safetensors.torch import load_file

        state: dict = {}
        for shard in shards:
            state.update(load_file(str(shard)))
        return state
    with open(path, "rb") as f:
        head = f.read(9)
    is_safetensors = len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 100_000_000
    if is_safetensors:
        from safetensors.torch import load_file

        return load_file(str(path))
    # Pass a file object: given a path ending in .safetensors, recent torch.load hands it to safetensors.
    with open(path, "rb") as f:
        return torch.load(f, map_location="cpu", weights_only=True)
