"""benchmarks/uhr2026.toml: its methods and their support matrix at the paper's five resolutions, and
both specs run end to end on the tiny stand-ins of every method (`run --stand-in-methods`)."""

import json
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from typer.testing import CliRunner  # noqa: E402

from test_baselines_matrix import EXPECTED  # noqa: E402
from ultrabench.cli import app  # noqa: E402
from ultrabench.config import load_spec  # noqa: E402
from ultrabench.methods.registry import get_method_class  # noqa: E402
from ultrabench.resolution import PAPER_RESOLUTIONS  # noqa: E402

UHR2026_METHODS = ["ultrapixel", "pixart-sigma", "base-sr", "demofusion", "sana-4k", "sana-2k", "ultraflux",
                   "hidiffusion", "flux-dev-2k", "hiflow", "imax", "stable-cascade-direct"]
NATIVE_EVERYWHERE = [("native", r.key) for r in PAPER_RESOLUTIONS]


def test_uhr2026_methods_and_support_matrix():
    spec = load_spec("uhr2026")
    assert [e.name for e in spec.methods] == UHR2026_METHODS
    assert spec.resolutions == PAPER_RESOLUTIONS and spec.reference_method == "ultrapixel"
    table1 = list(load_spec("table1").metrics)
    assert list(spec.metrics)[:len(table1)] == table1  # Table 1's, then the 2025-2026 papers' metrics
    assert {"fd-dinov2", "cmmd", "hpsv2.1", "imagereward", "aesthetic", "longclip"} <= set(spec.metrics)
    table = {**EXPECTED, "ultrapixel": NATIVE_EVERYWHERE}
    for e in spec.methods:
        m = get_method_class(e.registry_name)(e.settings)
        got = [(m.plan(r).support.value, m.plan(r).native.key if m.plan(r).native else None)
               for r in spec.resolutions_for(e)]
        assert got == table[e.name], e.name


def _run(tmp_path, spec, *extra):
    r = CliRunner().invoke(app, ["-q", "--device", "cpu", "run", "--spec", spec, "--stand-in-methods", "-n", "1",
                                 "--out", str(tmp_path / spec), *extra], catch_exceptions=False)
    return r


def _statuses(run):
    out = {}
    for f in run.glob("*/[0-9]*x[0-9]*/*.json"):  # unit records: <method>/<H>x<W>/<id>.json
        rec = json.loads(f.read_text())
        out[f.parent.parent.name] = rec["status"] if rec["status"] == "ok" else f"{rec['status']}: {rec.get('error')}"
    return out


@pytest.fixture
def cached_stand_ins(stand_in_folder, monkeypatch):
    """`run` looks for the stand-ins in the cache: point it at the ones this session already built."""
    cache = stand_in_folder.parent
    monkeypatch.setenv("ULTRABENCH_CACHE", str(cache))
    if not (cache / "stand-ins").exists():
        (cache / "stand-ins").symlink_to(stand_in_folder)
    return cache


@pytest.mark.slow
def test_uhr2026_runs_end_to_end_on_stand_ins(tmp_path, cached_stand_ins):
    r = _run(tmp_path, "uhr2026")
    assert r.exit_code == 0, r.output
    run = tmp_path / "uhr2026"
    assert _statuses(run) == {m: "ok" for m in UHR2026_METHODS}
    assert "12 generated" in r.output
    md = (run / "report" / "table1.md").read_text()
    assert "random stand-in weights" in md
    assert "- sana-4k: NSCL v2-custom" in md and "- hiflow: FLUX.1 [dev] Non-Commercial License" in md
    summary = json.loads((run / "scores" / "summary.json").read_text())
    assert {"hpsv2.1", "imagereward", "aesthetic", "longclip"} <= {e["metric"] for e in summary["sets"]}
    assert {w["metric"] for w in summary["winrates"]} >= {"pickscore", "hpsv2.1", "imagereward"}
    frozen = json.loads((run / "run.json").read_text())["spec"]
    assert frozen["resolutions"] == ["128x256"] and frozen["reference"] is None
    assert {e["name"]: e["method"] for e in frozen["methods"]}["ultrapixel"] == "tiny-ultrapixel"


@pytest.mark.slow
def test_table1_runs_end_to_end_on_stand_ins(tmp_path, cached_stand_ins):
    # the methods uhr2026 also runs (ultrapixel, pixart-sigma, base-sr, demofusion) are covered above
    only = ("scalecrafter", "fouriscale", "elasticdiffusion")
    r = _run(tmp_path, "table1", "--res", "128x256", *[a for m in only + ("dall-e-3",) for a in ("-m", m)])
    assert r.exit_code == 0, r.output
    assert _statuses(tmp_path / "table1") == {m: "ok" for m in only}
    assert "dall-e-3: images of closed models are brought in with `ultrabench import`" in r.output


def test_a_spec_setting_the_real_adapter_rejects_fails_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "cache"))
    spec = tmp_path / "bad.toml"
    spec.write_text('name = "bad"\n[[methods]]\nname = "sana-4k"\nsettings = {steps = 3}\n')
    r = CliRunner().invoke(app, ["run", "--spec", str(spec), "--stand-in-methods", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "method 'sana-4k': unknown setting(s) steps" in r.output
    assert not (tmp_path / "o").exists() and not (tmp_path / "cache" / "stand-ins").exists()
