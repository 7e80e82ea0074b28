"""Official-code methods run from the user's own checkout, in its own venv (ScaleCrafter, FouriScale and
ElasticDiffusion here; UltraFlux, HiFlow, I-Max and HiDiffusion in their own modules on this base).

These official implementations pin old diffusers releases and two carry no licence, so nothing of
them is copied or re-implemented here. ultrabench writes a job file, runs one of our runner scripts
(`baselines/runners/`) with the checkout's environment's Python, and validates what comes back:

    job.json       {"protocol": 1, "method", "repo", "model", "height", "width", "dtype", "device",
                    "settings": {...}, "items": [{"id", "prompt", "seed"}], "output_dir",
                    "weights": {setting: local path} (further weights, e.g. UltraFlux's v1.1 transformer)}
    response.json  {"protocol": 1, "method", "load_seconds", "device", "versions": {...},
                    "items": [{"id", "file", "height", "width", "stages": {name: seconds},
                               "peak_memory_bytes", "error"}]}

A child that crashes (no response) fails the batch with its stderr tail; an item with an `error`
fails that unit only (`OfficialRunError.partial` keeps the others); a response that does not follow
the protocol is rejected with a message (`OfficialProtocolError`).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Sequence

from ultrabench.errors import UltrabenchError, UsageError
from ultrabench.methods.base import (AsRun, GeneratedImage, Method, PartialBatchError, SizePlan, at_least, between,
                                     one_of)
from ultrabench.resolution import Resolution

PROTOCOL = 1
RUNNERS_DIR = Path(__file__).with_name("runners")
SDXL_REPO = "stabilityai/stable-diffusion-xl-base-1.0"
VENV_NAME = ".ultrabench-venv"


class OfficialRunError(PartialBatchError, UltrabenchError):
    """The child failed. `partial[i]` is the i-th image when that item succeeded, else None."""


class OfficialProtocolError(UltrabenchError):
    """The child's response does not follow the job/response protocol."""


# -- per-method resolution tables (from the official configs) ------------------------------------------
# ScaleCrafter ships one config per SDXL size (configs/sdxl_*.yaml, pixel_height x pixel_width).
SCALECRAFTER_CONFIGS: dict[tuple[int, int], str] = {
    (2048, 2048): "configs/sdxl_2048x2048.yaml",
    (2560, 2560): "configs/sdxl_2560x2560.yaml",
    (2048, 4096): "configs/sdxl_4096x2048.yaml",  # pixel_width 4096, pixel_height 2048
    (4096, 4096): "configs/sdxl_4096x4096.yaml",
}
# FouriScale: same config names; any other size reuses the nearest config with its pixel/latent sizes
# replaced (its padding-then-crop bucket rule handles arbitrary sizes).
FOURISCALE_CONFIGS = dict(SCALECRAFTER_CONFIGS)


def read_config_sizes(repo: Path) -> dict[tuple[int, int], str]:
    """(pixel_height, pixel_width) -> relative path of every `configs/sdxl_*.yaml` in a checkout."""
    out: dict[tuple[int, int], str] = {}
    for p in sorted((repo / "configs").glob("sdxl_*.yaml")):
        vals: dict[str, int] = {}
        for line in p.read_text(errors="replace").splitlines():
            key, _, val = line.partition(":")
            if key.strip() in ("pixel_height", "pixel_width"):
                try:
                    vals[key.strip()] = int(val.strip())
                except ValueError:
                    pass
        if {"pixel_height", "pixel_width"} <= set(vals) and "controlnet" not in p.name and "disperse" not in p.name:
            out.setdefault((vals["pixel_height"], vals["pixel_width"]), str(p.relative_to(repo)))
    return out


SDXL_LICENCE = "CreativeML Open RAIL++-M (SDXL 1.0 base weights)"


