"""The native-resolution metrics on real photographs at 4096x4096, with defects made by hand.

    .venv/bin/python benchmarks/validate_metrics.py --size 4096 --out reports/validation

The photographs are scikit-image's bundled ones (`ultrabench.metrics.photos`, no download),
Lanczos-upscaled to --size; "+n3" adds sigma-3 luma noise as a stand-in for native detail.
  seam        score (median step, grey levels) and z against seam strength for four kinds of seam
              (luma step, per-tile gain %, isoluminant chroma shift, blurred 4-pixel band) at stride
              512, against JPEG quality, and on content that must not fire (tiled, mirrored,
              checkerboard), and one seam per axis with and without the record's tiling
  repetition  score against the number of pasted copies, and for a grid of one region at 512
              pixels, per photo, on HOG + colour stand-in tokens (no DINOv2 weights here)
  texture     GLCM, compression ratio and the noise estimate against noise, blur, down-up-scaling
              and JPEG quality
Writes <out>/validation_s<size>.json, one PNG plot per metric and <out>/README.md (tables), with the
machine named and the CPU seconds each part took. --parts runs some parts only; the others are kept
from the JSON of an earlier run at the same size (the machine named is the last run's).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SEAM_PHOTOS = ("astronaut", "coffee")
SEAM_KINDS = {"step": (1, 2, 4), "gain": (1, 2, 4), "chroma": (2, 4, 8), "blur": (1, 2, 3)}
JPEG_Q = (50, 20, 10)
TEXTURE_PHOTOS = ("astronaut", "rocket")  # GLCM + PNG cost 12 CPU s per 4096^2 image


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name"))
    except Exception:
        pass
    return {"host": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_at_start": os.getloadavg()}


def seam_part(size: int) -> dict:
    import numpy as np

    from ultrabench.metrics import photos as P
    from ultrabench.metrics import seams

    def row(img, **kw):
        f = seams.seam_features(img, **kw)
        return {"value": round(float(f[0]), 3), "z": round(float(f[1]), 2), "axis": int(f[2]), "stride": int(f[3]),
                "offset": int(f[4]), "kind": seams.KINDS[int(f[5])] if f[3] else None}

    out: dict = {"strength": {}, "jpeg": {}, "must_not_fire": {}, "known_tiling": {}}
    for name in SEAM_PHOTOS:
        img = P.photo(name, size, sigma=3)
        out["strength"][name] = {"clean": row(img)}
        for kind, strengths in SEAM_KINDS.items():
            out["strength"][name][kind] = {str(s): row(P.seam(img, kind, s, 512)) for s in strengths}
        out["jpeg"][name] = {str(q): row(P.jpeg(img, q)) for q in JPEG_Q}
    brick = P.photo("brick", 512)
    check = ((np.indices((size, size)) // 512).sum(0) % 2 * 120 + 60).astype(np.uint8)
    out["must_not_fire"] = {
        "brick tiled 8x8 (512)": row(np.tile(brick, (size // 512, size // 512, 1))),
        "brick mirror-tiled (512)": row(P.mirror_tiled(P.photo("brick", size), 512)),
        "checkerboard 512": row(np.repeat(check[..., None], 3, 2)),
        "grass (texture)": row(P.photo("grass", size, sigma=3)),
    }
    crop = P.photo("coffee", 2048, sigma=3)
    tall = P.photo("astronaut", size, sigma=3)[: size * 9 // 16]  # 2304 x 4096 at 4096
    for label, img, tiling in (("2048 crop, 1024 tiles (one seam per axis, step 2)", P.seam(crop, "step", 2, 1024), "1024/1024"),
                               ("2304 rows, 1024 tiles (two row seams, step 2)", P.seam(tall, "step", 2, 1024, axis=0),
                                "1024/1024"),
                               ("Sana: 1024 tiles at stride 896, step 2", P.seam(tall, "step", 2, 896, offset=128), "1024/896")):
        out["known_tiling"][label] = {"unknown": row(img), "from the record": row(img, tiling=tiling)}
    return out


def repetition_part(size: int) -> dict:
    from ultrabench.metrics import photos as P
    from ultrabench.metrics import repetition as rep

    def score(img):
        return round(float(rep.repetition_features(P.hog_tokens(img), size, size)[0]), 3)

    cell = size // 32  # one token
    box = (5 * cell, 5 * cell, 6 * cell, 6 * cell)  # a 6x6-token region, copied on the token grid
    out = {}
    for name in P.PHOTOS:
        img = P.photo(name, size)
        out[name] = {"kind": P.PHOTOS[name], "copies": {str(k): score(P.paste_copies(img, k, box)) for k in (0, 1, 2, 3, 4)},
                     "unaligned copies 3": score(P.paste_copies(img, 3)),
                     "grid 512": score(P.tiled_grid(img, size // 8)), "noise 3": score(P.add_noise(img, 3))}
    return out


def texture_part(size: int) -> dict:
    from ultrabench.metrics import photos as P
    from ultrabench.metrics import texture as T

    out = {}
    for name in TEXTURE_PHOTOS:
        img = P.photo(name, size)
        variants = {"native": img, "+n3": P.add_noise(img, 3), "blur 2": P.blur(img, 2), "down-up 4": P.down_up(img, 4),
                    "down-up 4 +n3": P.add_noise(P.down_up(img, 4), 3), "jpeg 50": P.jpeg(img, 50)}
        out[name] = {k: {"glcm": round(T.glcm_score(v), 4), "compression": round(T.compression_ratio(v), 3),
                         "noise_sigma": round(T.noise_sigma(v), 3)} for k, v in variants.items()}
    return out


def plots(res: dict, out: Path, size: int) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    s = res["seam"]
    fig, axes = plt.subplots(1, len(SEAM_KINDS) + 1, figsize=(4 * (len(SEAM_KINDS) + 1), 3.4))
    for ax, (kind, strengths) in zip(axes, SEAM_KINDS.items()):
        for name in SEAM_PHOTOS:
            ax.plot([0, *strengths], [s["strength"][name]["clean"]["value"]] +
                    [s["strength"][name][kind][str(x)]["value"] for x in strengths], "o-", label=name)
        ax.set_title(f"seam: {kind}")
        ax.set_xlabel({"step": "step (grey levels)", "gain": "gain (%)", "chroma": "chroma shift (grey levels)",
                       "blur": "band blur sigma (px)"}[kind])
        ax.set_ylabel("seam value (grey levels)")
    ax = axes[-1]
    for name in SEAM_PHOTOS:
        ax.plot(JPEG_Q, [s["jpeg"][name][str(q)]["value"] for q in JPEG_Q], "o-", label=name)
    ax.set_title("seam: JPEG, no seams")
    ax.set_xlabel("JPEG quality")
    ax.invert_xaxis()
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    files.append(f"seam_s{size}.png")
    fig.savefig(out / files[-1], dpi=90)
    plt.close(fig)

    r = res["repetition"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, v in r.items():
        ks = sorted(v["copies"], key=int)
        ax.plot([int(k) for k in ks], [v["copies"][k] for k in ks], "o-" if v["kind"] == "scene" else "s--", label=name)
    ax.set_xlabel("pasted copies")
    ax.set_ylabel("repetition (HOG stand-in tokens)")
    ax.set_title("repetition: scenes solid, textures dashed")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    files.append(f"repetition_s{size}.png")
    fig.savefig(out / files[-1], dpi=90)
    plt.close(fig)

    t = res["texture"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key in zip(axes, ("glcm", "compression", "noise_sigma")):
        labels = list(next(iter(t.values())))
        for name in t:
            ax.plot(range(len(labels)), [t[name][k][key] for k in labels], "o-", label=name)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
        ax.set_title({"glcm": "GLCM (higher = more detail)", "compression": "compression ratio (lower = more detail)",
                      "noise_sigma": "noise estimate (grey levels)"}[key])
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    files.append(f"texture_s{size}.png")
    fig.savefig(out / files[-1], dpi=90)
    plt.close(fig)
    return files


def readme(res: dict, files: list[str], size: int) -> str:
    from ultrabench.metrics.texture import NOISE_FLAG

    m = res["machine"]
    lines = [f"# The native-resolution metrics on real photographs ({size}x{size})", "",
             f"`benchmarks/validate_metrics.py --size {size}` on {m['host']} ({m['cpu']}, {m['cores']} cores, load "
             f"{m['loadavg_at_start'][0]:.1f} at start); CPU seconds: " +
             ", ".join(f"{k} {v:.0f}" for k, v in res["cpu_seconds"].items()) + ". Photographs: scikit-image's bundled "
             "ones, Lanczos-upscaled; '+n3' is sigma-3 luma noise. Raw numbers: "
             f"`validation_s{size}.json`.", ""]
    s = res["seam"]
    lines += ["## seam (`seam@step-null-v2`)", "", f"![seam](seam_s{size}.png)", "",
              "Value (median step at the detected lines, grey levels) / z, seams at stride 512, photos +n3:", "",
              "| photo | clean | " + " | ".join(f"{k} {x}" for k, xs in SEAM_KINDS.items() for x in xs) + " |",
              "|---|---|" + "---|" * sum(len(x) for x in SEAM_KINDS.values())]
    for name in SEAM_PHOTOS:
        d = s["strength"][name]
        cells = [f"{d['clean']['value']:.2f} / {d['clean']['z']:.1f}"]
        for kind, xs in SEAM_KINDS.items():
            for x in xs:
                c = d[kind][str(x)]
                ok = "" if c["stride"] in (0, 512) else f" (stride {c['stride']})"
                cells.append(f"{c['value']:.2f} / {c['z']:.1f}{ok}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "JPEG without seams (value / z): " + "; ".join(
        f"{n}: " + ", ".join(f"q{q} {s['jpeg'][n][str(q)]['value']:.2f}/{s['jpeg'][n][str(q)]['z']:.1f}" for q in JPEG_Q)
        for n in SEAM_PHOTOS) + ".", "", "Must not fire (value / z): " + "; ".join(
        f"{k} {v['value']:.2f}/{v['z']:.1f}" for k, v in s["must_not_fire"].items()) + ".", "",
        "Known tiling (value / z, stride, offset): unknown tiling -> from the record:", ""]
    for k, v in s["known_tiling"].items():
        u, r = v["unknown"], v["from the record"]
        lines.append(f"- {k}: {u['value']:.2f}/{u['z']:.1f} -> {r['value']:.2f}/{r['z']:.1f} "
                     f"(stride {r['stride']}, offset {r['offset']}, axis {'rows' if r['axis'] else 'columns'})")
    r = res["repetition"]
    lines += ["", "## repetition (`repetition@dinov2-block-s448-v2`, HOG + colour stand-in tokens)", "",
              f"![repetition](repetition_s{size}.png)", "",
              "| photo | kind | 0 copies | 1 | 2 | 3 | 4 | 3 unaligned | grid 512 | +n3 |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, v in r.items():
        lines.append(f"| {name} | {v['kind']} | " + " | ".join(f"{v['copies'][str(k)]:.3f}" for k in range(5)) +
                     f" | {v['unaligned copies 3']:.3f} | {v['grid 512']:.3f} | {v['noise 3']:.3f} |")
    lines += ["", "Copies are pasted on the 14-pixel token grid of the 448 view (6x6 tokens each): HOG is not "
              "shift-invariant, so unaligned copies (column '3 unaligned') say little about DINOv2. The threshold "
              "(FIRES) is unvalidated until real DINOv2 weights run it.", ""]
    t = res["texture"]
    lines += ["## GLCM, compression ratio and the noise estimate", "", f"![texture](texture_s{size}.png)", "",
              "GLCM / compression ratio / noise sigma (flag above %.1f):" % NOISE_FLAG, "",
              "| photo | " + " | ".join(next(iter(t.values()))) + " |", "|---|" + "---|" * len(next(iter(t.values())))]
    for name, v in t.items():
        lines.append(f"| {name} | " + " | ".join(f"{c['glcm']:.3f} / {c['compression']:.2f} / {c['noise_sigma']:.2f}"
                                               + (" **noise**" if c["noise_sigma"] > NOISE_FLAG else "")
                                               for c in v.values()) + " |")
    noised = [(n, k) for n, v in t.items() for k in v if "+n" in k]
    raised = sum(t[n][k]["glcm"] > t[n][k.split(" +n")[0] if " +n" in k else "native"]["glcm"] for n, k in noised)
    lowered = sum(t[n][k]["compression"] < t[n][k.split(" +n")[0] if " +n" in k else "native"]["compression"]
                  for n, k in noised)
    flagged = sum(t[n][k]["noise_sigma"] > NOISE_FLAG for n, k in noised)
    false = sum(c["noise_sigma"] > NOISE_FLAG for n, v in t.items() for k, c in v.items() if "+n" not in k)
    lines += ["", f"Added noise raises GLCM in {raised} of {len(noised)} noised variants and lowers the compression "
              f"ratio in {lowered} of {len(noised)} (both read noise as detail); the noise estimate beside them flags "
              f"{flagged} of the {len(noised)} and {false} of the other {sum(len(v) for v in t.values()) - len(noised)} "
              "variants.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--out", default="reports/validation")
    ap.add_argument("--parts", default="seam,repetition,texture")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"validation_s{a.size}.json"
    # parts not run this time are kept from an earlier run of the same size (each is self-contained)
    res: dict = json.loads(path.read_text()) if path.is_file() else {"cpu_seconds": {}}
    res.update(machine=machine(), size=a.size)
    for part, fn in (("seam", seam_part), ("repetition", repetition_part), ("texture", texture_part)):
        if part not in a.parts.split(","):
            continue
        t = time.process_time()
        res[part] = fn(a.size)
        res["cpu_seconds"][part] = time.process_time() - t
        print(f"{part}: {res['cpu_seconds'][part]:.0f} CPU s", flush=True)
    path.write_text(json.dumps(res, indent=1))
    if all(p in res for p in ("seam", "repetition", "texture")):
        files = plots(res, out, a.size)
        (out / "README.md").write_text(readme(res, files, a.size))
        print((out / "README.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
