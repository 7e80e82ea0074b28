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


def run(spec: BenchmarkSpec | str | None = None, *, device: str | None = None, dtype: str | None = None,
        weights=None, resolutions: Sequence[Resolution] | None = None, methods: Sequence[str] | None = None,
        stand_ins: bool = False, progress: bool = True, console=None, report_formats=None,
        stand_in_methods: bool = False, stand_in_out: str | None = None, stand_in_dir: str | Path | None = None,
        spec_change: str | None = None) -> dict:
    """generate -> score -> report from one spec.

    `stand_in_methods`: every method runs as its tiny random-weight twin (same adapter and code path,
    weights and official-code stand-ins built under `stand_in_dir`, default the cache) at `resolutions`
    (default 128x256), into `stand_in_out` (default `<out>-stand-ins`), scored with stand-in extractors.
    `spec_change`: "extend" or "new-spec" for a run folder made under another spec (see ultrabench.runspec).
    """
    spec = spec if isinstance(spec, BenchmarkSpec) else load_spec(spec)
    device = device or default_device()
    if stand_in_methods:
        from baselines.standins import build_stand_ins, stand_in_spec
        from ultrabench.weights import WeightResolver, cache_root

        folder = Path(stand_in_dir or cache_root() / "stand-ins")
        # the spec's settings are checked by the real adapters before anything is built or run
        spec = stand_in_spec(spec, folder, tuple(resolutions) if resolutions else None, out=stand_in_out)
        build_stand_ins(folder)
        resolutions, weights, stand_ins = None, WeightResolver(folder / "weights"), True
    summary = _generate(spec, methods=methods, resolutions=resolutions, device=device, dtype=dtype,
                        weights=weights, progress=progress, console=console, spec_change=spec_change)
    scores = score(spec.out, device=device, stand_ins=stand_ins, weights=weights, progress=progress,
                   **spec.score_options())
    kw = {"formats": report_formats} if report_formats else {}
    rep = report(spec.out, reference_method=spec.reference_method, console=console, **kw)
    return {"generate": summary, "scores": scores, "report": rep, "spec": spec}


def list_methods(include_tiny: bool = True) -> list[str]:
    return method_names(include_tiny)


def demo(out: str | Path = "runs/demo", **kw: Any) -> dict:
    from ultrabench.demo import run_demo

    return run_demo(out, **kw)
