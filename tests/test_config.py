import json

import pytest

from ultrabench.config import BenchmarkSpec, field_help, load_spec, spec_from_dict
from ultrabench.errors import UsageError
from ultrabench.resolution import Resolution


def test_table1_spec_mirrors_the_paper_rows():
    spec = load_spec("table1")
    rows = {(r.key, e.name) for e in spec.methods for r in spec.resolutions_for(e)}
    import csv
    from importlib.resources import files

    paper = list(csv.DictReader(files("ultrabench").joinpath("data/paper_table1.csv").open()))
    alias = {"UltraPixel": "ultrapixel", "PixArt-Sigma": "pixart-sigma", "Base + BSRGAN": "base-sr",
             "DemoFusion": "demofusion", "ScaleCrafter": "scalecrafter", "FouriScale": "fouriscale",
             "ElasticDiffusion": "elasticdiffusion", "DALL-E 3": "dall-e-3"}
    expected = {(f"{p['height']}x{p['width']}", alias[p["method"]]) for p in paper}
    assert rows == expected
    assert spec.num_prompts == 1000 and spec.patch_crops == 3 and spec.batch_size == 1


def test_cli_style_overrides_keep_unset_values():
    spec = load_spec("table1").replace(num_prompts=10, out=None, seed=None)
    assert spec.num_prompts == 10 and spec.out == "runs/table1"
    with pytest.raises(UsageError, match="num_prompts must be at least 1"):
        spec.replace(num_prompts=0)


def test_unknown_keys_and_bad_values_are_named(tmp_path):
    with pytest.raises(UsageError, match="unknown key.*num_promts"):
        spec_from_dict({"num_promts": 3})
    with pytest.raises(UsageError, match="unknown metric 'fdi'"):
        spec_from_dict({"metrics": ["fdi"]})
    with pytest.raises(UsageError, match="listed twice"):
        spec_from_dict({"methods": [{"name": "tiny-sd"}, {"name": "tiny-sd"}]})
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    with pytest.raises(UsageError, match="invalid TOML"):
        load_spec(str(bad))
    with pytest.raises(UsageError, match="no benchmark spec named 'nope'"):
        load_spec("nope")


def test_spec_round_trips_through_its_frozen_dict(tmp_path):
    spec = spec_from_dict({"name": "x", "resolutions": ["320x320"], "methods": [
        {"name": "a", "method": "tiny-sd", "resolutions": ["64x64"], "settings": {"steps": 2}}]})
    d = json.loads(json.dumps(spec.to_dict()))
    again = spec_from_dict(d)
    assert again == spec
    assert again.methods[0].resolutions == (Resolution(64, 64),)


def test_help_text_comes_from_the_spec_fields():
    assert "Prompt source" in field_help("prompts")
    assert BenchmarkSpec().patch_crops == 3
