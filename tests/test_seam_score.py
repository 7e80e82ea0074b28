"""Seam score (ultrabench.metrics.seams): synthetic validations, a closed-form oracle, golden values,
and the per-image stride through the scoring API."""

import json
import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ultrabench.metrics import seams

N = 1024


def textured(seed=0, size=N):
    """A smooth random field (bicubic from 16x16) plus pixel noise of sd 6: content, no seams."""
    rng = np.random.default_rng(seed)
    small = rng.normal(0, 1, (16, 16, 3))
    small = ((small - small.min()) / np.ptp(small) * 200 + 20).astype(np.uint8)
    base = np.asarray(Image.fromarray(small).resize((size, size), Image.BICUBIC)).astype(np.float64)
    return base + rng.normal(0, 6, base.shape)


def with_seams(img, stride, d, axis=1, offset=0):
    """Tiles alternately d/2 brighter and darker: a step of d grey levels at every tile boundary."""
    idx = (np.arange(img.shape[axis]) - offset) // stride
    step = np.where(idx % 2 == 0, 0.5, -0.5) * d
    out = img + (step[None, :, None] if axis == 1 else step[:, None, None])
    return np.clip(out, 0, 255).round().astype(np.uint8)


def test_closed_form_on_a_flat_image():
    # flat grey, steps of d at columns 256, 512, 768: g = d there and 0 elsewhere, baseline 0,
    # so r = d / (mean g + 1) = d / (3d/1023 + 1) at every seam; no texture period fits
    for d in (4, 8):
        f = seams.seam_features(with_seams(np.full((N, N, 3), 128.0), 256, d))
        assert f[0] == pytest.approx(d / (3 * d / (N - 1) + 1), rel=1e-6)
        assert list(f[1:4]) == [0, 256, 0] and f[5] == 0  # columns, stride 256, offset 0; rows clean


def test_seams_score_higher_than_without_monotone_in_strength_and_the_stride_is_found():
    base = textured()
    clean = seams.seam_features(np.clip(base, 0, 255).round().astype(np.uint8))
    assert clean[0] < 0.2 and clean[2] == 0  # near zero; no stride reported
    scores = [seams.seam_features(with_seams(base, 256, d))[0] for d in (0, 1, 2, 4, 8)]
    assert all(a < b for a, b in zip(scores, scores[1:])), scores
    assert scores[2] > 3 * clean[0]  # a 2-grey-level seam under sd-6 noise stands out
    f = seams.seam_features(with_seams(base, 256, 4))
    assert list(f[1:4]) == [0, 256, 0]
    # horizontal seams at a stride that is not a power of two, shifted: rows, 384, offset 100
    f = seams.seam_features(with_seams(base, 384, 4, axis=0, offset=100))
    assert list(f[1:4]) == [1, 384, 100] and f[0] > 1.0


def test_no_seam_on_flat_noise_or_finely_periodic_texture():
    rng = np.random.default_rng(1)
    assert list(seams.seam_features(np.full((N, N, 3), 90, np.uint8))) == [0, 0, 0, 0, 0, 0]
    noise = seams.seam_features(rng.integers(0, 256, (N, N, 3), dtype=np.uint8))
    assert noise[0] < seams.DETECTED and noise[2] == 0
    tile = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    # every stride is a multiple of 32: without the texture floor this scored 1.85 at stride 128
    assert seams.seam_features(np.tile(tile, (32, 32, 1)))[0] == 0


def test_golden_values():
    # recorded once from this implementation (seam@grad-q25-v1; numpy default_rng, PIL bicubic);
    # there is no reference implementation: a change here is a change of the protocol version
    got = [seams.seam_features(np.clip(textured(), 0, 255).round().astype(np.uint8)),
           seams.seam_features(with_seams(textured(), 256, 4)),
           seams.seam_features(with_seams(textured(), 384, 4, axis=0, offset=100))]
    assert np.allclose(got, GOLDEN, rtol=1e-6, atol=1e-9)


GOLDEN = [[0.09116164627078789, 1.0, 0.0, 0.0, 0.07621204580705575, 0.09116164627078789],
          [1.60666940224997, 0.0, 256.0, 0.0, 1.60666940224997, 0.09116244119164417],
          [1.6291491398994464, 1.0, 384.0, 100.0, 0.076212743628001, 1.6291491398994464]]


def test_parse_strides():
    assert seams.parse_strides("896,1024") == (896, 1024)
    assert seams.parse_strides("128-384/128, 896") == (128, 256, 384, 896)
    with pytest.raises(ValueError, match="bad seam strides"):
        seams.parse_strides("1")


def test_seam_score_and_detected_stride_through_the_api(tmp_path):
    from ultrabench.api import score
    from ultrabench.resolution import parse_resolution
    from ultrabench.runstore import RunStore, Unit

    os.environ["ULTRABENCH_CACHE"] = str(tmp_path / "ubcache")
    run = tmp_path / "run"
    res = parse_resolution(f"{N}x{N}")
    for i in range(2):
        base = textured(seed=10 + i)
        for method, img in (("tiled", with_seams(base, 256, 6)), ("clean", np.clip(base, 0, 255).round())):
            RunStore(run).write_unit(Unit(method, res, f"p{i}", "a view", i), {"status": "ok", "seconds": 1.0, "stages": {}},
                                     image=Image.fromarray(img.astype(np.uint8)))
    s = score(run, metrics=["seam"], workers=0, bootstrap=0, progress=False, device="cpu", reference_method="clean")
    assert s["protocols"]["seam"]["version"] == "seam@grad-q25-v1"
    means = {x["method"]: x["value"] for x in s["sets"]}
    assert means["tiled"] > 2.0 > 0.2 > means["clean"]
    rows = pd.read_parquet(run / "scores" / "per_image.parquet")
    for _, r in rows.iterrows():
        d = json.loads(r["details"])["seam"]
        if r["method"] == "tiled":
            assert (d["axis"], d["stride"], d["offset"]) == ("columns", 256, 0)
        else:
            assert d["stride"] is None and r["seam"] == pytest.approx(max(d["score_columns"], d["score_rows"]))
