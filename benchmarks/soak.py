"""Soak the CLI: the reliability state machine (tests/reliability_sequences.py) with new seeds for
as long as asked, and its figures (sequences, steps, invocations, faults injected by kind, invariant
failures with the shell commands reproducing each, shrunk) written as JSON.

    python benchmarks/soak.py --minutes 10 --out reports/reliability/soak.json

Each seed runs `--examples` sequences of up to `--steps` steps; a failing one is shrunk by
hypothesis (that can take minutes) and recorded, and the soak goes on with the next seed.
`--exec` starts every command as `python tests/cli_fault.py ...` instead of forking it from the
warm server (slower: every command pays the imports of torch and diffusers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))


def machine() -> str:
    cpu = platform.processor() or "unknown cpu"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.node()}: {cpu}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at start"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--examples", type=int, default=3, help="sequences per seed")
    ap.add_argument("--steps", type=int, default=8, help="steps per sequence at most")
    ap.add_argument("--seed", type=int, default=None, help="first seed (default: random)")
    ap.add_argument("--exec", action="store_true", help="exec every command instead of forking it")
    ap.add_argument("--out", type=Path, default=None, help="JSON file for the figures")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import hypothesis.core
    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

    import reliability_harness as H
    from reliability_sequences import CliSequences

    base = Path(tempfile.mkdtemp(prefix="ultrabench-soak-"))
    runner = H.Runner(exec_mode=args.exec, cache=base / "cache")
    figures = H.Figures()
    CliSequences.runner, CliSequences.figures, CliSequences.base = runner, figures, base
    first = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    seeds = []
    t0 = time.monotonic()
    began = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    where = machine()
    try:
        while time.monotonic() - t0 < args.minutes * 60:
            seed = first + len(seeds)
            seeds.append(seed)
            hypothesis.core.global_force_seed = seed
            try:
                run_state_machine_as_test(CliSequences, settings=settings(
                    max_examples=args.examples, stateful_step_count=args.steps, derandomize=False, database=None,
                    deadline=None, suppress_health_check=list(HealthCheck), print_blob=False))
                print(f"seed {seed}: {args.examples} sequences held ({time.monotonic() - t0:.0f} s)", flush=True)
            except Exception as e:  # an invariant failed: keep its shrunk reproduction, go on
                text = str(e)
                figures.failures.append({"seed": seed, "failure": text.splitlines()[0], "reproduce": text})
                print(f"seed {seed}: FAILED: {text.splitlines()[0]}", flush=True)
    finally:
        runner.close()
        shutil.rmtree(base, ignore_errors=True)
    out = {"machine": where, "began": began, "minutes": round((time.monotonic() - t0) / 60, 1),
           "mode": "exec" if args.exec else "fork-server", "seeds": seeds, "examples_per_seed": args.examples,
           "steps_per_sequence": args.steps, "command_seconds": round(runner.seconds, 1), **figures.as_dict()}
    print(json.dumps({k: v for k, v in out.items() if k != "failures"}, indent=2))
    for f in figures.failures:
        print(f"\n=== seed {f['seed']}\n{f['reproduce']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n")
    return 1 if figures.failures else 0


if __name__ == "__main__":
    sys.exit(main())
