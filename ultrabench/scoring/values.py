"""The values a score computed, as rows a person reads (`ultrabench score` prints them) or a
program parses (`ultrabench score --json`): what torch-fidelity prints and clean-fid returns."""

from __future__ import annotations


def value_rows(summary: dict) -> list[dict]:
    """One row per set value and per win rate of `summary`: metric, method, resolution, n, value,
    ci95 ([low, high] or None) and the warning it carries (or None)."""
    rows = [{"metric": e["metric"], "method": e["method"], "resolution": e["resolution"], "n": e.get("n"),
             "value": e.get("value"), "ci95": e.get("ci95"), "warning": e.get("warning")}
            for e in summary.get("sets") or []]
    rows += [{"metric": f"{w['metric']} win rate", "method": f"{w['reference_method']} vs {w['method']}",
              "resolution": w["resolution"], "n": w.get("n_pairs"), "value": w.get("win_rate"),
              "ci95": w.get("ci95"), "warning": None}
             for w in summary.get("winrates") or []]
    return rows


def warned_values_line(metric: str, why: str) -> str:
    """The one line `score` prints for a metric whose values carry a warning (a small reference)."""
    return f"{metric}: {why}; the values are printed with this warning"


def number(x) -> str:
    """Four significant digits, the way a value is read off a terminal."""
    return "–" if x is None else f"{x:.4g}"


def render_values(rows: list[dict]):
    """A rich table of `value_rows`; a value with a warning (printed before the table) is starred."""
    from rich.markup import escape
    from rich.table import Table

    t = Table(title="Scores", title_style="bold", header_style="bold cyan")
    for name, justify in (("metric", "left"), ("method", "left"), ("H x W", "left"), ("N", "right"),
                          ("value", "right"), ("95% interval", "right")):
        t.add_column(name, justify=justify, no_wrap=True)
    for r in rows:
        ci = r["ci95"]
        t.add_row(escape(r["metric"]), escape(r["method"]), r["resolution"], "–" if r["n"] is None else str(r["n"]),
                  number(r["value"]) + ("*" if r["warning"] else ""), f"{number(ci[0])} – {number(ci[1])}" if ci else "–")
    if any(r["warning"] for r in rows):
        t.caption = "* carries the warning printed above"
    return t
