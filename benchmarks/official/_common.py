"""Helpers the SDXL-based official comparisons share.

- `tiny_sdxl(work)`: a random-weight SDXL with the real model's topology (module names, block and
  transformer-layer counts: the official code patches layers by name and checks them), written as a
  diffusers folder and as the Hugging Face hub cache entry of stabilityai/stable-diffusion-xl-base-1.0
  (ElasticDiffusion loads SDXL by that id only).
- `run_in_venv`: a command with the checkout's own environment, as the authors run it.
- `run_ultrabench`: the same prompt and seed through `ultrabench generate` (our public path).
- `image_diff`, `blocking_line`, and AST signature comparison for the interface checks (they read
  the real files and need none of their dependencies).
"""

from __future__ import annotations

import ast
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

ROOT = Path(__file__).resolve().parents[2]
SDXL_ID = "stabilityai/stable-diffusion-xl-base-1.0"
# A fixed snapshot name for the hub-cache copy (any 40-hex string serves offline).
SNAPSHOT = "0" * 40
PROMPT = "a watercolor painting of mountains at sunrise"
VENV = ".ultrabench-venv"
# The same image means the same pixels: both sides run the same library code in the same
# environment on the same CPU from the same seed, so any difference is a different computation.
EXACT = (0, "both sides run the checkout's code in its own venv on the same CPU with the same seed and weights; "
            "any pixel difference would mean our runner calls it differently")


# -- the tiny model -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TinySDXL:
    folder: Path  # diffusers layout (model_index.json, unet/, vae/, ...)
    hf_home: Path  # HF_HOME whose hub cache holds the same files as SDXL_ID
    native: int  # the UNet's native side in pixels (SDXL's 1024, here 8 * sample_size)
    real_topology: bool = True  # SDXL's transformer-layer counts (else fewer, same block layout)


REAL_LAYERS = (1, 2, 10)  # SDXL's transformer layers per level


def tiny_sdxl(work: Path, sample_size: int = 16, seed: int = 0, layers: tuple[int, int, int] = REAL_LAYERS) -> TinySDXL:
    """Build (once per work folder) the tiny SDXL of the real topology; see the module docstring.
    `layers` < REAL_LAYERS gives a cheaper UNet for code that patches no layer by name."""
    name = "real-topology" if tuple(layers) == REAL_LAYERS else "layers-" + "-".join(map(str, layers))
    base = Path(work) / "_models" / f"sdxl-{name}-{sample_size}-{seed}"
    folder = base / "diffusers"
    hf_home = base / "hf"
    done = base / "done"
    if not done.is_file():
        if base.exists():
            shutil.rmtree(base)
        _build_sdxl(folder, sample_size, seed, tuple(layers))
        repo = hf_home / "hub" / ("models--" + SDXL_ID.replace("/", "--"))
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(SNAPSHOT)
        shutil.copytree(folder, repo / "snapshots" / SNAPSHOT)
        done.write_text("ok\n")
    return TinySDXL(folder, hf_home, 8 * sample_size, tuple(layers) == REAL_LAYERS)


