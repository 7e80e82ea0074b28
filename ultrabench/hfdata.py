"""Hugging Face datasets from what is on this machine: a local dataset folder, datasets' own cache,
or a snapshot in the hub cache.

`datasets.load_dataset("org/name")` works offline only from datasets' Arrow cache, which exists
after an online `load_dataset` on this machine. Clusters usually pre-fetch with
`huggingface-cli download --repo-type dataset org/name` instead, which fills only the hub cache;
for that case the snapshot folder is loaded as a local dataset (its parquet or image files).
"""

from __future__ import annotations

from pathlib import Path

from ultrabench.errors import UsageError


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def parse_hf_source(source: str, default_column: str | None = None) -> tuple[str, str, str | None]:
    """'hf:<dataset>[:split[:column]]' -> (dataset, split, column); split defaults to 'train'.
    A local folder whose path holds ':' is taken whole."""
    rest = source[3:] if source.startswith("hf:") else source
    if Path(rest).expanduser().is_dir():
        return rest, "train", default_column
    parts = rest.split(":")
    return parts[0], (parts[1] if len(parts) > 1 and parts[1] else "train"), (
        parts[2] if len(parts) > 2 and parts[2] else default_column)


def load_hf_dataset(name: str, split: str):
    """`name`: a hub id (org/name) or a local folder holding a dataset's files."""
    try:
        import datasets
    except ImportError:  # pragma: no cover - a dependency
        raise UsageError("hf: sources need the 'datasets' package") from None
    local = Path(name).expanduser()
    if local.is_dir():
        try:
            return datasets.load_dataset(str(local), split=split)
        except Exception as e:
            raise UsageError(f"cannot load the dataset folder {local} (split {split!r}): {_first_line(e)}") from None
    try:
        return datasets.load_dataset(name, split=split)
    except Exception as first:
        try:
            from huggingface_hub import snapshot_download

            snapshot = snapshot_download(name, repo_type="dataset", local_files_only=True)
        except Exception:
            from huggingface_hub import constants

            raise UsageError(
                f"dataset {name!r} (split {split!r}) is neither in datasets' cache nor in the hub cache "
                f"({constants.HF_HUB_CACHE}): {_first_line(first)}"
            ) from None
        try:
            return datasets.load_dataset(snapshot, split=split)
        except Exception as e:
            raise UsageError(f"cannot load dataset {name!r} (split {split!r}) from its hub-cache snapshot "
                             f"{snapshot}: {_first_line(e)}") from None


def where_is(name: str) -> str | None:
    """Where an hf: dataset would be read from, without loading it (for `doctor`); None if nowhere."""
    local = Path(name).expanduser()
    if local.is_dir():
        return f"local folder {local}"
    try:
        import datasets

        arrow = Path(datasets.config.HF_DATASETS_CACHE) / name.replace("/", "___")
        if arrow.is_dir():
            return f"datasets' cache {arrow}"
    except ImportError:  # pragma: no cover - a dependency
        pass
    try:
        from huggingface_hub import snapshot_download

        return f"hub-cache snapshot {snapshot_download(name, repo_type='dataset', local_files_only=True)}"
    except Exception:
        return None
