"""Markdown, LaTeX, CSV and JSON renderings of the Table-1 model."""

from __future__ import annotations

import csv
import io
import json
from typing import Callable

from ultrabench.report.table import PAPER_ONLY, Cell, Column, Row, Table, winrate_metric


def fmt_value(col: Column, v: float | None, signed: bool = False) -> str:
    if v is None:
        return ""
    return f"{v:+.{col.decimals}f}" if signed else f"{v:.{col.decimals}f}"


def header_text(col: Column, arrows: tuple[str, str] = ("↑", "↓")) -> str:
    unit = f" ({col.unit})" if col.unit else ""
    arrow = {"↑": arrows[0], "↓": arrows[1]}.get(col.arrow, "")
    return f"{col.header}{unit}{' ' + arrow if arrow else ''}"


def cell_parts(table: Table, col: Column, cell: Cell) -> dict[str, str]:
    """The pieces every text renderer assembles: value, +/- half-width, paper value, delta, marks."""
    parts = {"value": "", "ci": "", "paper": "", "delta": "", "mark": "", "paper_mark": "", "pairs": ""}
    if cell.note == PAPER_ONLY:
        parts["value"] = "–"  # the row label carries the footnote once
    elif cell.value is None:
        parts["value"] = "n/a"
        if cell.note:
            parts["mark"] = table.mark(cell.note)
    else:
        parts["value"] = fmt_value(col, cell.value)
        if cell.remark:
            parts["mark"] = table.mark(cell.remark)
        if table.ci and cell.ci95:
            parts["ci"] = fmt_value(col, (cell.ci95[1] - cell.ci95[0]) / 2)
        if winrate_metric(col.key) is not None and cell.n is not None:
            parts["pairs"] = str(cell.n)  # a win rate over 3 pairs and one over 1,000 must not look alike
    if table.compare_paper and col.paper and (cell.paper is not None or cell.paper_note):
        parts["paper"] = fmt_value(col, cell.paper) if cell.paper is not None else "n/a"
        if cell.delta is not None:
            parts["delta"] = fmt_value(col, cell.delta, signed=True)
        if cell.paper_note:
            parts["paper_mark"] = table.mark(cell.paper_note)
    return parts


def _assemble(p: dict[str, str], bold: bool, *, b: Callable[[str], str], sup: Callable[[str], str],
              pm: str, delta: str) -> str:
    text = p["value"]
    if p["ci"]:
        text += f" {pm} {p['ci']}"
    if p.get("pairs"):
        text += f" (n={p['pairs']})"
    if bold and p["value"] not in ("n/a", "–", "--"):
        text = b(text)
    if p["mark"]:
        text += sup(p["mark"])
    if p["paper"]:
        paper = p["paper"] + (sup(p["paper_mark"]) if p["paper_mark"] else "")
        text += f" / {paper}"
        if p["delta"]:
            text += f" ({delta}{p['delta']})"
    return text


def row_label(table: Table, row: Row, sup: Callable[[str], str], esc: Callable[[str], str] = str) -> str:
    """The method's name with its footnote: paper-only, or not the method as its authors ran it."""
    if not row.in_run:
        return esc(row.display) + sup(table.mark(PAPER_ONLY))
    return esc(row.display) + (sup(table.mark(row.note)) if row.note else "")


def precision_cells(table: Table, row: Row, none: str = "–") -> list[str]:
    """The Precision column's cell, when the table has that column (any row knows its dtype)."""
    return [row.precision or none] if table.has_precision else []


def precision_heads(table: Table) -> list[str]:
    return ["Precision"] if table.has_precision else []


def _note_lines(table: Table) -> list[str]:
    lines = []
    if table.compare_paper:
        lines.append("Cells read measured / paper (Δ = measured − paper); paper values from UltraPixel (NeurIPS 2024), Table 1.")
    if table.ci:
        lines.append("± is half the width of the 95% interval reported by the scorer.")
    what = "images scored" if table.scored else "finished images (not scored yet)"
    lines.append(f"Bold: best per resolution. N: {what} per row. Latency: mean seconds per image.")
    return lines