def _build_sdxl(out: Path, sample_size: int, seed: int, layers: tuple[int, int, int]) -> None:
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from baselines.testing import build_clip_tokenizer, tiny_vae

    torch.manual_seed(seed)
    tok_dir = out.parent / "tokenizer-src"
    tok = build_clip_tokenizer(tok_dir)
    # SDXL's UNet with every width cut down: 3 levels, 2 resnets per block, 1/2/10 transformer layers,
    # so the layer names in the authors' settings files (and HiDiffusion's key list) all exist.
    unet = UNet2DConditionModel(
        sample_size=sample_size, in_channels=4, out_channels=4, layers_per_block=2,
        block_out_channels=(16, 32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=layers, attention_head_dim=(1, 2, 4), use_linear_projection=True,
        cross_attention_dim=64, addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=8 * 6 + 32, norm_num_groups=8,
    )

    def text_config(projection: bool):
        return CLIPTextConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=37, num_attention_heads=4,
                              num_hidden_layers=2, max_position_embeddings=77, projection_dim=32,
                              hidden_act="gelu", bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                              pad_token_id=tok.pad_token_id)

    # SDXL's scheduler config (the official code builds DDIM from it).
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading", num_train_timesteps=1000)
    pipe = StableDiffusionXLPipeline(
        vae=tiny_vae(), text_encoder=CLIPTextModel(text_config(False)),
        text_encoder_2=CLIPTextModelWithProjection(text_config(True)), tokenizer=tok, tokenizer_2=tok, unet=unet,
        scheduler=scheduler, add_watermarker=False,
    )
    pipe.save_pretrained(out)
    shutil.rmtree(tok_dir, ignore_errors=True)
    # Transformers 5 saves CLIPTextModel's weights without the "text_model." prefix that 4.x releases look
    # for (they would silently initialise random weights instead); write the keys every release reads.
    from safetensors.torch import load_file, save_file

    for sub in ("text_encoder", "text_encoder_2"):
        f = out / sub / "model.safetensors"
        sd = load_file(f)
        save_file({(k if k.startswith(("text_model.", "text_projection.")) else "text_model." + k): v
                   for k, v in sd.items()}, f, metadata={"format": "pt"})
    # vocab.json + merges.txt, which every transformers release reads (newer ones save tokenizer.json only).
    from ultrabench.tiny.tokenizer import write_clip_tokenizer_files

    for sub in ("tokenizer", "tokenizer_2"):
        shutil.rmtree(out / sub)
        write_clip_tokenizer_files(out / sub, n_merges=2000)


# -- running -----------------------------------------------------------------------------------------------
def venv_python(checkout: Path) -> Path:
    return Path(checkout) / VENV / "bin" / "python"


def checkout_commit(checkout: Path) -> str | None:
    r = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def venv_versions(checkout: Path) -> dict[str, str]:
    code = ("import json, importlib.metadata as m\nout = {}\n"
            "for n in ('torch', 'diffusers', 'transformers', 'accelerate', 'huggingface_hub', 'numpy'):\n"
            "    try:\n        out[n] = m.version(n)\n    except Exception:\n        pass\nprint(json.dumps(out))")
    r = subprocess.run([str(venv_python(checkout)), "-c", code], capture_output=True, text=True)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {}


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1", OMP_NUM_THREADS="1",
               CUDA_VISIBLE_DEVICES="", PYTHONHASHSEED="0")
    env.update(extra or {})
    return env


