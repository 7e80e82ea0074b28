"""Every official-code runner against the authors' own code: reports/official/.

    python benchmarks/official_baselines.py --checkouts /path/to/checkouts [--work DIR] [--only METHOD ...]

`--checkouts` (or env ULTRABENCH_OFFICIAL_CHECKOUTS) is a folder with one clone per method, named by
the method (scalecrafter/, fouriscale/, ...), each at the commit the method pins and with its venv
built by `ultrabench env create METHOD --repo PATH`. For every module of `benchmarks/official/`
(one per method) this runs

- `compare(checkouts, work)`: the authors' entry point, called as their README or script calls it,
  and `ultrabench generate` with the same prompt and seed, on a tiny random-weight base model built
  here, at a small size on the CPU; the images' max/mean absolute difference against the stated
  tolerance, or the exact line that stops the official code;
- `interface_check(checkout)`: our stand-in checkout (baselines/standin_checkouts.py) against the real
  code: entry-point names, signatures, size rules.

It writes reports/official/<method>.json and a summary reports/official/README.md, and exits 1 when a
comparison differs or an interface check finds a mismatch. Nothing of the checkouts is copied.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ENV = "ULTRABENCH_OFFICIAL_CHECKOUTS"


def run_one(module, checkouts: Path, work: Path) -> dict:
    """compare() and interface_check() of one method module; an exception becomes the result's error."""
    t0 = time.perf_counter()
    try:
        res = module.compare(checkouts, work)
    except Exception as e:  # a broken comparison is reported, the others still run
        from benchmarks.official._common import base_result

        res = base_result(module.METHOD, module.REPO, module.COMMIT)
        res.update(status="error", could_not_run=f"comparison raised {type(e).__name__}: {e}",
                   traceback=traceback.format_exc()[-3000:])
    res["seconds"] = round(time.perf_counter() - t0, 1)
    checkout = checkouts / module.METHOD
    if checkout.is_dir():
        try:
            res["interface_mismatches"] = list(module.interface_check(checkout))
        except Exception as e:
            res["interface_mismatches"] = [f"interface check raised {type(e).__name__}: {e}"]
    else:
        res["interface_mismatches"] = None  # not checked: no checkout
    return res


def normalise(res: dict) -> dict:
    """A result in the report's shape. The FLUX modules (hiflow, imax, ultraflux) return the flat
    contract (ran, commit, sizes, max_abs_diff, not_run_reason); the SDXL ones return runs[]."""
    if "status" in res:
        return res
    sizes = res.get("sizes") or {}
    size = "x".join(map(str, sizes.get("request") or ())) or None
    diff, tol = res.get("max_abs_diff"), res.get("tolerance")
    if not res.get("ran"):
        status = "could not run"
    else:
        status = "match" if diff is not None and tol is not None and diff <= tol else "differ"
    run = {"size": size, "seed": res.get("seed"), "max_abs_diff": diff, "mean_abs_diff": res.get("mean_abs_diff"),
           "official_size": "x".join(map(str, sizes.get("official") or ())) or None,
           "ultrabench_size": "x".join(map(str, sizes.get("ultrabench") or ())) or None,
           "ultrabench_info": res.get("ultrabench_settings")}
    notes = [f"{k}: {res[k]}" for k in ("dtype", "environment", "scheduler", "script_changes") if res.get(k)]
    return {**res, "status": status, "pinned_commit": res.get("commit") or "",
            # i22d's modules check out the pinned commit itself (git archive of the mirror at COMMIT)
            "checkout_commit": res.get("checkout_commit") or res.get("commit"), "could_not_run": res.get("not_run_reason"),
            "runs": [run] if res.get("ran") else [], "notes": notes}


def ok(res: dict) -> bool:
    return res.get("status") in ("match", "could not run", "no checkout") and not res.get("interface_mismatches")


def _cell(v) -> str:
    return "" if v is None else str(v).replace("|", "\\|").replace("\n", " ")