class OfficialMethod(Method):
    """Common machinery; subclasses set `runner`, `module`, the defaults and `plan()`."""

    family = "baseline"
    kind = "generate"
    max_batch_size = 8
    runner: str = ""  # file in baselines/runners/
    official_repo: str = ""  # GitHub owner/name, for messages
    # The commit of official_repo this adapter is written and compared against
    # (benchmarks/official_baselines.py runs the authors' code there beside ours: reports/official/).
    official_commit: str = ""
    licence: str = SDXL_LICENCE
    model_role: str = "sdxl_base"  # role of the `model` setting's weights
    # Further weight settings (setting -> role) resolved here like `model` and sent as job["weights"].
    extra_weights: dict[str, str] = {}
    common_settings: dict[str, Any] = {
        "repo": None,  # path to the official checkout (or env ULTRABENCH_<NAME>_REPO)
        "python": None,  # interpreter of its environment; None = <repo>/.ultrabench-venv/bin/python
        "model": SDXL_REPO,  # SDXL base weights: hub id (resolved here) or local folder
        "timeout_s": 7200,
        "device": None,  # None = the run's device
        "dtype": None,  # None = the run's --dtype, else the class's default_dtype (the authors')
    }
    common_rules = {"timeout_s": at_least(1), "num_inference_steps": at_least(1), "guidance_scale": at_least(0.0),
                    "dtype": one_of("float32", "float16", "bfloat16", optional=True)}

    # -- locations -------------------------------------------------------------------------------
    @classmethod
    def repo_env(cls) -> str:
        return f"ULTRABENCH_{cls.name.upper().replace('-', '_')}_REPO"

    def repo_path(self) -> Path | None:
        value = self.settings.get("repo") or os.environ.get(self.repo_env())
        return Path(value).expanduser() if value else None

    def _weight_settings(self) -> list[tuple[str, str]]:
        """(setting, role) of every weight the job needs; unset optional ones are left out."""
        pairs = [("model", self.model_role)] + list(self.extra_weights.items())
        return [(k, role) for k, role in pairs if self.settings.get(k)]

    def python_path(self) -> Path:
        if self.settings.get("python"):
            return Path(self.settings["python"]).expanduser()
        repo = self.repo_path()
        if repo is None:
            raise UsageError(f"{self.name}: no official checkout; set the setting repo=PATH "
                             f"(a clone of github.com/{self.official_repo})")
        from baselines.envs import venv_python

        return venv_python(repo / VENV_NAME)

    def weight_files(self):
        from baselines._common import model_location

        out = []
        for key, role in self._weight_settings():
            wf, _ = model_location(self, self.settings[key], role)
            if wf is not None:
                out.append(wf)
        return out

    def recorded_settings(self) -> dict[str, Any]:
        rec = {k: v for k, v in self.settings.items() if k not in ("python", "timeout_s")}
        rec.update(dtype=self.dtype, watermark=False, runner=self.runner,
                   official_repo=self.official_repo, official_commit=self.official_commit)
        commit = _git_head(self.repo_path()) if self.repo_path() else None
        if commit:
            rec["repo_commit"] = commit
        return rec

    def job_settings(self, res: Resolution) -> dict[str, Any]:
        return {k: v for k, v in self.settings.items() if k not in self.common_settings and k not in self.extra_weights}

    # -- work --------------------------------------------------------------------------------------
    def load(self) -> None:
        repo = self.repo_path()
        if repo is None:
            raise UsageError(f"{self.name} runs the official code: clone github.com/{self.official_repo}, set "
                             f"repo = \"PATH\" in the method's settings (or {self.repo_env()}) and run "
                             f"`ultrabench env create {self.name} --repo PATH`")
        if not repo.is_dir():
            raise UsageError(f"{self.name}: official checkout {repo} is not a folder; clone "
                             f"github.com/{self.official_repo} there or fix repo=PATH, then run "
                             f"`ultrabench env create {self.name} --repo PATH`")
        py = self.python_path()
        if not py.exists():
            raise UsageError(f"{self.name}: no Python at {py}; run `ultrabench env create {self.name} --repo {repo}`")
        from baselines._common import model_location

        paths = {}
        for key, role in self._weight_settings():
            wf, local = model_location(self, self.settings[key], role)
            paths[key] = str(local) if local is not None else str(self.weights.resolve(wf))
        self._model_path = paths.pop("model")
        self._extra_paths = paths
        self._ready = True

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], res: Resolution) -> list[GeneratedImage]:
        plan = self.plan(res)
        if plan.native is None:
            raise UsageError(f"{self.name} cannot generate {res.key}: {plan.reason}")
        if not getattr(self, "_ready", False):
            self.load()
        with tempfile.TemporaryDirectory(prefix=f"ultrabench-{self.name}-") as tmp:
            job = self.make_job(prompts, seeds, plan.native, Path(tmp), res)
            response = self.run_job(job, Path(tmp))
            return collect(job, response, plan, res)

    def make_job(self, prompts, seeds, native: Resolution, folder: Path, res: Resolution) -> dict[str, Any]:
        items = [{"id": f"{i:04d}", "prompt": str(p), "seed": int(s)} for i, (p, s) in enumerate(zip(prompts, seeds))]
        return {
            "protocol": PROTOCOL, "method": self.name, "repo": str(self.repo_path()),
            "model": getattr(self, "_model_path", self.settings["model"]),
            "height": native.height, "width": native.width,
            "dtype": self.dtype, "device": self.settings.get("device") or self.device,
            "settings": self.job_settings(res), "items": items, "output_dir": str(folder / "out"),
            "weights": dict(getattr(self, "_extra_paths", {})),
        }

    def run_job(self, job: dict[str, Any], folder: Path) -> dict[str, Any]:
        out = Path(job["output_dir"])
        out.mkdir(parents=True, exist_ok=True)
        job_file = folder / "job.json"
        job_file.write_text(json.dumps(job, indent=1))
        cmd = [str(self.python_path()), str(RUNNERS_DIR / self.runner), str(job_file)]
        env = dict(os.environ)
        # The runner imports the checkout's modules by name; nothing of ultrabench is on its path.
        env["PYTHONPATH"] = str(self.repo_path())
        env.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        try:
            proc = subprocess.run(cmd, cwd=str(self.repo_path()), env=env, capture_output=True, text=True,
                                  timeout=float(self.settings["timeout_s"]))
        except subprocess.TimeoutExpired:
            raise OfficialRunError(f"{self.name}: runner exceeded timeout_s={self.settings['timeout_s']}") from None
        (folder / "stderr.txt").write_text(proc.stderr or "")
        resp_file = out / "response.json"
        if proc.returncode != 0 and not resp_file.is_file():
            raise OfficialRunError(f"{self.name}: runner exited with code {proc.returncode}: {_tail(proc.stderr)}")
        if not resp_file.is_file():
            raise OfficialProtocolError(f"{self.name}: runner wrote no response.json (exit code {proc.returncode})")
        try:
            response = json.loads(resp_file.read_text())
        except json.JSONDecodeError as e:
            raise OfficialProtocolError(f"{self.name}: response.json is not JSON ({e.msg} at line {e.lineno})") from None
        response["_returncode"] = proc.returncode
        response["_stderr_tail"] = _tail(proc.stderr)
        return response


