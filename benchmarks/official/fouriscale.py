"""FouriScale: `text2image_xl.py` of the authors against `ultrabench generate --method fouriscale`."""

from __future__ import annotations

import contextlib
import io
import itertools
import tempfile
from pathlib import Path

from baselines.official import FOURISCALE_CONFIGS
from benchmarks.official import _common as C

METHOD = "fouriscale"
REPO = "LeonHLJ/FouriScale"
COMMIT = "6fb392eae53a5c1b67e6072f8a36cdae7b970258"
SIZE = (256, 256)
CONFIG = "configs/sdxl_2048x2048.yaml"
BUCKETS = "assets/base_settings/sdxl.txt"
ENTRY_POINTS = ["pipeline_processor", "pipeline_processor.forward", "TrainingFreeAttnProcessor",
                "read_layer_settings", "read_base_settings", "find_smallest_padding_pair"]
IMPORTED = ["list_layers", "register_free_upblock2d", "register_free_crossattn_upblock2d",
            "apply_sync_tiled_decode", "apply_tiled_processors"]
RUNNER_CONFIG_KEYS = {"start_step", "stop_step", "layer_settings", "base_settings", "progressive",
                      "num_inference_steps", "pixel_height", "pixel_width"}
SCALE = 8  # SDXL's 1024-pixel buckets -> the tiny model's 128-pixel native size


def scaled_buckets(checkout: Path, out: Path) -> Path:
    """The checkout's SDXL bucket table with every side divided by SCALE (same format and keys)."""
    lines = []
    for line in (Path(checkout) / BUCKETS).read_text().splitlines():
        ratio, _, sizes = line.partition(":")
        h, w = (int(float(v)) for v in sizes.split(","))
        lines.append(f"{ratio}:{h // SCALE},{w // SCALE}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return out


def compare(checkouts: Path, work: Path) -> dict:
    res, checkout = C.start(METHOD, REPO, COMMIT, checkouts)
    if checkout is None:
        return res
    h, w = SIZE
    folder = Path(work) / METHOD
    # At 1/8 scale the bucket search gives 128x128 and dilation 2 at 256x256, as 1024 and 2 at 2048x2048.
    buckets = scaled_buckets(checkout, folder / "sdxl_buckets_x0.125.txt")
    config = C.sized_config(checkout, CONFIG, h, w, folder / f"sdxl_{h}x{w}.yaml", {"base_settings": str(buckets)})
    return C.compare_text2image_xl(res, checkout, Path(work), h, w, config)


def _rule_grid() -> list[tuple[int, int]]:
    sides = [512, 768, 1024, 1080, 1536, 1792, 1920, 2048, 2160, 2560, 3072, 3840, 4096]
    return list(itertools.product(sides, sides))


def _same_rule(real: dict, standin: dict, table: dict, table_file: str) -> list[str]:
    """The stand-in's reader and bucket search give the real ones' answers on the real table."""
    try:
        if standin["read_base_settings"](table_file) != table:
            return [f"read_base_settings: the stand-in reads {BUCKETS} differently"]
        wrong = [(h, w) for h, w in _rule_grid() if real["find_smallest_padding_pair"](h, w, table)
                 != standin["find_smallest_padding_pair"](h, w, table)]
    except Exception as e:
        return [f"the stand-in's size rule fails on the real {BUCKETS}: {type(e).__name__}: {e}"]
    if wrong:
        return [f"find_smallest_padding_pair: stand-in differs from the real rule at {len(wrong)} of "
                f"{len(_rule_grid())} sizes, e.g. {wrong[0][0]}x{wrong[0][1]}"]
    return []


def interface_check(checkout: Path) -> list[str]:
    checkout = Path(checkout)
    real = checkout / "text2image_xl.py"
    with tempfile.TemporaryDirectory() as tmp:
        fake = C.standin(METHOD, Path(tmp))
        problems = C.text2image_xl_interface(checkout, fake, ENTRY_POINTS, IMPORTED)
        # Size rule: the stand-in's bucket search and reader give the real ones' answers on the real table.
        names = ["read_base_settings", "find_smallest_padding_pair"]
        r = C.extract_functions(real, names)
        try:
            s = C.extract_functions(fake / "text2image_xl.py", names)
        except KeyError as e:
            return problems + [f"stand-in text2image_xl.py: {e.args[0]}"]
        with contextlib.redirect_stdout(io.StringIO()):  # the real reader prints a line
            table_r = r["read_base_settings"](str(checkout / BUCKETS))
        problems += _same_rule(r, s, table_r, str(checkout / BUCKETS))
        try:
            fake_table = s["read_base_settings"](str(fake / BUCKETS))
        except Exception as e:
            fake_table = {}
            problems.append(f"stand-in read_base_settings cannot read its own {BUCKETS}: {type(e).__name__}: {e}")
        # The stand-in's table is the real one at 1/8 scale (same keys, sides / 8).
        off = [k for k, (h, w) in fake_table.items() if k not in table_r or [h * SCALE, w * SCALE] != table_r[k]]
        if off:
            problems.append(f"stand-in {BUCKETS}: buckets {off} are not the real table's at 1/{SCALE} scale")
        problems += C.check_configs(checkout, fake, FOURISCALE_CONFIGS, "FOURISCALE_CONFIGS", RUNNER_CONFIG_KEYS, CONFIG)
    return problems
