"""Figures (PNG and SVG): Figure-6-style win rates, latency against megapixels, peak memory.

matplotlib is imported lazily with the Agg backend, so importing the report package stays cheap and
works without a display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ultrabench.report.names import display_name_for, method_sort_key
from ultrabench.report.table import _res_key

_WATERMARK = "random stand-in weights: numbers mean nothing"


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, ax, out_base: Path, random_weights: bool) -> dict[str, Path]:
    if random_weights:
        fig.text(0.5, 0.5, _WATERMARK, ha="center", va="center", fontsize=14, color="red", alpha=0.35, rotation=20)
        fig.text(0.01, 0.005, "WARNING: random stand-in weights; these numbers mean nothing.", fontsize=7, color="red")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    import io

    from ultrabench.report.files import write_file

    files = {}
    try:
        for ext in ("png", "svg"):
            p = out_base.with_name(f"{out_base.name}.{ext}")  # not with_suffix: "winrate-hpsv2.1" has a dot
            buf = io.BytesIO()
            # A fixed date keeps SVG output identical between runs with the same data.
            fig.savefig(buf, format=ext, dpi=150, metadata={"Date": None} if ext == "svg" else None)
            write_file(p, buf.getvalue())
            files[ext] = p
    finally:
        _plt().close(fig)
    return files


# what `memory_kind` in a unit record measured, in words for a figure's title
MEMORY_KINDS = {"cpu_peak_rss": "CPU, the process's peak RSS", "cuda_max_allocated": "GPU, torch's peak allocated"}


def _wrapped(title: str, fig, fontsize: float = 10) -> str:
    """The title in lines that fit the figure's width (a long method name was clipped at the edge)."""
    import textwrap

    chars = int(fig.get_figwidth() * 72 / (0.6 * fontsize))  # average glyph width ~0.6 em
    return textwrap.fill(title, max(20, chars))


def _legend_columns(labels: list[str], fig, fontsize: float = 8) -> int:
    """As many legend columns (up to 4) as fit one row across the figure; the rest wrap."""
    fits = int(fig.get_figwidth() * 72 / (0.6 * fontsize))
    n = min(4, len(labels))
    while n > 1 and sum(len(x) + 6 for x in sorted(labels, key=len)[-n:]) > fits:
        n -= 1
    return max(1, n)


