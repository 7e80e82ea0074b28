"""Command sequences under injected faults, checked against invariants on disk (issue #25).

The pieces the stateful test (tests/test_reliability_stateful.py), the regression tests and
`benchmarks/soak.py` share:

- `Sandbox`: one example's folders, on a small tmpfs of its own where this process may mount one
  (so a disk can fill and a folder can turn read-only for real), else in a plain folder (then those
  two faults are skipped and counted as such).
- `Runner`: runs `ultrabench ...` as a process of its own: forked from a warm server
  (tests/cli_zygote.py) or, with `exec_mode`, started as `python tests/cli_fault.py ...`. A fault
  is a signal at the k-th file-system write (tests/cli_fault.py), a disk filled up to a few
  kilobytes, the sandbox remounted read-only, or a second command at the same time.
- `Machine`: the steps (generate, score, report, compare, import, image deletion and truncation)
  and, after each, the invariants: every PNG decodes; every record names its unit's spec; every
  number of summary.json and table1.json comes from the current spec's current images or is
  marked stale, with the N it used; no temporary file, lock or process of a dead command outlives
  the next command; nothing is written outside the run folder and the named outputs; a command
  interrupted and rerun to completion leaves the same files (sha256) and numbers as its
  uninterrupted twin, run on a copy of the folders as they were before it.
- `script(steps)`: the shell commands that reproduce a sequence.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
REPO = Path(os.environ.get("RELIABILITY_REPO", TESTS.parent))  # the code under test
PY = sys.executable

RES = "64x64"
METHODS = ("tiny-sd", "tiny-sd-sr")
# the cheapest metrics whose N is the number of images: no patch metric (64 px is below a crop)
METRICS = ("fid", "kid", "is", "clip", "glcm", "compression-ratio")
REFERENCE_METRICS = ("fid", "kid")
QUALITY_EXCLUDED = ("latency", "memory")  # timings differ between any two runs; never compared
FOLDERS = ("run", "run2", "rep", "cmp", "refA", "refB", "src")
OUTPUTS = ("run", "run2", "rep", "cmp")  # where commands may write (the rest is input)
TMPFS_BYTES = 48 << 20


class InvariantError(AssertionError):
    pass


# ------------------------------------------------------------------------------------------------
# commands and steps
@dataclass(frozen=True)
class Cmd:
    """One `ultrabench` invocation: its arguments after `ultrabench`, and the folders it writes."""

    argv: tuple[str, ...]
    writes: tuple[str, ...]
    kind: str

    def shell(self, prefix: str = "python -m ultrabench", status: bool = False) -> str:
        line = f"{prefix} {' '.join(shlex.quote(a) for a in self.argv)}"
        return f'{line} || echo "exit $?"' if status else line  # an interrupted command does not end the script


def gen_cmd(folder="run", methods=("tiny-sd",), n=2, seed=0, mode=None, retry=False, shard=None) -> Cmd:
    argv = ["--device", "cpu", "-q", "generate", "-m", ",".join(methods), "--res", RES, "-n", str(n),
            "--seed", str(seed), "--out", folder]
    if mode:
        argv.append(f"--{mode}")
    if retry:
        argv.append("--retry-failed")
    if shard:
        argv += ["--shard", shard]
    return Cmd(tuple(argv), (folder,), "generate")


def score_cmd(folder="run", metrics=METRICS, reference="refA", workers=0) -> Cmd:
    argv = ["--device", "cpu", "-q", "score", folder, "--stand-ins", "--workers", str(workers), "--metric",
            ",".join(metrics)]
    if reference:
        argv += ["--reference", reference]
    return Cmd(tuple(argv), (folder,), "score")


def report_cmd(folder="run", out=None) -> Cmd:
    argv = ["-q", "report", folder, "-f", "json,md"]
    if out:
        argv += ["--out", out]
    return Cmd(tuple(argv), (out or folder,), "report")


def compare_cmd(a="run", b="run2", out="cmp") -> Cmd:
    return Cmd(("-q", "compare", a, b, "-f", "json", "--out", out, "--reference-method", "tiny-sd"), (out,), "compare")


def import_cmd(folder="run", name="mine") -> Cmd:
    return Cmd(("import", name, "src", "--mapping", "src/map.csv", "--res", RES, "--out", folder), (folder,), "import")


@dataclass(frozen=True)
class Fault:
    """kind: KILL, INT, TERM (a signal at write `at`, of operation `only` on a path containing
    `match` when given: see tests/cli_fault.py), full (`at` bytes left free), ro (read-only)."""

    kind: str
    at: int = 0
    only: str | None = None
    match: str | None = None

    @property
    def signal(self) -> list | None:
        return [self.kind, self.at, self.only, self.match] if self.kind in ("KILL", "INT", "TERM") else None

    def flags(self) -> str:
        extra = (f" --only {self.only}" if self.only else "") + (f" --match {shlex.quote(self.match)}" if self.match else "")
        return f"--signal {self.kind} --at-write {self.at}{extra}"

    def __str__(self) -> str:
        where = (f" {self.only}" if self.only else "") + (f" of {self.match}" if self.match else "")
        return {"full": f"disk full ({self.at} bytes free)", "ro": "read-only"}.get(
            self.kind, f"SIG{self.kind}@write{self.at}{where}")


@dataclass(frozen=True)
class Step:
    """A command (with an optional fault), two commands at once, or damage done to an image."""

    cmd: Cmd | None = None
    fault: Fault | None = None
    other: Cmd | None = None  # run at the same time as cmd
    damage: tuple[str, str, int] | None = None  # ("delete" | "truncate", folder, image index)

    def describe(self) -> str:
        if self.damage:
            return f"{self.damage[0]} image #{self.damage[2]} of {self.damage[1]}"
        if self.other:
            return f"{self.cmd.kind} & {self.other.kind} at once"
        return f"{self.cmd.kind}" + (f" under {self.fault}" if self.fault else "")


def script(steps: list[Step], root: str = "$S") -> str:
    """The shell commands reproducing `steps` in a fresh sandbox ($S: a tmpfs, see `Sandbox`)."""
    fault = f"python {TESTS / 'cli_fault.py'}"
    lines = [
        "# a fresh sandbox: S=$(mktemp -d) && mount -t tmpfs -o size=48m tmpfs $S, then the inputs",
        f"python {TESTS / 'reliability_harness.py'} sandbox $S",
        f"mkdir -p {root}.tmp && cd {root} && export PYTHONPATH={REPO} OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 "
        f"TMPDIR={root}.tmp ULTRABENCH_CACHE={root}.cache",
    ]
    for s in steps:
        lines.append(f"# {s.describe()}")
        run = [] if s.cmd is None else [s.cmd.shell(status=True)]
        if s.damage:
            kind, folder, i = s.damage
            pick = f"$(ls {folder}/*/{RES}/*.png | sort | sed -n {i + 1}p)"
            lines.append(f"rm -f {pick}" if kind == "delete" else f"truncate -s 100 {pick}")
        elif s.other:
            lines.append(f"{s.cmd.shell()} & {s.other.shell()} & wait")
            lines += run + [s.other.shell(status=True)]  # each rerun to completion
        elif s.fault is None:
            lines += run
        elif s.fault.kind == "full":
            lines.append(f"fallocate -l $(( $(df --output=avail -B1 {root} | tail -1) - {s.fault.at} )) {root}/.ballast")
            lines += run + [f"rm {root}/.ballast"] + run
        elif s.fault.kind == "ro":
            lines += [f"mount -o remount,ro {root}"] + run + [f"mount -o remount,rw {root}"] + run
        else:
            lines += [s.cmd.shell(f"{fault} {s.fault.flags()} --", status=True)] + run
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# running commands
class Runner:
    """Starts CLI processes (forked from a warm server, or exec'd) and waits for them."""

    def __init__(self, exec_mode: bool = False, cache: Path | None = None):
        self.exec_mode = exec_mode
        self.cache = cache  # the user cache of the sandboxes: the server builds the tokenizer there first
        self.proc = None
        self.invocations = 0
        self.seconds = 0.0

    def _server(self):
        if self.proc is None or self.proc.poll() is not None:
            env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
                   **({"ULTRABENCH_CACHE": str(self.cache)} if self.cache else {})}
            self.proc = subprocess.Popen([PY, str(TESTS / "cli_zygote.py")], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True, env=env, cwd=str(REPO))
            ready = self.proc.stdout.readline()
            if not ready:
                raise RuntimeError("the CLI fork server did not start")
        return self.proc

    def _ask(self, req: dict) -> dict:
        p = self._server()
        p.stdin.write(json.dumps(req) + "\n")
        p.stdin.flush()
        return json.loads(p.stdout.readline())

    def start(self, cmd: Cmd, sandbox: "Sandbox", fault: Fault | None = None, tag: str = "") -> dict:
        self.invocations += 1
        sig = fault.signal if fault else None
        log = sandbox.logs / f"{self.invocations:04d}-{cmd.kind}{tag}"
        h = {"cmd": cmd, "out": f"{log}.out", "err": f"{log}.err", "t0": time.monotonic()}
        if self.exec_mode:
            argv = [PY, str(TESTS / "cli_fault.py")] + (shlex.split(fault.flags()) if sig else [])
            with open(h["out"], "w") as o, open(h["err"], "w") as e:
                h["popen"] = subprocess.Popen(argv + ["--", *cmd.argv], cwd=sandbox.fs, env=sandbox.env(),
                                              stdout=o, stderr=e, stdin=subprocess.DEVNULL, start_new_session=True)
            h["pid"] = h["popen"].pid
        else:
            h["pid"] = self._ask({"op": "start", "argv": list(cmd.argv), "cwd": str(sandbox.fs), "env": sandbox.env(),
                                  "out": h["out"], "err": h["err"], "fault": sig})["pid"]
        return h

    def wait(self, h: dict) -> int:
        rc = h["popen"].wait() if self.exec_mode else self._ask({"op": "wait", "pid": h["pid"]})["rc"]
        self.seconds += time.monotonic() - h["t0"]
        h["rc"] = rc
        return rc

    def run(self, cmd: Cmd, sandbox: "Sandbox", fault: Fault | None = None, tag: str = "") -> dict:
        h = self.start(cmd, sandbox, fault, tag)
        self.wait(h)
        return h

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.write(json.dumps({"op": "exit"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        self.proc = None


def output(h: dict) -> str:
    return Path(h["out"]).read_text(errors="replace") + Path(h["err"]).read_text(errors="replace")


# ------------------------------------------------------------------------------------------------
# the sandbox
def can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None


class Sandbox:
    """One example's folders: `fs` (a tmpfs when mountable) holds the run folders, the inputs and
    the named outputs; TMPDIR and the logs sit beside it, the user cache is shared."""

    def __init__(self, root: Path, cache: Path, mount: bool | None = None):
        self.root = Path(root)
        self.fs = self.root / "fs"
        self.tmp = self.root / "tmp"
        self.logs = self.root / "logs"
        self.cache = Path(cache)
        for p in (self.fs, self.tmp, self.logs, self.cache):
            p.mkdir(parents=True, exist_ok=True)
        self.mounted = False
        if mount is None:
            mount = can_mount()
        if mount:
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(self.fs)],
                               capture_output=True)
            self.mounted = r.returncode == 0
        make_inputs(self.fs)

    def env(self) -> dict:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "USER")}
        return {**keep, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TMPDIR": str(self.tmp),
                "ULTRABENCH_CACHE": str(self.cache), "TORCHINDUCTOR_CACHE_DIR": str(self.cache / "torchinductor")}

    def set_readonly(self, ro: bool) -> None:
        subprocess.run(["mount", "-o", f"remount,{'ro' if ro else 'rw'}", str(self.fs)], check=True)

    def fill(self, leave: int) -> Path:
        st = os.statvfs(self.fs)
        ballast = self.fs / ".ballast"
        with open(ballast, "wb") as f:
            size = max(0, st.f_bavail * st.f_frsize - leave)
            chunk = b"\0" * (1 << 20)
            while size > 0:
                try:
                    f.write(chunk[: min(size, len(chunk))])
                    f.flush()
                except OSError:
                    break
                size -= len(chunk)
        return ballast

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.fs)], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def make_inputs(fs: Path) -> None:
    """Two reference sets, and a folder of images to import with its mapping (commands run in `fs`)."""
    import numpy as np
    from PIL import Image

    from ultrabench.prompts import load_prompts, sample_prompts

    for name, base in (("refA", 0), ("refB", 100)):
        d = fs / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(4):
            rng = np.random.default_rng(base + i)
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(d / f"r{i}.png")
    src = fs / "src"
    src.mkdir(exist_ok=True)
    ids = [p.id for p in sample_prompts(load_prompts("builtin"), 2, 0, "builtin")]
    for i, pid in enumerate(ids):
        rng = np.random.default_rng(500 + i)
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(src / f"img{i}.png")
    (src / "map.csv").write_text("prompt_id,file\n" + "".join(f"{pid},img{i}.png\n" for i, pid in enumerate(ids)))