def collect(job: dict[str, Any], response: Any, plan: SizePlan, res: Resolution) -> list[GeneratedImage]:
    """Validate a response against its job and turn it into images (resized to `res` if planned)."""
    from PIL import Image

    from baselines._common import resize_exact

    name = job["method"]
    if not isinstance(response, dict):
        raise OfficialProtocolError(f"{name}: response is not a JSON object")
    if response.get("protocol") != PROTOCOL:
        raise OfficialProtocolError(f"{name}: response protocol {response.get('protocol')!r}, expected {PROTOCOL}")
    if response.get("error") and not response.get("items"):
        raise OfficialRunError(f"{name}: runner failed: {response['error']}")
    items = response.get("items")
    if not isinstance(items, list):
        raise OfficialProtocolError(f"{name}: response has no 'items' list")
    by_id: dict[str, dict] = {}
    for it in items:
        if not isinstance(it, dict) or not isinstance(it.get("id"), str):
            raise OfficialProtocolError(f"{name}: response item without a string 'id': {str(it)[:80]}")
        if it["id"] in by_id:
            raise OfficialProtocolError(f"{name}: response item {it['id']} appears twice")
        by_id[it["id"]] = it
    want = [it["id"] for it in job["items"]]
    unknown = sorted(set(by_id) - set(want))
    if unknown:
        raise OfficialProtocolError(f"{name}: response has items not in the job: {', '.join(unknown[:5])}")
    out_dir = Path(job["output_dir"]).resolve()
    results: list[GeneratedImage | None] = []
    errors: list[str | None] = []
    for item_id in want:
        it = by_id.get(item_id)
        if it is None:
            results.append(None)
            errors.append(f"{name}: runner returned nothing for item {item_id}")
            continue
        if it.get("error"):
            results.append(None)
            errors.append(f"{name}: {it['error']}")
            continue
        stages = it.get("stages")
        if not isinstance(stages, dict) or not stages or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
            for v in stages.values()
        ):
            raise OfficialProtocolError(f"{name}: item {item_id}: 'stages' must map names to seconds >= 0")
        f = it.get("file")
        if not isinstance(f, str):
            raise OfficialProtocolError(f"{name}: item {item_id}: no 'file'")
        path = (out_dir / f).resolve()
        if out_dir not in path.parents:
            raise OfficialProtocolError(f"{name}: item {item_id}: file {f!r} is outside the output folder")
        if not path.is_file():
            raise OfficialProtocolError(f"{name}: item {item_id}: file {f} does not exist")
        try:
            with Image.open(path) as im:
                fmt = im.format
                im.load()
                image = im.convert("RGB")
        except Exception as e:  # PIL raises several types for a bad file
            raise OfficialProtocolError(f"{name}: item {item_id}: {f} is not a readable image ({e})") from None
        if fmt != "PNG":
            raise OfficialProtocolError(f"{name}: item {item_id}: {f} is {fmt}, expected PNG")
        got = Resolution(image.height, image.width)
        if got != plan.native:
            raise OfficialProtocolError(
                f"{name}: item {item_id}: image is {got.key}, the job asked for {plan.native.key}"
            )
        final = resize_exact(image, res, plan.resize_filter or "lanczos") if got != res else image
        info = {"support": plan.support.value, "runner_load_seconds": response.get("load_seconds"),
                "child_device": response.get("device"), "child_versions": response.get("versions"),
                "official": it.get("info") or {}}
        if it.get("peak_memory_bytes") is not None:
            # The work ran in the child: its own CUDA peak is the figure, not this process's.
            info.update(peak_memory_bytes=int(it["peak_memory_bytes"]), peak_memory_kind="child_cuda_max_allocated")
        if plan.support.value != "native":
            info["resize_filter"] = plan.resize_filter
        results.append(GeneratedImage(image=final, stages={k: float(v) for k, v in stages.items()},
                                      native_size=got, info=info))
        errors.append(None)
    if any(e is not None for e in errors):
        first = next(e for e in errors if e)
        n = sum(e is not None for e in errors)
        raise OfficialRunError(f"{first}" + (f" (and {n - 1} more)" if n > 1 else ""), results, errors)
    return results  # type: ignore[return-value]


