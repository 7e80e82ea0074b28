"""HiFlow, I-Max and UltraFlux against their authors' code (benchmarks/official/{hiflow,imax,ultraflux}.py).

Always: the pieces the comparisons stand on (reading entry points without importing them, replacing
a script's lines, naming the line that stopped a child) and the interface checks themselves, which must
fire on a stand-in posing as the real checkout.

With ULTRABENCH_OFFICIAL_CHECKOUTS naming a folder of checkouts (`hiflow/`, `imax/`, `ultraflux/`, each
at its method's pinned commit with its environment in `.ultrabench-venv`, as `ultrabench env create`
makes it): each stand-in checkout's entry points against the real ones, and the authors' own script
beside `ultrabench generate` on a tiny random FLUX, which must give the same image. About 3, 7 and
3 minutes on one busy CPU core.
"""

import importlib
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

METHODS = ("hiflow", "imax", "ultraflux")
CHECKOUTS = os.environ.get("ULTRABENCH_OFFICIAL_CHECKOUTS")


def _mod(name):
    return importlib.import_module(f"benchmarks.official.{name}")


def _flux():
    return importlib.import_module("benchmarks.official._flux")


def test_each_module_pins_the_commit_its_method_declares():
    from ultrabench.methods.registry import get_method_class

    for name in METHODS:
        m = _mod(name)
        cls = get_method_class(m.METHOD)
        assert (m.REPO, m.COMMIT) == (cls.official_repo, cls.official_commit)
        assert re.fullmatch(r"[0-9a-f]{40}", m.COMMIT)


def test_signatures_are_read_from_source_and_every_difference_is_named():
    F = _flux()
    real = ("class P:\n    def __call__(self, prompt=None, height=None, steps=28, scale=7.0):\n        pass\n"
            "def seed(s):\n    pass\n")
    stand = ("from diffusers import Transformer\nimport diffusers\n"
             "class P(diffusers.FluxPipeline):\n    def __call__(self, prompt=None, height=None, steps=30, scale=7,"
             " extra=1, **kw):\n        pass\n")
    assert F.defines(stand, "Transformer") and F.defines(real, "seed") and not F.defines(stand, "seed")
    assert F.signature(real, "P.__call__") == [("self", None), ("prompt", "None"), ("height", "None"),
                                               ("steps", "28"), ("scale", "7.0")]
    got = F.compare_signatures(F.signature(real, "P.__call__"), F.signature(stand, "P.__call__"), "p.py:P.__call__")
    assert got == ["p.py:P.__call__: steps defaults to 30 in the stand-in, 28 in the real code",
                   "p.py:P.__call__: the stand-in takes 'extra', the real code does not"]  # 7 == 7.0 passes
    assert F.compare_signatures(F.signature(real, "seed"), F.signature(stand, "seed"), "seed") == [
        "seed: the stand-in does not define it"]
    assert F.accepts(F.signature(real, "P.__call__"), ["prompt", "ntk"], "P") == [
        "P: our runner passes 'ntk', which the real code does not take"]
    runner = "KEYS_CALL_KEYS = ('a', 'b')\nout = st['pipe'](prompt=1, **{k: 1 for k in KEYS_CALL_KEYS})\npipe(x=2)\n"
    assert sorted(F.call_keywords(runner, "st['pipe']")) == ["a", "b", "prompt"]


def test_a_script_line_that_moved_stops_the_comparison_with_that_line():
    F = _flux()
    src = 'seed = 3407\nprompt = "a robot"\npipe.to("cuda")\n'
    out = F.patched(src, [('pipe.to("cuda")', 'pipe.to("cpu")')], "run.py", [('prompt = "', "prompt = 'x'")])
    assert out == "seed = 3407\nprompt = 'x'\npipe.to(\"cpu\")\n"
    with pytest.raises(F.Drift, match=r"run.py: expected exactly one 'height=4096,', found 0"):
        F.patched(src, [("height=4096,", "height=256,")], "run.py")
    with pytest.raises(F.Drift, match="expected exactly one line starting 'seed', found 2"):
        F.patched(src + "seed2 = 1\n", [], "run.py", [("seed", "seed = 1")])
    readme = "text\n```\nimport torch\nfrom pipeline_flux_imax import FluxPipeline\n```\n"
    assert F.readme_block(readme, "pipeline_flux_imax").startswith("import torch")


def test_the_stopping_line_is_the_last_frame_its_code_and_the_error():
    F = _flux()
    err = ('Traceback (most recent call last):\n  File "/c/run.py", line 3, in <module>\n    import flux\n'
           '  File "/c/flux.py", line 7, in <module>\n    from x import y\n'
           "ImportError: cannot import name 'y' from 'x'\n")
    assert F.stopping_line(err) == ('File "/c/flux.py", line 7, in <module>: from x import y -> '
                                    "ImportError: cannot import name 'y' from 'x'")


@pytest.mark.parametrize("name, expected", [
    ("hiflow", "run_hiflow.py: no longer has 'pipe.scheduler.use_dynamic_shifting = False'"),
    ("imax", "pipeline_flux_imax.py: no longer has 'native_resolution = 1024'"),
    ("ultraflux", "inf_ultraflux.py: no longer has 'pipe.scheduler.config.use_dynamic_shifting = False'"),
])
def test_the_interface_check_refuses_a_stand_in_posing_as_the_real_checkout(name, expected, tmp_path):
    from baselines.standin_checkouts import write_checkout

    got = _mod(name).interface_check(write_checkout(name, tmp_path / name))
    assert any(m.startswith(expected) for m in got), got


def test_a_file_only_the_stand_in_has_is_a_mismatch(tmp_path):
    # the shape of the UltraFlux bug: a stand-in with ultraflux/__init__.py hid that the real folder is a
    # namespace package, which the runner script (ultraflux.py) shadowed
    F = _flux()
    (tmp_path / "ultraflux").mkdir()
    (tmp_path / "ultraflux" / "pipeline_flux.py").write_text("")
    stand = {"ultraflux/__init__.py": "", "ultraflux/pipeline_flux.py": ""}
    assert F.stand_in_files(tmp_path, stand) == ["ultraflux/__init__.py: in the stand-in, not in the real checkout"]


def _checkout(name):
    if not CHECKOUTS:
        pytest.skip("set ULTRABENCH_OFFICIAL_CHECKOUTS to a folder of official checkouts (hiflow/, imax/, ultraflux/)")
    path = Path(CHECKOUTS) / name
    if not path.is_dir():
        pytest.skip(f"no {name} checkout in {CHECKOUTS}")
    return path


@pytest.mark.parity
@pytest.mark.parametrize("name", METHODS)
def test_each_stand_in_offers_the_real_entry_points(name):
    assert _mod(name).interface_check(_checkout(name)) == []


@pytest.mark.parity
@pytest.mark.slow
@pytest.mark.parametrize("name", METHODS)
def test_ultrabench_returns_the_image_the_authors_script_returns(name, tmp_path):
    F = _flux()
    checkout = _checkout(name)
    if not F.checkout_python(checkout).exists():
        pytest.skip(f"{checkout} has no environment; run `ultrabench env create {name} --repo {checkout}`")
    r = _mod(name).compare(Path(CHECKOUTS), tmp_path)
    assert r["ran"], r["not_run_reason"]
    assert r["sizes"]["official"] == r["sizes"]["ultrabench"] == r["sizes"]["request"]
    assert r["max_abs_diff"] <= r["tolerance"], r
    assert r["tolerance_why"] and r["commit"] == _mod(name).COMMIT
