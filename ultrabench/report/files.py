"""Report files are replaced whole or not at all: a full disk or a read-only folder is one line
naming the file, and the previous report file stays as it was."""

from __future__ import annotations

from pathlib import Path


def write_file(path: Path, data: str | bytes) -> None:
    from ultrabench.errors import write_failure
    from ultrabench.runstore import atomic_write_bytes

    try:
        atomic_write_bytes(Path(path), data.encode("utf-8") if isinstance(data, str) else data)
    except OSError as e:
        raise write_failure(path, e) from None