def _tail(text: str | None, n: int = 600) -> str:
    text = (text or "").strip()
    lines = [l for l in text.splitlines() if l.strip()]
    last = " | ".join(lines[-4:])
    return last[-n:] if last else "(no output)"


def _git_head(repo: Path | None) -> str | None:
    if repo is None:
        return None
    head = repo / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            return (repo / ".git" / ref[5:]).read_text().strip()
        return ref
    except OSError:
        return None


# -- the three methods ----------------------------------------------------------------------------------
class _ConfiguredSDXL(OfficialMethod):
    """ScaleCrafter and FouriScale: DDIM on SDXL with a per-resolution config file of the checkout.

    Setting `config`: a config file of your own (path, absolute or relative to the checkout) used at
    every size, as the authors' scripts take `--config` (their advice for a size they ship none for:
    copy a config and change its sizes, YingqingHe/ScaleCrafter#14)."""

    added_settings = ("config",)

    def config_for(self, res: Resolution) -> tuple[str | None, str]:
        raise NotImplementedError

    def _own_config(self) -> tuple[str, str] | None:
        return (str(self.settings["config"]), "user config") if self.settings.get("config") else None

    def job_settings(self, res: Resolution) -> dict[str, Any]:
        s = super().job_settings(res)
        cfg, how = self._own_config() or self.config_for(res)
        s.update(config=cfg, config_source=how)
        return s

    def recorded_settings(self) -> dict[str, Any]:
        rec = super().recorded_settings()
        rec["sampler"] = "DDIMScheduler"
        return rec


