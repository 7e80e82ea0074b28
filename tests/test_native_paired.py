"""The PixVerve paired protocol: references matched to prompts by the prompt file's `reference`
column, both images Lanczos-resized to a square, crops at identical coordinates seeded per prompt id,
images without a reference named by prompt id."""

import json
import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ultrabench.resolution import parse_resolution
from ultrabench.runstore import RunStore, Unit

SQUARE, CROPS = 320, 2


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("paired")
    os.environ["ULTRABENCH_CACHE"] = str(root / "ubcache")
    from ultrabench.metrics.extractors.inception import InceptionExtractor, random_inception_file

    inc = InceptionExtractor(random_inception_file(root / "ubcache" / "stand-ins"), random_weights=True)
    rng = np.random.default_rng(0)
    refs = root / "refs"
    refs.mkdir()
    run = root / "run"
    store = RunStore(run)
    # three prompts with a reference image (another size than the method's), one without
    prompts = [{"id": f"p{i}", "prompt": f"prompt {i}", "reference": f"r{i}.png" if i < 2 else None} for i in range(3)]
    store.root.mkdir(parents=True, exist_ok=True)
    (run / "prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in prompts))
    res = parse_resolution("256x384")
    images = {}
    for i in range(3):
        img = rng.integers(0, 256, (256, 384, 3), dtype=np.uint8)
        images[f"p{i}"] = img
        for method, seed in (("copy", 0), ("copy", 1), ("other", 0)):
            pix = img if method == "copy" else rng.integers(0, 256, (256, 384, 3), dtype=np.uint8)
            store.write_unit(Unit(method, res, f"p{i}", f"prompt {i}", seed, sample_index=seed),
                             {"status": "ok", "seconds": 1.0, "stages": {}}, image=Image.fromarray(pix))
        if i < 2:
            Image.fromarray(img).save(refs / f"r{i}.png")  # the method "copy" draws its reference exactly
    return run, refs, inc


def _score(setup, **kw):
    from ultrabench.api import score

    run, refs, inc = setup
    return score(run, metrics=["fid-pixverve", "kid-pixverve"], reference=refs, stand_ins=True, workers=0,
                 bootstrap=0, progress=False, extractors={"inception": inc}, pair_crops=CROPS, pair_square=SQUARE,
                 device="cpu", reference_method="copy", **kw)


@pytest.mark.slow
def test_paired_crops_sit_at_identical_coordinates_and_unmatched_images_are_named(setup):
    from ultrabench.metrics.crops import crop_positions

    s = _score(setup)
    assert s["counts"]["decoded"] == 9  # the method images; the two references went through their own pass
    v = {(x["method"], x["metric"]): x for x in s["sets"]}
    # the copy's crops are its reference's crops, pixel for pixel: a Frechet distance of 0
    assert v[("copy", "fid-pixverve")]["value"] == pytest.approx(0.0, abs=1e-3)
    assert v[("other", "fid-pixverve")]["value"] > 1e-2  # random Inception: noise images are all alike
    assert v[("copy", "fid-pixverve")]["n_images"] == 4 and v[("copy", "fid-pixverve")]["n_ref"] == 4 * CROPS
    assert v[("copy", "fid-pixverve")]["unmatched"] == ["p2"]
    assert any("leaves out the images of 1 prompt(s) with no reference image: p2" in w for w in s["warnings"])
    p = s["protocols"]["fid-pixverve"]
    assert p["version"] == f"fid-pixverve@pixverve-s{SQUARE}-c299-p{CROPS}-v1" and p["square"] == [SQUARE, SQUARE]

    rows = pd.read_parquet(setup[0] / "scores" / "per_image.parquet")
    key = f"crops-paired(filter=lanczos,n={CROPS},seed=0,size=299,square={SQUARE})"
    boxes = {(r["method"], r["prompt_id"], r["seed"]): json.loads(r["crops"])[key] for _, r in rows.iterrows()}
    for pid in ("p0", "p1", "p2"):
        expected = crop_positions(SQUARE, SQUARE, pid, CROPS, 299, 0)  # per prompt id, not per seed or method
        assert boxes[("copy", pid, 0)] == boxes[("copy", pid, 1)] == boxes[("other", pid, 0)] == expected
    assert boxes[("copy", "p0", 0)] != boxes[("copy", "p1", 0)]


def test_a_named_reference_that_is_missing_is_one_line(setup, tmp_path):
    from ultrabench.errors import UsageError

    run, refs, inc = setup
    with pytest.raises(UsageError, match="prompt 'p0' names reference image 'r0.png', which is not at"):
        _score((run, tmp_path, inc))


def test_without_references_in_the_prompt_file_the_paired_metrics_are_skipped(tmp_path):
    from ultrabench.api import score

    from scoring_helpers import make_run

    os.environ["ULTRABENCH_CACHE"] = str(tmp_path / "ubcache")
    run = make_run(tmp_path / "run", n=2)
    s = score(run, metrics=["fid-pixverve", "glcm"], stand_ins=True, workers=0, bootstrap=0, progress=False,
              device="cpu", reference_method="m")
    assert "fid-pixverve" in s["skipped"] and "reference" in s["skipped"]["fid-pixverve"]
