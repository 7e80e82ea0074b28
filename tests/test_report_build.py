"""build_report end to end on synthetic run folders: files, paper comparison, figures, unscored runs."""

from __future__ import annotations

import io
import re

import pytest

from ultrabench.report import build_report
from ultrabench.report.demo import make_demo_run
from ultrabench.report.names import canonical_method, display_name_for
from ultrabench.report.paper import load_paper_table


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_demo_run(tmp_path_factory.mktemp("rep") / "run")


def _console():
    from rich.console import Console

    buf = io.StringIO()
    return Console(file=buf, width=220, color_system=None), buf


def test_all_outputs_written(run):
    console, buf = _console()
    res = build_report(run, compare_paper=True, ci=True, extra_columns=("winrate", "memory"), console=console)
    out = run / "report"
    for name in ("table1.md", "table1.tex", "table1.csv", "table1.json", "report.html"):
        assert (out / name).stat().st_size > 0
    for fig in ("winrate", "latency", "memory"):
        for ext in ("png", "svg"):
            p = out / "figures" / f"{fig}.{ext}"
            assert p.stat().st_size > 1000, p
    assert (out / "figures" / "winrate.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (out / "figures" / "latency.svg").read_text()
    text = buf.getvalue()
    assert "Table 1" in text and "UltraPixel" in text and "45.30" in text
    assert res["table"]["compare_paper"] is True and res["files"]["html"] == out / "report.html"


def test_html_is_self_contained_and_light(run):
    build_report(run, formats=("html",))
    html = (run / "report" / "report.html").read_text()
    assert not re.search(r'(src|href)="(https?:)?//', html), "the report must not reach the network"
    assert "<script src" not in html and "<link" not in html
    # Full images are linked by relative path, never embedded.
    assert 'href="../ultrapixel/2048x2048/p001__s0.png"' in html
    assert "data:image/png" not in html
    assert len(html) < 1_000_000


def test_paper_table_shipped_and_aliases():
    rows = load_paper_table()
    assert len(rows) == 19
    assert {r.method for r in rows} == {"ultrapixel", "pixart-sigma", "base-sr", "demofusion", "scalecrafter",
                                        "fouriscale", "elasticdiffusion", "dall-e-3"}
    up = next(r for r in rows if r.method == "ultrapixel" and r.resolution == "4096x4096")
    assert up.values == {"fid-patch": 44.59, "fid": 62.12, "is-patch": 10.27, "is": 27.69, "clip": 35.18, "latency": 78.0}
    for label in ("PixArt-Sigma", "pixart_sigma", "PixArt-Σ", "pixart-sigma"):
        assert canonical_method(label) == "pixart-sigma"
    assert canonical_method("Base + BSRGAN") == "base-sr"
    assert display_name_for("dall-e-3") == "DALL-E 3"
    assert display_name_for("tiny-sd") == "tiny-sd"


def test_compare_paper_cells(run):
    t = build_report(run, formats=("json",), compare_paper=True)["table"]
    rows = {(r["method"], r["resolution"]): r for r in t["rows"]}
    fid = rows[("pixart-sigma", "2048x2048")]["cells"]["fid"]
    assert fid["paper"] == 63.96 and fid["delta"] == pytest.approx(62.9 - 63.96)
    # Paper-only rows appear at the run's resolutions, not at the others.
    assert not rows[("scalecrafter", "2048x2048")]["in_run"]
    assert ("ultrapixel", "4096x4096") not in rows
    notes = [f["text"] for f in t["footnotes"]]
    assert any("decimal point uncertain" in n for n in notes)


def test_na_footnotes_and_bold(run):
    md = build_report(run, formats=("md",))["files"]["md"].read_text()
    assert "not supported by the method at this resolution" in md
    assert "every image ran out of GPU memory" in md
    line = next(l for l in md.splitlines() if "2048 x 2048" in l)
    assert "DemoFusion" in line
    up = next(l for l in md.splitlines() if l.startswith("|  | UltraPixel") and "45.30" in l)
    assert "**45.30**" in up and "**35.20**" in up  # FID-patch lower-better, CLIP higher-better


def test_random_weights_visible_everywhere(tmp_path):
    run = make_demo_run(tmp_path / "rw", random_weights=True)
    console, buf = _console()
    files = build_report(run, console=console, formats=("terminal", "md", "latex", "csv", "json", "html"))["files"]
    for key in ("md", "latex", "csv", "json", "html"):
        assert "random stand-in weights" in files[key].read_text(), key
    assert "random stand-in weights" in buf.getvalue()


def test_unscored_run_reports_latency(tmp_path):
    run = make_demo_run(tmp_path / "unscored", scored=False)
    console, buf = _console()
    res = build_report(run, console=console, formats=("terminal", "md", "figures", "html"))
    rows = {(r["method"], r["resolution"]): r for r in res["table"]["rows"]}
    lat = rows[("ultrapixel", "2048x2048")]["cells"]["latency"]
    assert lat["value"] == pytest.approx(15.4) and lat["n"] == 2
    assert rows[("ultrapixel", "2048x2048")]["cells"]["fid"]["value"] is None
    md = res["files"]["md"].read_text()
    assert "`ultrabench score` has not run" in md
    assert "not supported by the method at this resolution" in md  # status rebuilt from records
    assert res["files"]["figures"]["latency.png"].stat().st_size > 1000


def test_unknown_extra_column_is_a_usage_error(run):
    from ultrabench.errors import UsageError

    with pytest.raises(UsageError, match="known extra columns"):
        build_report(run, formats=("md",), extra_columns=("bogus",))
