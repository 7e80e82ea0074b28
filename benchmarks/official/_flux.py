"""What the FLUX-based official-code comparisons share (HiFlow, I-Max, UltraFlux).

Each comparison runs the authors' own script beside `ultrabench generate` on one tiny random-weight
FLUX.1 folder, in the checkout's environment (`<checkout>/.ultrabench-venv`, as `ultrabench env create`
makes it), and diffs the two images. Nothing of a checkout is copied here: the authors' script is read
from the checkout at run time, a few listed lines of it are replaced (model paths, device, sizes: a
line that no longer reads as expected stops the comparison with that line), and it runs as a separate
process in a scratch folder.

Also here: reading a checkout's entry points without importing it (`signature`, `defines`), for the
interface checks that hold each stand-in checkout to the real code.

Run as a script inside a checkout's environment, it builds the tiny weights with that environment's
own diffusers and transformers, so the files are the ones that version writes and reads:

    <venv python> benchmarks/official/_flux.py flux-dev OUT       FLUX.1-dev's layout
    <venv python> benchmarks/official/_flux.py ultraflux OUT CHECKOUT
                  Owen777/UltraFlux-v1 (VAE of the checkout's own x16 class) under OUT/UltraFlux-v1,
                  the v1.1 transformer (other random weights) under OUT/UltraFlux-v1-1-Transformer
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VENV = ".ultrabench-venv"
PROMPT = "a lighthouse on a cliff above a stormy sea at dusk"


class Drift(Exception):
    """The authors' script no longer reads as this comparison expects (the message names the line)."""


# -- the checkout and its environment ------------------------------------------------------------------
def checkout_python(checkout: Path) -> Path:
    return Path(checkout) / VENV / "bin" / "python"


def commit_of(checkout: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    head = out.stdout.strip()
    return head if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", head) else None


def child_env(checkout: Path | None = None) -> dict[str, str]:
    """The environment of a child: the checkout (or this repository) alone on PYTHONPATH, offline, and
    none of the caller's ULTRABENCH_* settings but the cache (a method's repo variable must not leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ULTRABENCH_") or k == "ULTRABENCH_CACHE"}
    env.update(OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"), HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1",
               PYTHONHASHSEED="0")
    env["PYTHONPATH"] = str(checkout) if checkout is not None else str(ROOT)
    return env


def stopping_line(stderr: str) -> str:
    """The line that stopped a Python child: its last traceback frame and the error, on one line."""
    lines = [l for l in (stderr or "").splitlines() if l.strip()]
    frames = [i for i, l in enumerate(lines) if l.lstrip().startswith('File "')]
    err = next((l.strip() for l in reversed(lines) if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b", l)
                ), lines[-1].strip() if lines else "(no output)")
    if not frames:
        return err
    i = frames[-1]
    frame = lines[i].strip()
    code = lines[i + 1].strip() if i + 1 < len(lines) and not lines[i + 1].lstrip().startswith(("File ", err)) else ""
    return f"{frame}: {code} -> {err}" if code else f"{frame} -> {err}"


def version_line(python: Path) -> str:
    code = ("import torch, diffusers, transformers; "
            "print(f'torch {torch.__version__}, diffusers {diffusers.__version__}, transformers {transformers.__version__}')")
    p = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=child_env(), timeout=300)
    return p.stdout.strip() if p.returncode == 0 else f"(versions unreadable: {stopping_line(p.stderr)})"


# -- the tiny weights ------------------------------------------------------------------------------------
def build_weights(kind: str, python: Path, out: Path, checkout: Path | None = None) -> Path:
    """Build (once) the tiny weights of `kind` with the checkout environment's libraries."""
    marker = out / ".built"
    if marker.is_file():
        return out
    args = [str(python), str(Path(__file__).resolve()), kind, str(out)] + ([str(checkout)] if checkout else [])
    p = subprocess.run(args, capture_output=True, text=True, env=child_env(None), timeout=900)
    if p.returncode != 0:
        raise RuntimeError(f"building the tiny {kind} weights failed: {stopping_line(p.stderr)}")
    marker.write_text("complete\n")
    return out


def _build_flux_dev(out: Path) -> None:
    from baselines.testing import build_tiny_flux

    build_tiny_flux(out)


def _build_ultraflux(out: Path, checkout: Path) -> None:
    """UltraFlux-v1 as the script loads it: the FLUX.1-dev layout with the checkout's own VAE class at
    stride 2 (x16, so the pipeline's hard-coded vae_scale_factor of 32 holds), and a v1.1 transformer
    with other weights than v1's, so loading the wrong one shows in the images."""
    import shutil

    import torch

    from baselines.testing import build_tiny_flux

    sys.path.insert(0, str(checkout))
    from ultraflux.autoencoder_kl import AutoencoderKL  # the checkout's class: its `stride` is not diffusers'
    from diffusers import FluxTransformer2DModel

    v1 = build_tiny_flux(out / "UltraFlux-v1")
    shutil.rmtree(v1 / "vae")
    torch.manual_seed(1)
    AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, down_block_types=("DownEncoderBlock2D",) * 4,
                  up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(8, 8, 16, 16), layers_per_block=1,
                  norm_num_groups=4, sample_size=64, use_quant_conv=False, use_post_quant_conv=False,
                  shift_factor=0.1159, scaling_factor=0.3611, stride=2).save_pretrained(v1 / "vae")
    torch.manual_seed(2)
    config = FluxTransformer2DModel.load_config(v1 / "transformer")
    FluxTransformer2DModel.from_config(config).save_pretrained(out / "UltraFlux-v1-1-Transformer")


