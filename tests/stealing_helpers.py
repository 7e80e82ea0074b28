"""Shared by the work-stealing and Slurm tests: the slow test method installed as an entry-point
plugin (a .dist-info folder on PYTHONPATH), the CLI run in a subprocess, and its generation log."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def plugin_env(tmp: Path) -> dict:
    site = tmp / "site"
    dist = site / "ub_slow_method-0.1.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "slow_method_plugin.py", site / "ub_slow_method.py")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ub-slow-method\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[ultrabench.methods]\nub-slow = ub_slow_method:SlowFlat\n")
    path = os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    return dict(os.environ, PYTHONPATH=path, PYTHONUNBUFFERED="1", UB_SLOW_LOG=str(tmp / "generations.jsonl"))


def ub(env: dict, *args, seconds: float = 0.0, wait: bool = True):
    cmd = [sys.executable, "-m", "ultrabench", "-q", "--device", "cpu", *map(str, args)]
    e = {**env, "UB_SLOW_SECONDS": str(seconds)}
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=600)


def log_events(env: dict) -> list[dict]:
    path = Path(env["UB_SLOW_LOG"])
    return [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []
