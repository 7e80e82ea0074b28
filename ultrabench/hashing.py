"""Content hashes for images and weight files, remembered by (path, size, mtime) so a 7 GB
checkpoint or a 50 MB PNG is read once, not on every run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

_CHUNK = 1 << 22
# Files that identify a model folder's weights (tokenizer vocabularies and configs included).
WEIGHT_SUFFIXES = (".bin", ".safetensors", ".pt", ".pth", ".json", ".txt", ".model")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


class HashIndex:
    """sha256 per file, cached in a JSON index keyed by absolute path, size and mtime."""

    def __init__(self, index_path: str | Path | None = None) -> None:
        self.path = Path(index_path) if index_path else None
        self._index: dict[str, list] = {}
        if self.path is not None:
            try:
                self._index = json.loads(self.path.read_text())
            except (FileNotFoundError, json.JSONDecodeError, OSError):
                self._index = {}
        self._dirty = False

    def sha256(self, path: str | Path) -> str:
        p = Path(path)
        st = p.stat()
        key = str(p.resolve())
        hit = self._index.get(key)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
        digest = sha256_file(p)
        self._index[key] = [st.st_size, st.st_mtime_ns, digest]
        self._dirty = True
        return digest

    def save(self) -> None:
        if self._dirty and self.path is not None:
            from ultrabench.runstore import atomic_write_json

            atomic_write_json(self.path, self._index)
            self._dirty = False


def default_index() -> HashIndex:
    from ultrabench.weights import cache_root

    return HashIndex(cache_root() / "sha256-index.json")


def sha256_tree(path: str | Path, index: HashIndex | None = None) -> dict[str, str]:
    """sha256 of a file, or of every file below a folder (relative names), for provenance."""
    index = index or HashIndex()
    p = Path(path)
    if p.is_file():
        return {p.name: index.sha256(p)}
    return {str(f.relative_to(p)): index.sha256(f) for f in sorted(p.rglob("*")) if f.is_file()}


def combined_sha256(path: str | Path) -> str:
    """One digest for a weight file, or for a model folder (its sorted weight, config and vocab files)."""
    p = Path(path)
    if p.is_file():
        return sha256_file(p)
    h = hashlib.sha256()
    for f in sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in WEIGHT_SUFFIXES):
        h.update(f"{f.relative_to(p)}:{sha256_file(f)}\n".encode())
    return h.hexdigest()
