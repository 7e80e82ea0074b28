"""`ultrabench report`: scored runs -> the paper's Table 1 layout, figures and a self-contained HTML page.

    build_report(run_dir) -> {"files": {format: path}, "table": <Table.to_dict()>}

writes `<run_dir>/report/`: table1.{md,tex,csv,json}, report.html, figures/{winrate,latency,memory}.{png,svg},
and prints the table to a rich console for the "terminal" format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from ultrabench.report.table import Table, build_table, latency_from_records, load_summary, status_from_records

FORMATS = ("terminal", "md", "latex", "csv", "json", "html", "figures")
__all__ = ["build_report", "build_table", "iter_files", "FORMATS", "Table"]


def iter_files(files: dict, prefix: str = ""):
    """(name, path) for every file `build_report` wrote, figures included."""
    for name, path in files.items():
        if isinstance(path, dict):
            yield from iter_files(path, f"{prefix}{name}/")
        else:
            yield f"{prefix}{name}", path


def _display_names(run_dir: Path) -> dict[str, str]:
    """`display_name` fields of unit records win over the registry's spelling."""
    from ultrabench.runstore import RunStore

    names: dict[str, str] = {}
    for rec in RunStore(run_dir).records(statuses=None):
        dn = rec.data.get("display_name")
        if dn and rec.method not in names:
            names[rec.method] = str(dn)
    return names


def _licences(run_dir: Path) -> dict[str, str]:
    """Run-folder method name -> the licence its adapter declares for its weights (from the registry)."""
    from ultrabench.errors import UltrabenchError
    from ultrabench.methods.registry import get_method_class, method_licence
    from ultrabench.runstore import RunStore

    out: dict[str, str] = {}
    for rec in RunStore(run_dir).records(statuses=None):
        if rec.method in out:
            continue
        try:
            out[rec.method] = method_licence(get_method_class(str(rec.data.get("method_registry") or rec.method)))
        except UltrabenchError:
            out[rec.method] = "unknown: the method is not registered here"
    return dict(sorted(out.items()))


def build_report(
    run_dir,
    *,
    out_dir=None,
    formats: Iterable[str] = FORMATS,
    compare_paper: bool = False,
    ci: bool = False,
    extra_columns: Iterable[str] = (),
    reference_method: str = "ultrapixel",
    console=None,
) -> dict[str, Any]:
    from ultrabench.errors import UltrabenchError, UsageError

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"run folder {run_dir} does not exist")
    formats = tuple(formats)
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise UsageError(f"unknown report format(s) {', '.join(sorted(unknown))}; known: {', '.join(FORMATS)}")
    out = Path(out_dir) if out_dir is not None else run_dir / "report"
    if set(formats) - {"terminal"}:  # the terminal table needs no folder: it works on a read-only run
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UltrabenchError(f"cannot create the report folder {out}: {e.strerror or e}; "
                                  "choose another with --out, or -f terminal writes nothing") from None

    summary = load_summary(run_dir)
    rec_latency = latency_from_records(run_dir) if summary is None or not summary.get("latency") else None
    rec_status = status_from_records(run_dir) if summary is None or not summary.get("status") else None
    names = _display_names(run_dir)
    table = build_table(summary, records_latency=rec_latency, records_status=rec_status,
                        compare_paper=compare_paper, ci=ci, extra_columns=extra_columns,
                        reference_method=reference_method, display_names=names)
    if not table.rows:
        table.warnings.append("This run folder has no finished units and no scores: nothing to report.")
    table.meta["licences"] = _licences(run_dir)

    files: dict[str, Any] = {}
    from ultrabench.report import formats as fmt

    writers = {"md": ("table1.md", fmt.render_markdown), "latex": ("table1.tex", fmt.render_latex),
               "csv": ("table1.csv", fmt.render_csv), "json": ("table1.json", fmt.render_json)}
    for key, (name, render) in writers.items():
        if key in formats:
            p = out / name
            p.write_text(render(table), encoding="utf-8")
            files[key] = p

    figures: dict[str, dict[str, Path]] = {}
    if "figures" in formats or "html" in formats:
        from ultrabench.report import figures as figs

        latency = (summary or {}).get("latency") or rec_latency or []
        rw = table.random_weights
        fdir = out / "figures"
        figures["winrate"] = figs.winrate_figure(summary, fdir / "winrate", reference_method, names)
        figures["latency"] = figs.latency_figure(latency, fdir / "latency", reference_method, names, rw)
        figures["memory"] = figs.memory_figure(latency, fdir / "memory", reference_method, names, rw)
        if "figures" in formats:
            files["figures"] = {f"{n}.{ext}": p for n, d in figures.items() for ext, p in d.items()}

    if "html" in formats:
        from ultrabench.report.html import render_html
        from ultrabench.runstore import RunStore

        p = out / "report.html"
        p.write_text(render_html(table, run_dir=run_dir, out_dir=out, figures=figures,
                                 run_info=RunStore(run_dir).read_run_info(), summary=summary), encoding="utf-8")
        files["html"] = p

    if "terminal" in formats:
        from ultrabench.report.terminal import render_terminal

        render_terminal(table, console)
    return {"files": files, "table": table.to_dict()}