def summary(results: list[dict]) -> str:
    lines = ["# Official-code runners against the authors' repositories", "",
             "Written by `benchmarks/official_baselines.py`. Each runner is run beside the authors' own entry point "
             "(as their README or script calls it) on a tiny random-weight base model in the layout the real code "
             "loads, at a small size on the CPU, same prompt and seed; the images are compared pixel by pixel "
             "(0-255 levels). The interface check compares our stand-in checkout with the real code.", "",
             "A match shows that our runner, through `ultrabench generate`, calls the authors' code as their entry "
             "point does (same weights, settings, seeding, micro-conditioning, output) in the checkout's pinned "
             "environment; the comparison runs float32 on the CPU (their float16 does not run there), so GPU "
             "half-precision kernels are not part of it.", ""]
    lines += ["| method | repo | pinned commit | checkout | size | max abs diff | mean abs diff | tolerance | result | "
              "interface check |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        run = (r.get("runs") or [{}])[0]
        iface = r.get("interface_mismatches")
        iface_txt = "not run (no checkout)" if iface is None else ("ok" if not iface else f"{len(iface)} mismatch(es)")
        commit = r.get("checkout_commit")
        lines.append("| " + " | ".join(_cell(v) for v in (
            r["method"], r["repo"], r["pinned_commit"][:12], (commit or "")[:12] + ("" if commit in (None, r["pinned_commit"]) else " (differs)"),
            run.get("size"), run.get("max_abs_diff"), None if run.get("mean_abs_diff") is None else f"{run['mean_abs_diff']:.4f}",
            r.get("tolerance"), r.get("status"), iface_txt)) + " |")
    lines.append("")
    for r in results:
        lines += [f"## {r['method']}", ""]
        lines.append(f"- repo: github.com/{r['repo']} at `{r['pinned_commit']}`; checkout at `{r.get('checkout_commit')}`")
        if r.get("versions"):
            lines.append("- checkout's environment: " + ", ".join(f"{k} {v}" for k, v in sorted(r["versions"].items())))
        if r.get("model"):
            lines.append(f"- model: {r['model']}")
        for run in r.get("runs") or []:
            if run.get("entry_point"):
                lines.append(f"- official entry point: {run['entry_point']}")
            prompt = f", prompt \"{run['prompt']}\"" if run.get("prompt") else ""
            lines.append(f"- size {run.get('size')}, seed {run.get('seed')}{prompt}: "
                         f"official {run.get('official_size')}, ultrabench {run.get('ultrabench_size')}, max abs diff "
                         f"{run.get('max_abs_diff')}, mean {run.get('mean_abs_diff')}, differing pixels "
                         f"{run.get('differing_pixels')}")
            if run.get("ultrabench_info"):
                lines.append(f"- what ultrabench's runner recorded: `{json.dumps(run['ultrabench_info'], sort_keys=True)}`")
        if r.get("tolerance") is not None:
            lines.append(f"- tolerance {r['tolerance']}: {r.get('tolerance_why')}")
        if r.get("could_not_run"):
            lines.append(f"- could not run: `{r['could_not_run']}`")
        if r.get("commit_note"):
            lines.append(f"- note: {r['commit_note']}")
        for note in r.get("notes") or []:
            lines.append(f"- note: {note}")
        iface = r.get("interface_mismatches")
        if iface is None:
            lines.append("- interface check: not run (no checkout)")
        elif not iface:
            lines.append("- interface check: the stand-in's entry points, signatures and size rules agree with the real code")
        else:
            lines.append("- interface check, mismatches:")
            lines += [f"  - {m}" for m in iface]
        lines.append(f"- machine: {r.get('machine')}; {r.get('seconds')} s")
        lines.append("")
    return "\n".join(lines)


def write_reports(results: list[dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for r in results:
        (out / f"{r['method']}.json").write_text(json.dumps(r, indent=1, default=str) + "\n")
    # The summary covers every report in the folder, so a run of one method keeps the others' rows.
    every = {r["method"]: r for r in (json.loads(p.read_text()) for p in sorted(out.glob("*.json")))}
    every.update({r["method"]: r for r in results})
    every = {k: normalise(r) for k, r in every.items()}
    (out / "README.md").write_text(summary([every[k] for k in sorted(every)]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkouts", default=os.environ.get(ENV), help=f"folder of checkouts named by method (env {ENV})")
    ap.add_argument("--work", default=None, help="scratch folder (tiny model, images, logs); default a temp folder")
    ap.add_argument("--out", default=str(ROOT / "reports" / "official"))
    ap.add_argument("--only", nargs="*", default=None, help="methods to run (default all modules)")
    args = ap.parse_args(argv)
    if not args.checkouts:
        print(f"error: no checkouts folder: pass --checkouts or set {ENV}", file=sys.stderr)
        return 2
    checkouts = Path(args.checkouts).expanduser()
    if not checkouts.is_dir():
        print(f"error: --checkouts {checkouts} is not a folder", file=sys.stderr)
        return 2
    from benchmarks.official import method_modules

    modules = [m for m in method_modules() if not args.only or m.METHOD in args.only]
    unknown = set(args.only or ()) - {m.METHOD for m in modules}
    if unknown:
        print(f"error: no module for {', '.join(sorted(unknown))} in benchmarks/official/", file=sys.stderr)
        return 2
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="ultrabench-official-"))
    results = []
    for m in modules:
        print(f"{m.METHOD}: comparing with github.com/{m.REPO} ...", flush=True)
        r = run_one(m, checkouts, work)
        run = (r.get("runs") or [{}])[0]
        print(f"{m.METHOD}: {r['status']} (max abs diff {run.get('max_abs_diff')}; "
              f"interface {'ok' if not r['interface_mismatches'] else r['interface_mismatches']})"
              + (f"; {r['could_not_run']}" if r.get("could_not_run") else ""), flush=True)
        results.append(r)
    write_reports(results, Path(args.out))
    print(f"wrote {args.out}/README.md")
    return 0 if all(ok(normalise(r)) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