class ScaleCrafter(_ConfiguredSDXL):
    name = "scalecrafter"
    display_name = "ScaleCrafter"
    aliases = ("scale-crafter", "ScaleCrafter")
    description = "ScaleCrafter (official code, user checkout + its own venv); sizes = its SDXL configs"
    runner = "scalecrafter.py"
    official_repo = "YingqingHe/ScaleCrafter"
    official_commit = "9dc11851f7700df0037db7a1e7e42dab060e05dc"
    # text2image_xl.py (9dc1185) lines 70-72 (--mixed_precision default 'fp16') and 408-412 (weight_dtype)
    default_dtype = "float16"
    default_settings = {
        **OfficialMethod.common_settings,
        "config": None,  # your own config file instead of the per-size rule below
        # Cited from YingqingHe/ScaleCrafter at 9dc1185 (file:line).
        "num_inference_steps": 50,  # configs/sdxl_2048x2048.yaml:10 (every SDXL config)
        "guidance_scale": 5.0,  # text2image_xl.py:117, the forward's default; main() passes none
        "eta": 1.0,  # text2image_xl.py:121, DDIM's forward default (stochastic, global RNG)
        "freeu": True,  # text2image_xl.py:445-447 (b1=1.1, b2=1.2, s1=0.6, s2=0.4 unless --disable_freeu)
        "vae_tiling": True,  # text2image_xl.py:568, enable_vae_tiling() before every forward
        "sync_tiled_decode": False,  # text2image_xl.py:83, the --vae_tiling flag (off by default)
        "transposed_configs": True,  # H x W served by the W x H config (dilation is isotropic)
        "unlisted": "unsupported",  # sizes without a config: "unsupported" | "cog" (predict.py's rule)
    }
    setting_rules = {**OfficialMethod.common_rules, "eta": between(0.0, 1.0), "unlisted": one_of("unsupported", "cog")}

    def _configs(self) -> dict[tuple[int, int], str]:
        repo = self.repo_path()
        if repo is not None and (repo / "configs").is_dir():
            found = read_config_sizes(repo)
            if found:
                return found
        return dict(SCALECRAFTER_CONFIGS)

    def config_for(self, res: Resolution) -> tuple[str | None, str]:
        cfgs = self._configs()
        key = (res.height, res.width)
        if key in cfgs:
            return cfgs[key], "config"
        if self.settings["transposed_configs"] and (res.width, res.height) in cfgs:
            return cfgs[(res.width, res.height)], "transposed config"
        if self.settings["unlisted"] == "cog":
            # The authors' Replicate wrapper: 2048 config when either side <= 2560, else the 4096 one.
            small = res.height <= 2560 or res.width <= 2560
            return ("configs/sdxl_2048x2048.yaml" if small else "configs/sdxl_4096x4096.yaml"), "cog rule"
        return None, ""

    def plan(self, res: Resolution) -> SizePlan:
        if res.height % 8 or res.width % 8:
            return SizePlan.unsupported(res, "sides must be multiples of 8 (SDXL latents)")
        cfg, how = self._own_config() or self.config_for(res)
        if cfg is None:
            return SizePlan.unsupported(res, "no official ScaleCrafter SDXL config for this size "
                                             "(setting unlisted=cog applies the authors' predict.py rule)")
        return _config_as_run(SizePlan.native_at(res), self.display_name, cfg, how)


