"""Load prompt sets with stable ids and sample them deterministically.

Sources:
- `builtin`: the 1,000 prompts written for this project (no download).
- a local file: `.txt` (one prompt per line; ids `l0001`... from line numbers), `.csv`, `.jsonl`,
  `.parquet` (columns `id`, `prompt`, optional `reference`: a reference image path).
- `hf:<dataset>[:<split>[:<column>]]`: a Hugging Face dataset through `datasets`, from the local
  cache when offline.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from ultrabench.errors import UsageError


@dataclass(frozen=True)
class Prompt:
    id: str
    text: str
    reference: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        return {"id": d["id"], "prompt": d["text"], "reference": d["reference"]}


def _validate(prompts: list[Prompt], source: str) -> list[Prompt]:
    if not prompts:
        raise UsageError(f"prompt set {source!r} is empty")
    seen: dict[str, int] = {}
    for i, p in enumerate(prompts):
        if not p.id:
            raise UsageError(f"prompt set {source!r}: entry {i + 1} has an empty id")
        if p.id in seen:
            raise UsageError(f"prompt set {source!r}: duplicate id {p.id!r} (entries {seen[p.id] + 1} and {i + 1})")
        seen[p.id] = i
        if not p.text.strip():
            raise UsageError(f"prompt set {source!r}: prompt {p.id!r} is empty")
    return prompts


def _rows_to_prompts(rows: Iterable[dict], source: str) -> list[Prompt]:
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or "prompt" not in row:
            raise UsageError(f"prompt file {source}: row {i + 1} has no 'prompt' column")
        pid = row.get("id")
        pid = f"l{i + 1:04d}" if pid is None or str(pid).strip() == "" else str(pid).strip()
        ref = row.get("reference")
        ref = None if ref is None or (isinstance(ref, float) and ref != ref) or str(ref).strip() == "" else str(ref)
        out.append(Prompt(pid, str(row["prompt"] if row["prompt"] is not None else "").strip(), ref))
    return out


def _load_file(path: Path) -> list[Prompt]:
    suffix = path.suffix.lower()
    try:
        # utf-8-sig: a byte-order mark (Excel's and Notepad's UTF-8) is not part of the first id or column name
        if suffix == ".txt":
            lines = path.read_text(encoding="utf-8-sig").splitlines()
            # Ids come from line numbers so they stay stable when blank lines are added at the end.
            return [Prompt(f"l{i + 1:04d}", line.strip()) for i, line in enumerate(lines) if line.strip()]
        if suffix == ".csv":
            with open(path, newline="", encoding="utf-8-sig") as f:
                return _rows_to_prompts(csv.DictReader(f), str(path))
        if suffix in (".jsonl", ".ndjson"):
            rows = []
            for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise UsageError(f"prompt file {path}: line {n} is not JSON ({e.msg})") from None
            return _rows_to_prompts(rows, str(path))
        if suffix == ".parquet":
            import pandas as pd

            return _rows_to_prompts(pd.read_parquet(path).to_dict("records"), str(path))
    except UnicodeDecodeError:
        raise UsageError(f"prompt file {path} is not UTF-8 text") from None
    except OSError as e:
        raise UsageError(f"cannot read prompt file {path}: {e.strerror or e}") from None
    except UsageError:
        raise
    except Exception as e:  # pyarrow/csv errors: name the file, keep one line
        raise UsageError(f"cannot parse prompt file {path}: {type(e).__name__}: {e}".splitlines()[0]) from None
    raise UsageError(f"prompt file {path}: unsupported extension {suffix!r} (use .txt, .csv, .jsonl or .parquet)")


def _load_hf(spec: str) -> list[Prompt]:
    from ultrabench.hfdata import load_hf_dataset, parse_hf_source

    name, split, column = parse_hf_source(spec, default_column="prompt")

    ds = load_hf_dataset(name, split)
    if column not in ds.column_names:
        raise UsageError(f"dataset {name!r} has no column {column!r}; columns: {', '.join(ds.column_names)}")
    ids = ds["id"] if "id" in ds.column_names else [f"h{i + 1:05d}" for i in range(len(ds))]
    return [Prompt(str(i), str(t).strip()) for i, t in zip(ids, ds[column])]


def load_prompts(source: str = "builtin") -> list[Prompt]:
    """All prompts of a source, validated (unique non-empty ids, non-empty texts)."""
    source = str(source)
    if source == "builtin":
        from ultrabench.prompts.builtin import builtin_prompts

        prompts = [Prompt(i, t) for i, t in builtin_prompts()]
    elif source.startswith("hf:"):
        prompts = _load_hf(source)
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise UsageError(f"prompt source {source!r} is neither 'builtin', 'hf:<dataset>' nor an existing file")
        prompts = _load_file(path)
    return _validate(prompts, source)


def sample_prompts(prompts: list[Prompt], n: int | None, seed: int = 0, source: str | None = None) -> list[Prompt]:
    """A deterministic sample of `n` prompts, returned in source order.

    Selection ranks prompts by a hash of (seed, id), so it does not depend on the set's order and a
    prompt's membership only changes when the seed, n or the set itself changes.
    """
    if n is None or n >= len(prompts):
        if n is not None and n > len(prompts):
            of = f"prompt set {source}" if source else "the prompt set"
            raise UsageError(f"asked for {n} prompts (-n / num_prompts) but {of} has only {len(prompts)}; "
                             f"leave out -n to use all of them")
        return list(prompts)
    if n <= 0:
        raise UsageError(f"number of prompts must be positive, got {n}")
    import hashlib

    def rank(p: Prompt) -> bytes:
        return hashlib.sha256(f"{seed}|{p.id}".encode()).digest()

    chosen = {p.id for p in sorted(prompts, key=rank)[:n]}
    return [p for p in prompts if p.id in chosen]
