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
        self._new: dict[str, list] = {}

    def sha256(self, path: str | Path) -> str:
        p = Path(path)
        st = p.stat()
        key = str(p.resolve())
        hit = self._index.get(key)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
        digest = sha256_file(p)
        self._index[key] = self._new[key] = [st.st_size, st.st_mtime_ns, digest]
        return digest

    def known(self, path: str | Path) -> str | None:
        """The remembered sha256 if the file's size and mtime still match; never reads the file."""
        p = Path(path)
        try:
            st = p.stat()
        except OSError:
            return None
        hit = self._index.get(str(p.resolve()))
        return hit[2] if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns else None

    def remember(self, path: str | Path, size: int, mtime_ns: int, digest: str) -> None:
        """Record a digest computed elsewhere (by a decode worker, from the bytes it decoded)."""
        key = str(Path(path).resolve())
        self._index[key] = self._new[key] = [size, mtime_ns, digest]

    def save(self) -> None:
        """Merge this process's new entries into the index on disk: scoring shards share one index,
        and an entry lost to a concurrent writer costs a full re-decode of that image later."""
        if not self._new or self.path is None:
            return
        from ultrabench.runstore import atomic_write_json

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            try:
                import fcntl

                fcntl.flock(lock, fcntl.LOCK_EX)
            except ImportError:  # Windows: no advisory lock; the merge still narrows the window
                pass
            try:
                on_disk = json.loads(self.path.read_text())
            except (FileNotFoundError, json.JSONDecodeError, OSError):
                on_disk = {}
            on_disk.update(self._new)
            atomic_write_json(self.path, on_disk)
        self._index.update(on_disk)
        self._new = {}


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
