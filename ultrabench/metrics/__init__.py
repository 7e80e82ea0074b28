"""Metrics: a registry of metadata (light) and the implementations (heavy, imported lazily)."""

from ultrabench.metrics.registry import METRICS, MetricInfo, get_metric, list_metrics

__all__ = ["METRICS", "MetricInfo", "get_metric", "list_metrics"]
