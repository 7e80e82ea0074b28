"""Write prompt sets back out, in any format `load_prompts` reads (ids preserved)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Sequence

from ultrabench.errors import UsageError
from ultrabench.prompts.loading import Prompt


def export_prompts(prompts: Sequence[Prompt], dest: str | Path) -> Path:
    dest = Path(dest)
    suffix = dest.suffix.lower()
    rows = [{"id": p.id, "prompt": p.text, "reference": p.reference or ""} for p in prompts]
    dest.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".jsonl", ".ndjson"):
        dest.write_text("".join(json.dumps({k: v for k, v in r.items() if v != ""}, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif suffix == ".csv":
        with open(dest, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=["id", "prompt", "reference"])
            w.writeheader()
            w.writerows(rows)
    elif suffix == ".parquet":
        import pandas as pd

        pd.DataFrame(rows).to_parquet(dest, index=False)
    elif suffix == ".txt":
        # One prompt per line, ids dropped: read back, they are line numbers (`txt_loses_ids` says when)
        if any("\n" in p.text or "\r" in p.text for p in prompts):
            raise UsageError(f"{dest}: a prompt spans several lines, which a .txt file cannot hold; use .jsonl or .csv")
        dest.write_text("".join(p.text + "\n" for p in prompts), encoding="utf-8")
    else:
        raise UsageError(f"{dest}: unsupported extension {suffix!r} (use .jsonl, .csv, .parquet or .txt)")
    return dest


def txt_loses_ids(prompts: Sequence[Prompt]) -> bool:
    """Whether a .txt export changes ids: read back, line n gets id l000n."""
    return any(p.id != f"l{i + 1:04d}" for i, p in enumerate(prompts))