def run_in_venv(checkout: Path, argv: Sequence[str], *, log: Path, env: dict[str, str] | None = None,
                timeout: float = 1800, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`<checkout>/.ultrabench-venv/bin/python ARGV...` in the checkout (or `cwd`); output kept in `log`."""
    cmd = [str(venv_python(checkout)), *map(str, argv)]
    try:
        proc = subprocess.run(cmd, cwd=str(cwd or checkout), env=child_env(env), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        proc = subprocess.CompletedProcess(cmd, 124, _text(e.stdout), _text(e.stderr) + f"\ntimed out after {timeout} s")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ {' '.join(cmd)}\n# exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc


# Runs the authors' script as `python SCRIPT ARGS` does, and keeps a lossless copy of each image the
# script saves (they write JPEG; a comparison of pixels needs the image before compression).
_LAUNCHER = '''
import runpy, sys
from PIL import Image

_save = Image.Image.save
kept = []

def save(self, fp, *a, **kw):
    if isinstance(fp, str) and fp.lower().endswith((".jpg", ".jpeg")):
        _save(self, fp + ".lossless.png", format="PNG")
    return _save(self, fp, *a, **kw)

Image.Image.save = save
script = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path.insert(0, ".")
runpy.run_path(script, run_name="__main__")
'''


def launcher(work: Path) -> Path:
    p = Path(work) / "_launch_script.py"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(_LAUNCHER.lstrip())
    return p


def run_ultrabench(method: str, height: int, width: int, *, settings: dict[str, Any], work: Path,
                   prompt: str = PROMPT, base_seed: int = 0, env: dict[str, str] | None = None,
                   timeout: float = 1800) -> tuple[Path, dict[str, Any]]:
    """One image through `ultrabench generate` with a one-method spec; (PNG, unit record).

    Raises RuntimeError with the CLI's last lines when it fails."""
    work = Path(work)
    run = work / "ultrabench-run"
    if run.exists():
        shutil.rmtree(run)
    work.mkdir(parents=True, exist_ok=True)
    (work / "prompts.txt").write_text(prompt + "\n")
    spec = work / "spec.toml"
    spec.write_text(textwrap.dedent(f"""\
        name = "official-{method}"
        prompts = {json.dumps(str(work / 'prompts.txt'))}
        num_prompts = 1
        seed = {int(base_seed)}
        batch_size = 1
        warmup = 0
        resolutions = ["{height}x{width}"]
        metrics = []

        [[methods]]
        name = "{method}"
        resolutions = ["{height}x{width}"]
        [methods.settings]
        """) + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items()))
    cmd = [sys.executable, "-m", "ultrabench", "generate", "--spec", str(spec), "--out", str(run)]
    e = child_env({"PYTHONPATH": str(ROOT), **(env or {})})
    try:
        proc = subprocess.run(cmd, cwd=str(ROOT), env=e, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"ultrabench generate did not finish in {timeout} s") from None
    (work / "ultrabench.log").write_text(f"$ {' '.join(cmd)}\n# exit {proc.returncode}\n--- stdout\n{proc.stdout}\n"
                                         f"--- stderr\n{proc.stderr}")
    records = [json.loads(p.read_text()) for p in sorted((run / method / f"{height}x{width}").glob("*.json"))]
    records = [r for r in records if isinstance(r, dict) and "seed" in r]
    if proc.returncode != 0 or not records or records[0].get("status") != "ok":
        detail = (records[0].get("error") if records else None) or _last_lines(proc.stderr or proc.stdout)
        raise RuntimeError(f"ultrabench generate failed (exit {proc.returncode}): {detail}")
    rec = records[0]
    png = run / method / f"{height}x{width}" / Path(rec.get("image") or "").name
    if not png.is_file():
        png = next((run / method / f"{height}x{width}").glob("*.png"))
    return png, rec


def _text(b: bytes | str | None) -> str:
    return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")


def _last_lines(text: str | None, n: int = 3) -> str:
    lines = [l for l in (text or "").strip().splitlines() if l.strip()]
    return " | ".join(lines[-n:]) or "(no output)"


# -- results ------------------------------------------------------------------------------------------------
def image_diff(a: Path, b: Path) -> dict[str, Any]:
    """Max and mean absolute difference of two images in 0..255 levels, and their sizes."""
    import numpy as np
    from PIL import Image

    x = np.asarray(Image.open(a).convert("RGB"), dtype=np.int16)
    y = np.asarray(Image.open(b).convert("RGB"), dtype=np.int16)
    out: dict[str, Any] = {"official_size": f"{x.shape[0]}x{x.shape[1]}", "ultrabench_size": f"{y.shape[0]}x{y.shape[1]}"}
    if x.shape != y.shape:
        out.update(max_abs_diff=None, mean_abs_diff=None, same_size=False)
        return out
    d = np.abs(x - y)
    out.update(max_abs_diff=int(d.max()), mean_abs_diff=float(d.mean()), same_size=True,
               differing_pixels=int((d.max(axis=-1) > 0).sum()))
    return out


_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<fn>.+)$')


