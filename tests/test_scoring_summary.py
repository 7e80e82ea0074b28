"""What summary.json keeps across scoring calls: the results of metrics not scored again, each with
the digest of the units it was computed on; never results that cannot share a table."""

import json

import pandas as pd
import pytest

from scoring_helpers import make_images, make_run


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "ubcache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def score(run, **kw):
    from ultrabench.scoring import score_run

    return score_run(run, stand_ins=True, workers=0, bootstrap=0, progress=False, **kw)


def test_scoring_a_subset_keeps_the_other_metrics(tmp_path):
    run = make_run(tmp_path / "run", n=3)
    first = score(run, metrics=["is", "glcm"])
    is_value = next(s["value"] for s in first["sets"] if s["metric"] == "is")
    second = score(run, metrics=["glcm"])
    assert second["metrics"] == ["glcm", "is"]
    assert next(s["value"] for s in second["sets"] if s["metric"] == "is") == is_value
    assert second["kept_from"] == {"is": first["created"]}
    assert any(w.startswith("kept the earlier results of is") for w in second["warnings"])
    on_disk = json.loads((run / "scores" / "summary.json").read_text())
    assert {s["metric"] for s in on_disk["sets"]} == {"is", "glcm"}
    # every set says which units it was computed on
    assert all(s["units_digest"] == on_disk["units"][0]["digest"] for s in on_disk["sets"])
    # per-image columns of the kept metrics survive too
    score(run, metrics=["clip"])
    df = pd.read_parquet(run / "scores" / "per_image.parquet")
    assert df["glcm"].notna().all() and df["clip"].notna().all()


def test_results_against_another_reference_are_dropped_not_mixed(tmp_path):
    run = make_run(tmp_path / "run", n=3)
    ref_a, ref_b = make_images(tmp_path / "a", seed=3), make_images(tmp_path / "b", seed=4)
    score(run, metrics=["fid"], reference=ref_a)
    s = score(run, metrics=["kid"], reference=ref_b)
    assert {x["metric"] for x in s["sets"]} == {"kid"}
    assert "dropped the earlier results of fid: they were computed against another reference set" in s["warnings"]
    # without a reference now, the earlier reference metrics are kept with their reference
    s = score(run, metrics=["is"])
    assert {x["metric"] for x in s["sets"]} == {"is", "kid"} and s["reference"]["source"] == str(ref_b)
