"""The paper's published Table 1, shipped as package data."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from importlib import resources

from ultrabench.report.names import canonical_method

# CSV column -> metric name used in score files.
PAPER_COLUMNS: dict[str, str] = {
    "fid_patch": "fid-patch",
    "fid": "fid",
    "is_patch": "is-patch",
    "is": "is",
    "clip": "clip",
    "latency_s": "latency",
}


@dataclass
class PaperRow:
    resolution: str
    label: str  # as printed
    method: str  # registry name (label itself when no alias matches)
    values: dict[str, float | None]
    note: str = ""
    note_columns: tuple[str, ...] = field(default_factory=tuple)  # which cells the note is about


def _note_columns(note: str) -> tuple[str, ...]:
    low = note.lower()
    hits = [metric for col, metric in PAPER_COLUMNS.items() if col in low or (metric == "latency" and "latency" in low)]
    # "fid" is a substring of "fid_patch": keep the most specific match only.
    if "fid-patch" in hits and "fid" in hits and "fid_patch" in low and " fid " not in f" {low} ":
        hits.remove("fid")
    if "is-patch" in hits and "is" in hits:
        hits.remove("is")
    return tuple(hits)


def load_paper_table() -> list[PaperRow]:
    text = resources.files("ultrabench").joinpath("data/paper_table1.csv").read_text(encoding="utf-8")
    rows = []
    for rec in csv.DictReader(io.StringIO(text)):
        values = {}
        for col, metric in PAPER_COLUMNS.items():
            raw = (rec.get(col) or "").strip()
            values[metric] = float(raw) if raw else None
        note = (rec.get("note") or "").strip()
        label = rec["method"].strip()
        rows.append(PaperRow(
            resolution=f"{int(rec['height'])}x{int(rec['width'])}",
            label=label,
            method=canonical_method(label) or label,
            values=values,
            note=note,
            note_columns=_note_columns(note) if note else (),
        ))
    return rows


def paper_index() -> dict[tuple[str, str], PaperRow]:
    return {(r.method, r.resolution): r for r in load_paper_table()}
