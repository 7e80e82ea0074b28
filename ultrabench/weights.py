"""One place that turns "I need file F of hub repo R" into a local path.

Order: an explicit override (by role or repo id) -> `<weights_dir>/<repo_id>/<filename>` (or
`<weights_dir>/<filename>`) -> the Hugging Face cache -> a download, only when the hub is not
offline (`HF_HUB_OFFLINE`) and downloads are allowed. A miss is one line naming the repo, the file,
where it was looked for, and the command that fetches it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ultrabench.errors import MissingWeightsError


@dataclass(frozen=True)
class WeightFile:
    """A file (or, with `filename=None`, a whole diffusers-format repo snapshot) on the hub."""

    repo_id: str
    filename: str | None
    role: str  # short name used in records and overrides, e.g. "stage_c"
    revision: str | None = None
    size_hint: str = ""  # human size, shown by `doctor`
    optional: bool = False
    allow_patterns: tuple[str, ...] = ()  # for snapshots: only these files
    url: str | None = None  # for files published outside the HF hub (GitHub releases)
    # where other tools keep their copy (`~` expanded), looked in after ours: a user who already has
    # the file for that tool need not fetch it twice
    elsewhere: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.repo_id}/{self.filename}" if self.filename else self.repo_id


@dataclass(frozen=True)
class WeightStatus:
    file: WeightFile
    path: Path | None
    source: str  # "override" | "weights-dir" | "hf-cache" | "missing"


# Hub repos whose page asks each user to accept a licence before files can be downloaded (a token of
# an account that did is then needed). Known offline only from this list; other repos say "unknown".
GATED_REPOS = frozenset({"black-forest-labs/FLUX.1-dev"})


def gated(wf: WeightFile) -> str:
    """'yes', 'no' (a public GitHub release) or 'unknown': what can be said without the network."""
    if wf.repo_id in GATED_REPOS:
        return "yes"
    return "no" if wf.url else "unknown"


def size_on_disk(path: Path) -> int:
    """Bytes of a weight file, or of every file of a model folder (the HF cache's links followed)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


def cache_root() -> Path:
    """ultrabench's own cache (`ULTRABENCH_CACHE`, default ~/.cache/ultrabench): stand-in weights,
    reference statistics, hashes, and weights published outside the hub."""
    return Path(os.environ.get("ULTRABENCH_CACHE", Path.home() / ".cache" / "ultrabench")).expanduser()


def url_cache_dir() -> Path:
    """Where files published outside the hub land (`weights fetch`) when no --weights-dir is given."""
    return cache_root() / "weights"


def torch_hub_checkpoints() -> Path:
    """torch.hub's checkpoint folder, found the way torch does, without importing torch."""
    if os.environ.get("TORCH_HUB"):
        return Path(os.environ["TORCH_HUB"]).expanduser() / "checkpoints"
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(home).expanduser() / "hub" / "checkpoints"


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


DEFAULT_FETCH_HINT = "ultrabench weights fetch"


class WeightResolver:
    def __init__(
        self,
        weights_dir: str | Path | None = None,
        overrides: Mapping[str, str | Path] | None = None,
        allow_download: bool = False,
        fetch_hint: str = DEFAULT_FETCH_HINT,
    ) -> None:
        env_dir = os.environ.get("ULTRABENCH_WEIGHTS_DIR")
        self.weights_dir = Path(weights_dir or env_dir).expanduser() if (weights_dir or env_dir) else None
        self.overrides = {k: Path(v).expanduser() for k, v in (overrides or {}).items()}
        self.allow_download = allow_download
        self.fetch_hint = fetch_hint

    def with_hint(self, scope: str) -> "WeightResolver":
        """The same lookup, whose missing-file line names the command that fetches just what this
        owner needs (`scope`: '--metric fid', '--method sana-4k'); a caller's own hint is kept."""
        import copy

        out = copy.copy(self)
        if self.fetch_hint == DEFAULT_FETCH_HINT:
            out.fetch_hint = f"{DEFAULT_FETCH_HINT} {scope}"
        return out

    # -- lookup -----------------------------------------------------------------------------------
    def _local_candidates(self, wf: WeightFile) -> list[Path]:
        out: list[Path] = []
        if self.weights_dir is not None:
            base = self.weights_dir
            if wf.filename is None:
                out += [base / wf.repo_id, base / wf.repo_id.split("/")[-1]]
            else:
                out += [base / wf.repo_id / wf.filename, base / Path(wf.filename).name]
        if wf.url and wf.filename:
            # Where `weights fetch` puts it, and where torch.hub-based tools (torch-fidelity) keep it.
            out += [url_cache_dir() / wf.repo_id / wf.filename, torch_hub_checkpoints() / Path(wf.filename).name]
        return out + [Path(p).expanduser() for p in wf.elsewhere]

    def _from_cache(self, wf: WeightFile) -> Path | None:
        try:
            import huggingface_hub as hf
        except ImportError:  # pragma: no cover - a dependency, but keep lookups working without it
            return None
        try:
            if wf.filename is None:
                p = hf.snapshot_download(
                    wf.repo_id,
                    revision=wf.revision,
                    local_files_only=True,
                    allow_patterns=list(wf.allow_patterns) or None,
                )
                return Path(p)
            p = hf.try_to_load_from_cache(wf.repo_id, wf.filename, revision=wf.revision)
            return Path(p) if isinstance(p, str) else None
        except Exception:
            return None

    def status(self, wf: WeightFile) -> WeightStatus:
        for key in (wf.role, wf.label, wf.repo_id):
            if key in self.overrides:
                p = self.overrides[key]
                return WeightStatus(wf, p if p.exists() else None, "override" if p.exists() else "missing")
        for p in self._local_candidates(wf):
            if p.exists():
                return WeightStatus(wf, p, "weights-dir")
        p = None if wf.url else self._from_cache(wf)
        if p is not None and p.exists():
            return WeightStatus(wf, p, "hf-cache")
        return WeightStatus(wf, None, "missing")

    def resolve(self, wf: WeightFile) -> Path:
        st = self.status(wf)
        if st.path is not None:
            return st.path
        if self.allow_download and not hub_offline():
            return self.download(wf)
        raise MissingWeightsError(self.missing_message(wf))

    def missing_message(self, wf: WeightFile) -> str:
        for key in (wf.role, wf.label, wf.repo_id):
            if key in self.overrides:
                return f"weights for {wf.role}: {self.overrides[key]} does not exist (given as an explicit path)"
        where = self.looked_in(wf)
        if wf.url:
            what = f"file {wf.filename} ({wf.url})"
        else:
            what = f"file {wf.filename} of hub repo {wf.repo_id}" if wf.filename else f"hub repo {wf.repo_id}"
        return f"missing {what} ({wf.role}); looked in {' and '.join(where)}; fetch it with: {self.fetch_hint}"

    def looked_in(self, wf: WeightFile) -> list[str]:
        """Where a file is looked for, first place first (for messages and `weights list`)."""
        return [str(p) for p in self._local_candidates(wf)[:1]] + ([] if wf.url else ["the Hugging Face cache"])

    def download(self, wf: WeightFile) -> Path:
        if wf.url:
            import torch.hub

            target = (self.weights_dir or url_cache_dir()) / wf.repo_id / wf.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(wf.url, str(target), progress=True)
            return target
        import huggingface_hub as hf

        if wf.filename is None:
            target = self.weights_dir / wf.repo_id if self.weights_dir else None
            return Path(
                hf.snapshot_download(
                    wf.repo_id, revision=wf.revision, local_dir=target, allow_patterns=list(wf.allow_patterns) or None
                )
            )
        target = self.weights_dir / wf.repo_id if self.weights_dir else None
        return Path(hf.hf_hub_download(wf.repo_id, wf.filename, revision=wf.revision, local_dir=target))


def sha256_path(path: str | Path) -> dict[str, str]:
    """sha256 of a weight file or of every file of a model folder, remembered across runs."""
    from ultrabench.hashing import default_index, sha256_tree

    index = default_index()
    try:
        return sha256_tree(path, index)
    finally:
        index.save()
