"""Repetition score (ultrabench.metrics.repetition): the score function on constructed token grids,
the DINOv2 patch-token output, and synthetic images through the scoring API on the random stand-in."""

import json
import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ultrabench.metrics import repetition as rep

S = 896  # canvas; the 448 view makes one token of 28 canvas pixels


def grid(rng, d=256, n=32, sd=0.1, base=None):
    """n x n tokens: a shared texture vector plus iid noise (a uniformly textured image)."""
    base = rng.normal(size=d) if base is None else base
    return base + sd * rng.normal(size=(n, n, d))


def test_score_function_on_constructed_token_grids():
    rng = np.random.default_rng(0)
    texture = grid(rng)
    assert rep.repetition_features(texture, 1, 1)[0] < 0.02  # all alike: no far match beats the near ones
    obj = rng.normal(size=(4, 4, 256))  # a distinct object of 4x4 tokens
    once = texture.copy()
    once[14:18, 14:18] = obj
    copies = texture.copy()
    for y, x in ((2, 2), (2, 24), (24, 2), (24, 24)):
        copies[y:y + 4, x:x + 4] = obj + 0.05 * rng.normal(size=obj.shape)
    s_once, s_copies = rep.repetition_features(once, 1, 1)[0], rep.repetition_features(copies, 1, 1)[0]
    assert s_once < 0.02 and s_copies > 0.3
    f = rep.repetition_features(copies, 896, 896)
    (y0, x0), (y1, x1) = f[2:4], f[4:6]  # the best pair: one copy's token and another's
    cells = {(int(y // 28) // 22, int(x // 28) // 22) for y, x in ((y0, x0), (y1, x1))}
    # 4 copies x 16 tokens, give or take a border token whose block overlaps a copy
    assert len(cells) == 2 and 56 / 1024 <= f[1] <= 80 / 1024


def test_copies_count_at_every_distance():
    # a 4x4-token object tiled 8x8 over the grid: every copy is 4 cells from the next, which v1 took for
    # the token's own surroundings (score 0)
    rng = np.random.default_rng(3)
    obj = rng.normal(size=(4, 4, 64))
    tiled = np.tile(obj, (8, 8, 1)) + 0.05 * rng.normal(size=(32, 32, 64))
    assert rep.repetition_features(tiled, 1, 1)[0] > 0.5


def test_contrast_closed_form():
    # 2-d tokens on a 8x8 grid: all a = (1, 0) except the 3x3 blocks around (1, 1) and (6, 6), equal to
    # b = (0, 1) at the centre and c = (0.6, 0.8) around it. Cell (1, 1): best far match (6, 6)
    # (cos 1), the blocks match cell for cell (B = 1); its unit shifts give at most (4 * 0.6 + 4 * 0.8 +
    # 1 * 1) / 9 ... computed below; the turned block is the same block (symmetric), so c = 0 there:
    # a symmetric block is a pattern, not an object; an asymmetric one keeps its contrast
    t = np.tile(np.array([1.0, 0.0]), (8, 8, 1))
    for cy, cx in ((1, 1), (6, 6)):
        t[cy - 1:cy + 2, cx - 1:cx + 2] = [0.6, 0.8]
        t[cy, cx] = [0.0, 1.0]
    c, best = rep.contrasts(t)
    assert best[9] == 54 and best[54] == 9
    assert c[9] == pytest.approx(0.0) and c[54] == pytest.approx(0.0)
    t[0, 0] = t[5, 5] = [-1.0, 0.0]  # breaks the symmetry of both blocks the same way
    c, best = rep.contrasts(t)
    # B at the copy = 1; best unit shift of the block around (1, 1), and the turned block, by hand:
    sim = lambda u, v: float(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v))  # noqa: E731

    def block(y, x, dy, dx, sign):
        vals = [sim(t[y + by, x + bx], t[y + dy + sign * by, x + dx + sign * bx])
                for by in (-1, 0, 1) for bx in (-1, 0, 1)
                if 0 <= y + by < 8 and 0 <= x + bx < 8 and 0 <= y + dy + sign * by < 8 and 0 <= x + dx + sign * bx < 8]
        return sum(vals) / len(vals)

    near = max(block(1, 1, dy, dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))
    assert c[9] == pytest.approx(block(1, 1, 5, 5, 1) - max(near, block(1, 1, 5, 5, -1)))
    assert block(1, 1, 5, 5, 1) == pytest.approx(1.0) and c[9] > 0.1


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    small = ((rng.normal(size=(4, 4, 3)) + 3) * 30).clip(0, 255).astype(np.uint8)
    bg = np.asarray(Image.fromarray(small).resize((S, S), Image.BICUBIC)).astype(np.float64)
    bg += rng.normal(0, 3, bg.shape)
    o = np.asarray(Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((224, 224), Image.NEAREST))
    yy, xx = np.mgrid[0:224, 0:224]
    mask = (yy - 112) ** 2 + (xx - 112) ** 2 < 102 ** 2

    def put(img, *at):
        img = img.copy()
        for y, x in at:
            img[y:y + 224, x:x + 224][mask] = o[mask]
        return np.clip(img, 0, 255).round().astype(np.uint8)

    tile = rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)
    # copies at multiples of 4 tokens (112 canvas pixels), as tiled samplers repeat at tile positions
    return {"copies4": put(bg, (56, 56), (56, 504), (504, 56), (504, 504)), "copies2": put(bg, (56, 56), (560, 560)),
            "single": put(bg, (336, 336)), "smooth": put(bg), "texture": np.tile(tile, (S // 28, S // 28, 1)),
            "noise": rng.integers(0, 256, (S, S, 3), dtype=np.uint8)}


def test_patch_tokens_are_the_hub_models_tokens(tmp_path):
    import torch

    from ultrabench.metrics.extractors.dinov2 import DinoV2Extractor

    ex = DinoV2Extractor.standin(tmp_path)
    v = np.random.default_rng(1).integers(0, 256, (2, 56, 84, 3), dtype=np.uint8)
    tok = ex.patch_tokens(list(v))
    assert tok.shape == (2, 4, 6, 64)
    x = (torch.from_numpy(v).permute(0, 3, 1, 2).float() / 255 - torch.tensor((0.485, 0.456, 0.406)).view(1, 3, 1, 1)) \
        / torch.tensor((0.229, 0.224, 0.225)).view(1, 3, 1, 1)
    with torch.no_grad():
        full = ex.module.encode(x)
    assert np.allclose(tok.reshape(2, 24, 64), full[:, 1:].double().numpy(), atol=1e-6)
    assert np.allclose(ex.module(x).numpy(), full[:, 0].numpy())  # the CLS output FD-DINOv2 uses is unchanged


def test_copies_separate_from_single_smooth_and_textured_images_through_the_api(images, tmp_path):
    from ultrabench.api import score
    from ultrabench.resolution import parse_resolution
    from ultrabench.runstore import RunStore, Unit

    os.environ["ULTRABENCH_CACHE"] = str(tmp_path / "ubcache")
    run = tmp_path / "run"
    for i, (name, img) in enumerate(images.items()):
        RunStore(run).write_unit(Unit(name, parse_resolution(f"{S}x{S}"), "p0", "x", 0),
                                 {"status": "ok", "seconds": 1.0, "stages": {}}, image=Image.fromarray(img))
    s = score(run, metrics=["repetition"], stand_ins=True, workers=0, bootstrap=0, progress=False, device="cpu",
              reference_method="single")
    v = {x["method"]: x["value"] for x in s["sets"]}
    assert s["protocols"]["repetition"]["version"] == "repetition@dinov2-block-s448-v2"
    clean = max(v["single"], v["smooth"], v["texture"])
    assert v["copies4"] > v["copies2"] > clean + 0.05 and clean < 0.05, v
    # pixel noise, which v1 took for copies on the random stand-in (0.3), stays far below two copies
    assert v["noise"] < 0.5 * v["copies2"], v
    rows = pd.read_parquet(run / "scores" / "per_image.parquet").set_index("method")
    d = json.loads(rows.loc["copies4", "details"])["repetition"]
    (y0, x0), (y1, x1) = d["best_pair"]
    boxes = [(56, 56), (56, 504), (504, 56), (504, 504)]
    inside = [next((k for k, (by, bx) in enumerate(boxes) if by <= y * S < by + 224 and bx <= x * S < bx + 224), None)
              for y, x in ((y0, x0), (y1, x1))]
    assert None not in inside and inside[0] != inside[1]  # the best pair points at two different copies