class FouriScale(_ConfiguredSDXL):
    name = "fouriscale"
    display_name = "FouriScale"
    aliases = ("fouri-scale", "FouriScale")
    description = "FouriScale (official code, user checkout + its own venv); any size via its bucket rule"
    runner = "fouriscale.py"
    official_repo = "LeonHLJ/FouriScale"
    official_commit = "6fb392eae53a5c1b67e6072f8a36cdae7b970258"
    # text2image_xl.py (6fb392e) lines 71-73 (--mixed_precision default 'fp16') and 481-485 (weight_dtype)
    default_dtype = "float16"
    default_settings = {
        **OfficialMethod.common_settings,
        "config": None,  # your own config file instead of the nearest shipped one
        # Cited from LeonHLJ/FouriScale at 6fb392e (file:line).
        "num_inference_steps": 50,  # configs/sdxl_2048x2048.yaml:6 (every SDXL config)
        "guidance_scale": 5.0,  # text2image_xl.py:205, the forward's default; main() passes none
        "eta": 1.0,  # text2image_xl.py:209
        "amp_guidance": False,  # text2image_xl.py:82 (--amp_guidance: x2.4 CFG before start_step, :376)
        "freeu": True,  # text2image_xl.py:519-521 (b1=1.1, b2=1.2, s1=0.6, s2=0.4 unless --disable_freeu)
        "vae_tiling": True,  # text2image_xl.py:566, enable_vae_tiling() before every forward
        "sync_tiled_decode": False,  # text2image_xl.py:83, the --vae_tiling flag (off by default)
    }
    setting_rules = {**OfficialMethod.common_rules, "eta": between(0.0, 1.0)}

    def config_for(self, res: Resolution) -> tuple[str, str]:
        repo = self.repo_path()
        cfgs = read_config_sizes(repo) if repo is not None and (repo / "configs").is_dir() else {}
        cfgs = cfgs or dict(FOURISCALE_CONFIGS)
        key = (res.height, res.width)
        if key in cfgs:
            return cfgs[key], "config"
        # Every SDXL config shares start/stop steps and settings files; only the sizes differ.
        near = min(cfgs, key=lambda k: (abs(k[0] * k[1] - res.height * res.width), k))
        return cfgs[near], "config with sizes replaced"

    def plan(self, res: Resolution) -> SizePlan:
        if res.height % 8 or res.width % 8:
            return SizePlan.unsupported(res, "sides must be multiples of 8 (SDXL latents)")
        cfg, how = self.config_for(res)
        return _config_as_run(SizePlan.native_at(res), self.display_name, cfg, how)


def _config_as_run(plan: SizePlan, method: str, cfg: str, how: str) -> SizePlan:
    """A plan served by one of the authors' per-size configs: theirs as they ran it only when the
    config is for exactly this height and width (their YAMLs name pixel_height and pixel_width)."""
    res = plan.requested
    if how == "config":
        return plan
    if how == "transposed config" or (how == "config with sizes replaced" and _config_is(cfg, res.width, res.height)):
        return plan.but(AsRun.NEW_SIZE, f"{method} at {res.key} (H x W): the authors' {cfg} is {res.width} high and "
                                        f"{res.height} wide; ultrabench transposes it, an orientation the authors "
                                        "never ran")
    rule = "the cog wrapper's rule picks" if how == "cog rule" else "ultrabench reuses"
    return plan.but(AsRun.NEW_SIZE, f"{method} at {res.key}: a size the authors never ran (no config of theirs); "
                                    f"{rule} {cfg} with its sizes replaced")


