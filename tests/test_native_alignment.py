"""Patch-level alignment: CLIP score and PickScore of native-resolution crops against the prompt,
beside the whole-image scores, from the same decode of each image."""

import json
import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from scoring_helpers import make_run


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("align")
    os.environ["ULTRABENCH_CACHE"] = str(root / "ubcache")
    from ultrabench.api import score

    run = make_run(root / "run", n=2, size=(320, 400))
    summary = score(run, metrics=["clip", "clip-patch", "pickscore", "pickscore-patch"], stand_ins=True,
                    workers=0, bootstrap=0, progress=False, align_crops=3, crop_seed=5, device="cpu")
    return run, summary, pd.read_parquet(run / "scores" / "per_image.parquet")


def _oracle(scorer, run, row, boxes):
    """Mean over the crops of scorer.score(crop, prompt), cut here from the PNG at the recorded boxes."""
    rgb = np.asarray(Image.open(run / row["image"]).convert("RGB"))
    crops = [rgb[t:t + h, left:left + w] for t, left, h, w in boxes]
    txt = scorer.text_embeddings([f"prompt {row['prompt_id'][1:]}"] * len(crops))
    return float(scorer.score(scorer.image_embeddings(crops), txt).mean())


def test_patch_scores_are_the_mean_of_the_crop_scores_at_the_recorded_boxes(scored):
    from ultrabench.metrics.crops import crop_positions, image_key
    from ultrabench.metrics.extractors.clip import ClipScorer
    from ultrabench.metrics.extractors.pickscore import PickScorer
    from ultrabench.scoring.engine import _standin_dir

    run, summary, rows = scored
    clip, pick = ClipScorer.standin(_standin_dir()), PickScorer.standin(_standin_dir())
    key = "crops-native(n=3,seed=5,size=224)"
    for _, row in rows.iterrows():
        boxes = json.loads(row["crops"])[key]
        # deterministic, placed by prompt id and seed, the crop seed as given
        assert boxes == crop_positions(320, 400, image_key(row["prompt_id"], row["seed"]), 3, 224, 5)
        assert row["clip_patch"] == pytest.approx(_oracle(clip, run, row, boxes), rel=1e-5, abs=1e-6)
        assert row["pickscore_patch"] == pytest.approx(_oracle(pick, run, row, boxes), rel=1e-5, abs=1e-6)
        assert row["clip_patch"] != row["clip"] and row["pickscore_patch"] != row["pickscore"]


def test_one_decode_feeds_whole_image_and_crop_scores_and_the_protocol_says_so(scored):
    run, summary, rows = scored
    assert summary["counts"]["decoded"] == 2  # four metrics, two views, one decode per image
    assert {s["metric"] for s in summary["sets"]} == {"clip", "clip-patch", "pickscore", "pickscore-patch"}
    p = summary["protocols"]["clip-patch"]
    assert p["version"] == "clip-patch@open_clip-native-p3-v1"
    assert p["crops_per_image"] == 3 and p["crop_seed"] == 5
    assert summary["protocols"]["pickscore-patch"]["version"] == "pickscore-patch@native-p3-v1"
    assert summary["protocols"]["clip"]["version"] == "clip@open_clip-v1"  # the whole-image score is unchanged
    # pickscore-patch is no preference model of its own: win rates stay PickScore's
    assert {w["metric"] for w in summary["winrates"]} <= {"pickscore"}


def test_an_image_smaller_than_the_crop_is_left_out_of_the_patch_score_only(tmp_path):
    from ultrabench.api import score

    os.environ["ULTRABENCH_CACHE"] = str(tmp_path / "ubcache")
    run = make_run(tmp_path / "run", n=2, size=(200, 256))
    s = score(run, metrics=["clip", "clip-patch"], stand_ins=True, workers=0, bootstrap=0, progress=False,
              device="cpu")
    assert {x["metric"] for x in s["sets"]} == {"clip"}
    (why,) = [x["reason"] for x in s["not_computed"] if x["metric"] == "clip-patch"]
    assert "smaller than the 224x224 crop" in why
