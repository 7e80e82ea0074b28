"""The Python API behind the CLI. Each function does what the command of the same name does.

    import ultrabench
    spec = ultrabench.load_spec("table1").replace(num_prompts=100, out="runs/small")
    ultrabench.generate(spec, resolutions=[Resolution(2048, 2048)], device="cuda")
    ultrabench.score(spec.out, reference="/data/real-4k")
    ultrabench.report(spec.out, compare_paper=True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ultrabench.config import BenchmarkSpec, load_spec
from ultrabench.generate import GenerateSummary
from ultrabench.generate import generate as _generate
from ultrabench.methods.registry import create_method, method_names
from ultrabench.resolution import Resolution

__all__ = ["load_spec", "generate", "score", "report", "run", "demo", "list_methods", "create_method", "default_device"]


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def generate(spec: BenchmarkSpec | str | None = None, **kw: Any) -> GenerateSummary:
    spec = spec if isinstance(spec, BenchmarkSpec) else load_spec(spec)
    kw.setdefault("device", default_device())
    return _generate(spec, **kw)


def score(run_dir: str | Path, **kw: Any) -> dict:
    from ultrabench.scoring import score_run

    kw.setdefault("device", default_device())
    return score_run(run_dir, **kw)


def report(run_dir: str | Path, **kw: Any) -> dict:
    from ultrabench.report import build_report

    return build_report(run_dir, **kw)


def run(spec: BenchmarkSpec | str | None = None, *, device: str | None = None, dtype: str = "float32",
        weights=None, resolutions: Sequence[Resolution] | None = None, methods: Sequence[str] | None = None,
        stand_ins: bool = False, progress: bool = True, console=None, report_formats=None,
        spec_change: str | None = None) -> dict:
    """generate -> score -> report from one spec."""
    spec = spec if isinstance(spec, BenchmarkSpec) else load_spec(spec)
    device = device or default_device()
    summary = _generate(spec, methods=methods, resolutions=resolutions, device=device, dtype=dtype,
                        weights=weights, progress=progress, console=console, spec_change=spec_change)
    scores = score(spec.out, device=device, stand_ins=stand_ins, weights=weights, progress=progress,
                   **spec.score_options())
    kw = {"formats": report_formats} if report_formats else {}
    rep = report(spec.out, reference_method=spec.reference_method, console=console, **kw)
    return {"generate": summary, "scores": scores, "report": rep}


def list_methods(include_tiny: bool = True) -> list[str]:
    return method_names(include_tiny)


def demo(out: str | Path = "runs/demo", **kw: Any) -> dict:
    from ultrabench.demo import run_demo

    return run_demo(out, **kw)