def _legend_above(ax, labels: list[str], fig) -> float:
    """The legend in rows just above the axes (inside, it covered the tallest bars); returns the
    title's pad in points, so the title sits above the legend's rows."""
    ncol = _legend_columns(labels, fig)
    ax.legend(frameon=False, fontsize=8, ncol=ncol, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return 6 + 13 * -(-len(labels) // ncol)


def _plain_log_ticks(ax) -> None:
    """Log axes labelled 0.12, 0.14, 1, 10 instead of 1.2x10^-1: matplotlib still chooses which
    ticks get a label (in a span under a decade, minor ones); only the text becomes a number."""
    from matplotlib.ticker import LogFormatter

    class Plain(LogFormatter):
        def _num_to_string(self, x, vmin, vmax):
            return f"{x:.3g}"

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(Plain())
        axis.set_minor_formatter(Plain(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _names(methods, names):
    return {m: (names or {}).get(m) or display_name_for(m) for m in methods}


def winrate_figure(summary: dict[str, Any] | None, out_base: Path, reference: str = "ultrapixel",
                   names: dict[str, str] | None = None, metric: str = "pickscore") -> dict[str, Path]:
    """The paper's Figure 6 for one preference model: the reference method's win rate per resolution."""
    from ultrabench.metrics.registry import METRICS

    plt = _plt()
    model = METRICS[metric].display_name if metric in METRICS else metric
    entries = [e for e in (summary or {}).get("winrates") or []
               if e.get("reference_method", reference) == reference and e.get("win_rate") is not None
               and e.get("metric", "pickscore") == metric]
    res_list = sorted({e["resolution"] for e in entries}, key=_res_key)
    methods = sorted({e["method"] for e in entries}, key=lambda m: method_sort_key(m, reference))
    disp = _names(methods + [reference], names)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 + 0.45 * max(1, len(res_list) * len(methods))), 3.6))
    if not entries:
        why = f"no {model} win rates in this run" if summary else "not scored: run `ultrabench score`"
        _empty(ax, why)
    else:
        # Cap the bar width so one or two methods do not draw slabs across the whole axis.
        width = min(0.8 / max(1, len(methods)), 0.22)
        idx = {(e["method"], e["resolution"]): e for e in entries}
        colors = plt.get_cmap("tab10")
        for mi, m in enumerate(methods):
            xs, ys, lo, hi = [], [], [], []
            for ri, r in enumerate(res_list):
                e = idx.get((m, r))
                if e is None:
                    continue
                v = 100 * float(e["win_rate"])
                ci = e.get("ci95") or [e["win_rate"], e["win_rate"]]
                xs.append(ri + (mi - (len(methods) - 1) / 2) * width)
                ys.append(v)
                lo.append(max(0.0, v - 100 * float(ci[0])))
                hi.append(max(0.0, 100 * float(ci[1]) - v))
            ax.bar(xs, ys, width * 0.92, yerr=[lo, hi], capsize=3, label=f"vs {disp[m]}", color=colors(mi % 10),
                   error_kw={"elinewidth": 1, "ecolor": "0.2"})
        ax.axhline(50, color="0.3", linestyle="--", linewidth=1)
        # x in axes units: in data units the label left the axes when the bars were few (and
        # tight_layout then warned that it could not fit the figure)
        ax.text(0.99, 51, "50%: no preference", ha="right", va="bottom", fontsize=7, color="0.3",
                transform=ax.get_yaxis_transform())
        ax.set_xticks(range(len(res_list)), [r.replace("x", " x ") for r in res_list])
        ax.set_xlim(-0.5, len(res_list) - 0.5)
        ax.set_ylim(0, 100)
        ax.set_ylabel("win rate (%)")  # whose: the title says
        ax.set_xlabel("resolution (H x W)")
        pad = _legend_above(ax, [f"vs {disp[m]}" for m in methods], fig)
        ax.set_title(_wrapped(f"{model} win rate of {disp[reference]} (95%\u00a0CI)", fig), fontsize=10, pad=pad)
    return _finish(fig, ax, out_base, bool((summary or {}).get("random_weights")))


def latency_figure(latency: list[dict[str, Any]], out_base: Path, reference: str = "ultrapixel",
                   names: dict[str, str] | None = None, random_weights: bool = False) -> dict[str, Path]:
    from ultrabench.resolution import parse_resolution

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    by_method: dict[str, list[tuple[float, float]]] = {}
    for e in latency:
        if e.get("mean_s") is None:
            continue
        try:
            mp = parse_resolution(e["resolution"]).megapixels
        except Exception:
            continue
        by_method.setdefault(e["method"], []).append((mp, float(e["mean_s"])))
    if not by_method:
        _empty(ax, "no timings recorded")
    else:
        disp = _names(list(by_method), names)
        for m in sorted(by_method, key=lambda m: method_sort_key(m, reference)):
            pts = sorted(by_method[m])
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=disp[m],
                    linewidth=2.2 if m == reference else 1.2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log_ticks(ax)
        ax.set_xlabel("megapixels")
        ax.set_ylabel("seconds per image (mean)")
        ax.set_title("Latency against resolution (log-log)", fontsize=10)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(frameon=False, fontsize=8)
    return _finish(fig, ax, out_base, random_weights)


def memory_figure(latency: list[dict[str, Any]], out_base: Path, reference: str = "ultrapixel",
                  names: dict[str, str] | None = None, random_weights: bool = False) -> dict[str, Path]:
    plt = _plt()
    entries = [e for e in latency if e.get("peak_memory_bytes")]
    res_list = sorted({e["resolution"] for e in entries}, key=_res_key)
    methods = sorted({e["method"] for e in entries}, key=lambda m: method_sort_key(m, reference))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 + 0.45 * max(1, len(res_list) * len(methods))), 3.6))
    if not entries:
        _empty(ax, "no peak memory recorded")
    else:
        disp = _names(methods, names)
        idx = {(e["method"], e["resolution"]): e for e in entries}
        width = min(0.8 / len(methods), 0.22)
        kinds = sorted({str(e.get("memory_kind") or "unknown") for e in entries})
        for mi, m in enumerate(methods):
            xs, ys = [], []
            for ri, r in enumerate(res_list):
                if (m, r) in idx:
                    xs.append(ri + (mi - (len(methods) - 1) / 2) * width)
                    ys.append(idx[(m, r)]["peak_memory_bytes"] / 2**30)
            ax.bar(xs, ys, width * 0.92, label=disp[m])
        ax.set_xticks(range(len(res_list)), [r.replace("x", " x ") for r in res_list])
        ax.set_ylabel("peak memory (GiB)")
        ax.set_xlabel("resolution (H x W)")
        pad = _legend_above(ax, [disp[m] for m in methods], fig)
        ax.set_title(_wrapped(f"Peak memory per resolution ({'; '.join(MEMORY_KINDS.get(k, k) for k in kinds)})", fig),
                     fontsize=10, pad=pad)
    return _finish(fig, ax, out_base, random_weights)
