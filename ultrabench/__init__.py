"""ultrabench: benchmark ultra-high-resolution text-to-image generation.

The Python API mirrors the CLI: `generate`, `score`, `report` and `run` live in `ultrabench.api`
and are imported lazily here so that `import ultrabench` (and `ultrabench --help`) stays instant.
"""

__version__ = "0.1.0"

_API = {"generate", "score", "report", "run", "demo", "load_spec", "list_methods", "create_method"}


def __getattr__(name: str):
    if name in _API:
        from ultrabench import api

        return getattr(api, name)
    raise AttributeError(f"module 'ultrabench' has no attribute {name!r}")
