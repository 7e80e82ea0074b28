"""Each official-code runner against the authors' repository (benchmarks/official_baselines.py).

With ULTRABENCH_OFFICIAL_CHECKOUTS naming a folder of checkouts (one per method, named by method,
each with its `ultrabench env create` venv), every module of benchmarks/official/ runs the authors'
entry point beside `ultrabench generate` and checks our stand-in checkout against the real code.
Without it those tests skip and say why; the harness itself is tested here on small inputs.
"""

from __future__ import annotations

import json
import os
import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import official_baselines as D  # noqa: E402
from benchmarks.official import _common as C  # noqa: E402
from benchmarks.official import method_modules  # noqa: E402

CHECKOUTS = os.environ.get(D.ENV)
MODULES = method_modules()
NO_CHECKOUTS = (f"set {D.ENV} to a folder of the official checkouts (subfolders named by method, each with its "
                f"`ultrabench env create` venv) to compare with the authors' code")


def _checkout(module) -> Path:
    if not CHECKOUTS:
        pytest.skip(NO_CHECKOUTS)
    checkout = Path(CHECKOUTS) / module.METHOD
    if not checkout.is_dir():
        pytest.skip(f"{D.ENV}={CHECKOUTS} has no {module.METHOD}/ (a clone of github.com/{module.REPO})")
    return checkout


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("official-work")  # one tiny model for every comparison


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.METHOD)
def test_runner_returns_the_authors_image(module, work):
    _checkout(module)
    res = module.compare(Path(CHECKOUTS), work)
    if res["status"] in ("could not run", "no checkout"):
        pytest.skip(f"{module.METHOD}: the official code cannot run here: {res['could_not_run']}")
    run = res["runs"][0]
    assert res["status"] == "match", json.dumps(res, indent=1, default=str)[:3000]
    assert run["same_size"] and run["max_abs_diff"] <= res["tolerance"]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.METHOD)
def test_stand_in_checkout_agrees_with_the_real_code(module):
    assert module.interface_check(_checkout(module)) == []


# -- the harness, without checkouts ---------------------------------------------------------------------
@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.METHOD)
def test_each_module_declares_the_method_and_its_pinned_commit(module):
    from ultrabench.methods.registry import get_method_class

    assert re.fullmatch(r"[0-9a-f]{40}", module.COMMIT) and callable(module.compare) and callable(module.interface_check)
    cls = get_method_class(module.METHOD)
    assert (cls.official_repo, cls.official_commit) == (module.REPO, module.COMMIT)


def test_the_sdxl_modules_are_found():
    assert {"scalecrafter", "fouriscale", "elasticdiffusion", "hidiffusion"} <= {m.METHOD for m in MODULES}


def test_signature_comparison_names_every_drift(tmp_path):
    real, fake = tmp_path / "real.py", tmp_path / "fake.py"
    real.write_text("class A:\n    def __init__(self, device, sd_version='2.0', verbose=False, low_vram=False):\n        pass\n"
                    "    def run(self, x, n=50):\n        pass\n"
                    "def outer(self, k=1):\n    def forward(prompt=None, eta=1.0):\n        pass\n    return forward\n")
    fake.write_text("class A:\n    def __init__(self, device, sd_version='XL1.0', verbose=False, torch_dtype=None):\n"
                    "        pass\n    def run(self, x, n=50):\n        pass\n"
                    "def outer(self, k=1):\n    def forward(prompt=None, eta=0.0):\n        pass\n    return forward\n")
    problems = C.compare_signatures(real, fake, ["A", "A.run", "outer", "outer.forward", "gone"])
    assert problems == [
        "real.py:A: stand-in (self, device, sd_version='XL1.0', verbose=False, torch_dtype=None) != "
        "real (self, device, sd_version='2.0', verbose=False, low_vram=False)",
        "real.py:outer.forward: stand-in (prompt=None, eta=0.0) != real (prompt=None, eta=1.0)",
        "real.py:gone: not in the real code",
    ]


def test_blocking_line_is_the_checkouts_innermost_frame(tmp_path):
    repo = tmp_path / "repo"
    stderr = (
        "Traceback (most recent call last):\n"
        f'  File "{repo}/text2image_xl.py", line 598, in <module>\n    main()\n'
        f'  File "{repo}/model.py", line 7, in <module>\n    from diffusers.models.lora import LoRACompatibleConv\n'
        f'  File "{repo}/.ultrabench-venv/lib/python3.10/site-packages/x.py", line 3, in f\n    import y\n'
        "ModuleNotFoundError: No module named 'diffusers.models.lora'\n")
    assert C.blocking_line(stderr, repo) == ("model.py:7: from diffusers.models.lora import LoRACompatibleConv -> "
                                             "ModuleNotFoundError: No module named 'diffusers.models.lora'")
    assert C.blocking_line("no traceback here", repo) is None


