"""Resolving a weight file that is published in more than one place (a release URL, hub repos)."""

from __future__ import annotations

from pathlib import Path


def resolve_first(resolver, files) -> Path:
    """The first of `files` (alternatives, preferred first) that is present; else what resolving the
    first one gives (a download where allowed, or its one-line MissingWeightsError naming every place)."""
    from ultrabench.errors import MissingWeightsError

    for wf in files:
        found = resolver.status(wf).path
        if found is not None:
            return found
    try:
        return resolver.resolve(files[0])
    except MissingWeightsError as e:
        others = "; ".join(f"or {wf.label} ({'HF cache' if not wf.url else wf.url})" for wf in files[1:])
        raise MissingWeightsError(f"{e}{'; ' + others if others else ''}") from None
