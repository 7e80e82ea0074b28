import os

# Tests never reach a hub: every model and extractor they use is built locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

# Under pytest-xdist (CI runs `-n 2` on 2 cores) each worker gets one core for torch, and its own
# ultrabench cache, so two workers never build the same stand-in file at once.
_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker:
    import tempfile

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("ULTRABENCH_CACHE", os.path.join(tempfile.gettempdir(), f"ultrabench-test-cache-{_worker}"))

import pytest  # noqa: E402


@pytest.fixture
def register_method(monkeypatch):
    """Register Method classes defined in a test under their `name` for the test's duration."""
    from ultrabench.methods import registry

    def _register(*classes):
        table = dict(registry.CORE_METHODS)
        for cls in classes:
            table[cls.name] = cls
        monkeypatch.setattr(registry, "CORE_METHODS", table)
        registry._sources.cache_clear()
        registry.get_method_class.cache_clear()

    yield _register
    registry._sources.cache_clear()
    registry.get_method_class.cache_clear()


@pytest.fixture(scope="session")
def stand_in_folder(tmp_path_factory):
    """Tiny weights laid out like the hub repos and stand-in official checkouts (baselines.standins),
    built once per test session."""
    from baselines.standins import build_stand_ins

    return build_stand_ins(tmp_path_factory.mktemp("stand-ins") / "built")