# -- the authors' script, as written, with listed lines replaced -----------------------------------------
def patched(source: str, replacements: list[tuple[str, str]], where: str,
            lines: list[tuple[str, str]] = ()) -> str:
    """`source` with each `old` (which must occur exactly once) replaced by `new`, and each line that
    starts with `prefix` (exactly one must) replaced by `new_line`."""
    for old, new in replacements:
        n = source.count(old)
        if n != 1:
            raise Drift(f"{where}: expected exactly one {old!r}, found {n}")
        source = source.replace(old, new)
    for prefix, new_line in lines:
        rows = source.splitlines(keepends=True)
        hits = [i for i, r in enumerate(rows) if r.startswith(prefix)]
        if len(hits) != 1:
            raise Drift(f"{where}: expected exactly one line starting {prefix!r}, found {len(hits)}")
        rows[hits[0]] = new_line + "\n"
        source = "".join(rows)
    return source


def readme_block(readme: str, marker: str) -> str:
    """The README's fenced code block that contains `marker`."""
    for block in re.findall(r"```[a-z]*\n(.*?)```", readme, flags=re.S):
        if marker in block:
            return block
    raise Drift(f"README.md: no code block containing {marker!r}")


def run_script(python: Path, checkout: Path, source: str, work: Path, name: str, timeout: int = 1800):
    """Run `source` as `<work>/<name>.py` in `<work>` with the checkout on the path; (ok, stderr)."""
    work.mkdir(parents=True, exist_ok=True)
    script = work / f"{name}.py"
    script.write_text(source)
    p = subprocess.run([str(python), str(script)], cwd=str(work), capture_output=True, text=True,
                       env=child_env(checkout), timeout=timeout)
    (work / f"{name}.stderr.txt").write_text(p.stderr or "")
    return p.returncode == 0, p.stderr or ""


# -- ultrabench's side -----------------------------------------------------------------------------------
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))


