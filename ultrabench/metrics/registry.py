"""Metric metadata in the pyiqa style: direction, input size, what each metric needs.

Reports derive arrows and bold-best from `higher_is_better`; the scorer derives what to compute from
`kind` and `needs_*`. This module imports nothing heavy so the CLI can list metrics instantly.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from ultrabench.errors import UsageError


@dataclass(frozen=True)
class MetricInfo:
    name: str  # registry name used in specs, CLI and score files
    display_name: str  # column header, the paper's spelling
    higher_is_better: bool
    kind: str  # "set" (one value per image set), "per_image" (mean over images), "pairwise"
    input_size: str  # what the network sees, for the report's footnotes
    needs_reference: bool = False
    needs_prompt: bool = False
    paper: bool = False  # a column of the paper's Table 1
    description: str = ""

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


_ALL = (
    MetricInfo("fid-patch", "FID-patch", False, "set", "299x299 native crops", needs_reference=True, paper=True,
               description="FID on 299x299 crops at native resolution (3 per image by default)"),
    MetricInfo("fid", "FID", False, "set", "whole image resized to 299x299 (PIL bicubic, antialiased)",
               needs_reference=True, paper=True, description="Frechet Inception Distance, clean-fid resize"),
    MetricInfo("is-patch", "IS-patch", True, "set", "299x299 native crops", paper=True,
               description="Inception Score on native-resolution crops, 10 splits"),
    MetricInfo("is", "IS", True, "set", "whole image resized to 299x299", paper=True,
               description="Inception Score, 10 splits"),
    MetricInfo("clip", "CLIP", True, "per_image", "224x224 centre crop", needs_prompt=True, paper=True,
               description="100 * max(cos, 0) between image and prompt, open_clip ViT-L-14/openai by default"),
    MetricInfo("kid", "KID", False, "set", "whole image resized to 299x299", needs_reference=True,
               description="Kernel Inception Distance (unbiased, polynomial kernel)"),
    MetricInfo("kid-patch", "KID-patch", False, "set", "299x299 native crops", needs_reference=True,
               description="KID on native-resolution crops"),
    MetricInfo("pickscore", "PickScore", True, "pairwise", "224x224 centre crop", needs_prompt=True,
               description="PickScore_v1; win rates of the reference method on matched (prompt, seed) pairs"),
    MetricInfo("glcm", "GLCM", True, "per_image", "native, 64x64 patches of 64 grey levels",
               description="Diffusion-4K GLCM score (texture richness)"),
    MetricInfo("compression-ratio", "Compression ratio", False, "per_image", "native, lossless PNG re-encode in memory",
               description="Diffusion-4K compression ratio: raw RGB bytes / encoded bytes (PNG level 6 by default, "
                           "JPEG q95 optional; detail compresses badly)"),
)

METRICS: dict[str, MetricInfo] = {m.name: m for m in _ALL}
PAPER_METRICS: tuple[str, ...] = ("fid-patch", "fid", "is-patch", "is", "clip")


def get_metric(name: str) -> MetricInfo:
    key = name.strip().lower().replace("_", "-")
    if key in METRICS:
        return METRICS[key]
    close = difflib.get_close_matches(key, list(METRICS), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(METRICS)}"
    raise UsageError(f"unknown metric {name!r}{hint}")


def list_metrics(kind: str | None = None) -> list[MetricInfo]:
    return [m for m in METRICS.values() if kind is None or m.kind == kind]
