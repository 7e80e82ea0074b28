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


# The protocol of each of the paper's numbers, as ultrabench computes it by default (the
# `ultrapixel` patch preset: 3 native 299x299 crops per image). The authors' account of their
# FID-patch (catcathh/UltraPixel#22: 3 crops at the extractor's input size, through pyiqa's FID)
# leaves 224 possible; a measured number under another protocol is not put beside these.
PAPER_PROTOCOLS: dict[str, tuple[str, str]] = {
    "fid-patch": ("fid-patch@native299-p3-v2", "3 native 299x299 crops per image"),
    "is-patch": ("is-patch@native299-p3-v2", "3 native 299x299 crops per image"),
    "fid": ("fid@clean-v1", "whole image resized to 299x299"),
    "is": ("is@clean-v1", "whole image resized to 299x299"),
    "clip": ("clip@open_clip-v1", "224x224 centre crop, CLIP ViT-L/14"),
}


def protocol_conflict(metric: str, measured: str | None) -> str | None:
    """None when a measured `metric` under protocol version `measured` may sit beside the paper's
    number; otherwise a sentence naming both protocols."""
    paper = PAPER_PROTOCOLS.get(metric)
    if paper is None or measured is None or measured == paper[0]:
        return None
    return f"measured under {measured}, the paper's under {paper[0]} ({paper[1]})"


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
