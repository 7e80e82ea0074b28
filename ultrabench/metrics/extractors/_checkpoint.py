"""Strict checkpoint loading shared by the preference and long-text extractors.

A weight file that does not match the architecture must fail loudly with one line that says how, not
load half its tensors (ImageReward's own loader uses strict=False, so a wrong file scores garbage).
"""

from __future__ import annotations

from pathlib import Path


def _few(names, n: int = 3) -> str:
    names = sorted(names)
    return ", ".join(names[:n]) + (f" (+{len(names) - n} more)" if len(names) > n else "")


def key_mismatch(expected: dict, given: dict) -> str | None:
    """One line describing missing/unexpected/wrongly shaped entries, or None when they agree."""
    missing = set(expected) - set(given)
    unexpected = set(given) - set(expected)
    shapes = [k for k in set(expected) & set(given) if tuple(expected[k].shape) != tuple(given[k].shape)]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing ({_few(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected ({_few(unexpected)})")
    if shapes:
        k = sorted(shapes)[0]
        parts.append(f"{len(shapes)} of another shape ({k}: {tuple(given[k].shape)}, "
                     f"expected {tuple(expected[k].shape)})")
    return "; ".join(parts) or None


def load_strict(module, state_dict: dict, source: str | Path, what: str) -> None:
    """`module.load_state_dict(state_dict, strict=True)`, failing with a UsageError that names `source`."""
    from ultrabench.errors import UsageError

    problem = key_mismatch(module.state_dict(), state_dict)
    if problem:
        raise UsageError(f"{source} is not a {what} checkpoint: {problem}")
    module.load_state_dict(state_dict, strict=True)


def digest_of_files(files: dict[str, str | Path]) -> str:
    """One sha256 for several weight files, each named by its role (order-independent)."""
    import hashlib

    from ultrabench.metrics.extractors._common import path_sha256

    h = hashlib.sha256()
    for role in sorted(files):
        h.update(f"{role}:{path_sha256(files[role])}\n".encode())
    return h.hexdigest()