def run_ultrabench(method: str, settings: dict[str, Any], height: int, width: int, work: Path, seed: int = 0,
                   prompt: str = PROMPT, timeout: int = 1800) -> dict[str, Any]:
    """`ultrabench generate` of one unit; returns {"ok", "image", "record", "stderr"}."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "prompts.txt").write_text(prompt + "\n")
    body = ", ".join(f"{k} = {_toml_value(v)}" for k, v in settings.items())
    (work / "spec.toml").write_text(
        f'name = "official-{method}"\nout = "{work / "run"}"\nprompts = "builtin"\nnum_prompts = 1\nseed = {seed}\n'
        f'resolutions = ["{height}x{width}"]\nmetrics = []\n\n[[methods]]\nname = "{method}"\nsettings = {{ {body} }}\n')
    cmd = [sys.executable, "-m", "ultrabench", "--device", "cpu", "generate", "-s", str(work / "spec.toml"),
           "-o", str(work / "run"), "--prompts", str(work / "prompts.txt"), "-n", "1", "--seed", str(seed)]
    p = subprocess.run(cmd, cwd=str(ROOT), capture_output=True, text=True, env=child_env(None), timeout=timeout)
    (work / "ultrabench.stderr.txt").write_text((p.stdout or "") + (p.stderr or ""))
    folder = work / "run" / method / f"{height}x{width}"
    records = sorted(folder.glob("*.json")) if folder.is_dir() else []
    record = json.loads(records[0].read_text()) if records else None
    image = folder / f"{records[0].stem}.png" if records else None
    ok = p.returncode == 0 and record is not None and record.get("status") == "ok" and image.is_file()
    return {"ok": ok, "image": image, "record": record, "stderr": (p.stderr or "")[-3000:], "command": cmd}


SCHEDULER_PROBE = """
import json, sys
import numpy as np
from diffusers import FlowMatchEulerDiscreteScheduler
s = FlowMatchEulerDiscreteScheduler.from_pretrained(sys.argv[1], subfolder="scheduler")
exec(sys.argv[2])  # the script's own line(s), on `s`
n, seq = 30, int(sys.argv[3])
c = s.config
mu = c.base_shift + (c.max_shift - c.base_shift) * (seq - c.base_image_seq_len) / (c.max_image_seq_len - c.base_image_seq_len)
s.set_timesteps(sigmas=np.linspace(1.0, 1 / n, n), mu=mu)
plain = np.linspace(1.0, 1 / n, n)
print(json.dumps({"config_use_dynamic_shifting": bool(c.use_dynamic_shifting), "config_shift": float(c.shift),
                  "mu": mu, "sigma_1": float(s.sigmas[1]), "unshifted_sigma_1": float(plain[1]),
                  "shift_sigma_1": {str(k): float(k * plain[1] / (1 + (k - 1) * plain[1])) for k in (3.0, 4.0, 6.0)}}))