def test_sized_config_changes_only_the_sizes_and_named_values(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "a.yaml").write_text("dilate_tau: 30\nbase_settings: ./x.txt\nlatent_height: 256\n"
                                                 "latent_width: 256\npixel_height: 2048\npixel_width: 2048\n")
    out = C.sized_config(tmp_path, "configs/a.yaml", 256, 384, tmp_path / "b.yaml", {"base_settings": "/abs/y.txt"})
    assert out.read_text() == ("dilate_tau: 30\nbase_settings: /abs/y.txt\nlatent_height: 32\nlatent_width: 48\n"
                               "pixel_height: 256\npixel_width: 384\n")


def test_driver_writes_a_report_per_method_and_a_summary(tmp_path, capsys):
    (tmp_path / "co" / "fake").mkdir(parents=True)

    def compare(checkouts, work):
        res = C.base_result("fake", "o/fake", "a" * 40)
        res.update(status="match", tolerance=0, tolerance_why="same code", checkout_commit="a" * 40,
                   runs=[{"size": "256x256", "seed": 7, "prompt": "p", "max_abs_diff": 0, "mean_abs_diff": 0.0,
                          "same_size": True}])
        return res

    def broken(checkouts, work):
        raise RuntimeError("no tiny model")

    good = types.SimpleNamespace(METHOD="fake", REPO="o/fake", COMMIT="a" * 40, compare=compare,
                                 interface_check=lambda c: [])
    bad = types.SimpleNamespace(METHOD="other", REPO="o/other", COMMIT="b" * 40, compare=broken,
                                interface_check=lambda c: ["x.py:f: not in the stand-in"])
    results = [D.run_one(good, tmp_path / "co", tmp_path / "w"), D.run_one(bad, tmp_path / "co", tmp_path / "w")]
    assert results[1]["status"] == "error" and "no tiny model" in results[1]["could_not_run"]
    assert results[1]["interface_mismatches"] is None  # no checkout folder: not checked
    assert D.ok(results[0]) and not D.ok(results[1])
    D.write_reports(results, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "fake.json").read_text())["status"] == "match"
    md = (tmp_path / "out" / "README.md").read_text()
    assert "| fake | o/fake | aaaaaaaaaaaa | aaaaaaaaaaaa | 256x256 | 0 | 0.0000 | 0 | match | ok |" in md
    assert "could not run: `comparison raised RuntimeError: no tiny model`" in md


def test_driver_without_checkouts_is_one_line(monkeypatch, capsys):
    monkeypatch.delenv(D.ENV, raising=False)
    assert D.main([]) == 2
    assert capsys.readouterr().err.strip() == f"error: no checkouts folder: pass --checkouts or set {D.ENV}"


def test_a_hanging_official_run_is_a_result_not_an_exception(tmp_path):
    py = tmp_path / "co" / C.VENV / "bin" / "python"
    py.parent.mkdir(parents=True)
    py.symlink_to(sys.executable)
    proc = C.run_in_venv(tmp_path / "co", ["-c", "import time; time.sleep(30)"], log=tmp_path / "log.txt", timeout=0.5)
    assert proc.returncode == 124 and proc.stderr.strip().endswith("timed out after 0.5 s")


def test_flat_module_results_join_the_summary_as_matches_or_reasons(tmp_path):
    """The FLUX modules return the flat contract (ran, commit, sizes, max_abs_diff, not_run_reason):
    the summary reads them like the SDXL modules' runs."""
    flat = {"method": "flat", "repo": "o/flat", "commit": "c" * 40, "sizes": {"request": [256, 384], "official": [256, 384],
            "ultrabench": [256, 384]}, "max_abs_diff": 0.0, "mean_abs_diff": 0.0, "tolerance": 0,
            "tolerance_why": "same code", "ran": True, "not_run_reason": None, "interface_mismatches": []}
    stopped = {**flat, "method": "stopped", "ran": False, "max_abs_diff": None,
               "not_run_reason": "pipeline.py:12: import triton -> ModuleNotFoundError"}
    differ = {**flat, "method": "differ", "max_abs_diff": 13.0}
    assert [D.normalise(r)["status"] for r in (flat, stopped, differ)] == ["match", "could not run", "differ"]
    assert D.ok(D.normalise(flat)) and D.ok(D.normalise(stopped)) and not D.ok(D.normalise(differ))
    D.write_reports([flat, stopped], tmp_path)
    md = (tmp_path / "README.md").read_text()
    assert f"| flat | o/flat | {'c' * 12} | {'c' * 12} | 256x384 | 0.0 | 0.0000 | 0 | match | ok |" in md
    assert "could not run: `pipeline.py:12: import triton -> ModuleNotFoundError`" in md
