"""The Table-1 model as a rich table in the terminal."""

from __future__ import annotations

from ultrabench.report.formats import (_assemble, _note_lines, cell_parts, header_text, precision_cells,
                                       precision_heads, row_label)
from ultrabench.report.table import Table


def render_terminal(table: Table, console=None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table as RichTable

    console = console or Console()
    for w in table.warnings:
        style = "bold red" if w.startswith("WARNING") else "yellow"
        console.print(f"[{style}]{escape(w)}[/]")
    rt = RichTable(title="Table 1", title_style="bold", header_style="bold cyan", show_lines=False)
    rt.add_column("H x W", no_wrap=True)
    rt.add_column("Method", no_wrap=True)
    rt.add_column("N", justify="right")
    for head in precision_heads(table):
        rt.add_column(head)
    for col in table.columns:
        rt.add_column(header_text(col), justify="right")
    for gi, (res, rows) in enumerate(table.groups()):
        if gi:
            rt.add_section()
        for i, row in enumerate(rows):
            cells = [res.replace("x", " x ") if i == 0 else "",
                     row_label(table, row, lambda m: f"[dim]({escape(m)})[/]", escape) if row.in_run
                     else f"[dim]{escape(row.display)} ({table.mark('in the paper, not in this run')})[/]",
                     str(row.n) if row.n is not None else "–", *map(escape, precision_cells(table, row))]
            for col in table.columns:
                cell = row.cells[col.key]
                p = {k: escape(v) for k, v in cell_parts(table, col, cell).items()}
                text = _assemble(p, cell.best, b=lambda t: f"[bold green]{t}[/]", sup=lambda m: f"[dim]({m})[/]",
                                 pm="±", delta="Δ")
                cells.append(f"[dim]{text}[/]" if p["value"] in ("n/a", "–") else text)
            rt.add_row(*cells)
    console.print(rt)
    for line in _note_lines(table):
        console.print(f"[dim]{escape(line)}[/]")
    for reason in table.footnotes:
        console.print(f"[dim]({table.mark(reason)}) {escape(reason)}[/]")