"""


def scheduler_probe(python: Path, scheduler_root: Path, lines: str, seq_len: int) -> dict[str, Any]:
    """What the checkout environment's scheduler does after the script's `lines` (on `s`): its second
    sigma of a 30-step schedule against the unshifted one and fixed shifts, with `mu` for `seq_len`
    image tokens (the pipelines' calculate_shift)."""
    p = subprocess.run([str(python), "-c", SCHEDULER_PROBE, str(scheduler_root), lines, str(seq_len)],
                       capture_output=True, text=True, env=child_env(), timeout=300)
    return json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else {"error": stopping_line(p.stderr)}


def scheduler_reading(probe: dict[str, Any]) -> str:
    """What the probed schedule is, in words: dynamic shifting, or the fixed shift it equals."""
    if "error" in probe:
        return f"not probed: {probe['error']}"
    import math

    sig, plain = probe["sigma_1"], probe["unshifted_sigma_1"]
    dyn = math.exp(probe["mu"]) * plain / (1 + (math.exp(probe["mu"]) - 1) * plain)
    if probe["config_use_dynamic_shifting"] and abs(sig - dyn) < 1e-5:
        return f"dynamic shifting on (mu {probe['mu']:.3f} from the image's token count)"
    for k, v in probe["shift_sigma_1"].items():
        if abs(sig - v) < 1e-5:
            return f"dynamic shifting off, fixed shift {float(k):g}"
    return f"unrecognised schedule (second sigma {sig:.6f})"


def image_diff(a: Path, b: Path) -> tuple[float, float, list[int], list[int]]:
    """(max, mean) absolute difference in 8-bit levels, and both (height, width)."""
    import numpy as np
    from PIL import Image

    x = np.asarray(Image.open(a).convert("RGB"), dtype=np.int16)
    y = np.asarray(Image.open(b).convert("RGB"), dtype=np.int16)
    if x.shape != y.shape:
        return float("inf"), float("inf"), list(x.shape[:2]), list(y.shape[:2])
    d = np.abs(x - y)
    return float(d.max()), float(d.mean()), list(x.shape[:2]), list(y.shape[:2])


def start(checkouts: Path, method: str, repo: str, commit: str, why: str, work: Path,
          weights: str) -> tuple[dict[str, Any], Path, Path | None, Path | None]:
    """(report so far, checkout, its environment's python, the tiny `weights` built with it); python and
    weights are None when the checkout cannot run, with the reason in the report."""
    checkout = Path(checkouts) / method
    rep = {"method": method, "repo": repo, "commit": commit, "sizes": None, "max_abs_diff": None,
           "mean_abs_diff": None, "tolerance": 0, "tolerance_why": why, "ran": False, "not_run_reason": None}
    py = checkout_python(checkout)
    if not checkout.is_dir():
        rep["not_run_reason"] = f"no checkout at {checkout}"
    elif commit_of(checkout) != commit:
        rep["not_run_reason"] = f"{checkout} is at {commit_of(checkout)}, not the pinned {commit}"
    elif not py.exists():
        rep["not_run_reason"] = f"no environment: {py} is missing (ultrabench env create {method} --repo {checkout})"
    else:
        rep["environment"] = version_line(py)
        try:
            built = build_weights(weights, py, Path(work) / "weights", checkout if weights == "ultraflux" else None)
        except RuntimeError as e:
            rep["not_run_reason"] = str(e)
            return rep, checkout, None, None
        return rep, checkout, py, built
    return rep, checkout, None, None


def run_pair(rep: dict[str, Any], checkout: Path, python: Path, work: Path, settings: dict[str, Any],
             size: tuple[int, int], script_name: str, make_script) -> dict[str, Any] | None:
    """`ultrabench generate` of one unit, then the authors' script (`make_script(seed, prompt)`, its text)
    with that unit's seed and prompt; fills `rep` and returns the unit record (None when a side failed)."""
    ours = run_ultrabench(rep["method"], {"repo": str(checkout), "python": str(python), **settings}, size[0], size[1],
                          work / "ultrabench")
    if not ours["ok"]:
        rep["not_run_reason"] = f"ultrabench generate failed: {stopping_line(ours['stderr'])}"
        return None
    record = ours["record"]
    try:
        text = make_script(int(record["seed"]), record.get("prompt", PROMPT))
    except Drift as e:
        rep["not_run_reason"] = str(e)
        return None
    ok, err = run_script(python, checkout, text, work / "official", script_name)
    if not ok:
        rep["not_run_reason"] = f"{script_name} stopped: {stopping_line(err)}"
        return None
    mx, mean, a, b = image_diff(work / "official" / "official.png", ours["image"])
    rep.update(ran=True, max_abs_diff=mx, mean_abs_diff=mean, seed=int(record["seed"]),
               sizes={"request": list(size), "official": a, "ultrabench": b},
               dtype=(record.get("settings") or {}).get("dtype"))
    return record


# -- reading entry points without importing them ---------------------------------------------------------
def _tree(source: str) -> ast.Module:
    return ast.parse(source)


def defines(source: str, name: str) -> bool:
    """Whether a module defines (or imports under that name) a top-level `name`."""
    for node in _tree(source).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) == name for a in node.names):
            return True
    return False


