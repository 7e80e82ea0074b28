"""Every spec key and every method setting is checked when the spec loads: one line naming the file,
the key, the value and what was expected; nothing runs (or is written) with a bad value."""

import pytest

from cli_helpers import invoke

from ultrabench.config import load_spec, spec_from_dict
from ultrabench.errors import UsageError
from ultrabench.methods.registry import get_method_class, method_names


INTEGER, STRING, STRINGS = "an integer", "a string", "a list of strings"
WRONG = [  # (key, TOML value, expected) - one wrong type for every key of a spec
    ("num_prompts", "2.5", INTEGER), ("num_prompts", '"three"', INTEGER), ("num_prompts", "true", INTEGER),
    ("prompt_seed", "1.0", INTEGER), ("seed", "false", INTEGER), ("samples_per_prompt", '"1"', INTEGER),
    ("batch_size", "[1]", INTEGER), ("warmup", "true", INTEGER), ("patch_crops", "3.0", INTEGER),
    ("crop_seed", '"0"', INTEGER), ("name", "1", STRING), ("description", "[]", STRING), ("out", "2", STRING),
    ("prompts", "true", STRING), ("reference", "3", STRING), ("reference_method", "1", STRING),
    ("resolutions", "64", STRINGS), ("resolutions", "[64]", STRINGS), ("metrics", "[1, 2]", STRINGS),
    ("methods", "3", "a list of method tables or names"),
]


@pytest.mark.parametrize("key,value,expected", WRONG, ids=[f"{k}={v}" for k, v, _ in WRONG])
def test_a_wrong_type_names_file_key_value_and_type(tmp_path, key, value, expected):
    spec = tmp_path / "bad.toml"
    spec.write_text(f"{key} = {value}\n")
    r = invoke("generate", "-s", spec, "--out", tmp_path / "run")
    assert r.exit_code == 2
    shown = {"true": "True", "false": "False"}.get(value, value).replace('"', "'")
    assert r.output == f"error: {spec}: key {key!r} = {shown} is not {expected}\n"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("key,value,expected", [
    ("name", "1", "a string"), ("method", "2", "a string"), ("display_name", "[]", "a string"),
    ("resolutions", "[64]", "a list of strings"), ("settings", '"steps=3"', "a table"),
])
def test_method_entry_keys_are_type_checked_too(tmp_path, key, value, expected):
    spec = tmp_path / "bad.toml"
    entry = {"name": '"tiny-sd"', key: value}
    spec.write_text("[[methods]]\n" + "".join(f"{k} = {v}\n" for k, v in entry.items()))
    with pytest.raises(UsageError) as e:
        load_spec(spec)
    shown = value.replace('"', "'")
    assert str(e.value) == f"{spec}: key 'methods.{key}' = {shown} is not {expected}"


def test_overrides_from_the_api_are_type_checked():
    spec = spec_from_dict({"name": "t"})
    with pytest.raises(UsageError, match=r"key 'num_prompts' = True is not an integer"):
        spec.replace(num_prompts=True)
    with pytest.raises(UsageError, match=r"key 'seed' = 1.5 is not an integer"):
        spec.replace(seed=1.5)


@pytest.mark.parametrize("settings,message", [
    ("{steps = -3}", "setting steps = -3 is below 1"),
    ("{steps = 2.5}", "setting steps = 2.5 is not an integer"),
    ("{steps = true}", "setting steps = True is not an integer"),
    ('{guidance_scale = "high"}', "setting guidance_scale = 'high' is not a number"),
    ("{guidance_scale = -1}", "setting guidance_scale = -1.0 is below 0.0"),
    ("{negative_prompt = 0}", "setting negative_prompt = 0 is not a string"),
])
def test_method_settings_are_checked_when_the_spec_loads(tmp_path, settings, message):
    spec = tmp_path / "bad.toml"
    spec.write_text(f'[[methods]]\nname = "tiny-sd"\nsettings = {settings}\n')
    r = invoke("generate", "-s", spec, "--out", tmp_path / "run")
    assert r.exit_code == 2 and r.output == f"error: {spec}: method 'tiny-sd': {message}\n"
    assert not (tmp_path / "run").exists()


def test_integer_settings_widen_where_the_default_is_a_float():
    spec = spec_from_dict({"methods": [{"name": "tiny-sd", "settings": {"guidance_scale": 3}}]})
    value = spec.methods[0].settings["guidance_scale"]
    assert value == 3.0 and isinstance(value, float)


@pytest.mark.parametrize("name", [n for n in method_names() if n != "import"])
def test_every_adapter_declares_rules_its_own_defaults_pass(name):
    cls = get_method_class(name)
    assert set(cls.setting_rules) <= set(cls.default_settings), "a rule for a setting that does not exist"
    assert cls.check_settings(dict(cls.default_settings)) == dict(cls.default_settings)
    assert cls.setting_rules, f"{name} declares no allowed ranges"


@pytest.mark.parametrize("name,key,value,why", [
    ("ultrapixel", "cfg_rho", 1.5, "is above 1.0"), ("ultrapixel", "layout", "flat", "is not one of 'official', 'diffusers'"),
    ("pixart-sigma", "model_size", "4K", "is not one of '2K', '1024'"), ("base-sr", "sr_tile", -1, "is below 0"),
    ("demofusion", "num_inference_steps", 0, "is below 1"), ("scalecrafter", "eta", 2.0, "is above 1.0"),
    ("elasticdiffusion", "new_p", -0.1, "is below 0.0"), ("fouriscale", "dtype", "int8", "is not one of"),
])
def test_out_of_range_settings_of_real_adapters_are_refused(name, key, value, why):
    with pytest.raises(UsageError) as e:
        spec_from_dict({"methods": [{"name": name, "settings": {key: value}}]}, where="t.toml")
    assert str(e.value).startswith(f"t.toml: method {name!r}: setting {key} = {value!r} {why}")


def test_an_unknown_reference_method_is_named_when_the_spec_loads(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('reference_method = "nosuch"\n')
    r = invoke("score", "-s", spec, tmp_path)
    assert r.exit_code == 2
    assert r.output == (f"error: {spec}: reference_method 'nosuch' is an unknown method "
                        "(neither a method of this spec nor a registered one)\n")
    assert list(tmp_path.iterdir()) == [spec]