def blocking_line(stderr: str, checkout: Path | None = None) -> str | None:
    """The innermost frame of the last traceback that lies in the checkout (else the innermost one),
    with its source line and the exception: 'file:line: code -> Error: message'."""
    lines = (stderr or "").splitlines()
    starts = [i for i, l in enumerate(lines) if l.startswith("Traceback (most recent call last)")]
    if not starts:
        return None
    tb = lines[starts[-1]:]
    frames = []
    for i, l in enumerate(tb):
        m = _FRAME.match(l)
        if m:
            code = tb[i + 1].strip() if i + 1 < len(tb) and not _FRAME.match(tb[i + 1]) else ""
            frames.append((m.group("file"), m.group("line"), code))
    exc = next((l.strip() for l in reversed(tb) if l.strip() and not l.startswith(" ")), "")
    if not frames:
        return exc or None
    root = str(Path(checkout).resolve()) if checkout else None
    inside = [f for f in frames if root and f[0].startswith(root) and f"/{VENV}/" not in f[0]]
    file, line, code = (inside or frames)[-1]
    if root and file.startswith(root):
        file = file[len(root) + 1:]
    return f"{file}:{line}: {code} -> {exc}"


def machine() -> str:
    return f"{platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs), CPU only"


def base_result(method: str, repo: str, commit: str) -> dict[str, Any]:
    return {"method": method, "repo": repo, "pinned_commit": commit, "machine": machine(),
            "status": None, "runs": [], "could_not_run": None}


def start(method: str, repo: str, commit: str, checkouts: Path) -> tuple[dict[str, Any], Path | None]:
    """The result skeleton and `<checkouts>/<method>`, or None (with the reason recorded) when unusable."""
    res = base_result(method, repo, commit)
    checkout = Path(checkouts) / method
    return res, (checkout if check_checkout(res, checkout, commit) else None)


def check_checkout(res: dict[str, Any], checkout: Path, commit: str) -> bool:
    """Records the checkout's commit; False (and the reason) when there is no usable checkout."""
    if not Path(checkout).is_dir():
        res.update(status="no checkout", could_not_run=f"no checkout at {checkout}")
        return False
    res["checkout_commit"] = checkout_commit(checkout)
    if res["checkout_commit"] != commit:
        res["commit_note"] = f"checkout is at {res['checkout_commit']}, the method pins {commit}"
    if not venv_python(checkout).exists():
        res.update(status="could not run", could_not_run=f"no environment: run `ultrabench env create "
                                                         f"{res['method']} --repo {checkout}`")
        return False
    res["versions"] = venv_versions(checkout)
    return True


def tolerance_verdict(diff: dict[str, Any], tolerance: int) -> str:
    if not diff.get("same_size"):
        return "differ"
    return "match" if diff["max_abs_diff"] <= tolerance else "differ"


# -- interface checks (static: the real files are read, never imported) --------------------------------------
def _find(tree: ast.AST, qualname: str) -> ast.AST | None:
    node: ast.AST | None = tree
    for part in qualname.split("."):
        found = None
        for child in ast.walk(node) if node is not tree else ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and child.name == part:
                found = child
                break
        if found is None:
            return None
        node = found
    return node


