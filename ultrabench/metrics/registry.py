"""The metric registry: every `FeatureExtractor` plugin and the metrics it declares.

Built-in plugins are the modules of `ultrabench/metrics/plugins/`; other packages add theirs
through the `ultrabench.metrics` entry-point group, whose entries name a `FeatureExtractor`
subclass (or a module defining some), e.g. in their pyproject.toml:

    [project.entry-points."ultrabench.metrics"]
    myscore = "mypkg.metric:MyScore"

Reports derive arrows and bold-best from `higher_is_better`, the scorer what to compute from each
metric's extractor, view and statistic. Nothing heavy is imported: declarations load their models
only when a score needs them, so listing metrics and validating specs stay instant.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
import sys
from typing import Iterable

from ultrabench.errors import UsageError
from ultrabench.metrics.plugin import FeatureExtractor, Metric, MetricInfo  # noqa: F401  (re-exported)

ENTRY_POINT_GROUP = "ultrabench.metrics"
PAPER_METRICS: tuple[str, ...] = ("fid-patch", "fid", "is-patch", "is", "clip")

EXTRACTORS: dict[str, type[FeatureExtractor]] = {}
METRICS: dict[str, Metric] = {}
PLUGIN_ERRORS: list[str] = []  # entry points that failed to load, one line each


def register_extractor(cls: type[FeatureExtractor], origin: str = "") -> type[FeatureExtractor]:
    """Add a plugin; its name and its metrics' names must be new (a clash is a one-line error)."""
    if not (inspect.isclass(cls) and issubclass(cls, FeatureExtractor)) or not cls.name:
        raise UsageError(f"{origin or cls!r}: a metric plugin is a FeatureExtractor subclass with a name")
    if cls.name in EXTRACTORS and EXTRACTORS[cls.name] is not cls:
        raise UsageError(f"{origin or cls.__module__}: a feature extractor named {cls.name!r} is already registered")
    for m in cls.metrics:
        if m.extractor != cls.name:
            raise UsageError(f"{origin or cls.__module__}: metric {m.name!r} names extractor {m.extractor!r}, "
                             f"but is declared by {cls.name!r}")
        if m.kind not in ("set", "per_image"):
            raise UsageError(f"{origin or cls.__module__}: metric {m.name!r} has kind {m.kind!r} (set or per_image)")
        if m.name in METRICS and METRICS[m.name] is not m:
            raise UsageError(f"{origin or cls.__module__}: a metric named {m.name!r} is already registered")
    EXTRACTORS[cls.name] = cls
    for m in cls.metrics:
        METRICS[m.name] = m
    return cls


def _from_module(module) -> list[type[FeatureExtractor]]:
    return [obj for _, obj in sorted(vars(module).items())
            if inspect.isclass(obj) and issubclass(obj, FeatureExtractor) and obj.name
            and obj.__module__ == module.__name__]


def _load_builtin() -> None:
    from ultrabench.metrics import plugins

    for info in sorted(pkgutil.iter_modules(plugins.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"{plugins.__name__}.{info.name}")
            for cls in _from_module(module):
                register_extractor(cls, module.__name__)


def load_entry_points() -> None:
    """Register the plugins other packages declare. A plugin that fails to import is named in
    PLUGIN_ERRORS (and by `ultrabench metrics` and `doctor`), never fatal for the built-in metrics."""
    from importlib.metadata import entry_points

    eps = entry_points()
    group = eps.select(group=ENTRY_POINT_GROUP) if hasattr(eps, "select") else eps.get(ENTRY_POINT_GROUP, [])
    for ep in group:
        try:
            obj = ep.load()
            for cls in (_from_module(obj) if inspect.ismodule(obj) else [obj]):
                register_extractor(cls, f"entry point {ep.name} ({ep.value})")
        except Exception as e:  # a broken third-party plugin must not take scoring down
            msg = f"metric plugin {ep.name} ({ep.value}) could not be loaded: {type(e).__name__}: {e}".splitlines()[0]
            if msg not in PLUGIN_ERRORS:
                PLUGIN_ERRORS.append(msg)


def _paper_first() -> None:
    """The paper's columns in the paper's order, then the others in registration order."""
    ordered = {n: METRICS[n] for n in PAPER_METRICS if n in METRICS}
    ordered.update(METRICS)
    METRICS.clear()
    METRICS.update(ordered)


_load_builtin()
load_entry_points()
_paper_first()


def get_metric(name: str) -> Metric:
    key = str(name).strip().lower().replace("_", "-")
    if key in METRICS:
        return METRICS[key]
    close = difflib.get_close_matches(key, list(METRICS), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(METRICS)}"
    raise UsageError(f"unknown metric {name!r}{hint}")


def list_metrics(kind: str | None = None) -> list[Metric]:
    return [m for m in METRICS.values() if kind is None or m.kind == kind]


def extractor_for(metric: Metric, options=None) -> FeatureExtractor:
    """The extractor declaration that computes `metric`, with the scoring options it depends on
    (and the ones the metric pins, e.g. the aesthetic head's CLIP ViT-L/14)."""
    cls = EXTRACTORS[metric.extractor]
    return cls({**(options or {}), **dict(metric.extractor_options)})


def describe_rows(names: Iterable[str] | None = None) -> list[dict]:
    """One row per metric for `ultrabench metrics`: its metadata, extractor and protocol inputs."""
    rows = []
    for m in (get_metric(n) for n in names) if names else METRICS.values():
        rng = "" if m.value_range is None else \
            f"[{'-inf' if m.value_range[0] is None else m.value_range[0]}, {'inf' if m.value_range[1] is None else m.value_range[1]}]"
        rows.append({"name": m.name, "display_name": m.display_name, "better": "higher" if m.higher_is_better else "lower",
                     "kind": "set" if m.set_level else "per image", "range": rng, "input": m.input_size,
                     "needs_reference": m.needs_reference, "needs_prompt": m.needs_prompt,
                     "win_rates": m.preference, "extractor": m.extractor, "paper": m.paper,
                     "licence": m.licence or "", "description": m.description,
                     "plugin": sys.modules[EXTRACTORS[m.extractor].__module__].__name__})
    return rows
