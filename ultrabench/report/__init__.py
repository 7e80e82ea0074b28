"""`ultrabench report`: scored runs -> the paper's Table 1 layout, figures and a self-contained HTML page.

    build_report(run_dir) -> {"files": {format: path}, "table": <Table.to_dict()>}

writes `<run_dir>/report/`: table1.{md,tex,csv,json}, report.html, figures/{winrate,latency,memory}.{png,svg},
and prints the table to a rich console for the "terminal" format.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from ultrabench.report.files import write_file
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


def _display_names(records) -> dict[str, str]:
    """`display_name` fields of unit records win over the registry's spelling."""
    names: dict[str, str] = {}
    for rec in records:
        dn = rec.data.get("display_name")
        if dn and rec.method not in names:
            names[rec.method] = str(dn)
    return names


def _licences(records) -> dict[str, str]:
    """Run-folder method name -> the licence its adapter declares for its weights (from the registry)."""
    from ultrabench.errors import UltrabenchError
    from ultrabench.methods.registry import get_method_class, method_licence

    out: dict[str, str] = {}
    for rec in records:
        if rec.method in out:
            continue
        try:
            out[rec.method] = method_licence(get_method_class(str(rec.data.get("method_registry") or rec.method)))
        except UltrabenchError:
            out[rec.method] = "unknown: the method is not registered here"
    return dict(sorted(out.items()))


def _as_run_of_old_records(records, status: list[dict]) -> None:
    """Fill in `as_run_note` for units recorded before records carried it: the method's plan, made
    again from the registry with the record's settings, says what ran (the plan is pure, no weights)."""
    from ultrabench.errors import UltrabenchError
    from ultrabench.methods.registry import get_method_class
    from ultrabench.resolution import parse_resolution

    rows = {(st["method"], st["resolution"]): st for st in status}
    done: set[tuple[str, str]] = set()
    for rec in records:
        key = (rec.method, rec.data.get("resolution"))
        if key in done or "as_run" in rec.data or rec.status == "unsupported" or key not in rows:
            continue
        done.add(key)
        try:
            cls = get_method_class(str(rec.data.get("method_registry") or rec.method))
            recorded = rec.data.get("settings") or {}
            method = cls({k: v for k, v in recorded.items() if k in cls.default_settings and k != "dtype"})
            note = method.plan(parse_resolution(str(key[1]))).as_run_note
        except (UltrabenchError, ValueError, TypeError):
            continue  # an unregistered method, or settings this version no longer takes: say nothing
        if note and not rows[key].get("as_run_note"):
            rows[key]["as_run_note"] = note


def truncation_notes(summary: dict | None) -> list[str]:
    """'CLIP truncated 12 of 1000 prompts ...': text encoders see only their context's tokens."""
    from ultrabench.metrics.registry import METRICS

    out = []
    for name, t in sorted(((summary or {}).get("truncated_prompts") or {}).items()):
        if t.get("truncated") and name in METRICS:
            out.append(f"{METRICS[name].display_name} truncated {t['truncated']} of {t['prompts']} prompts to its "
                       "text context; its scores ignore the rest of those prompts")
    return out


def current_view(summary: dict | None, records: list, run_dir: Path) -> tuple[dict | None, dict]:
    """The summary as it stands against the units on disk now, and status and latency from those units.

    Status and latency always come from the records (the scorer's copies can be older); quality
    values come from the summary, and every one whose units changed since it was scored carries a
    `stale` reason naming the command that refreshes it. Groups generated after scoring are
    listed in `not_scored`.
    """
    from ultrabench.runsummary import latency_rows, status_rows
    from ultrabench.scoring import freshness

    refresh = f"run `ultrabench score {run_dir}` to refresh"
    now = freshness.unit_digests(records)
    unreadable = {}
    if summary is not None:
        summary = dict(summary)
        then = {(u["method"], u["resolution"]): u["digest"] for u in summary.get("units") or []}
        for st in summary.get("status") or []:  # only the scorer knows which images cannot be decoded
            key = (st["method"], st["resolution"])
            if int(st.get("unreadable", 0)) and key in now and then.get(key) == now[key]["digest"]:
                unreadable[key] = int(st["unreadable"])
        changed = freshness.changed_since(summary, records) if summary.get("units") else {}
        for kind in ("sets", "winrates"):
            entries = []
            for e in summary.get(kind) or []:
                e, groups = dict(e), [(e["method"], e["resolution"], "units_digest")]
                if kind == "winrates":
                    groups.append((e["reference_method"], e["resolution"], "reference_digest"))
                for m, r, field in groups:
                    digest = e.get(field) or then.get((m, r))
                    if digest is not None and (m, r) in now and now[(m, r)]["digest"] != digest:
                        e["stale"] = f"scored before the images of {m} at {r} changed; {refresh}"
                    elif digest is not None and (m, r) not in now:
                        e["stale"] = f"scored on images of {m} at {r} that are gone; {refresh}"
                entries.append(e)
            summary[kind] = entries
        summary["not_scored"] = sorted(k for k, why in changed.items() if why == "not scored")
        if summary.get("units") is None:
            summary.setdefault("warnings", []).append(
                "these scores predate freshness records: whether they still match the images is unknown; "
                f"run `ultrabench score {run_dir}` again")
        elif changed:
            summary.setdefault("warnings", []).append(
                f"{len(changed)} method/resolution set(s) changed since scoring ("
                + "; ".join(f"{m} {r}: {why}" for (m, r), why in sorted(changed.items())) + f"); {refresh}")
    return summary, {"latency": latency_rows(records), "status": status_rows(records, unreadable)}