def _config_is(cfg: str, height: int, width: int) -> bool:
    return SCALECRAFTER_CONFIGS.get((height, width)) == cfg


# (height, width) the authors ran (MoayedHajiAli/ElasticDiffusion-official at 45a6793): elastic_diffusion.py
# lines 1140-1141 (--H/--W 2048), README.md line 65 (height 1024, width 2048), app_gradio.py lines 108-121
# (its examples give width first, then height, as the sliders of lines 81-82).
ELASTIC_AUTHORS_SIZES = frozenset({(2048, 2048), (1024, 2048), (1536, 1536), (2048, 1024), (1920, 1080), (1080, 1920),
                                   (1536, 2048), (2048, 1536), (2048, 768), (768, 2048), (768, 768), (512, 512),
                                   (512, 2048), (2048, 512)})


# ElasticDiffusion's settings, from MoayedHajiAli/ElasticDiffusion-official at 45a6793 (file:line).
# The script's __main__ (elastic_diffusion.py) is the default at every size ...
ELASTIC_SCRIPT = {
    "num_inference_steps": 50,  # elastic_diffusion.py:1144 (--steps)
    "guidance_scale": 10.0,  # elastic_diffusion.py:1146
    "negative_prompt": "blurry, ugly, duplicate, no details, deformed",  # elastic_diffusion.py:1137 (--negative)
    "cosine_scale": 10.0,  # elastic_diffusion.py:1147
    "rrg_scale": 4000.0,  # elastic_diffusion.py:1148 (passed as rrg_init_weight, :1186)
    "resampling_steps": 10,  # elastic_diffusion.py:1149
    "new_p": 0.3,  # elastic_diffusion.py:1150
    "rrg_stop_t": 0.2,  # elastic_diffusion.py:1151
    "view_batch_size": 16,  # elastic_diffusion.py:1152
    "repaint_sampling": True,  # elastic_diffusion.py:1155
    "tiled_decoder": False,  # elastic_diffusion.py:1156
}
# ... except at the sizes of the authors' examples (app_gradio.py:107-121, rows of prompt, negative,
# width, height, resampling steps, new_p, RRG scale; the Gradio function passes rrg_stop_t=0.4 at
# app_gradio.py:49 and its sliders default to CFG 10, cosine 10, 50 steps, view batch 16). Keyed (H, W).
_ELASTIC_EXAMPLE_NEGATIVE = "blurry, ugly, poorly drawn, deformed"
ELASTIC_EXAMPLES: dict[tuple[int, int], tuple[int, float, float, str]] = {
    # (height, width): (resampling_steps, new_p, rrg_scale, source)
    (2048, 2048): (10, 0.3, 2000.0, "app_gradio.py:108"),
    (1536, 1536): (7, 0.3, 1000.0, "app_gradio.py:109"),
    (2048, 1024): (7, 0.3, 1000.0, "app_gradio.py:110"),
    (1024, 2048): (7, 0.3, 1000.0, "app_gradio.py:111 (also README.md:62-72)"),
    (1920, 1080): (7, 0.3, 1000.0, "app_gradio.py:112"),
    (1080, 1920): (7, 0.3, 1000.0, "app_gradio.py:113"),
    (1536, 2048): (10, 0.3, 1500.0, "app_gradio.py:114"),
    (2048, 1536): (10, 0.3, 1500.0, "app_gradio.py:115"),
    (2048, 768): (7, 0.3, 1000.0, "app_gradio.py:116"),
    (768, 2048): (7, 0.3, 1000.0, "app_gradio.py:117"),
    (768, 768): (0, 0.3, 0.0, "app_gradio.py:118"),
    (512, 512): (0, 0.3, 0.0, "app_gradio.py:119"),
    (512, 2048): (7, 0.3, 1000.0, "app_gradio.py:120"),
    (2048, 512): (7, 0.3, 1000.0, "app_gradio.py:121"),
}
ELASTIC_EXAMPLE_RRG_STOP_T = 0.4  # app_gradio.py:49
ELASTIC_PER_SIZE = ("negative_prompt", "rrg_scale", "resampling_steps", "new_p", "rrg_stop_t")


