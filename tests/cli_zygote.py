"""A fork server for CLI processes: imports torch, diffusers and ultrabench once, then forks one
child per command, so each command is its own process (its own pid and process group, killable
with any signal, its files and exit status its own) without paying the ~7 s of imports again.

Protocol (JSON lines on stdin/stdout):
    {"op": "start", "argv": [...], "cwd": D, "env": {...}, "out": F, "err": F, "fault": [SIG, k] | null}
        -> {"pid": P}
    {"op": "wait", "pid": P} -> {"pid": P, "rc": exit status, or -signal number}
The child runs `tests/cli_fault.py`'s hook and `ultrabench.cli.main` exactly as
`python tests/cli_fault.py --signal SIG --at-write k -- ARGV` would.
"""

from __future__ import annotations

import json
import os
import sys


def _warm() -> None:
    import diffusers  # noqa: F401
    import open_clip  # noqa: F401
    import pandas  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel  # noqa: F401
    from transformers import CLIPTextModel  # noqa: F401

    import ultrabench.api  # noqa: F401
    import ultrabench.cli  # noqa: F401
    import ultrabench.generate  # noqa: F401
    import ultrabench.metrics.extractors.clip  # noqa: F401
    import ultrabench.metrics.extractors.inception  # noqa: F401
    import ultrabench.metrics.registry  # noqa: F401
    import ultrabench.report  # noqa: F401
    import ultrabench.report.formats  # noqa: F401
    import ultrabench.scoring.api  # noqa: F401
    import ultrabench.tiny.models  # noqa: F401
    from ultrabench.tiny.tokenizer import _cached_folder

    _cached_folder()  # the tokenizer files, built into ULTRABENCH_CACHE before any command counts writes


def _child(req: dict, proto_fds: tuple[int, ...]) -> None:
    import tempfile

    os.setpgid(0, 0)
    for fd in proto_fds:
        os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(req["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.environ.clear()
    os.environ.update(req["env"])
    tempfile.tempdir = None  # re-read TMPDIR
    os.chdir(req["cwd"])
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", closefd=False, buffering=1)
    sys.stderr = open(2, "w", closefd=False, buffering=1)
    import cli_fault

    code = 1
    try:
        if req.get("fault"):
            cli_fault.install(*req["fault"])
        code = cli_fault.run_cli(req["argv"])
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def main() -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    proto_in = os.fdopen(os.dup(0), "r")
    proto_out = os.fdopen(os.dup(1), "w", buffering=1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    _warm()
    import cli_fault  # noqa: F401

    proto_out.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in proto_in:
        req = json.loads(line)
        if req["op"] == "start":
            pid = os.fork()
            if pid == 0:
                _child(req, (proto_in.fileno(), proto_out.fileno()))
            try:
                os.setpgid(pid, pid)  # also here, so the group exists before anyone signals it
            except OSError:
                pass
            proto_out.write(json.dumps({"pid": pid}) + "\n")
        elif req["op"] == "wait":
            _, status = os.waitpid(req["pid"], 0)
            rc = os.waitstatus_to_exitcode(status)
            proto_out.write(json.dumps({"pid": req["pid"], "rc": rc}) + "\n")
        elif req["op"] == "exit":
            break


if __name__ == "__main__":
    main()