def _records(source: Path, plain: bool) -> tuple[list, dict]:
    """The units a report describes: a run folder's current spec (and the count of others left
    out), or one record per image of a plain folder, whose results live elsewhere."""
    from ultrabench.runspec import current_records
    from ultrabench.scoring.units import folder_records

    if not plain:
        return current_records(source, statuses=None)
    return (folder_records(source) if source.is_dir() else []), {}


def _score_args(source: Path, results: Path, plain: bool) -> str:
    """What follows `ultrabench score` to score these units again into the same results."""
    from ultrabench.scoring.units import plain_results_folder

    if plain and results != source and results != plain_results_folder(source):
        return f"{source} --out {results}"
    return str(source)


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
    compare_with: Iterable = (),
    paper_any_protocol: bool = False,
) -> dict[str, Any]:
    """Render a run folder's table; `compare_with`: more run folders of the same experiment (same
    prompts, seeds, reference, protocols; see `ultrabench.scoring.compare`) in the same table."""
    from ultrabench.errors import UltrabenchError, UsageError

    run_dir = Path(run_dir)
    run_dirs = [run_dir] + [Path(d) for d in compare_with]
    for d in run_dirs:
        if not d.is_dir():
            raise UsageError(f"run folder {d} does not exist")
    if compare_with and out_dir is None and set(formats) - {"terminal"}:
        raise UsageError("a comparison of several run folders needs --out FOLDER for its files (or -f terminal)")
    formats = tuple(formats)
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise UsageError(f"unknown report format(s) {', '.join(sorted(unknown))}; known: {', '.join(FORMATS)}")
    from ultrabench.scoring.units import locate_results

    located = [locate_results(d) for d in run_dirs]  # (images or records, scores, plain?)
    results_dirs = [results for _, results, _ in located]
    out = Path(out_dir) if out_dir is not None else results_dirs[0] / "report"
    if set(formats) - {"terminal"}:  # the terminal table needs no folder: it works on a read-only run
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UltrabenchError(f"cannot create the report folder {out}: {e.strerror or e}; "
                                  "choose another with --out, or -f terminal writes nothing") from None
        from ultrabench.runstore import clean_leftovers

        clean_leftovers(out)  # temporary files of a report that was killed

    from ultrabench.runspec import describe_left_out

    records, left_out, viewed, fresh = [], Counter(), [], {"latency": [], "status": []}
    for source, results, plain in located:
        recs, left = _records(source, plain)
        summary, now = current_view(load_summary(results), recs, _score_args(source, results, plain))
        records += recs
        left_out.update(left)
        viewed.append(summary)
        for key in fresh:
            fresh[key] += now[key]
    _as_run_of_old_records(records, fresh["status"])
    summary = viewed[0]
    if compare_with:
        from ultrabench.scoring.compare import merge_runs

        summary = merge_runs(results_dirs, summaries=viewed, reference_method=reference_method)
    names = _display_names(records)
    table = build_table(summary, records_latency=fresh["latency"], records_status=fresh["status"],
                        compare_paper=compare_paper, ci=ci, extra_columns=extra_columns,
                        reference_method=reference_method, display_names=names,
                        paper_any_protocol=paper_any_protocol)
    if left_out:
        table.warnings.append(describe_left_out(left_out))
    table.warnings += truncation_notes(summary)
    if not table.rows:
        table.warnings.append("This run folder has no finished units and no scores: nothing to report.")
    table.meta["licences"] = _licences(records)

    files: dict[str, Any] = {}
    from ultrabench.report import formats as fmt

    writers = {"md": ("table1.md", fmt.render_markdown), "latex": ("table1.tex", fmt.render_latex),
               "csv": ("table1.csv", fmt.render_csv), "json": ("table1.json", fmt.render_json)}
    for key, (name, render) in writers.items():
        if key in formats:
            p = out / name
            write_file(p, render(table))
            files[key] = p

    figures: dict[str, dict[str, Path]] = {}
    if "figures" in formats or "html" in formats:
        from ultrabench.report import figures as figs

        latency = fresh["latency"]
        rw = table.random_weights
        fdir = out / "figures"
        figures["winrate"] = figs.winrate_figure(summary, fdir / "winrate", reference_method, names)
        for pref in dict.fromkeys(e.get("metric", "pickscore") for e in (summary or {}).get("winrates") or []):
            if pref != "pickscore":  # one Figure-6-style chart per preference model
                figures[f"winrate-{pref}"] = figs.winrate_figure(summary, fdir / f"winrate-{pref}", reference_method,
                                                                 names, metric=pref)
        figures["latency"] = figs.latency_figure(latency, fdir / "latency", reference_method, names, rw)
        figures["memory"] = figs.memory_figure(latency, fdir / "memory", reference_method, names, rw)
        if "figures" in formats:
            files["figures"] = {f"{n}.{ext}": p for n, d in figures.items() for ext, p in d.items()}

    if "html" in formats:
        from ultrabench.report.html import render_html
        from ultrabench.runstore import RunStore

        p = out / "report.html"
        write_file(p, render_html(table, run_dir=results_dirs, out_dir=out, figures=figures,
                                 run_info=RunStore(run_dir).read_run_info(), summary=summary))
        files["html"] = p

    if "terminal" in formats:
        from ultrabench.report.terminal import render_terminal

        render_terminal(table, console)
    return {"files": files, "table": table.to_dict()}