# ------------------------------------------------------------------------------------------------
# what is on disk
def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    out = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts and rel.parts[0] in skip:
            continue
        if p.is_file() and not p.is_symlink():
            out[str(rel)] = sha(p)
    return out


def is_leftover(p: Path) -> bool:
    """A temporary file or a claim, whatever its writer's naming (an empty `.lock` is an flock file,
    which holds no claim: the kernel releases it with its process)."""
    name = p.name
    if name.endswith(".lock"):
        try:
            return p.stat().st_size > 0
        except FileNotFoundError:
            return False
    return name.startswith(".tmp") or ".tmp" in name or ".lock.stale" in name or name.startswith(".write-probe")


def decodes(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
        return True
    except Exception:
        return False


def unit_records(run: Path) -> list[tuple[Path, dict]]:
    out = []
    if not run.is_dir():
        return out
    for rp in sorted(run.glob(f"*/{RES}/*.json")):
        if rp.parts[-3] in ("scores", "report"):
            continue
        out.append((rp, json.loads(rp.read_text())))
    return out


def current_images(run: Path) -> dict[tuple[str, str], list[str]]:
    """(method, resolution) -> sorted sha256 of the decodable images of the run's current spec,
    worked out here from run.json and the records (not with the code under test)."""
    from ultrabench.seeding import unit_seed

    info = json.loads((run / "run.json").read_text()) if (run / "run.json").is_file() else {}
    spec = info.get("spec") or {}
    ids = set(info.get("prompt_ids") or ())
    settings = info.get("settings") or {}
    seeds = {(pid, unit_seed(int(spec.get("seed", 0)), pid, k), k) for pid in ids
             for k in range(int(spec.get("samples_per_prompt", 1)))}
    out: dict[tuple[str, str], list[str]] = {}
    for rp, rec in unit_records(run):
        if rec.get("status") != "ok" or not rec.get("image"):
            continue
        if rec.get("kind") == "import":
            if info and rec["prompt_id"] not in ids:
                continue
        elif info:
            known = settings.get(rec["method"], {}).get("hash")
            if known and rec.get("settings_hash") != known:
                continue
            if (rec["prompt_id"], int(rec["seed"]), int(rec.get("sample_index", 0))) not in seeds:
                continue
        img = rp.parent / rec["image"]
        if img.is_file():
            out.setdefault((rec["method"], rec["resolution"]), []).append(sha(img) if decodes(img) else "unreadable")
    return {k: sorted(v) for k, v in out.items()}


def readable(shas: list[str]) -> int:
    return sum(1 for s in shas if s != "unreadable")


# -- the fingerprint two runs of one command must share --------------------------------------------
VOLATILE_RECORD = {"batch_seconds", "seconds", "finished_at", "peak_memory_bytes", "stages", "warmup", "memory_kind",
                   "batch_size", "traceback", "source_file"}


def _round(x):
    if isinstance(x, float):
        return None if math.isnan(x) else float(f"{x:.12g}")
    if isinstance(x, list):
        return [_round(v) for v in x]
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    return x


def fingerprint(fs: Path, folder: str) -> dict[str, Any]:
    """Files and numbers of one output folder, without what legitimately differs between two runs
    (timings, timestamps, invocation history, caches)."""
    root = fs / folder
    out: dict[str, Any] = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        rel = str(p.relative_to(root))
        parts = p.relative_to(root).parts
        if parts[0] == "scores" and (len(parts) > 1 and parts[1] in ("cache", "shards")):
            continue
        if p.name in ("invocations.jsonl",) or "figures" in parts or p.suffix in (".html", ".md", ".tex", ".csv"):
            continue
        if p.name == "run.json":
            d = json.loads(p.read_text())
            out[rel] = {k: d.get(k) for k in ("spec", "work", "prompt_ids", "settings")}
        elif p.name == "summary.json":
            out[rel] = _summary_numbers(json.loads(p.read_text()))
        elif p.name == "table1.json":
            out[rel] = _table_numbers(json.loads(p.read_text()))
        elif p.suffix == ".parquet":
            import pandas as pd

            df = pd.read_parquet(p)
            out[rel] = _round(sorted(json.loads(df.to_json(orient="records")), key=lambda r: r["image"]))
        elif p.suffix == ".json" and len(parts) == 3:
            out[rel] = {k: v for k, v in json.loads(p.read_text()).items() if k not in VOLATILE_RECORD}
        else:
            out[rel] = sha(p)
    return out


def _summary_numbers(s: dict) -> dict:
    def entries(key, drop=("units_digest", "reference_digest")):
        return sorted((_round({k: v for k, v in e.items() if k not in drop}) for e in s.get(key) or []),
                      key=lambda e: json.dumps(e, sort_keys=True))

    return {"metrics": sorted(s.get("metrics") or []), "sets": entries("sets"), "winrates": entries("winrates"),
            "not_computed": entries("not_computed"), "skipped": s.get("skipped"),
            "units": [{k: u[k] for k in ("method", "resolution", "units", "ok")} for u in s.get("units") or []],
            "status": s.get("status"), "reference": (s.get("reference") or {}).get("cache_key")}


def _table_numbers(t: dict) -> dict:
    return {f"{r['method']} {r['resolution']}": {"n": r.get("n"), **{
        k: _round({f: c.get(f) for f in ("value", "n", "ci95", "stale")}) for k, c in r["cells"].items()
        if k not in QUALITY_EXCLUDED}} for r in t["rows"]}


# Features a network computes for an image differ in their last bits with the batch it was computed
# in (the GEMM kernel chosen for the batch's shape), and the cache keeps each image's first ones: a
# score resumed after an interruption batched its images otherwise than its twin did. Numbers are
# the same to this relative tolerance (measured: 8e-8 on CLIP score's interval), files exactly.
REL_TOL = 1e-6


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, (int, float)) or isinstance(b, float) and isinstance(a, (int, float)):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def diff(a: dict, b: dict, limit: int = 6) -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        if not same(a.get(k), b.get(k)):
            out.append(f"{k}: {json.dumps(a.get(k), default=str)[:400]} != {json.dumps(b.get(k), default=str)[:400]}")
    return out[:limit]


