"""Run the ultrabench CLI with a fault at an exact moment: a signal at its k-th write to the file system.

    python tests/cli_fault.py --signal KILL --at-write 7 -- --device cpu -q generate ...
    python tests/cli_fault.py --signal KILL --at-write 1 --only replace --match /inception -- ... score ...

A "write" is any call that changes the file system (an open for writing or creating, os.write,
fsync, rename/replace, unlink, mkdir, rmdir). Counting them makes a "random moment" reproducible:
the same command on the same folder receives its signal at the same point, between an image and
its record, between a temporary file and its rename, half-way through an appended line (KILL during
os.write writes half the bytes first), so a failing sequence replays and shrinks. `--only OP` and `--match TEXT` count only the calls of
one operation (replace, open, unlink, ...) on a path containing TEXT: a moment named by what
happens there ("just before the first feature file is renamed into place"), which stays the same
moment when the code around it changes its writes. The reliability
tests (tests/test_reliability_stateful.py) run commands through this hook; the shell commands they
print for a failing sequence use this script, so they reproduce it exactly.
"""

from __future__ import annotations

import builtins
import io
import os
import signal
import sys

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def install(signame: str, at_write: int, only: str | None = None, match: str | None = None) -> None:
    """Send SIG<signame> to this process just before its `at_write`-th file-system write (of those
    of operation `only` on a path containing `match`, when given)."""
    sig = getattr(signal, f"SIG{signame.upper()}")
    count = [0]

    def counts(op: str, *paths) -> bool:
        if only is not None and op != only:
            return False
        return match is None or any(match in str(p) for p in paths if isinstance(p, (str, os.PathLike)))

    def tick(op: str = "", *paths) -> bool:
        if not counts(op, *paths):
            return False
        count[0] += 1
        if count[0] == at_write:
            if sig == signal.SIGINT:
                # a terminal's Ctrl-C reaches the whole foreground group (decode workers too)
                os.killpg(os.getpgrp(), sig)
            else:
                os.kill(os.getpid(), sig)
            return True
        return False

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            tick(name, *args[:2])
            return fn(*args, **kwargs)

        wrapper.__wrapped__ = fn
        return wrapper

    for name in ("replace", "rename", "unlink", "remove", "fsync", "mkdir", "rmdir", "ftruncate", "truncate"):
        setattr(os, name, counted(name, getattr(os, name)))

    real_open, real_write = os.open, os.write

    def os_open(path, flags, *args, **kwargs):
        if flags & _WRITE_FLAGS:
            tick("open", path)
        return real_open(path, flags, *args, **kwargs)

    def os_write(fd, data):
        if count[0] + 1 == at_write and sig == signal.SIGKILL and len(data) > 1 and counts("write"):
            count[0] += 1
            real_write(fd, bytes(data)[: len(data) // 2])  # a torn write: half a line, then death
            os.kill(os.getpid(), sig)
        tick("write")
        return real_write(fd, data)

    os.open, os.write = os_open, os_write

    real_io_open = io.open

    def io_open(file, mode="r", *args, **kwargs):
        if isinstance(mode, str) and any(c in mode for c in "wax+"):
            tick("open", file)
        return real_io_open(file, mode, *args, **kwargs)

    builtins.open = io.open = io_open


def run_cli(argv: list[str]) -> int:
    """`ultrabench ARGV...` in this process; its exit status."""
    from ultrabench.cli import main

    sys.argv = ["ultrabench", *argv]
    try:
        main()
    except SystemExit as e:
        code = e.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    opts = {"--signal": None, "--at-write": None, "--only": None, "--match": None}
    while argv and argv[0] != "--":
        flag = argv.pop(0)
        if flag not in opts:
            raise SystemExit(f"cli_fault.py: unknown option {flag}")
        opts[flag] = argv.pop(0)
    if argv[:1] == ["--"]:
        argv.pop(0)
    if opts["--signal"] and opts["--at-write"]:
        install(opts["--signal"], int(opts["--at-write"]), opts["--only"], opts["--match"])
    return run_cli(argv)


if __name__ == "__main__":
    sys.exit(main())
