"""How long `ultrabench demo` takes, as a new user runs it: a fresh process, a fresh run folder.

    .venv/bin/python benchmarks/perf_demo.py --runs 2 --out reports/perf

Each run is `python -m ultrabench -q demo --fresh --out <tmp>` in its own process with a cold
ultrabench cache for the first run only (stand-in weights are built once per cache, as on a
user's first demo; later runs reuse them, as a user's second demo does). Records the wall time, the
CPU seconds of the process, the stage times the demo prints, and the load average before and after
each run, because a wall time is only meaningful beside what else the machine was doing. Writes
<out>/perf_demo.json (appending one entry per invocation) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = re.compile(r"^(generate|score|report):.*\((\d+(?:\.\d+)?) s\)$")


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
        mem = f"{kb / 1024 ** 2:.0f} GB"
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "python": platform.python_version(),
            "platform": platform.platform(), "hostname": platform.node(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}


def one_run(cache: Path, work: Path) -> dict:
    env = dict(os.environ, ULTRABENCH_CACHE=str(cache), HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    load_before = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "ultrabench", "-q", "demo", "--fresh", "--out", str(work / "demo")],
                       capture_output=True, text=True, env=env, cwd=work)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"demo failed ({r.returncode}): {r.stderr.strip().splitlines()[-1:]}")
    stages = {m.group(1): float(m.group(2)) for line in r.stdout.splitlines() if (m := STAGE.match(line.strip()))}
    return {"wall_s": round(wall, 2), "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
            "stages_s": stages, "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2, help="demo runs; the first builds the stand-ins in a cold cache")
    ap.add_argument("--out", default="reports/perf")
    ap.add_argument("--note", default="", help="what else the machine was doing, in words (recorded)")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ubperf-demo-"))
    runs = [one_run(tmp / "cache", tmp) for _ in range(a.runs)]
    entry = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine(), "runs": runs,
             "note": a.note}
    out = Path(a.out) / "perf_demo.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(out.read_text()) if out.is_file() else []
    out.write_text(json.dumps(history + [entry], indent=2) + "\n")
    print(f"machine: {entry['machine']['cpu']}, {entry['machine']['cores']} cores, {entry['machine']['memory']}")
    print("| run | wall s | CPU s | generate s | score s | report s | load average before -> after (1 min) |")
    print("|---|---|---|---|---|---|---|")
    for i, r in enumerate(runs):
        s = r["stages_s"]
        print(f"| {i + 1}{' (cold cache)' if i == 0 else ''} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
              f"{s.get('generate', float('nan')):.1f} | {s.get('score', float('nan')):.1f} | "
              f"{s.get('report', float('nan')):.1f} | {r['loadavg_before'][0]:.2f} -> {r['loadavg_after'][0]:.2f} |")
    print(f"recorded in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
