from importlib.metadata import EntryPoint

import pytest

from ultrabench.errors import UltrabenchError, UsageError
from ultrabench.methods import Method, SizePlan
from ultrabench.methods import registry
from ultrabench.resolution import Resolution


PLUGIN = """
from ultrabench.methods import Method

class Plugin(Method):
    name = "plugin-method"
    display_name = "Plugin Method"
    aliases = ("PlugIn-v1",)
"""


def test_core_names_and_did_you_mean():
    names = registry.method_names()
    assert {"ultrapixel", "tiny-sd", "tiny-sd-sr", "tiny-ultrapixel"} <= set(names)
    assert "tiny-sd" not in registry.method_names(include_tiny=False)
    with pytest.raises(UsageError, match="did you mean 'tiny-sd'"):
        registry.get_method_class("tiny-sdd")


def test_entry_point_methods_are_discovered(monkeypatch, tmp_path):
    (tmp_path / "ub_plugin_pkg.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = EntryPoint(name="plugin-method", value="ub_plugin_pkg:Plugin", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group=None: [ep] if group == registry.ENTRY_POINT_GROUP else [])
    registry._sources.cache_clear()
    registry.get_method_class.cache_clear()
    try:
        assert "plugin-method" in registry.method_names()
        assert registry.get_method_class("plugin-method").__module__ == "ub_plugin_pkg"
        assert registry.canonical_method("Plugin Method") == "plugin-method"
        assert registry.canonical_method("plugin-v2") is None
        assert registry.canonical_method("plugin_v1") == registry.canonical_method("PlugIn-v1") == "plugin-method"
    finally:
        registry._sources.cache_clear()
        registry.get_method_class.cache_clear()


def test_duplicate_and_mismatched_registrations_fail(register_method, monkeypatch):
    class Wrong(Method):
        name = "declared-other"

    register_method(Wrong)
    table = dict(registry.CORE_METHODS)
    table["claims-wrong"] = Wrong
    monkeypatch.setattr(registry, "CORE_METHODS", table)
    registry._sources.cache_clear()
    with pytest.raises(UltrabenchError, match="declares name 'declared-other'"):
        registry.get_method_class("claims-wrong")
    table["Bad Name"] = Wrong
    registry._sources.cache_clear()
    with pytest.raises(UltrabenchError, match="invalid"):
        registry.method_names()


def test_unknown_settings_are_rejected():
    with pytest.raises(UsageError, match="unknown setting.*stepz"):
        registry.create_method("tiny-sd", {"stepz": 3})


def test_tiny_support_declarations():
    m = registry.create_method("tiny-sd-sr")
    p = m.plan(Resolution(320, 576))
    assert p.support.value == "native-then-resized" and p.native == Resolution(160, 288)
    assert registry.create_method("tiny-sd").plan(Resolution(2048, 2048)).support.value == "unsupported"
    assert SizePlan.resized(Resolution(8, 8), Resolution(8, 8), "same").support.value == "native"
