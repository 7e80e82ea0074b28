"""Text -> LR pass -> HR pass -> Stage B -> Stage A, for one prompt and seed at a time (no file I/O).

Models are passed in already built; this module only orchestrates, times (`StageTimer`) and keeps
tensors on the compute device. The precision policy is the official inference script's: bf16 weights
for Stage C, fp16 for Stage B (`decode_b`'s `.half()`; `stage_b_dtype = "bf16"` is the faster
variant), Stage A and CLIP in float32 weights, everything under bf16 autocast except Stage B's text
conditioning, which the script computes outside it; latents and sampler arithmetic in float32. Each
stage hands the next the last x0 prediction of its sampler, as `generation_c` and `decode_b` do.

Speed (none of it changes what is computed unless named): the UNets compiled by region, whole, or as
CUDA graphs (`compile.py`); the attention kernel pinned and recorded (`attention.py`); no host
synchronisation inside the sampling loops (tested); Stage A's tiles decoded in batches, and tiled
only when asked or, with "auto", when the untiled decode would not fit (`decode.py`). The named
settings that do change the numbers (`channels_last`, `tf32`, `stage_b_dtype = "bf16"`) are off.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from typing import Any

import torch

from ultrabench.ultrapixel import sampler as gdf
from ultrabench.ultrapixel.attention import attention_kernel, resolve_attention_backend
from ultrabench.ultrapixel.compile import compile_mode, compile_stage
from ultrabench.ultrapixel.configs import STAGE_A_TILED, STAGE_B_DTYPES, SamplerSettings
from ultrabench.ultrapixel.decode import count_tiles, decode_stage_a, plan_decode
from ultrabench.ultrapixel.sizes import (
    decoder_guide_scale,
    lr_latent_size,
    scale_norm_value,
    stage_b_latent_size,
    stage_c_latent_size,
)
from ultrabench.ultrapixel.stage_c import LRGuide


class UltraPixelPipeline:
    def __init__(
        self,
        stage_c,
        stage_b,
        stage_a,
        text_model,
        tokenizer,
        device: str | torch.device = "cpu",
        autocast_dtype: torch.dtype | None = None,
        settings: SamplerSettings = SamplerSettings(),
        offload: bool = False,
        compile: bool | str = False,
    ) -> None:
        """`compile`: False, True ("regional") or a mode of `compile.COMPILE_MODES`."""
        self.device = torch.device(device)
        self.stage_c, self.stage_b, self.stage_a = stage_c, stage_b, stage_a
        self.text_model, self.tokenizer = text_model, tokenizer
        self.autocast_dtype = autocast_dtype
        self.settings = settings
        self.offload = offload
        if settings.stage_b_dtype not in STAGE_B_DTYPES:
            from ultrabench.errors import UsageError

            raise UsageError(f"ultrapixel: stage_b_dtype {settings.stage_b_dtype!r} is not one of {', '.join(STAGE_B_DTYPES)}")
        if settings.stage_a_tiled not in STAGE_A_TILED:
            from ultrabench.errors import UsageError

            raise UsageError(f"ultrapixel: stage_a_tiled {settings.stage_a_tiled!r} is not true, false or \"auto\"")
        if settings.stage_a_overlap >= settings.stage_a_tile:
            from ultrabench.errors import UsageError

            raise UsageError(f"ultrapixel: stage_a_overlap {settings.stage_a_overlap} must be smaller than stage_a_tile "
                             f"{settings.stage_a_tile}")
        if autocast_dtype is not None:
            stage_b.to({"fp16": torch.float16, "bf16": torch.bfloat16}[settings.stage_b_dtype])
        memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
        for m in (stage_c, stage_b, stage_a):
            m.to(memory_format=memory_format)
        # One graph per latent shape (LR and HR); dynamic shapes would cost more than they save.
        self.compile_mode = compile_mode(compile)
        self._stage_c_call = compile_stage(stage_c, self.compile_mode)
        self._stage_b_call = compile_stage(stage_b, self.compile_mode)
        self._cuda_graphs = self.compile_mode == "reduce-overhead"
        if not offload:
            for m in (stage_c, stage_b, stage_a, text_model):
                m.to(self.device)
        self.attention = {
            name: resolve_attention_backend(settings.attention, model, self.device, self._compute_dtype(model))
            for name, model in (("stage_c", stage_c), ("stage_b", stage_b))
        }

    # -- helpers ------------------------------------------------------------------------------------------
    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def _compute_dtype(self, model) -> torch.dtype:
        return self.autocast_dtype or next(model.parameters()).dtype

    @contextlib.contextmanager
    def _stage(self, name: str):
        """A UNet's sampling loop: its attention kernel pinned, TF32 as the `tf32` setting says."""
        saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        if self.settings.tf32:
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        try:
            with attention_kernel(self.attention[name]):
                yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved

    def _call(self, fn, *args, **kwargs):
        """One UNet call. Under CUDA graphs each call is a new step, and its outputs are copied out
        of the graph's memory, which the next replay overwrites."""
        if not self._cuda_graphs:
            return fn(*args, **kwargs)
        torch.compiler.cudagraph_mark_step_begin()
        return _copied(fn(*args, **kwargs))

    @contextlib.contextmanager
    def _on_device(self, *modules):
        """With offload, a stage's models live on the CPU except while that stage runs."""
        if self.offload:
            for m in modules:
                m.to(self.device)
        try:
            yield
        finally:
            if self.offload:
                for m in modules:
                    m.to("cpu")
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()

    # -- stages -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode_text(self, prompt: str, autocast: bool = True) -> tuple[dict, dict]:
        """CLIP-G conditioning of the prompt and of the empty prompt (the unconditional branch).

        As the official `get_conditions`: one pass per prompt, padded to the tokenizer's 77 positions.
        `autocast`: under the pipeline's autocast, where the script computes Stage C's conditioning
        (inside `generation_c`); False: in the text model's float32, as it computes Stage B's.
        """
        branches = []
        with self._on_device(self.text_model), (self._autocast() if autocast else contextlib.nullcontext()):
            for text in (prompt, ""):
                tok = self.tokenizer([text], truncation=True, padding="max_length",
                                     max_length=self.tokenizer.model_max_length, return_tensors="pt")
                tok = {k: v.to(self.device) for k, v in tok.items() if k in ("input_ids", "attention_mask")}
                out = self.text_model(**tok, output_hidden_states=True)
                branches.append({"clip_text": out.hidden_states[-1], "clip_text_pooled": out.text_embeds.unsqueeze(1)})
        n_img = getattr(self.stage_c.config, "clip_image_in_channels", 768) or 768
        for b in branches:
            b["clip_img"] = torch.zeros(1, 1, n_img, device=self.device)
        return branches[0], branches[1]

    @staticmethod
    def _batched(cond: dict, uncond: dict) -> dict:
        return {k: torch.cat([cond[k], uncond[k]], dim=0) for k in cond}

    def _model_dtype_inputs(self, model, tensors: dict) -> dict:
        # Under autocast the conditioning goes in as the text model made it, as in the official run.
        if self.autocast_dtype is not None:
            return tensors
        dtype = next(model.parameters()).dtype
        return {k: v.to(dtype) for k, v in tensors.items()}

    def _stage_c_inputs(self, cond, uncond):
        return self._model_dtype_inputs(self.stage_c, self._batched(cond, uncond))

    @torch.no_grad()
    def lr_pass(self, inputs: dict, x_lr: torch.Tensor, noise: gdf.NoiseSource, grid: gdf.TimeGrid,
                on_step=None) -> tuple[gdf.SampleOutput, LRGuide]:
        s = self.settings
        capture_at = gdf.lr_capture_step(s.steps)
        captured: dict[str, LRGuide] = {}

        def model(x2, t2, i):
            with self._autocast():
                if i == capture_at:
                    out, feats = self._call(self._stage_c_call, x2, t2, capture=True, **inputs)
                    captured["guide"] = feats.conditional_half_for_cfg()
                    return out
                return self._call(self._stage_c_call, x2, t2, **inputs)

        with self._stage("stage_c"):
            out = gdf.sample(model, x_lr, grid, noise, s.cfg, s.cfg_rho, on_step)
        return out, captured["guide"]

    @torch.no_grad()
    def hr_pass(self, inputs, x_hr, guide: LRGuide | None, noise, grid, on_step=None) -> gdf.SampleOutput:
        """`guide` goes in at steps 0 .. guided_steps - 1 (the official stops after step 19); None: never."""
        s = self.settings

        def model(x2, t2, i):
            with self._autocast():
                return self._call(self._stage_c_call, x2, t2, lr_guide=guide if i < s.guided_steps else None, **inputs)

        with self._stage("stage_c"):
            return gdf.sample(model, x_hr, grid, noise, s.cfg, s.cfg_rho, on_step)

    @torch.no_grad()
    def stage_b_pass(self, c_latent, cond, uncond, x_b, noise, on_step=None) -> gdf.SampleOutput:
        s = self.settings
        b_in = self._model_dtype_inputs(
            self.stage_b,
            {
                "effnet": torch.cat([c_latent, torch.zeros_like(c_latent)], dim=0),
                "pooled": torch.cat([cond["clip_text_pooled"], uncond["clip_text_pooled"]], dim=0),
            },
        )
        effnet, pooled = b_in["effnet"], b_in["pooled"]

        def model(x2, t2, i):
            with self._autocast():
                return self._call(self._stage_b_call, x2, t2, clip_text_pooled=pooled, effnet=effnet, return_dict=False)[0]

        with self._stage("stage_b"):
            return gdf.sample(model, x_b, gdf.time_grid(s.decoder_steps), noise, s.decoder_cfg, s.decoder_cfg_rho, on_step)

    def stage_a_plan(self, h: int, w: int) -> tuple[bool, int]:
        """(tiled, tiles per decode call) for Stage B latents of h x w, on this device now."""
        s = self.settings
        return plan_decode(self.stage_a, h, w, s.stage_a_tiled, s.stage_a_tile, s.stage_a_overlap, s.stage_a_tile_batch,
                           self.device)

    @torch.no_grad()
    def stage_a_decode(self, b_latent, plan: tuple[bool, int] | None = None):
        """Stage A's decode in float32, not yet clamped (as `decode_b` returns it)."""
        s = self.settings
        tiled, batch = plan or self.stage_a_plan(*b_latent.shape[-2:])
        with self._autocast():
            return decode_stage_a(self.stage_a, b_latent, s.stage_a_scale, tiled, s.stage_a_tile, s.stage_a_overlap,
                                  batch)

    def latent_shapes(self, height: int, width: int) -> dict[str, tuple[int, ...]]:
        """Batch-1 shapes of the HR, LR and Stage B initial latents for an image of height x width."""
        s = self.settings
        return {"hr": (1, 16, *stage_c_latent_size(height, width)),
                "lr": (1, 16, *lr_latent_size(height, width, s.lr_std_size)),
                "b": (1, 4, *stage_b_latent_size(height, width))}

    # -- everything -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, prompt: str, seed: int, height: int, width: int, timer=None, trace: dict | None = None,
                 noise: gdf.NoiseSource | None = None):
        """One image (3, height, width) in [0, 1] float32 on the device, plus the settings that matter.

        `noise`: where the noise comes from (default: `NoiseSource(seed, device)`, per unit).
        `trace`, when given, receives the conditioning, the LR and HR latents and x0 predictions after
        every step, the hand-offs and the image (the parity harness compares them with the official code).
        """
        from ultrabench.timing import StageTimer

        timer = timer or StageTimer(str(self.device))
        s = self.settings
        shapes = self.latent_shapes(height, width)
        noise = noise or gdf.NoiseSource(seed, self.device)
        # Official order: HR noise first, then LR noise, both from the CPU stream; Stage B noise after.
        # Unguided (guided_steps 0) there is no LR pass and no LR noise: Stable Cascade's own sampler.
        x_hr = noise.initial(shapes["hr"])
        x_lr = noise.initial(shapes["lr"]) if s.guided_steps > 0 else None
        grid = gdf.time_grid(s.steps)
        hooks = {}
        if trace is not None:
            for k in ("lr", "lr_x0", "hr", "hr_x0", "b", "b_x0"):
                trace.setdefault(k, [])

            def hook(name):
                return lambda i, x, x0: (trace[name].append(x.detach().cpu().clone()),
                                         trace[name + "_x0"].append(x0.detach().cpu().clone()))

            hooks = {k: hook(k) for k in ("lr", "hr", "b")}

        with timer.stage("text_encode"):
            cond, uncond = self.encode_text(prompt)
            # the script computes Stage B's conditioning outside the autocast
            cond_b, uncond_b = (cond, uncond) if self.autocast_dtype is None else self.encode_text(prompt, autocast=False)
        inputs = self._stage_c_inputs(cond, uncond)
        guide = None
        with self._on_device(self.stage_c):
            if s.guided_steps > 0:
                with timer.stage("lr_pass"):
                    lr_out, guide = self.lr_pass(inputs, x_lr, noise, grid, hooks.get("lr"))
            with timer.stage("hr_pass"):
                c_latent = self.hr_pass(inputs, x_hr, guide, noise, grid, hooks.get("hr")).x0
        del guide, inputs
        x_b = noise.initial(shapes["b"])
        with self._on_device(self.stage_b):
            with timer.stage("stage_b"):
                b_latent = self.stage_b_pass(c_latent, cond_b, uncond_b, x_b, noise, hooks.get("b")).x0
        with self._on_device(self.stage_a):
            with timer.stage("stage_a"):
                a_plan = self.stage_a_plan(*shapes["b"][2:])  # with stage A on the device: its free memory
                decoded = self.stage_a_decode(b_latent, a_plan)
                img = decoded.clamp(0, 1)  # as the script's show_images
        if trace is not None:
            trace["text"] = {"stage_c": (cond, uncond), "stage_b": (cond_b, uncond_b)}
            if s.guided_steps > 0:
                trace["lr_latent"] = lr_out.x.detach().cpu()
            trace["stage_c_latent"] = c_latent.detach().cpu()
            trace["stage_b_latent"] = b_latent.detach().cpu()
            trace["stage_a_decode"] = decoded.detach().cpu()
            trace["image"] = img.detach().cpu()
        img = img[0, :, :height, :width]
        hr, lr, bl = shapes["hr"][2:], shapes["lr"][2:], shapes["b"][2:]
        info: dict[str, Any] = {
            "stage_c_latent": list(hr),
            "lr_latent": list(lr),
            "stage_b_latent": list(bl),
            "decoder_guide_scale": decoder_guide_scale(*hr),
            "scale_norm_s": round(scale_norm_value(*hr), 6),
            "stage_a_tiled": a_plan[0],
            "stage_a_tiles": count_tiles(*bl, s.stage_a_tile, s.stage_a_overlap) if a_plan[0] else 1,
            "stage_a_tile_batch": a_plan[1],
            "attention_backend": dict(self.attention),
            "compile": self.compile_mode,
            "sampler": asdict(s),
        }
        return img, info


def to_pil(img: torch.Tensor):
    """An image (3, H, W) in [0, 1], as `generate` returns it, rounded to an 8-bit RGB PIL image."""
    from PIL import Image

    return Image.fromarray(img.permute(1, 2, 0).mul(255).round().clamp(0, 255).to(torch.uint8).cpu().numpy())


def _copied(out):
    """`out` (a tensor, or tuples / LRGuides of them) with every tensor cloned."""
    if isinstance(out, torch.Tensor):
        return out.clone()
    if isinstance(out, LRGuide):
        return LRGuide([f.clone() for f in out.encoder], [f.clone() for f in out.decoder])
    if isinstance(out, (tuple, list)):
        return type(out)(_copied(o) for o in out)
    return out
