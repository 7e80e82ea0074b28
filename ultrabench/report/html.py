"""One self-contained HTML report: table, figures, provenance and a per-prompt gallery with a
synchronised zoom. No network: CSS, JS, figures and thumbnails are inline; full-size images are
linked by relative path and fetched only when a zoom needs them, so the file stays light. The page
says so, and a zoom whose image cannot be found (a report moved away from its run) says why.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ultrabench.report.formats import (_assemble, _note_lines, cell_parts, header_text, precision_cells, precision_heads,
                                       row_label)
from ultrabench.report.table import Table

THUMB_SIDE = 240
ZOOM_SIDE = 256  # CSS px of each zoom panel: that many native image pixels

_CSS = """
:root{--fg:#1d232a;--muted:#6b7785;--line:#e3e7ec;--accent:#2463eb;--bg:#fff;--soft:#f6f8fa}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:24px 32px 8px;border-bottom:1px solid var(--line)}h1{margin:0 0 4px;font-size:22px}
.sub{color:var(--muted)}main{padding:8px 32px 48px;max-width:1500px}
h2{font-size:18px;margin:32px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
.banner{margin:12px 0;padding:10px 14px;border-radius:6px;background:#fff4e5;border:1px solid #f3c98b}
.banner.danger{background:#fde8e8;border-color:#f19999;color:#8a1111;font-weight:600}
.banner.notes{padding:6px 12px;font-size:13px}.banner.notes ul{margin:0;padding-left:18px}
.banner.notes li{margin:1px 0}.banner.notes summary{cursor:pointer;color:var(--muted);margin-top:2px}
.tablewrap{overflow-x:auto}table.t1{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:8px 0}
table.t1 th,table.t1 td{padding:5px 10px;text-align:right;white-space:nowrap}
table.t1 th{border-bottom:2px solid var(--fg);font-weight:600}table.t1 td.l,table.t1 th.l{text-align:left}
table.t1 tbody{border-bottom:1px solid var(--line)}table.t1 tbody:last-child{border-bottom:2px solid var(--fg)}
table.t1 tr.paper-only td{color:var(--muted)}table.t1 td.na{color:var(--muted)}
table.t1 .ci,table.t1 .pp{color:var(--muted);font-size:12px}
.notes{color:var(--muted);font-size:12px}.notes p{margin:2px 0}
.figs{display:flex;flex-wrap:wrap;gap:16px}.figs figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:8px}
.figs img{max-width:560px;height:auto;display:block}
details{margin:6px 0}pre{background:var(--soft);padding:10px;border-radius:6px;overflow:auto;font-size:12px}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}dl.kv dt{color:var(--muted)}dl.kv dd{margin:0}
.prompt{border:1px solid var(--line);border-radius:8px;padding:12px 16px;margin:16px 0}
.prompt h3{margin:0 0 4px;font-size:15px}.prompt .pid{color:var(--muted);font-size:12px}
.group{margin:12px 0}.group h4{margin:6px 0;font-size:13px;color:var(--muted)}
.row{display:flex;gap:12px;flex-wrap:wrap}
.panel{width:""" + str(ZOOM_SIDE + 2) + """px}.panel .cap{font-size:12px;margin-top:4px;display:flex;justify-content:space-between}
.thumb{position:relative;display:block;overflow:hidden;cursor:crosshair;line-height:0;background:var(--soft);border:1px solid var(--line)}
.thumb img{width:100%;height:auto}
.crop{position:absolute;border:1px solid #ffd400;outline:1px solid rgba(0,0,0,.5);pointer-events:none}
.crop.tiles{border-color:rgba(0,200,255,.6);outline:none}
.crops{font-size:11px;line-height:1.35;margin:2px 0}
.crops code{font-size:10px}
.sel{position:absolute;border:2px solid var(--accent);box-shadow:0 0 0 9999px rgba(0,0,0,.25);pointer-events:none;display:none}
.zoom{width:""" + str(ZOOM_SIDE + 2) + "px;height:" + str(ZOOM_SIDE + 2) + """px;margin-top:8px;border:1px solid var(--line);background-color:var(--soft);
background-repeat:no-repeat;image-rendering:pixelated;position:relative}
.zoom .zl{position:absolute;left:4px;bottom:4px;font-size:11px;background:rgba(255,255,255,.85);padding:0 4px;border-radius:3px;line-height:1.5}
.missing{width:""" + str(ZOOM_SIDE) + """px;height:120px;display:flex;align-items:center;justify-content:center;text-align:center;
color:var(--muted);background:var(--soft);border:1px dashed var(--line);font-size:12px;padding:8px}
.hint{color:var(--muted);font-size:12px}.zoom.gone{background:var(--soft)}.zoom.gone .zl{white-space:normal}
"""

# The zoom maps a click on any thumbnail to a fractional position and shows, in every panel of the
# same (prompt, resolution) group, the window of native pixels centred there. Full images load on
# the first zoom only, which keeps opening the report instant.
_JS = """
(function(){
  "use strict";
  function zoomGroup(group, fx, fy){
    group.querySelectorAll('.panel').forEach(function(p){
      var z = p.querySelector('.zoom'); if(!z || z.dataset.gone) return;
      var W = +z.dataset.w, H = +z.dataset.h, vw = z.clientWidth, vh = z.clientHeight;
      if(!z.dataset.loaded){
        z.style.backgroundImage = 'url("' + z.dataset.full + '")'; z.dataset.loaded = '1';
        // full-size images live in the run folder: a report moved away from it says so
        var probe = new Image();
        probe.onerror = function(){
          z.dataset.gone = '1'; z.classList.add('gone');
          z.querySelector('.zl').textContent = 'full-size image not found at ' + decodeURIComponent(z.dataset.full) +
            ' (this report was moved away from its run folder)';
        };
        probe.src = z.dataset.full;
      }
      var x = Math.max(0, Math.min(W - vw, Math.round(fx * W - vw / 2)));
      var y = Math.max(0, Math.min(H - vh, Math.round(fy * H - vh / 2)));
      z.style.backgroundPosition = (-x) + 'px ' + (-y) + 'px';
      z.dataset.x = x; z.dataset.y = y;
      z.querySelector('.zl').textContent = 'x ' + x + '\\u2013' + (x + Math.min(vw, W)) + ', y ' + y + '\\u2013' + (y + Math.min(vh, H)) + ' (native px)';
      var s = p.querySelector('.sel');
      if(s){ s.style.display = 'block';
        s.style.left = (100 * x / W) + '%'; s.style.top = (100 * y / H) + '%';
        s.style.width = (100 * Math.min(vw, W) / W) + '%'; s.style.height = (100 * Math.min(vh, H) / H) + '%'; }
    });
    group.dataset.fx = fx; group.dataset.fy = fy;
  }
  window.ubZoom = zoomGroup;
  document.addEventListener('click', function(e){
    var t = e.target.closest ? e.target.closest('.thumb') : null;
    if(!t) return;
    e.preventDefault();  // the thumbnail links to the full image; a plain click zooms instead
    var r = t.getBoundingClientRect();
    zoomGroup(t.closest('.group'), (e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height);
  });
  document.addEventListener('DOMContentLoaded', function(){
    // Start every group at the centre so the side-by-side view is visible without a click.
    document.querySelectorAll('.group').forEach(function(g){ if(g.querySelector('.zoom')) zoomGroup(g, 0.5, 0.5); });
  });
})();
"""


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _sup(m: str) -> str:
    return f"<sup>{_e(m)}</sup>"


def render_table_html(table: Table) -> str:
    heads = "".join(f'<th class="l">{_e(h)}</th>' for h in precision_heads(table))
    heads += "".join(f"<th>{_e(header_text(c))}</th>" for c in table.columns)
    out = [f'<table class="t1"><thead><tr><th class="l">H x W</th><th class="l">Method</th><th>N</th>{heads}</tr></thead>']
    for res, rows in table.groups():
        out.append(f'<tbody data-resolution="{_e(res)}">')
        for i, row in enumerate(rows):
            label = row_label(table, row, _sup, _e)
            cls = ' class="paper-only"' if not row.in_run else ""
            tds = [f'<td class="l">{_e(res.replace("x", " x ")) if i == 0 else ""}</td>',
                   f'<td class="l method">{label}</td>', f'<td>{"" if row.n is None else row.n}</td>']
            tds += [f'<td class="l" data-col="precision">{_e(p)}</td>' for p in precision_cells(table, row)]
            for col in table.columns:
                cell = row.cells[col.key]
                p = {k: _e(v) for k, v in cell_parts(table, col, cell).items()}
                if p["ci"]:
                    p["ci"] = p["ci"]
                text = _assemble(p, cell.best, b=lambda t: f"<strong>{t}</strong>", sup=_sup, pm="±", delta="Δ")
                na = ' class="na"' if cell.value is None else ""
                tds.append(f'<td{na} data-col="{_e(col.key)}">{text}</td>')
            out.append(f'<tr{cls} data-method="{_e(row.method)}">' + "".join(tds) + "</tr>")
        out.append("</tbody>")
    out.append("</table>")
    notes = [f"<p>{_e(n)}</p>" for n in _note_lines(table)]
    notes += [f"<p>{_sup(table.mark(r))} {_e(r)}</p>" for r in table.footnotes]
    out.append('<div class="notes">' + "".join(notes) + "</div>")
    return "\n".join(out)


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def _thumb(path: Path) -> tuple[str, int, int]:
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
        im = im.convert("RGB")
        im.thumbnail((THUMB_SIDE, THUMB_SIDE))
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode(), w, h


def _rel_url(target: Path, out_dir: Path) -> str:
    return quote(Path(os.path.relpath(target, out_dir)).as_posix())


MAX_BOXES = 64  # drawn per view and image; tile grids of 4096^2 images have hundreds


def scored_crops(run_dirs: list[Path]) -> dict[tuple[str, str, int], dict[str, list]]:
    """(method, prompt id, seed) -> view key -> the boxes [top, left, h, w] that were scored, from
    each run's per_image.parquet (empty when it was not scored)."""
    import json

    out: dict[tuple[str, str, int], dict[str, list]] = {}
    for d in run_dirs:
        p = Path(d) / "scores" / "per_image.parquet"
        if not p.is_file():
            continue
        import pandas as pd

        try:
            df = pd.read_parquet(p, columns=["method", "prompt_id", "seed", "crops"])
        except Exception:  # an old or damaged score file: the gallery shows no boxes, the table says more
            continue
        for r in df.itertuples(index=False):
            if isinstance(r.crops, str) and r.crops:
                out[(r.method, r.prompt_id, int(r.seed))] = json.loads(r.crops)
    return out


def _crop_overlay(crops: dict[str, list], h: int, w: int) -> tuple[str, str]:
    """(boxes drawn over the thumbnail, a list of them in words) for one image's scored crops."""
    from ultrabench.scoring.views import canvas_size

    spans, lines = [], []
    for key, boxes in sorted(crops.items()):
        ch, cw = canvas_size(key, h, w)  # paired crops are placed in the resized square
        tiles = key.startswith("tiles")
        for t, left, bh, bw in boxes[:MAX_BOXES]:
            spans.append(f'<span class="crop{" tiles" if tiles else ""}" data-view="{_e(key)}" style="left:'
                         f'{100 * left / cw:.3f}%;top:{100 * t / ch:.3f}%;width:{100 * bw / cw:.3f}%;'
                         f'height:{100 * bh / ch:.3f}%"></span>')
        shown = "; ".join(f"{t},{left}" for t, left, _, _ in boxes[:8]) + (" ..." if len(boxes) > 8 else "")
        where = "" if (ch, cw) == (h, w) else f" in the {ch} x {cw} resize"
        size = f"{boxes[0][2]} x {boxes[0][3]}" if boxes else ""
        lines.append(f"<div><code>{_e(key)}</code>: {len(boxes)} crops of {size}{where}, top,left: {_e(shown)}"
                     + (f" (first {MAX_BOXES} drawn)" if len(boxes) > MAX_BOXES else "") + "</div>")
    listing = f'<details class="crops"><summary>scored crops</summary>{"".join(lines)}</details>' if lines else ""
    return "".join(spans), listing


def render_gallery(run_dir: Path | list[Path], out_dir: Path, table: Table, max_prompts: int = 20) -> str:
    """Every method at the same prompt and seed side by side; several run folders (a comparison)
    are one gallery, since compare admits only runs with the same prompts and seeds."""
    from ultrabench.runstore import RunStore

    run_dirs = [Path(d) for d in run_dir] if isinstance(run_dir, (list, tuple)) else [Path(run_dir)]
    store = RunStore(run_dirs[0])
    by_prompt: dict[str, dict[tuple[str, str], Any]] = {}
    prompt_text: dict[str, str] = {}
    seeds: dict[str, int] = {}
    for rec in (r for d in run_dirs for r in RunStore(d).records()):
        if rec.warmup:
            continue
        pid = rec.prompt_id
        # One seed per prompt keeps the gallery comparable: every method at the same seed.
        if pid in seeds and rec.seed != seeds[pid]:
            if rec.seed > seeds[pid]:
                continue
            by_prompt[pid] = {}
        seeds[pid] = rec.seed
        prompt_text[pid] = rec.prompt
        by_prompt.setdefault(pid, {})[(rec.method, rec.resolution.key)] = rec
    if not by_prompt:
        return '<p class="hint">No images in this run folder.</p>'
    order = [p.get("id") for p in store.read_prompts() if p.get("id") in by_prompt]
    order += sorted(set(by_prompt) - set(order))
    reasons = {(r.method, r.resolution): next((c.note for c in r.cells.values() if c.note), None) for r in table.rows}
    groups = [(res, [r.method for r in rows if r.in_run]) for res, rows in table.groups()]
    if not any(m for _, m in groups):  # a run with records only (table rows come from records too)
        groups = sorted({(k[1], ()) for p in by_prompt.values() for k in p})
    rel = ", ".join(os.path.relpath(d, Path(out_dir)) + "/" for d in run_dirs)
    scored = scored_crops(run_dirs)
    out = [f'<p class="hint">Click any image to show the same region of every image at that resolution at '
           f'native pixels ({ZOOM_SIDE} x {ZOOM_SIDE}), side by side. Click a caption link for the full image.</p>',
           # 4K PNGs are 10-50 MB each: copying the gallery's would make every report gigabytes
           f'<p class="hint">Thumbnails, table and figures are inside this file; the full-size images are not '
           f'copied but linked from the run folder ({_e(rel)} relative to this file). To move or share the '
           f'report, keep it in the same place relative to the run folder (or move both).</p>']
    if scored:
        out.append('<p class="hint">Boxes on the thumbnails are the crops the patch metrics scored (yellow; '
                   'blue: quality tiles); "scored crops" under an image lists them in native pixels.</p>')
    if len(order) > max_prompts:
        out.append(f'<p class="hint">Showing {max_prompts} of {len(order)} prompts.</p>')
    for pid in order[:max_prompts]:
        units = by_prompt[pid]
        out.append(f'<section class="prompt" data-prompt="{_e(pid)}"><h3>{_e(prompt_text.get(pid, ""))}</h3>'
                   f'<div class="pid">prompt {_e(pid)} · seed {seeds[pid]}</div>')
        for res, methods in groups:
            methods = list(methods) or sorted({m for (m, r) in units if r == res})
            if not any((m, res) in units for m in methods):
                continue
            out.append(f'<div class="group" data-resolution="{_e(res)}"><h4>{_e(res.replace("x", " x "))}</h4><div class="row">')
            for m in methods:
                disp = next((r.display for r in table.rows if r.method == m), m)
                rec = units.get((m, res))
                if rec is None or rec.image_path is None:
                    why = reasons.get((m, res)) or "no image for this prompt"
                    out.append(f'<div class="panel"><div class="missing">{_e(disp)}: n/a<br>{_e(why)}</div>'
                               f'<div class="cap"><span>{_e(disp)}</span></div></div>')
                    continue
                uri, w, h = _thumb(rec.image_path)
                url = _rel_url(rec.image_path, out_dir)
                boxes, listing = _crop_overlay(scored.get((m, pid, rec.seed), {}), h, w)
                out.append(
                    f'<div class="panel" data-method="{_e(m)}"><a class="thumb" href="{url}" target="_blank">'
                    f'<img src="{uri}" alt="{_e(disp)}, {_e(res)}">{boxes}<span class="sel"></span></a>'
                    f'<div class="cap"><span>{_e(disp)}</span><a href="{url}" target="_blank">{h} x {w} px ↗</a></div>'
                    f'{listing}<div class="zoom" data-full="{url}" data-w="{w}" data-h="{h}"><span class="zl"></span></div></div>')
            out.append("</div></div>")
        out.append("</section>")
    return "\n".join(out)


def _provenance(run_info: dict[str, Any], summary: dict[str, Any] | None) -> str:
    keys = [k for k in run_info if not isinstance(run_info[k], (dict, list))]
    out = ['<dl class="kv">'] + [f"<dt>{_e(k)}</dt><dd>{_e(run_info[k])}</dd>" for k in keys] + ["</dl>"]
    if not run_info:
        out = ['<p class="hint">No run.json in this folder.</p>']
    nested = {k: v for k, v in run_info.items() if isinstance(v, (dict, list))}
    if nested:
        out.append(f"<details><summary>Full run.json</summary><pre>{_e(json.dumps(run_info, indent=2, default=str))}</pre></details>")
    if summary:
        s = {k: summary.get(k) for k in ("created", "random_weights", "protocols", "extractors", "reference") if k in summary}
        out.append(f"<details><summary>Scoring protocols and extractors</summary><pre>{_e(json.dumps(s, indent=2))}</pre></details>")
    else:
        out.append('<p class="hint">Not scored: run <code>ultrabench score</code> for the quality columns.</p>')
    return "\n".join(out)


def _licences_html(table: Table) -> str:
    lic = table.meta.get("licences") or {}
    if not lic:
        return '<p class="hint">No methods in this run.</p>'
    return "<ul>" + "".join(f"<li><b>{_e(m)}</b>: {_e(v)}</li>" for m, v in lic.items()) + "</ul>"


def _banners(warnings: list[str], shown: int = 3) -> str:
    """The red WARNING lines as banners; every other note as one line of a single compact box,
    the first `shown` visible and the rest behind a click (seven banners filled a third of the page)."""
    danger = "".join(f'<div class="banner danger">{_e(w)}</div>' for w in warnings if w.startswith("WARNING"))
    notes = [f"<li>{_e(w)}</li>" for w in warnings if not w.startswith("WARNING")]
    if not notes:
        return danger
    more = ""
    if len(notes) > shown:
        more = (f'<details><summary>{len(notes) - shown} more note{"s" if len(notes) - shown > 1 else ""}'
                f'</summary><ul>{"".join(notes[shown:])}</ul></details>')
    return danger + f'<div class="banner notes"><ul>{"".join(notes[:shown])}</ul>{more}</div>'


def render_html(table: Table, *, run_dir: Path | list[Path], out_dir: Path, figures: dict[str, dict[str, Path]],
                run_info: dict[str, Any], summary: dict[str, Any] | None) -> str:
    banners = _banners(table.warnings)
    figs = "".join(
        f'<figure><img alt="{_e(name)} figure" src="{_data_uri(files["svg"], "image/svg+xml")}"></figure>'
        for name, files in figures.items() if "svg" in files)
    dirs = [Path(d) for d in run_dir] if isinstance(run_dir, (list, tuple)) else [Path(run_dir)]
    title = "ultrabench report: " + _e(" + ".join(d.resolve().name for d in dirs))
    where = ", ".join(f"<code>{_e(d)}</code>" for d in dirs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{_CSS}</style></head>
<body><header><h1>{title}</h1><div class="sub">Table 1 of UltraPixel (NeurIPS 2024), measured on {where}</div>{banners}</header>
<main>
<h2 id="table">Table 1</h2>
<div class="tablewrap">{render_table_html(table)}</div>
<h2 id="figures">Figures</h2>
<div class="figs">{figs or '<p class="hint">Figures were not built.</p>'}</div>
<h2 id="gallery">Gallery</h2>
{render_gallery(dirs, Path(out_dir), table)}
<h2 id="licences">Weights licences</h2>
{_licences_html(table)}
<h2 id="provenance">Provenance</h2>
{_provenance(run_info, summary)}
</main>
<script>{_JS}</script>
</body></html>
"""