# -- Markdown ---------------------------------------------------------------------------------
def _md_escape(s: str) -> str:
    return s.replace("|", "\\|")


def render_markdown(table: Table) -> str:
    out: list[str] = ["# Table 1", ""]
    for w in table.warnings:
        out += [f"> **{_md_escape(w)}**" if w.startswith("WARNING") else f"> {_md_escape(w)}", ""]
    heads = ["H x W", "Method", "N", *precision_heads(table)] + [header_text(c) for c in table.columns]
    out.append("| " + " | ".join(heads) + " |")
    out.append("|" + "|".join([":---", ":---", "---:"] + [":---"] * len(precision_heads(table))
                              + ["---:"] * len(table.columns)) + "|")
    for res, rows in table.groups():
        for i, row in enumerate(rows):
            cells = [res.replace("x", " x ") if i == 0 else "", row_label(table, row, lambda m: f"<sup>{m}</sup>", _md_escape),
                     str(row.n) if row.n is not None else "–", *precision_cells(table, row)]
            for col in table.columns:
                p = cell_parts(table, col, row.cells[col.key])
                cells.append(_md_escape(_assemble(p, row.cells[col.key].best, b=lambda t: f"**{t}**",
                                                  sup=lambda m: f"<sup>{m}</sup>", pm="±", delta="Δ")))
            out.append("| " + " | ".join(cells) + " |")
    out.append("")
    for line in _note_lines(table):
        out.append(line + "  ")
    if table.footnotes:
        out.append("")
        for reason in table.footnotes:
            out.append(f"<sup>{table.mark(reason)}</sup> {_md_escape(reason)}  ")
    licences = table.meta.get("licences") or {}
    if licences:
        out += ["", "Weights licences (as each adapter declares them; most are non-commercial):", ""]
        out += [f"- {_md_escape(m)}: {_md_escape(v)}" for m, v in licences.items()]
    return "\n".join(out).rstrip() + "\n"


# -- LaTeX ------------------------------------------------------------------------------------
_TEX_ESC = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "×": r"$\times$", "−": "-", "Δ": r"$\Delta$", "±": r"$\pm$", "↑": r"$\uparrow$",
            "↓": r"$\downarrow$", "–": "--", "—": "---", "Σ": r"$\Sigma$", "σ": r"$\sigma$"}


def tex_escape(s: str) -> str:
    out = "".join(_TEX_ESC.get(ch, ch) for ch in s)
    # A TeX engine without full Unicode support fails on anything else; keep the file ASCII-only.
    return out.encode("ascii", "replace").decode()