def signature(path: Path, qualname: str) -> list[tuple[str, str | None]] | None:
    """[(parameter, default source or None)] of a function, method or class (its __init__) in a file;
    None when the file or the name is missing. Dotted names reach methods and nested functions."""
    try:
        tree = ast.parse(Path(path).read_text(errors="replace"))
    except (OSError, SyntaxError):
        return None
    node = _find(tree, qualname)
    if isinstance(node, ast.ClassDef):
        node = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    a = node.args
    pos = a.posonlyargs + a.args
    defaults: list[ast.expr | None] = [None] * (len(pos) - len(a.defaults)) + list(a.defaults)
    out = [(p.arg, None if d is None else ast.unparse(d)) for p, d in zip(pos, defaults)]
    out += [(p.arg, None if d is None else ast.unparse(d)) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.vararg:
        out.append(("*" + a.vararg.arg, None))
    if a.kwarg:
        out.append(("**" + a.kwarg.arg, None))
    if out and out[0][0] in ("self", "cls") and "." in qualname:
        out = out[1:]
    return out


def has_name(path: Path, name: str) -> bool:
    """Whether a file defines or imports `name` at module level (function, class, assignment, import)."""
    try:
        tree = ast.parse(Path(path).read_text(errors="replace"))
    except (OSError, SyntaxError):
        return False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if any((al.asname or al.name.split(".")[0]) == name for al in node.names):
                return True
    return False


def compare_signatures(real: Path, standin: Path, qualnames: Iterable[str]) -> list[str]:
    """Mismatches between the stand-in's and the real file's entry points. The stand-in must offer
    exactly the real parameters: the same names, in the same order, with the same defaults."""
    problems = []
    for q in qualnames:
        r, s = signature(real, q), signature(standin, q)
        where = f"{real.name}:{q}"
        if r is None:
            problems.append(f"{where}: not in the real code")
        elif s is None:
            problems.append(f"{where}: not in the stand-in")
        elif r != s:
            problems.append(f"{where}: stand-in ({_fmt(s)}) != real ({_fmt(r)})")
    return problems


def _fmt(sig: list[tuple[str, str | None]]) -> str:
    return ", ".join(n if d is None else f"{n}={d}" for n, d in sig)


def extract_functions(path: Path, names: Sequence[str], prelude: str = "import math\n") -> dict[str, Any]:
    """Module-level functions of a file compiled on their own (for pure size rules such as FouriScale's
    bucket search), so the real rule runs without the file's heavy imports."""
    tree = ast.parse(Path(path).read_text(errors="replace"))
    src = [ast.get_source_segment(Path(path).read_text(errors="replace"), n) for n in tree.body
           if isinstance(n, ast.FunctionDef) and n.name in names]
    ns: dict[str, Any] = {}
    exec(compile(prelude + "\n\n".join(s for s in src if s), str(path), "exec"), ns)  # noqa: S102 - the authors' pure function
    missing = [n for n in names if n not in ns]
    if missing:
        raise KeyError(f"{path.name} has no {', '.join(missing)}")
    return ns


def standin(method: str, folder: Path) -> Path:
    """Our stand-in checkout of `method`, written into `folder`."""
    from baselines.standin_checkouts import write_checkout

    return write_checkout(method, folder)


# -- ScaleCrafter and FouriScale: text2image_xl.py ------------------------------------------------------------
def sized_config(checkout: Path, config: str, height: int, width: int, out: Path,
                 replace: dict[str, str] | None = None) -> Path:
    """A copy of one of the checkout's configs with its sizes changed, as the authors advise for other
    sizes (YingqingHe/ScaleCrafter#14); `replace` swaps whole values (e.g. a settings file)."""
    values = {"latent_height": str(height // 8), "latent_width": str(width // 8), "pixel_height": str(height),
              "pixel_width": str(width), **(replace or {})}
    lines = []
    for line in (Path(checkout) / config).read_text().splitlines():
        key = line.partition(":")[0].strip()
        lines.append(f"{key}: {values[key]}" if key in values else line)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return out


@dataclass
class Official:
    """How to run the authors' entry point once the seed is known."""
    argv: list  # for run_in_venv (the script and its arguments)
    image: Callable[[], Path | None]  # where its image is after the run
    entry_point: str  # what was called, for the report
    env: dict[str, str] = field(default_factory=dict)


def compare_sdxl(res: dict[str, Any], checkout: Path, work: Path, height: int, width: int, *,
                 settings: dict[str, Any], official: Callable[[TinySDXL, int], Official],
                 env: dict[str, str] | None = None, model_note: str = "",
                 layers: tuple[int, int, int] = REAL_LAYERS) -> dict[str, Any]:
    """`ultrabench generate` on the tiny SDXL (its unit seed fixes the seed), then the authors' entry point
    with that seed in the checkout's venv; the images compared against EXACT."""
    work = Path(work)
    model = tiny_sdxl(work, layers=layers)
    method = res["method"]
    tol, why = EXACT
    shape = "real topology" if model.real_topology else f"SDXL's blocks, {'/'.join(map(str, layers))} transformer layers"
    res.update(tolerance=tol, tolerance_why=why, model=f"tiny random-weight SDXL ({shape}), native {model.native}px{model_note}")
    env = dict(env or {})
    try:
        ours, rec = run_ultrabench(method, height, width, work=work / method / "ultrabench", env=env,
                                   settings={"repo": str(checkout), "model": str(model.folder), "dtype": "float32",
                                             "device": "cpu", **settings})
    except RuntimeError as e:
        res.update(status="could not run", could_not_run=f"ultrabench: {e}")
        return res
    seed = int(rec["seed"])
    off = official(model, seed)
    proc = run_in_venv(checkout, off.argv, log=work / method / "official.log", env={**env, **off.env})
    run = {"size": f"{height}x{width}", "seed": seed, "prompt": PROMPT, "entry_point": off.entry_point,
           "ultrabench_settings": settings, "ultrabench_info": (rec.get("info") or {}).get("official")}
    res["runs"].append(run)
    image = off.image()
    if proc.returncode != 0 or image is None or not image.is_file():
        res.update(status="could not run", could_not_run=blocking_line(proc.stderr, checkout) or _last_lines(proc.stderr))
        return res
    run.update(image_diff(image, ours))
    run["verdict"] = tolerance_verdict(run, tol)
    res["status"] = run["verdict"]
    return res


def _first(pattern: str, folder: Path) -> Callable[[], Path | None]:
    return lambda: next(iter(sorted(Path(folder).glob(pattern))), None)


def compare_text2image_xl(res: dict[str, Any], checkout: Path, work: Path, height: int, width: int,
                          config: Path) -> dict[str, Any]:
    """`python text2image_xl.py --config CONFIG ...` as the READMEs run it (float32: --mixed_precision no,
    since float16 convolutions do not run on a CPU) beside `ultrabench generate` with setting config=CONFIG."""
    out = Path(work) / res["method"] / "official"
    shutil.rmtree(out, ignore_errors=True)

    def official(model: TinySDXL, seed: int) -> Official:
        return Official([launcher(work), "text2image_xl.py", "--pretrained_model_name_or_path", model.folder,
                         "--config", config, "--validation_prompt", PROMPT, "--seed", seed, "--logging_dir", out,
                         "--mixed_precision", "no"], _first("*.lossless.png", out),
                        f"text2image_xl.py main() --config {config.name} --mixed_precision no (lossless copy of the "
                        f"image it saves as JPEG); config: {' '.join(config.read_text().split())}")

    return compare_sdxl(res, checkout, work, height, width, settings={"config": str(config)}, official=official)


def check_configs(checkout: Path, fake: Path, expected: dict, name: str, runner_keys: set[str],
                  config: str) -> list[str]:
    """The checkout's configs against our size table `expected` (called `name`), the keys the runner
    reads, and the stand-in's config keys against the real `config`'s."""
    from baselines.official import read_config_sizes

    found = read_config_sizes(checkout)
    problems = []
    if found != expected:
        problems.append(f"configs: the checkout has {sorted(found)}, baselines.official.{name} lists {sorted(expected)}")
    for rel in sorted(set(found.values())):
        missing = runner_keys - config_keys(checkout / rel)
        if missing:
            problems.append(f"{rel}: lacks {', '.join(sorted(missing))}, which the runner reads")
    real_keys = config_keys(checkout / config)
    fake_keys = set().union(*(config_keys(p) for p in (fake / "configs").glob("*.yaml")))
    if fake_keys != real_keys:
        problems.append(f"stand-in config keys differ from {config}: {sorted(fake_keys ^ real_keys)}")
    return problems


def config_keys(path: Path) -> set[str]:
    return {l.partition(":")[0].strip() for l in Path(path).read_text().splitlines() if ":" in l and not l.startswith("#")}


def text2image_xl_interface(checkout: Path, fake: Path, entry_points, imported) -> list[str]:
    """ScaleCrafter's and FouriScale's shared checks: text2image_xl.py's entry points and FreeU
    registration as the stand-in has them, and the names the runner imports from the script."""
    real = checkout / "text2image_xl.py"
    problems = compare_signatures(real, fake / "text2image_xl.py", entry_points)
    problems += compare_signatures(checkout / "free_lunch_utils.py", fake / "text2image_xl.py",
                                   ["register_free_upblock2d", "register_free_crossattn_upblock2d"])
    return problems + [f"text2image_xl.py: no {n}" for n in imported if not has_name(real, n)]
