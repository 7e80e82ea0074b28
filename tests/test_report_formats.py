"""Golden files for Markdown, LaTeX and CSV from a fixed score set; the LaTeX compiles when TeX exists.

Regenerate after an intended change with:  UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_report_formats.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ultrabench.report.demo import demo_summary
from ultrabench.report.formats import render_csv, render_json, render_latex, render_markdown
from ultrabench.report.table import build_table

GOLDEN = Path(__file__).parent / "golden" / "report"
CASES = {
    "plain": dict(),
    "full": dict(compare_paper=True, ci=True, extra_columns=("winrate", "memory", "kid")),
}
RENDER = {"md": render_markdown, "tex": render_latex, "csv": render_csv}


def _table(case: str, **kw):
    return build_table(demo_summary("RUN", **kw), **CASES[case])


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("ext", sorted(RENDER))
def test_golden(case, ext):
    text = RENDER[ext](_table(case))
    path = GOLDEN / f"table1_{case}.{ext}"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def test_json_round_trips_and_carries_footnotes():
    d = json.loads(render_json(_table("full")))
    assert [c["key"] for c in d["columns"]][:6] == ["fid-patch", "fid", "is-patch", "is", "clip", "latency"]
    up = next(r for r in d["rows"] if r["method"] == "ultrapixel" and r["resolution"] == "2048x2048")
    assert up["cells"]["fid"]["paper"] == 62.5 and up["cells"]["fid"]["delta"] == pytest.approx(0.4)
    assert {f["mark"] for f in d["footnotes"]} >= {"a", "b"}


def test_random_weights_warning_in_every_text_format():
    t = _table("full", random_weights=True)
    for render in (render_markdown, render_latex, render_csv, render_json):
        assert "random stand-in weights" in render(t), render.__name__
    assert "random stand-in weights" not in render_markdown(_table("full"))


def _tex_engine():
    for name in ("pdflatex", "lualatex", "xelatex", "tectonic"):
        if shutil.which(name):
            return name
    return None


@pytest.mark.skipif(_tex_engine() is None, reason="no TeX engine (pdflatex/lualatex/xelatex/tectonic) installed")
@pytest.mark.parametrize("case", sorted(CASES))
def test_latex_compiles(case, tmp_path):
    engine = _tex_engine()
    src = tmp_path / "table1.tex"
    src.write_text(render_latex(_table(case, random_weights=True)), encoding="utf-8")
    cmd = [engine, src.name] if engine == "tectonic" else [engine, "-interaction=nonstopmode", "-halt-on-error", src.name]
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:]
    assert (tmp_path / "table1.pdf").stat().st_size > 0


def test_latex_is_ascii_and_balanced():
    tex = render_latex(_table("full"))
    tex.encode("ascii")
    tex = "\n".join(line for line in tex.splitlines() if not line.startswith("%"))  # pdflatex without unicode support must accept it
    for env in ("document", "table", "tabular"):
        assert tex.count(rf"\begin{{{env}}}") == tex.count(rf"\end{{{env}}}") == 1
    assert r"\toprule" in tex and r"\bottomrule" in tex
