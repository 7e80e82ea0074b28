"""The report says why a cell is empty, gives latency its own n when warm-ups left images out, and
a report moved away from its run folder says why its full-size zoom finds nothing."""

import shutil

import pytest

from ultrabench.report import build_report
from ultrabench.report.demo import demo_summary, make_demo_run
from ultrabench.report.formats import render_markdown
from ultrabench.report.table import build_table


def _cell(table, method, res, col):
    row = next(r for r in table.rows if (r.method, r.resolution) == (method, res))
    return row.cells[col]


def test_an_empty_cell_says_why():
    s = demo_summary("RUN")
    s["metrics"] = ["fid", "is", "clip", "pickscore"]  # scored without the patch metrics
    for e in s["status"]:
        if e["method"] == "demofusion" and e["resolution"] == "2048x2048":
            e["ok"] = 1
    s["sets"] = [e for e in s["sets"] if e["metric"] != "fid-patch" and not (e["method"] == "demofusion" and e["metric"] == "fid")]
    t = build_table(s)
    assert _cell(t, "ultrapixel", "2048x2048", "fid-patch").note == (
        "FID-patch was not asked for when this run was scored (`ultrabench score --metric fid-patch`)")
    assert _cell(t, "demofusion", "2048x2048", "fid").note == "FID needs at least 2 images; this set has 1"
    s["reference"] = None
    s["sets"] = [e for e in s["sets"] if e["metric"] != "fid"]
    assert _cell(build_table(s), "ultrapixel", "2048x2048", "fid").note == (
        "FID needs a reference set: score with --reference FOLDER or hf:<dataset>")
    md = render_markdown(build_table(s))
    assert "FID needs a reference set" in md and "not computed for this set" not in md


def test_latency_gets_its_own_n_when_warm_ups_were_left_out():
    s = demo_summary("RUN")
    for e in s["status"]:
        if e["method"] == "ultrapixel":
            e["ok"] = 5  # 5 images, 2 of them timed
    s["latency"] = [e for e in s["latency"] if not (e["method"] == "pixart-sigma")]  # only warm-ups there
    t = build_table(s)
    cell = _cell(t, "ultrapixel", "2048x2048", "latency")
    assert cell.value == 15.4 and cell.remark == (
        "Latency: mean of the 2 timed images of 5; warm-up units (the first per method, resolution and process) "
        "are not timed")
    md = render_markdown(t)
    mark = t.mark(cell.remark)
    assert f"**15.4**<sup>{mark}</sup>" in md and f"<sup>{mark}</sup> Latency: mean of the 2 timed images of 5" in md
    assert _cell(t, "pixart-sigma", "2048x2048", "latency").note == (
        "Latency: every image of this set was a warm-up unit; warm-up units (the first per method, resolution and "
        "process) are not timed")
    assert _cell(t, "demofusion", "2048x2048", "latency").remark is None  # n = N: nothing to say


def test_an_unscored_report_does_not_call_n_scored(tmp_path):
    run = make_demo_run(tmp_path / "run", scored=False)
    md = build_report(run, formats=("md",))["files"]["md"].read_text()
    assert "N: finished images (not scored yet) per row" in md and "images scored" not in md


def test_the_page_says_the_full_size_images_stay_in_the_run_folder(tmp_path):
    run = make_demo_run(tmp_path / "run")
    html = build_report(run, formats=("html",), out_dir=tmp_path / "elsewhere" / "rep")["files"]["html"].read_text()
    assert "the full-size images are not copied but linked from the run folder (../../run/ relative to this file)" in html
    assert 'data-full="../../run/ultrapixel/2048x2048/' in html


def test_a_moved_report_says_why_its_zoom_is_empty(tmp_path):
    browser = pytest.importorskip("test_report_browser")
    if browser.CHROMIUM is None:
        pytest.skip("chromium not installed (Debian: apt-get install -y chromium); browser test skipped")
    run = make_demo_run(tmp_path / "run")
    html = build_report(run, formats=("html",))["files"]["html"]
    moved = tmp_path / "shared" / "report.html"
    moved.parent.mkdir()
    shutil.copy(html, moved)
    with browser.tempfile.TemporaryDirectory() as profile:
        cdp = browser.CDP(browser.CHROMIUM, profile)
        try:
            target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            cdp.send("Runtime.enable", session=session)
            cdp.send("Page.enable", session=session)
            cdp.send("Page.navigate", {"url": moved.as_uri()}, session=session)
            cdp.wait_event("Page.loadEventFired")
            cdp.pump(1.0)  # the probes of the full-size images fail
            r = cdp.send("Runtime.evaluate", {"expression": "Array.from(document.querySelectorAll('.zoom')).map("
                                                            "z => [z.dataset.gone, z.querySelector('.zl').textContent])",
                                              "returnByValue": True}, session=session)
            zooms = r["result"]["value"]
        finally:
            cdp.close()
    assert zooms and all(gone == "1" for gone, _ in zooms), zooms
    assert all(text.startswith("full-size image not found at ../") and
               text.endswith("(this report was moved away from its run folder)") for _, text in zooms), zooms