def render_latex(table: Table) -> str:
    spec = "ll r " + "l " * len(precision_heads(table)) + " ".join("r" for _ in table.columns)
    L: list[str] = [
        "% Table 1 generated by ultrabench. This file compiles as is (pdflatex/lualatex/xelatex).",
        "% To paste into a paper, copy from \\begin{table} to \\end{table} and add",
        "% \\usepackage{booktabs} and \\usepackage{graphicx} to its preamble.",
        r"\documentclass{article}",
        r"\usepackage[T1]{fontenc}",
        r"\usepackage[margin=2cm,landscape]{geometry}",
        r"\usepackage{booktabs}",
        r"\usepackage{graphicx}",
        r"\begin{document}",
        "",
        r"\begin{table}[t]",
        r"\centering",
        r"\caption{Quantitative comparison at ultra-high resolutions (measured by ultrabench).}",
        r"\label{tab:ultrabench-table1}",
    ]
    for w in table.warnings:
        if w.startswith("WARNING"):
            L.append(r"\textbf{" + tex_escape(w) + r"}\par\smallskip")
    L += [r"\resizebox{\textwidth}{!}{%", rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    heads = ["H $\\times$ W", "Method", "N", *precision_heads(table)] + [tex_escape(header_text(c)) for c in table.columns]
    L.append(" & ".join(heads) + r" \\")
    for gi, (res, rows) in enumerate(table.groups()):
        L.append(r"\midrule")
        for i, row in enumerate(rows):
            cells = [tex_escape(res.replace("x", " × ")) if i == 0 else "", row_label(table, row, lambda m: rf"\textsuperscript{{{m}}}", tex_escape),
                     str(row.n) if row.n is not None else "--", *map(tex_escape, precision_cells(table, row))]
            for col in table.columns:
                p = {k: tex_escape(v) for k, v in cell_parts(table, col, row.cells[col.key]).items()}
                cells.append(_assemble(p, row.cells[col.key].best, b=lambda t: rf"\textbf{{{t}}}",
                                       sup=lambda m: rf"\textsuperscript{{{m}}}", pm=r"$\pm$", delta=r"$\Delta$"))
            L.append(" & ".join(cells) + r" \\")
    L += [r"\bottomrule", r"\end{tabular}%", "}"]
    notes = [tex_escape(n) for n in _note_lines(table)]
    notes += [rf"\textsuperscript{{{table.mark(r)}}}~{tex_escape(r)}" for r in table.footnotes]
    notes += [tex_escape(w) for w in table.warnings if not w.startswith("WARNING")]
    if notes:
        L += [r"\par\smallskip", r"\begin{minipage}{\textwidth}\footnotesize"]
        L += [n + r"\\" for n in notes[:-1]] + [notes[-1]]
        L.append(r"\end{minipage}")
    L += [r"\end{table}", "", r"\end{document}"]
    return "\n".join(L) + "\n"


# -- CSV / JSON -------------------------------------------------------------------------------
def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.6g}"


def render_csv(table: Table) -> str:
    """One row per (resolution, method), raw numbers (display scale), no formatting or bold."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    head = ["resolution", "height", "width", "method", "display_name", "n", "in_run"]
    head += [h.lower() for h in precision_heads(table)]
    for col in table.columns:
        head += [col.key, f"{col.key}_ci_low", f"{col.key}_ci_high", f"{col.key}_best"]
        if table.compare_paper and col.paper:
            head += [f"{col.key}_paper", f"{col.key}_delta"]
    head.append("notes")
    if table.random_weights:
        head.append("warning")
    w.writerow(head)
    for row in table.rows:
        h, _, wd = row.resolution.partition("x")
        rec = [row.resolution, h, wd, row.method, row.display, "" if row.n is None else row.n, int(row.in_run)]
        rec += precision_cells(table, row, none="")
        notes: dict[str, list[str]] = {}
        if row.note:
            notes[row.note] = ["method"]
        for col in table.columns:
            c = row.cells[col.key]
            lo, hi = (c.ci95 if c.ci95 else (None, None))
            rec += [_num(c.value), _num(lo), _num(hi), int(c.best)]
            if table.compare_paper and col.paper:
                rec += [_num(c.paper), _num(c.delta)]
            if c.value is None and c.note:
                notes.setdefault(c.note, []).append(col.key)
            elif c.value is not None and c.remark:
                notes.setdefault(c.remark, []).append(col.key)
            if table.compare_paper and c.paper_note:
                notes.setdefault(c.paper_note, []).append(col.key)
        # One entry per reason, naming its columns: a failed row would otherwise repeat it ten times.
        rec.append("; ".join(f"{reason} [{', '.join(cols)}]" for reason, cols in notes.items()))
        if table.random_weights:
            rec.append("random stand-in weights; numbers mean nothing")
        w.writerow(rec)
    return buf.getvalue()


def render_json(table: Table) -> str:
    d = table.to_dict()
    if table.random_weights:
        d = {"warning": table.warnings[0], **d}
    return json.dumps(d, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
