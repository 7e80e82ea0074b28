"""`ultrabench demo` end to end: generate -> score -> report on tiny stand-ins, offline."""

import json
import tempfile

import pandas as pd
from typer.testing import CliRunner

from ultrabench.cli import app


def test_demo_runs_end_to_end_and_says_its_numbers_mean_nothing(tmp_path, monkeypatch):
    out = tmp_path / "demo"
    tmp = tmp_path / "tmp"  # this process's and its workers' temporary folder
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    r = CliRunner().invoke(app, ["-q", "demo", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert r.output.count("RANDOM WEIGHTS") == 2 and "numbers mean nothing" in r.output
    assert list(tmp.iterdir()) == []  # no temporary folder outlives the work that made it
    assert (out / ".ultrabench-demo").is_file()  # what lets a later `demo --fresh` delete it
    # each step's time counts from that step's start: together they fit in the whole
    import re

    steps = [float(re.search(rf"^{step}: .*\(([0-9.]+) s\)$", r.output, re.M).group(1)) for step in ("generate", "score", "report")]
    total = float(re.search(r"demo finished in ([0-9.]+) s", r.output).group(1))
    assert sum(steps) <= total + 0.5

    recs = list(out.glob("tiny-*/*/*.json"))
    assert len(recs) == 24  # 3 methods x 2 resolutions x 4 prompts
    summary = json.loads((out / "scores" / "summary.json").read_text())
    assert summary["random_weights"] is True
    got = {(s["method"], s["resolution"], s["metric"]) for s in summary["sets"]}
    for m in ("tiny-sd", "tiny-sd-sr", "tiny-ultrapixel"):
        for res in ("320x320", "320x576"):
            for metric in ("fid", "fid-patch", "is", "is-patch", "clip", "kid", "glcm"):
                assert (m, res, metric) in got
    assert {w["method"] for w in summary["winrates"]} == {"tiny-sd", "tiny-sd-sr"}
    assert all(w["n_pairs"] == 4 for w in summary["winrates"])
    per_image = pd.read_parquet(out / "scores" / "per_image.parquet")
    assert len(per_image) == 24 and per_image["clip"].notna().all()
    # the crop boxes of each crop view (here the one patch protocol), 3 per image
    assert all([len(boxes) for boxes in json.loads(c).values()] == [3] for c in per_image["crops"])

    table = (out / "report" / "table1.md").read_text()
    assert "mean nothing" in table and "UltraPixel (tiny, random weights)" in table
    for f in ("table1.tex", "table1.csv", "report.html", "figures/winrate.png", "figures/latency.svg"):
        assert (out / "report" / f).stat().st_size > 0

    # a second demo resumes: nothing is generated again
    again = CliRunner().invoke(app, ["-q", "demo", "--out", str(out)])
    assert again.exit_code == 0 and "0 images made, 24 already there" in again.output
