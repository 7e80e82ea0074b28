"""Scoring engine. Imports are lazy so that decode workers never pull in torch."""

from __future__ import annotations

__all__ = ["score_run", "build_reference", "weight_files_for"]


def __getattr__(name):
    if name == "weight_files_for":
        from ultrabench.scoring.engine import weight_files_for

        return weight_files_for
    if name in __all__:
        from ultrabench.scoring import api

        return getattr(api, name)
    raise AttributeError(name)
