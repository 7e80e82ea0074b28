"""ElasticDiffusion: the authors' script (`python elastic_diffusion.py ...`) against
`ultrabench generate --method elasticdiffusion`, and our defaults against the script's and examples'."""

from __future__ import annotations

import ast
import re
import shutil
import tempfile
from pathlib import Path

from baselines import official as O
from benchmarks.official import _common as C

METHOD = "elasticdiffusion"
REPO = "MoayedHajiAli/ElasticDiffusion-official"
COMMIT = "45a679327caabd0a26ceca6ef4709ca5ce9e9bd5"
# The class pads every UNet input to SDXL's 128x128 latents (elastic_diffusion.py:398-400), so each call
# costs a 1024-pixel SDXL pass whatever the size: about 23 s on a loaded 2-core CPU with the real
# topology's 60 transformer blocks, 5.6 s with one layer per level. ElasticDiffusion patches no layer by
# name, so its comparison uses that lighter UNet (SDXL's blocks and conditioning), the tiny model's
# native 128x128 (its 1024-based size rule, :943-949, reads any tiny size as 1x) and 2 of the
# script's 50 steps (--steps, an ordinary argument; step 0 still runs resampling, repaint and RRG).
SIZE = (128, 128)
STEPS = 2
LAYERS = (1, 1, 1)
ENTRY_POINTS = ["ElasticDiffusion", "ElasticDiffusion.generate_image", "ElasticDiffusion.seed_everything"]
# __main__'s flag -> our setting
FLAGS = {"steps": "num_inference_steps", "guidance_scale": "guidance_scale", "negative": "negative_prompt",
         "cosine_scale": "cosine_scale", "rrg_scale": "rrg_scale", "resampling_steps": "resampling_steps",
         "new_p": "new_p", "rrg_stop_t": "rrg_stop_t", "view_batch_size": "view_batch_size",
         "repaint_sampling": "repaint_sampling", "tiled_decoder": "tiled_decoder"}


def compare(checkouts: Path, work: Path) -> dict:
    res, checkout = C.start(METHOD, REPO, COMMIT, checkouts)
    if checkout is None:
        return res
    h, w = SIZE
    out = Path(work) / METHOD / "official"
    shutil.rmtree(out, ignore_errors=True)

    def official(model, seed):
        return C.Official(["elastic_diffusion.py", "--prompt", C.PROMPT, "--H", h, "--W", w, "--seed", seed,
                           "--steps", STEPS, "--outdir", out], lambda: next(iter(sorted(out.glob("*/*/0.png"))), None),
                          f"python elastic_diffusion.py --H {h} --W {w} --steps {STEPS} (other flags: __main__ defaults)")

    tiny = C.tiny_sdxl(Path(work), layers=LAYERS)
    res["notes"] = [f"every UNet call is padded to SDXL's 128x128 latents (elastic_diffusion.py:398-405), so the "
                    f"comparison uses a UNet with {'/'.join(map(str, LAYERS))} transformer layers, "
                    f"{SIZE[0]}x{SIZE[1]} and {STEPS} steps (--steps) to fit a CPU",
                    "README.md:62-72's example passes drop_p=0.7, which generate_image at this commit does not "
                    "take (elastic_diffusion.py:953-965): the script's __main__ is the working entry point"]
    return C.compare_sdxl(res, checkout, Path(work), h, w, settings={"num_inference_steps": STEPS}, official=official,
                          env={"HF_HOME": str(tiny.hf_home)}, layers=LAYERS,
                          model_note=f", read by hub id {C.SDXL_ID} from a hub cache (HF_HOME)")


def _literal(node: ast.expr):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)


def script_defaults(path: Path) -> dict[str, tuple[object, int]]:
    """`--flag` -> (default, line) of every add_argument in the file."""
    out = {}
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument" and node.args:
            flag = _literal(node.args[0])
            default = next((k.value for k in node.keywords if k.arg == "default"), None)
            if isinstance(flag, str) and default is not None:
                out[flag.lstrip("-")] = (_literal(default), node.lineno)
    return out


def gradio_examples(path: Path) -> dict[tuple[int, int], tuple[int, float, float, int]]:
    """(height, width) -> (resampling steps, new_p, RRG scale, line) of the app's examples; each row is
    prompt, negative, width, height, ... (the order of generate_image_fn's parameters)."""
    out = {}
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.keyword) and node.arg == "examples" and isinstance(node.value, ast.List):
            for row in node.value.elts:
                v = [_literal(e) for e in row.elts]
                out[(int(v[3]), int(v[2]))] = (int(v[4]), float(v[5]), float(v[6]), row.lineno)
    return out


def _cited_lines(key: str) -> list[int]:
    """Line numbers our source cites for a setting (`"key": value,  # elastic_diffusion.py:NNNN`)."""
    text = Path(O.__file__).read_text()
    return [int(m.group(1)) for m in re.finditer(rf'"{key}": [^\n]*# elastic_diffusion\.py:(\d+)', text)]


def interface_check(checkout: Path) -> list[str]:
    checkout = Path(checkout)
    real = checkout / "elastic_diffusion.py"
    with tempfile.TemporaryDirectory() as tmp:
        fake = C.standin(METHOD, Path(tmp))
        problems = C.compare_signatures(real, fake / "elastic_diffusion.py", ENTRY_POINTS)
    # Defaults: the script's __main__, at the lines we cite.
    flags = script_defaults(real)
    for flag, key in FLAGS.items():
        if flag not in flags:
            problems.append(f"elastic_diffusion.py: no --{flag}")
            continue
        value, line = flags[flag]
        if O.ELASTIC_SCRIPT[key] != value:
            problems.append(f"elastic_diffusion.py:{line}: --{flag} defaults to {value!r}, we use {O.ELASTIC_SCRIPT[key]!r}")
        if line not in _cited_lines(key):
            problems.append(f"baselines/official.py cites {_cited_lines(key)} for {key}; --{flag} is at line {line}")
    # Per-size settings: the Gradio examples.
    examples = gradio_examples(checkout / "app_gradio.py")
    ours = {k: v[:3] for k, v in O.ELASTIC_EXAMPLES.items()}
    if {k: v[:3] for k, v in examples.items()} != ours:
        problems.append(f"app_gradio.py examples {sorted(examples)} differ from baselines.official.ELASTIC_EXAMPLES")
    for k, (_, _, _, line) in examples.items():
        if k in O.ELASTIC_EXAMPLES and not O.ELASTIC_EXAMPLES[k][3].startswith(f"app_gradio.py:{line}"):
            problems.append(f"ELASTIC_EXAMPLES cites {O.ELASTIC_EXAMPLES[k][3]} for {k}; the row is at app_gradio.py:{line}")
    app = (checkout / "app_gradio.py").read_text().splitlines()
    if f"rrg_stop_t={O.ELASTIC_EXAMPLE_RRG_STOP_T}" not in app[48].replace(" ", ""):
        problems.append(f"app_gradio.py:49 no longer passes rrg_stop_t={O.ELASTIC_EXAMPLE_RRG_STOP_T}: {app[48].strip()}")
    if "restricted to 2X the training resolution" not in (checkout / "README.md").read_text():
        problems.append("README.md: the 2x size limit (ElasticDiffusion.MAX_SIDE) is no longer stated")
    return problems
