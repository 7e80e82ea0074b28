"""`report --compare-paper` puts a measured number beside the paper's only under the paper's protocol;
`--paper-any-protocol` shows it anyway, footnoted with both protocols."""

from cli_helpers import invoke
from ultrabench.report.formats import render_markdown
from ultrabench.report.table import build_table

RES = "1024x1792"


def _summary(patch_version):
    sets = [{"method": "ultrapixel", "resolution": RES, "metric": m, "value": v, "n": 10,
             "protocol": p} for m, v, p in (("fid-patch", 61.0, patch_version), ("fid", 64.0, "fid@clean-v1"))]
    return {"metrics": ["fid-patch", "fid"], "sets": sets,
            "protocols": {"fid-patch": {"version": patch_version}, "fid": {"version": "fid@clean-v1"}},
            "status": [{"method": "ultrapixel", "resolution": RES, "ok": 10}], "latency": []}


def _cells(table, key):
    row = next(r for r in table.rows if r.method == "ultrapixel" and r.resolution == RES)
    return row.cells[key]


def test_the_paper_protocol_is_shown_beside_the_paper():
    t = build_table(_summary("fid-patch@native299-p3-v2"), compare_paper=True)
    assert _cells(t, "fid-patch").paper == 60.5 and _cells(t, "fid").paper == 63.53


def test_another_patch_protocol_is_refused_beside_the_paper_unless_asked():
    t = build_table(_summary("fid-patch@native224to299-p3-v2"), compare_paper=True)
    c = _cells(t, "fid-patch")
    assert c.paper is None and c.delta is None and "not shown beside the measured FID-patch" in c.paper_note
    assert "fid-patch@native224to299-p3-v2" in c.paper_note and "fid-patch@native299-p3-v2" in c.paper_note
    assert _cells(t, "fid").paper == 63.53  # the other columns are unaffected
    md = render_markdown(t)
    assert "--paper-any-protocol shows it anyway" in md and "60.5" not in md

    t = build_table(_summary("fid-patch@native224to299-p3-v2"), compare_paper=True, paper_any_protocol=True)
    c = _cells(t, "fid-patch")
    assert c.paper == 60.5 and "not comparable" in c.paper_note
    md = render_markdown(t)
    assert "60.5" in md and "measured under fid-patch@native224to299-p3-v2, the paper's under " \
                             "fid-patch@native299-p3-v2 (3 native 299x299 crops per image); not comparable" in md


def test_the_flag_without_compare_paper_is_one_line(tmp_path):
    r = invoke("report", tmp_path, "--paper-any-protocol", "-f", "terminal")
    assert r.exit_code != 0 and "--paper-any-protocol only means something with --compare-paper" in r.output