def elastic_size_settings(res: Resolution) -> tuple[dict[str, Any], str]:
    """The authors' values of the per-size settings at `res`, and where they come from."""
    ex = ELASTIC_EXAMPLES.get((res.height, res.width))
    if ex is None:
        return {k: ELASTIC_SCRIPT[k] for k in ELASTIC_PER_SIZE}, "elastic_diffusion.py __main__ defaults (no example at this size)"
    steps, new_p, rrg, where = ex
    return {"negative_prompt": _ELASTIC_EXAMPLE_NEGATIVE, "rrg_scale": rrg, "resampling_steps": steps, "new_p": new_p,
            "rrg_stop_t": ELASTIC_EXAMPLE_RRG_STOP_T}, f"authors' example at {res.key} ({where}; rrg_stop_t app_gradio.py:49)"


class ElasticDiffusion(OfficialMethod):
    name = "elasticdiffusion"
    display_name = "ElasticDiffusion"
    aliases = ("elastic-diffusion", "ElasticDiffusion")
    description = "ElasticDiffusion (official code, user checkout + its own venv); up to 2048 per side"
    runner = "elasticdiffusion.py"
    official_repo = "MoayedHajiAli/ElasticDiffusion-official"
    official_commit = "45a679327caabd0a26ceca6ef4709ca5ce9e9bd5"
    MAX_SIDE = 2048  # README.md:36: "restricted to 2X the training resolution (i.e up to 2048 for ... XL)"
    # elastic_diffusion.py (45a6793) lines 115 and 121: torch_dtype = float16 if low_vram else float32, low_vram=False
    default_dtype = "float32"
    default_settings = {
        **OfficialMethod.common_settings,
        **ELASTIC_SCRIPT,
        # None = the authors' value at the size (elastic_size_settings): an example's, else __main__'s.
        **{k: None for k in ELASTIC_PER_SIZE},
    }
    setting_rules = {**OfficialMethod.common_rules, "cosine_scale": at_least(0.0),
                     "rrg_scale": at_least(0.0, optional=True), "resampling_steps": at_least(0, optional=True),
                     "new_p": between(0.0, 1.0, optional=True), "rrg_stop_t": between(0.0, 1.0, optional=True),
                     "view_batch_size": at_least(1), "dtype": one_of("float32", "float16", optional=True)}

    def job_settings(self, res: Resolution) -> dict[str, Any]:
        s = super().job_settings(res)
        authors, source = elastic_size_settings(res)
        given = [k for k in ELASTIC_PER_SIZE if s.get(k) is not None]
        s.update({k: v for k, v in authors.items() if s.get(k) is None})
        s["settings_source"] = source + (f"; set in the spec: {', '.join(given)}" if given else "")
        return s

    def plan(self, res: Resolution) -> SizePlan:
        if res.height > self.MAX_SIDE or res.width > self.MAX_SIDE:
            return SizePlan.unsupported(res, "official code is limited to 2x SDXL's training size (2048 per side)")
        if res.height % 8 or res.width % 8:
            return SizePlan.unsupported(res, "sides must be multiples of 8")
        return SizePlan.native_at(res).within(ELASTIC_AUTHORS_SIZES, self.display_name,
                                              "their script, README and demo examples")

    def recorded_settings(self) -> dict[str, Any]:
        rec = super().recorded_settings()
        rec["sampler"] = "DDIMScheduler"
        return rec