# ------------------------------------------------------------------------------------------------
@dataclass
class Figures:
    """What a soak or test run did: sequences, steps, faults by kind (fired or not), invocations."""

    sequences: int = 0
    steps: int = 0
    invocations: int = 0
    faults: Counter = field(default_factory=Counter)
    faults_not_fired: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"sequences": self.sequences, "steps": self.steps, "invocations": self.invocations,
                "faults_fired": dict(self.faults), "faults_not_fired": dict(self.faults_not_fired),
                "skipped": dict(self.skipped), "failures": self.failures}


class Machine:
    """Executes steps in one sandbox and checks the invariants after each."""

    def __init__(self, runner: Runner, sandbox: Sandbox, figures: Figures | None = None):
        self.r, self.s = runner, sandbox
        self.fig = figures or Figures()
        self.steps: list[Step] = []
        # metric -> (method, res) -> the sha256 list of the images its latest values were computed on
        self.scored: dict[str, dict[tuple[str, str], list[str]]] = {}
        self.scored_ref: dict[str, str] = {}
        self.damaged: set[str] = set()  # images this harness truncated (they are allowed not to decode)
        self.spec = {"run": None, "run2": None}  # (n, seed) of each run folder's spec, once made

    # -- helpers --------------------------------------------------------------------------------
    @property
    def fs(self) -> Path:
        return self.s.fs

    def images(self, folder: str) -> list[Path]:
        return sorted((self.fs / folder).glob(f"*/{RES}/*.png"))

    def fail(self, what: str) -> None:
        raise InvariantError(f"{what}\n--- after steps:\n" + "\n".join(f"  {s.describe()}" for s in self.steps)
                             + "\n--- reproduce with:\n" + script(self.steps))

    # -- the steps ------------------------------------------------------------------------------
    def do(self, step: Step) -> None:
        self.steps.append(step)
        self.fig.steps += 1
        before = self._outside_snapshot(step)
        inv0 = self.r.invocations
        if step.damage:
            self._damage(*step.damage)
        elif step.other:
            self._concurrent(step.cmd, step.other)
        else:
            self._command(step.cmd, step.fault)
        self.fig.invocations += self.r.invocations - inv0
        self.check(step, before)

    def _damage(self, kind: str, folder: str, i: int) -> None:
        imgs = self.images(folder)
        if not imgs:
            return
        img = imgs[i % len(imgs)]
        if kind == "delete":
            img.unlink()
        else:
            with open(img, "r+b") as f:
                f.truncate(100)
            self.damaged.add(str(img))

    def _copy_outputs(self, dest: Path) -> None:
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        for name in OUTPUTS:
            if (self.fs / name).exists():
                shutil.copytree(self.fs / name, dest / name, symlinks=True, copy_function=shutil.copy2)

    def _swap_in(self, saved: Path) -> Path:
        """Put the saved folders in place; return where the current ones went."""
        aside = self.s.root / "aside"
        shutil.rmtree(aside, ignore_errors=True)
        aside.mkdir()
        for name in OUTPUTS:
            if (self.fs / name).exists():
                shutil.move(str(self.fs / name), str(aside / name))
            if (saved / name).exists():
                shutil.move(str(saved / name), str(self.fs / name))
        return aside

    def _run_clean(self, cmd: Cmd, tag: str = "") -> dict:
        h = self.r.run(cmd, self.s, tag=tag)
        self._after_command(h, clean_run=True)
        return h

    def _command(self, cmd: Cmd, fault: Fault | None) -> None:
        if fault is None:
            self._run_clean(cmd)
            return
        if fault.kind in ("full", "ro") and not self.s.mounted:
            self.fig.skipped[fault.kind] += 1
            self._run_clean(cmd)
            return
        pre = self.s.root / "pre"
        self._copy_outputs(pre)
        before_files = {n: snapshot(self.fs / n) for n in cmd.writes}
        ballast = None
        if fault.kind == "full":
            ballast = self.s.fill(fault.at)
        elif fault.kind == "ro":
            self.s.set_readonly(True)
        try:
            h = self.r.run(cmd, self.s, fault, tag="-fault")
        finally:
            if ballast is not None:
                ballast.unlink()
            if fault.kind == "ro":
                self.s.set_readonly(False)
        rc = h["rc"]
        fired = self._fired(h, fault)
        (self.fig.faults if fired else self.fig.faults_not_fired)[fault.kind] += 1
        self._after_command(h, clean_run=False, fault=fault)
        if fault.kind in ("full", "ro") and rc != 0:
            self._nothing_lost(cmd, before_files)
        if not fired:  # it ran to completion: it is its own twin
            self._after_command(h, clean_run=True)
            return
        self._against_twin([cmd], pre, f"{cmd.kind} interrupted ({fault}, exit {rc}) and rerun differs from its "
                                        "uninterrupted twin")

    def _against_twin(self, cmds: list[Cmd], pre: Path, what: str) -> None:
        """Rerun `cmds` to completion here, then run them uninterrupted on the folders as they were
        before the step (`pre`), at the same paths; both must leave the same files and numbers. The
        interrupted history is the one kept."""
        for c in cmds:
            self._run_clean(c, tag="-rerun")
        mine = {n: fingerprint(self.fs, n) for n in OUTPUTS}
        aside = self._swap_in(pre)
        try:
            for c in cmds:
                self._run_clean(c, tag="-twin")
            twin = {n: fingerprint(self.fs, n) for n in OUTPUTS}
        finally:
            for name in OUTPUTS:
                shutil.rmtree(self.fs / name, ignore_errors=True)
                if (aside / name).exists():
                    shutil.move(str(aside / name), str(self.fs / name))
        for name in OUTPUTS:
            d = diff(mine[name], twin[name])
            if d:
                self.fail(f"{what} in {name}/:\n  " + "\n  ".join(d))

    def _fired(self, h: dict, fault: Fault) -> bool:
        rc = h["rc"]
        if fault.kind == "KILL":
            return rc == -signal.SIGKILL
        if fault.kind == "TERM":
            return rc == -signal.SIGTERM
        if fault.kind == "INT":
            return rc == 130
        return rc != 0

    def _concurrent(self, a: Cmd, b: Cmd) -> None:
        pre = self.s.root / "pre"
        self._copy_outputs(pre)
        ha = self.r.start(a, self.s, tag="-a")
        hb = self.r.start(b, self.s, tag="-b")
        self.r.wait(ha)
        self.r.wait(hb)
        self.fig.faults["concurrent"] += 1
        for h in (ha, hb):
            if h["rc"] not in (0, 1, 2):
                self.fail(f"{h['cmd'].kind} run beside another exited {h['rc']}:\n{output(h)[-2000:]}")
            self._after_command(h, clean_run=False)
        order = sorted((a, b), key=lambda c: ["generate", "import", "score", "report", "compare"].index(c.kind))
        self._against_twin(order, pre, f"{a.kind} and {b.kind} run at once, then rerun, differ from running them "
                                       "one after the other")

    # -- after each command -----------------------------------------------------------------------
    def _after_command(self, h: dict, clean_run: bool, fault: Fault | None = None) -> None:
        cmd, rc = h["cmd"], h["rc"]
        self._no_survivors(h)
        if clean_run:
            if rc not in (0, 1, 2):
                self.fail(f"`{cmd.shell()}` exited {rc}:\n{output(h)[-3000:]}")
            if rc == 1 and cmd.kind != "import":
                self.fail(f"`{cmd.shell()}` failed (exit 1) with no fault:\n{output(h)[-3000:]}")
            if cmd.kind in ("generate", "score", "import"):
                for folder in cmd.writes:
                    self._no_leftovers(folder, h)
        if rc == 0 and cmd.kind == "score":
            self._note_scored(cmd)
        if rc == 0 and cmd.kind in ("report", "compare"):
            self._check_table(cmd)
        if rc == 0 and cmd.kind == "generate":
            self.damaged -= {p for p in self.damaged if not Path(p).exists() or decodes(Path(p))}

    def _no_survivors(self, h: dict) -> None:
        """No process of the command's group is left once it has ended (decode workers die with it)."""
        pgid = h["pid"]
        deadline = time.monotonic() + 10
        while True:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            except PermissionError:
                return
            if time.monotonic() > deadline:
                os.killpg(pgid, signal.SIGKILL)
                self.fail(f"processes of `{h['cmd'].shell()}` (group {pgid}) outlived it by 10 s")
            time.sleep(0.1)

    def _no_leftovers(self, folder: str, h: dict) -> None:
        root = self.fs / folder
        left = [str(p.relative_to(self.fs)) for p in root.rglob("*") if is_leftover(p)] if root.exists() else []
        if left:
            self.fail(f"`{h['cmd'].shell()}` (exit {h['rc']}) left temporary files or claims of dead processes: "
                      f"{left[:5]}")
        tmp = list(self.s.tmp.iterdir())
        if tmp:
            self.fail(f"`{h['cmd'].shell()}` left files in TMPDIR: {[p.name for p in tmp][:5]}")

    def _nothing_lost(self, cmd: Cmd, before: dict[str, dict[str, str]]) -> None:
        """A command stopped by a full or read-only disk keeps every image and record already written."""
        for folder, files in before.items():
            now = snapshot(self.fs / folder)
            lost = [f for f, h in files.items() if f.endswith((".png", ".json")) and "/" in f and
                    not f.startswith(("scores/", "report/")) and now.get(f) != h]
            if lost and "--new-spec" not in cmd.argv:
                self.fail(f"`{cmd.shell()}` stopped by a full or read-only disk changed or lost files already "
                          f"written: {lost[:5]}")

    def _note_scored(self, cmd: Cmd) -> None:
        folder = cmd.writes[0]
        metrics = cmd.argv[cmd.argv.index("--metric") + 1].split(",")
        ref = cmd.argv[cmd.argv.index("--reference") + 1] if "--reference" in cmd.argv else None
        imgs = current_images(self.fs / folder)
        for m in metrics:
            if m in REFERENCE_METRICS and ref is None:
                continue
            self.scored.setdefault(folder, {})[m] = imgs
        if ref is not None and any(m in REFERENCE_METRICS for m in metrics):  # else the reference is not read
            old = self.scored_ref.get(folder)
            if old is not None and old != ref:  # values against the other reference are dropped
                for m in REFERENCE_METRICS:
                    if m not in metrics:
                        self.scored.get(folder, {}).pop(m, None)
            self.scored_ref[folder] = ref

    # -- the invariants ---------------------------------------------------------------------------
    def _outside_snapshot(self, step: Step) -> dict[str, dict[str, str]]:
        writes = set()
        for c in (step.cmd, step.other):
            if c is not None:
                writes |= set(c.writes)
        if step.damage:
            writes.add(step.damage[1])
        return {n: snapshot(self.fs / n) for n in FOLDERS if n not in writes}

    def check(self, step: Step, outside: dict[str, dict[str, str]]) -> None:
        for name, files in outside.items():
            now = snapshot(self.fs / name)
            if now != files:
                changed = sorted(set(now.items()) ^ set(files.items()))
                self.fail(f"{step.describe()} wrote outside its run folder and named outputs, in {name}/: "
                          f"{[c[0] for c in changed][:5]}")
        stray = [p.name for p in self.fs.iterdir() if p.name not in FOLDERS]
        if stray:
            self.fail(f"{step.describe()} wrote {stray} beside the run folders")
        for p in self.fs.rglob("*.png"):
            if str(p) not in self.damaged and not decodes(p):
                self.fail(f"{p.relative_to(self.fs)} does not decode")
        for folder in ("run", "run2"):
            for rp, rec in unit_records(self.fs / folder):
                if rec.get("kind") == "import":
                    if not rec.get("prompt_id"):
                        self.fail(f"imported record {rp.relative_to(self.fs)} names no prompt")
                elif not rec.get("unit_spec") or not rec.get("settings_hash"):
                    self.fail(f"record {rp.relative_to(self.fs)} does not name its unit's spec")
            self._check_summary(folder)

    def _check_summary(self, folder: str) -> None:
        """Every value of summary.json was computed on the images the harness saw when it was scored."""
        p = self.fs / folder / "scores" / "summary.json"
        if not p.is_file():
            return
        s = json.loads(p.read_text())
        scored = self.scored.get(folder, {})
        for e in s.get("sets") or []:
            if e["metric"] not in METRICS:
                continue
            used = scored.get(e["metric"], {}).get((e["method"], e["resolution"]))
            if used is None:
                self.fail(f"{folder}/scores/summary.json holds {e['metric']} of {e['method']} {e['resolution']}, "
                          "which no finished score computed")
            n = e.get("n_images", e.get("n"))
            if n != readable(used):
                self.fail(f"{folder}/scores/summary.json: {e['metric']} of {e['method']} {e['resolution']} has N={n}, "
                          f"but was computed on {readable(used)} readable images")

    def _check_table(self, cmd: Cmd) -> None:
        """Each value of table1.json is the current images' or marked stale, with the N it used."""
        out = cmd.writes[0]
        t = self.fs / out / ("report" if out in ("run", "run2") else "") / "table1.json"
        if not t.is_file():
            self.fail(f"`{cmd.shell()}` exited 0 without writing {t.relative_to(self.fs)}")
        table = json.loads(t.read_text())
        folders = [a for a in cmd.argv if a in ("run", "run2")]
        for row in table["rows"]:
            key = (row["method"], row["resolution"])
            for metric, cell in row["cells"].items():
                if metric not in METRICS or cell.get("value") is None:
                    continue
                src = [f for f in folders if key in self.scored.get(f, {}).get(metric, {})]
                if not src:
                    self.fail(f"{t.relative_to(self.fs)}: {metric} of {key} has a value no finished score computed")
                used = self.scored[src[0]][metric][key]
                now = current_images(self.fs / src[0]).get(key, [])
                if cell.get("n") != readable(used):
                    self.fail(f"{t.relative_to(self.fs)}: {metric} of {key} shows N={cell.get('n')}, computed on "
                              f"{readable(used)} images")
                if now != used and not cell.get("stale"):
                    self.fail(f"{t.relative_to(self.fs)}: {metric} of {key} was computed on other images than the "
                              f"current ones ({readable(used)} then, {readable(now)} now) and is not marked stale")


def main(argv: list[str]) -> int:
    if argv[:1] == ["sandbox"] and len(argv) == 2:  # the inputs of a fresh sandbox, for `script`
        fs = Path(argv[1])
        make_inputs(fs)
        print(f"inputs made in {fs}")
        return 0
    print("usage: reliability_harness.py sandbox FOLDER", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main(sys.argv[1:]))
