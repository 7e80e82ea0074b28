"""What the report's figures say, read back from matplotlib (issue #29): log axes labelled with
plain numbers, titles that fit their figure, a memory title in words, legends above the bars."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ultrabench.report import figures  # noqa: E402


def _labels(axis):
    return [t.get_text() for t in axis.get_majorticklabels() + axis.get_minorticklabels() if t.get_text()]


def test_a_log_axis_within_a_decade_is_labelled_with_plain_numbers():
    fig, ax = plt.subplots()
    ax.plot([0.1049, 0.1843], [0.39, 7.1], marker="o")  # the demo's two sizes, in megapixels
    ax.set_xscale("log")
    ax.set_yscale("log")
    figures._plain_log_ticks(ax)
    fig.canvas.draw()
    x, y = _labels(ax.xaxis), _labels(ax.yaxis)
    plt.close(fig)
    assert "0.12" in x and "0.18" in x and "1" in y
    assert not any("10" in t and "^" in t or "e-" in t or "times" in t for t in x + y), x + y


def test_titles_wrap_to_their_figure_and_memory_kinds_are_words(tmp_path):
    fig = plt.figure(figsize=(5.0, 3.6))
    title = figures._wrapped("PickScore win rate of UltraPixel (tiny, random weights) (95%\u00a0CI)", fig)
    plt.close(fig)
    lines = title.splitlines()
    assert len(lines) == 2 and lines[1] == "(95%\u00a0CI)" and all(len(x) <= 60 for x in lines)
    latency = [{"method": m, "resolution": r, "mean_s": 1.0, "peak_memory_bytes": 2 ** 30, "memory_kind": "cpu_peak_rss"}
               for m in ("tiny-sd", "tiny-sd-sr", "tiny-ultrapixel") for r in ("320x320", "320x576")]
    seen = {}
    real_close = plt.close

    def keep(fig):  # read the figure just before it is closed
        ax = fig.axes[0]
        seen["title"] = ax.get_title()
        legend = ax.get_legend()
        fig.canvas.draw()
        box, axes_box = legend.get_window_extent(), ax.get_window_extent()
        seen["legend_above_axes"] = box.y0 >= axes_box.y1 - 1
        real_close(fig)

    import matplotlib.pyplot as mpl_plt

    mpl_plt.close = keep
    try:
        files = figures.memory_figure(latency, tmp_path / "memory", "tiny-ultrapixel")
    finally:
        mpl_plt.close = real_close
    assert files["png"].stat().st_size > 0
    assert "cpu_peak_rss" not in seen["title"] and "CPU, the process's peak RSS" in seen["title"]
    assert seen["legend_above_axes"]


def test_html_notes_are_one_compact_box_and_warnings_stay_banners():
    from ultrabench.report.html import _banners

    notes = [f"note {i}" for i in range(6)]
    html = _banners(["WARNING: random weights"] + notes)
    assert html.count('class="banner danger"') == 1 and html.count('class="banner notes"') == 1
    assert html.count("<li>") == 6 and "<summary>3 more notes</summary>" in html
    assert html.index("note 2") < html.index("<details>") < html.index("note 3")
    assert _banners(["WARNING: only this"]) == '<div class="banner danger">WARNING: only this</div>'
