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
    out_base.parent.mkdir(parents=True, exist_ok=True)
    files = {}
    for ext in ("png", "svg"):
        p = out_base.with_suffix(f".{ext}")
        # A fixed date keeps SVG output identical between runs with the same data.
        fig.savefig(p, dpi=150, metadata={"Date": None} if ext == "svg" else None)
        files[ext] = p
    _plt().close(fig)
    return files


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
        ax.set_ylabel(f"{disp[reference]} win rate (%)")
        ax.set_xlabel("resolution (H x W)")
        ax.legend(frameon=False, fontsize=8, ncol=min(4, len(methods)), loc="upper center", bbox_to_anchor=(0.5, 1.18))
        ax.set_title(f"{model} win rate of {disp[reference]} (95% CI)", fontsize=10, pad=28)
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
        ax.set_title(f"Peak memory per resolution ({', '.join(kinds)})", fontsize=10)
        ax.legend(frameon=False, fontsize=8)
    return _finish(fig, ax, out_base, random_weights)
