"""Reports never show scores older than the run's units without saying so, and score and report use
only the units of the run's current spec (issue #15's stale-score and mixed-spec scenarios)."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from cli_helpers import invoke
from scoring_helpers import make_run

from ultrabench.resolution import parse_resolution
from ultrabench.runstore import RunStore, Unit


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "ubcache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def report_json(run):
    r = invoke("-q", "report", run, "-f", "json", "--out", run / "rep")
    assert r.exit_code == 0, r.output
    return json.loads((run / "rep" / "table1.json").read_text())


def cell_text(table, cell):
    return next(f["text"] for f in table["footnotes"] if f["mark"] == cell["footnote"])


def test_stale_scores_are_marked_and_new_methods_appear_as_not_scored(tmp_path):
    run = make_run(tmp_path / "run", n=3)
    assert invoke("-q", "score", run, "--stand-ins", "--metric", "is,clip", "--workers", 1).exit_code == 0
    # generate another method into it and delete one image of the scored one
    res = parse_resolution("320x320")
    for i in range(2):
        RunStore(run).write_unit(Unit("newm", res, f"p{i}", f"prompt {i}", i), {"status": "ok", "seconds": 1.0,
                                                                                "stages": {}},
                                 image=Image.fromarray(np.zeros((320, 320, 3), np.uint8)))
    os.unlink(run / "m" / "320x320" / "p2__s2.png")
    t = report_json(run)
    rows = {r["method"]: r for r in t["rows"]}
    assert rows["m"]["n"] == 3  # the images the values were computed on, not the 2 there are now
    assert rows["m"]["cells"]["is"]["value"] is not None and rows["m"]["cells"]["is"]["stale"] is True
    assert rows["m"]["cells"]["is"]["n"] == 3  # the N the stale value was computed on
    assert "computed on 3 images; scored before the images of m at 320x320 changed; run `ultrabench score" in \
        cell_text(t, rows["m"]["cells"]["is"])
    assert any("(3 finished images then, 2 now)" in w for w in t["warnings"])
    assert rows["newm"]["n"] == 2 and rows["newm"]["cells"]["is"]["value"] is None
    assert cell_text(t, rows["newm"]["cells"]["clip"]).startswith("generated after the last `ultrabench score`")
    assert any("2 method/resolution set(s) changed since scoring" in w for w in t["warnings"])
    # scoring again makes every cell current
    assert invoke("-q", "score", run, "--stand-ins", "--metric", "is,clip", "--workers", 1).exit_code == 0
    t = report_json(run)
    assert not any("changed since scoring" in w for w in t["warnings"])
    assert not any(c["stale"] for r in t["rows"] for c in r["cells"].values())
    assert all(c.get("footnote") is None or "scored before" not in cell_text(t, c)
               for r in t["rows"] for c in r["cells"].values())


def test_score_and_report_leave_out_the_units_of_another_spec(tmp_path):
    run = tmp_path / "x"
    gen = ["--device", "cpu", "-q", "generate", "-m", "tiny-sd", "--res", "64x64", "-n", 2, "--out", run]
    assert invoke(*gen).exit_code == 0
    assert invoke(*gen[:-2], "--seed", 7, "--new-spec", "--out", run).exit_code == 0
    r = invoke("-q", "score", run, "--stand-ins", "--metric", "glcm", "--workers", 1)
    assert r.exit_code == 0, r.output
    assert "warning: 2 units of another spec left out (seed: 2); they stay on disk" in r.output
    s = json.loads((run / "scores" / "summary.json").read_text())
    (glcm,) = [x for x in s["sets"] if x["metric"] == "glcm"]
    assert glcm["n"] == 2  # never 4
    t = report_json(run)
    assert [r["n"] for r in t["rows"]] == [2]
    assert "2 units of another spec left out (seed: 2); they stay on disk" in t["warnings"]