def signature(source: str, qualname: str) -> list[tuple[str, str | None]] | None:
    """[(parameter, default source or None)] of `func` or `Class.method` in `source`; None when absent or
    only imported. `*args` / `**kw` appear as "*args" / "**kw"."""
    parts = qualname.split(".")
    body = _tree(source).body
    node = None
    for part in parts:
        node = next((n for n in body if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name == part), None)
        if node is None:
            return None
        body = node.body
    if not isinstance(node, ast.FunctionDef):
        return None
    a = node.args
    pos = a.posonlyargs + a.args
    defaults = [None] * (len(pos) - len(a.defaults)) + [ast.unparse(d) for d in a.defaults]
    out = [(p.arg, d) for p, d in zip(pos, defaults)]
    if a.vararg:
        out.append(("*" + a.vararg.arg, None))
    out += [(p.arg, ast.unparse(d) if d is not None else None) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        out.append(("**" + a.kwarg.arg, None))
    return out


def _same_default(x: str | None, y: str | None) -> bool:
    if x == y:
        return True
    try:
        return ast.literal_eval(x) == ast.literal_eval(y)  # 7 and 7.0, "a" and 'a'
    except (ValueError, SyntaxError, TypeError):
        return False


def compare_signatures(real: list[tuple[str, str | None]] | None, stand: list[tuple[str, str | None]] | None,
                       where: str) -> list[str]:
    """What the stand-in declares differently from the real entry point: parameters the real one lacks,
    other defaults, another first parameter (the one called positionally)."""
    if real is None:
        return [f"{where}: not in the real code"]
    if stand is None:
        return [f"{where}: the stand-in does not define it"]
    out = []
    rmap = dict(real)
    real_open = any(n.startswith("**") for n, _ in real)
    for name, default in stand:
        if name.startswith("*"):
            continue
        if name not in rmap:
            if not real_open:
                out.append(f"{where}: the stand-in takes {name!r}, the real code does not")
            continue
        if not _same_default(default, rmap[name]):
            out.append(f"{where}: {name} defaults to {default} in the stand-in, {rmap[name]} in the real code")
    rnames = [n for n, _ in real if not n.startswith("*")]
    snames = [n for n, _ in stand if not n.startswith("*")]
    if rnames[:2] != snames[:2] and len(snames) >= 2:
        out.append(f"{where}: first parameters {snames[:2]} in the stand-in, {rnames[:2]} in the real code")
    return out


def accepts(real: list[tuple[str, str | None]] | None, keywords: list[str], where: str) -> list[str]:
    """Keywords our runner passes that the real entry point does not take."""
    if real is None:
        return []
    names = {n for n, _ in real}
    if any(n.startswith("**") for n in names):
        return []
    return [f"{where}: our runner passes {k!r}, which the real code does not take" for k in keywords if k not in names]


def call_keywords(source: str, callee: str) -> list[str]:
    """Keyword names of every call to `callee` (a name, or `x[...]` subscript's value name) in `source`,
    plus string members of any tuple assigned to a name ending in `CALL_KEYS` (splatted into the call)."""
    found: list[str] = []
    for node in ast.walk(_tree(source)):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else ast.unparse(f)
            if name == callee:
                found += [k.arg for k in node.keywords if k.arg]
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id.endswith("CALL_KEYS")
                                                 for t in node.targets):
            if isinstance(node.value, (ast.Tuple, ast.List)):
                found += [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
    return list(dict.fromkeys(found))


def interface(checkout: Path, stand_in: dict[str, str], entries: list[tuple[str, str, str | None]], runner: Path,
              call: tuple[str, str, str], required: list[tuple[str, str, str]]) -> list[str]:
    """Files only the stand-in has; for each (file, name, signature or None) our runner uses, the name
    missing from either side and the stand-in's signature against the real one; keywords the runner
    passes (`call` = (file, qualname, callee in the runner)) that the real entry point does not take;
    and each (file, text, why) of `required` the real code no longer has (the size rules and script
    lines ultrabench repeats)."""
    out = stand_in_files(checkout, stand_in)
    for rel, name, qual in entries:
        real, stand = read(checkout, rel), stand_in.get(rel)
        if real is None or not defines(real, name):
            out.append(f"{rel}: the real checkout has no {name}")
            continue
        if stand is None or not defines(stand, name):
            out.append(f"{rel}: the stand-in has no {name}")
        if qual:
            out += compare_signatures(signature(real, qual), signature(stand or "", qual), f"{rel}:{qual}")
    rel, qual, callee = call
    out += accepts(signature(read(checkout, rel) or "", qual), call_keywords(runner.read_text(), callee), f"{rel}:{qual}")
    out += [f"{rel}: no longer has {text!r} ({why})" for rel, text, why in required if text not in (read(checkout, rel) or "")]
    return out


def stand_in_files(checkout: Path, stand_in: dict[str, str]) -> list[str]:
    """Files the stand-in checkout has and the real one lacks (an `__init__.py` the real package has
    not changes how it imports)."""
    return [f"{rel}: in the stand-in, not in the real checkout" for rel in stand_in if not (Path(checkout) / rel).is_file()]


def read(checkout: Path, rel: str) -> str | None:
    p = Path(checkout) / rel
    return p.read_text(errors="replace") if p.is_file() else None


if __name__ == "__main__":
    # Not this folder: its ultraflux.py would shadow the checkout's `ultraflux/` (a folder without
    # __init__.py, so a namespace package, which any plain module of that name on the path beats).
    sys.path[0] = str(ROOT)
    kind, target = sys.argv[1], Path(sys.argv[2])
    if kind == "flux-dev":
        _build_flux_dev(target)
    elif kind == "ultraflux":
        _build_ultraflux(target, Path(sys.argv[3]))
    else:
        raise SystemExit(f"unknown kind {kind!r}")
