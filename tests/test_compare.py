"""`ultrabench compare`: several run folders of one experiment in one table, anything else refused."""

import json

import pytest

from cli_helpers import invoke
from scoring_helpers import make_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmp")
    mp = pytest.MonkeyPatch()
    mp.setenv("ULTRABENCH_CACHE", str(root / "ubcache"))
    mp.setenv("HF_HUB_OFFLINE", "1")
    out = {"up": make_run(root / "up", method="ultrapixel"), "new": make_run(root / "new", method="newm", seed=1),
           "up2": make_run(root / "up2", method="ultrapixel", seed=2)}
    for run in out.values():
        r = invoke("-q", "score", run, "--stand-ins", "--metric", "is,pickscore", "--workers", 0)
        assert r.exit_code == 0, r.output
    yield root, out
    mp.undo()


def test_two_runs_of_one_experiment_share_a_table_with_win_rates_across_them(runs):
    root, r = runs
    res = invoke("-q", "compare", r["up"], r["new"], "-f", "json,html", "--out", root / "rep",
                 "--extra", "winrate")
    assert res.exit_code == 0, res.output
    t = json.loads((root / "rep" / "table1.json").read_text())
    rows = {x["method"]: x for x in t["rows"]}
    assert set(rows) == {"ultrapixel", "newm"}
    assert rows["newm"]["cells"]["is"]["value"] is not None and rows["ultrapixel"]["cells"]["is"]["value"] is not None
    # the win rate of newm against UltraPixel needs both folders' per-image PickScores: neither run had it alone
    merged_winrate = rows["newm"]["cells"]["winrate"]["value"]
    assert merged_winrate is not None and 0.0 <= merged_winrate <= 100.0
    assert not any("no PickScore win rates" in w for w in t["warnings"])
    html = (root / "rep" / "report.html").read_text()
    assert "up</code>" in html and "new</code>" in html  # both folders named, both galleries' images linked
    assert html.count('class="panel" data-method="newm"') == 3 and html.count('class="panel" data-method="ultrapixel"') == 3


def test_runs_with_other_prompts_are_refused_in_one_line(runs, tmp_path):
    root, r = runs
    other = make_run(tmp_path / "other", method="third")
    (other / "prompts.jsonl").write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"another {i}"}) + "\n"
                                                 for i in range(3)))
    (r["up"] / "prompts.jsonl").write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"prompt {i}"}) + "\n"
                                                   for i in range(3)))
    try:
        assert invoke("-q", "score", other, "--stand-ins", "--metric", "is", "--workers", 0).exit_code == 0
        res = invoke("-q", "compare", r["up"], other, "-f", "terminal")
        assert res.exit_code == 2
        line = res.output.strip()
        assert "\n" not in line and "cannot share a table" in line
        assert "prompts (the same ids, 3 different texts" in line
    finally:
        (r["up"] / "prompts.jsonl").unlink()


def test_one_method_in_two_folders_and_missing_out_are_refused(runs):
    root, r = runs
    res = invoke("-q", "compare", r["up"], r["up2"], "-f", "terminal")
    assert res.exit_code == 2 and "method ultrapixel at 320x320 is in both" in res.output
    res = invoke("-q", "compare", r["up"], r["new"])
    assert res.exit_code != 0 and "needs --out FOLDER" in res.output
    assert not (r["up"] / "report").exists()  # nothing written where it was not asked for
    res = invoke("-q", "compare", r["up"])
    assert res.exit_code != 0 and "at least two run folders" in res.output


def test_an_unscored_run_is_named_with_the_command_that_scores_it(runs, tmp_path):
    root, r = runs
    bare = make_run(tmp_path / "bare", method="third")
    res = invoke("-q", "compare", r["up"], bare, "-f", "terminal")
    assert res.exit_code == 2 and f"ultrabench score {bare}" in res.output
