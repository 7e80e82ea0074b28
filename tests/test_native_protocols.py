"""Patch protocols as named, versioned parameters: the crop side (299 default, 224 as the UltraPixel
authors may have used) through the spec, the CLI and the API."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from cli_helpers import invoke
from scoring_helpers import make_images, make_run


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("native")
    os.environ["ULTRABENCH_CACHE"] = str(root / "ubcache")
    from ultrabench.metrics.extractors.inception import InceptionExtractor, random_inception_file

    # one network for every call (loading the stand-in is most of a score's time here)
    inc = InceptionExtractor(random_inception_file(root / "ubcache" / "stand-ins"), random_weights=True)
    return make_run(root / "run", n=3, size=(320, 336)), make_images(root / "ref", n=3, size=(320, 320)), inc


def _score(folders, patch_size=299, patch_crops=2):
    from ultrabench.api import score

    run, ref, inc = folders
    score(run, metrics=["fid-patch"], reference=ref, stand_ins=True, extractors={"inception": inc}, workers=0,
          bootstrap=0, progress=False, patch_crops=patch_crops, patch_size=patch_size, device="cpu")
    summary = json.loads((run / "scores" / "summary.json").read_text())
    rows = pd.read_parquet(run / "scores" / "per_image.parquet")
    return summary, [json.loads(c) for c in rows["crops"]]


@pytest.mark.slow
def test_patch_size_is_a_protocol_parameter_recorded_in_the_version(folders):
    s299, crops299 = _score(folders, 299, patch_crops=2)
    p = s299["protocols"]["fid-patch"]
    assert p["version"] == "fid-patch@native299-p2-v2" and p["crop"] == [299, 299] and p["name"] == "custom"
    assert p["resize"] == "none (native pixels)"
    boxes299 = [b for c in crops299 for b in c["crops-native(n=2,seed=0,size=299)"]]
    assert len(boxes299) == 6 and {tuple(b[2:]) for b in boxes299} == {(299, 299)}

    s224, crops224 = _score(folders, 224, patch_crops=3)
    p = s224["protocols"]["fid-patch"]
    # 3 crops of 224: the protocol the UltraPixel authors may have used has its own name
    assert p["version"] == "fid-patch@native224to299-p3-v2" and p["crop"] == [224, 224]
    assert p["name"] == "ultrapixel-224" and "224x224 crop to 299x299" in p["resize"]
    (key,) = crops224[0]
    assert key == "crops-native(n=3,resize=299,seed=0,size=224)"
    boxes224 = [b for c in crops224 for b in c[key]]
    assert {tuple(b[2:]) for b in boxes224} == {(224, 224)}
    for t, left, h, w in boxes224:  # inside the 320x336 image
        assert 0 <= t <= 320 - 224 and 0 <= left <= 336 - 224
    v299 = next(x["value"] for x in s299["sets"] if x["metric"] == "fid-patch")
    v224 = next(x["value"] for x in s224["sets"] if x["metric"] == "fid-patch")
    assert np.isfinite(v224) and v224 != v299  # other crops, another number


def test_the_spec_field(tmp_path):
    from ultrabench.config import load_spec

    spec = tmp_path / "s.toml"
    spec.write_text('name = "s"\nmethods = []\nreference_method = "ultrapixel"\npatch_size = 224\n')
    assert load_spec(spec).patch_size == 224 and load_spec(spec).score_options()["patch_size"] == 224
    spec.write_text('name = "s"\nmethods = []\npatch_size = 16\n')
    with pytest.raises(Exception, match="patch_size must be an integer of at least 32"):
        load_spec(spec)


def test_a_bad_patch_size_is_one_line_and_writes_nothing(folders):
    run, ref, _ = folders
    before = (run / "scores" / "summary.json").read_bytes()
    r = invoke("score", run, "--stand-ins", "--metric", "fid-patch", "--patch-size", 8, "--reference", ref)
    assert r.exit_code != 0 and "patch_size must be an integer of at least 32" in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert (run / "scores" / "summary.json").read_bytes() == before
