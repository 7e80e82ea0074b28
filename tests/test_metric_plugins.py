"""The metric registry: plugins declare extractors and metrics; the engine needs no other code.

A toy extractor is installed as a separate distribution (a .dist-info folder with an entry point in
the `ultrabench.metrics` group, on PYTHONPATH), then listed, scored and reported through the CLI.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

TOY = textwrap.dedent('''
    """A toy per-image metric: the mean grey level of an 8x8 square resize, no weights."""
    import numpy as np

    from ultrabench.metrics.plugin import FeatureExtractor, Metric, Net


    class Brightness(FeatureExtractor):
        name = "toy-brightness"
        description = "mean grey level of an 8x8 resize"
        metrics = (Metric("toy-brightness", "Toy brightness", True, "per_image", "8x8 square resize",
                          description="mean grey level", value_range=(0.0, 255.0), extractor="toy-brightness",
                          view="full", feature="value"),)

        def views(self, net=None):
            from ultrabench.scoring.views import View

            return {"full": View.of("square", size=8, filter="box")}

        def _net(self):
            return Net(None, "toy-brightness", "none", False)

        load = lambda self, resolver, device: self._net()
        standin = lambda self, cache_dir, device: self._net()

        def forward(self, net, role, rows):
            return {"value": np.stack(rows).reshape(len(rows), -1).mean(axis=1, keepdims=True).astype(np.float64)}
''')


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    (site / "ub_toy_metric.py").write_text(TOY)
    dist = site / "ub_toy_metric-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ub-toy-metric\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[ultrabench.metrics]\ntoy = ub_toy_metric:Brightness\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])]),
               ULTRABENCH_CACHE=str(tmp_path_factory.mktemp("ubcache")), HF_HUB_OFFLINE="1")
    return env


def ub(env, *args):
    return subprocess.run([sys.executable, "-m", "ultrabench", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_an_entry_point_plugin_is_listed_and_scored_with_no_engine_change(plugin_env, tmp_path):
    r = ub(plugin_env, "metrics", "--json")
    assert r.returncode == 0, r.stderr
    rows = {x["name"]: x for x in json.loads(r.stdout)}
    assert rows["toy-brightness"]["plugin"] == "ub_toy_metric" and rows["toy-brightness"]["range"] == "[0.0, 255.0]"
    assert rows["fid"]["needs_reference"] and rows["clip"]["needs_prompt"] and rows["pickscore"]["win_rates"]

    from ultrabench.resolution import parse_resolution
    from ultrabench.runstore import RunStore, Unit

    run, res = tmp_path / "run", parse_resolution("64x64")
    levels = {"p0": 10, "p1": 200}
    for pid, level in levels.items():
        RunStore(run).write_unit(Unit("m", res, pid, "x", 0), {"status": "ok", "seconds": 1.0, "stages": {}},
                                 image=Image.fromarray(np.full((64, 64, 3), level, np.uint8)))
    r = ub(plugin_env, "-q", "score", str(run), "--metric", "toy-brightness", "--workers", "0")
    assert r.returncode == 0, r.stderr
    summary = json.loads((run / "scores" / "summary.json").read_text())
    (entry,) = [s for s in summary["sets"] if s["metric"] == "toy-brightness"]
    assert entry["value"] == pytest.approx(np.mean(list(levels.values()))) and entry["n"] == 2
    assert summary["protocols"]["toy-brightness"]["version"] == "toy-brightness@v1"
    import pandas as pd

    df = pd.read_parquet(run / "scores" / "per_image.parquet")
    assert sorted(df["toy_brightness"]) == [10.0, 200.0]


def test_a_broken_plugin_is_named_and_the_built_in_metrics_still_work(plugin_env, tmp_path):
    site = tmp_path / "broken"
    dist = site / "ub_broken-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ub-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[ultrabench.metrics]\nbroken = ub_no_such_module:Thing\n")
    env = dict(plugin_env, PYTHONPATH=os.pathsep.join([str(site), plugin_env["PYTHONPATH"]]))
    r = ub(env, "metrics")
    assert r.returncode == 0
    assert "metric plugin broken (ub_no_such_module:Thing) could not be loaded: ModuleNotFoundError" in r.stderr
    assert "fid-patch" in r.stdout and "toy-brightness" in r.stdout


def test_unknown_metric_is_one_line_with_a_suggestion(plugin_env, tmp_path):
    (tmp_path / "run").mkdir()
    r = ub(plugin_env, "score", str(tmp_path / "run"), "--metric", "fid-pach")
    assert r.returncode == 2 and r.stderr.strip() == "error: unknown metric 'fid-pach'; did you mean 'fid-patch'?"


def test_registering_a_clashing_metric_name_is_refused():
    from ultrabench.errors import UsageError
    from ultrabench.metrics.plugin import FeatureExtractor, Metric
    from ultrabench.metrics.registry import register_extractor

    class Clash(FeatureExtractor):
        name = "clash"
        metrics = (Metric("fid", "FID", False, "set", "-", extractor="clash"),)

    with pytest.raises(UsageError, match="a metric named 'fid' is already registered"):
        register_extractor(Clash)


def test_one_view_is_decoded_once_for_two_extractors_that_share_it(tmp_path, monkeypatch):
    """CLIP score and PickScore both read the short-side-224 view: the worker makes it once."""
    from ultrabench.scoring import views
    from ultrabench.scoring.engine import FeatureCache, ImageTask, open_extractors, run_pass
    from ultrabench.metrics.registry import get_metric

    calls = []
    real = views.VIEW_KINDS["short-side"]
    monkeypatch.setitem(views.VIEW_KINDS, "short-side",
                        views.ViewKind(lambda *a, **k: calls.append(1) or real.fn(*a, **k), real.keyed, real.needs_pil,
                                       real.multi))
    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "c"))
    p = tmp_path / "a.png"
    Image.fromarray(np.zeros((240, 320, 3), np.uint8)).save(p)
    ex = open_extractors(["clip", "pickscore"], {}, stand_ins=True)
    needs = [ex.need_for(get_metric(m), {}) for m in ("clip", "pickscore")]
    assert needs[0].view == needs[1].view
    run_pass([ImageTask(p, "k")], needs, FeatureCache(tmp_path / "cache"), batch_size=4, workers=0, progress=False)
    assert len(calls) == 1
