"""Exceptions that the CLI turns into one-line messages and exit codes.

`UsageError` means the user asked for something malformed (exit 2); `UltrabenchError` means a valid
request failed at run time (exit 1). Anything else is a bug and shows a traceback with `--debug`.
"""

from __future__ import annotations


class UltrabenchError(Exception):
    """A runtime failure worth one clear line (exit code 1)."""

    exit_code = 1


class UsageError(UltrabenchError):
    """Bad usage or bad input: a malformed flag, file or name (exit code 2)."""

    exit_code = 2


class MissingWeightsError(UltrabenchError):
    """A model file is neither at an explicit path, in the weights dir, nor in the HF cache."""


def write_failure(path, error: OSError) -> UltrabenchError:
    """One line for a failed write (full disk, read-only folder, quota), naming the path."""
    return UltrabenchError(f"cannot write {path}: {error.strerror or error}")


def write_probe_name() -> str:
    """`.write-probe-<host>-<pid>`: the name tells a later command whether its prober died
    (`ultrabench.runstore.clean_leftovers`)."""
    import os
    import socket

    return f".write-probe-{socket.gethostname().replace('-', '_')}-{os.getpid()}"


def check_writable(folder) -> None:
    """Fail before any model loads when `folder` cannot be created or written (one line)."""
    from pathlib import Path

    folder = Path(folder)
    probe = folder / write_probe_name()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise write_failure(folder, e) from None


class removed_on_failure:
    """`with removed_on_failure(folder, ...)`: the folders this block creates (and their parents it
    creates) are removed again when it fails, if they are still empty, so a failed command leaves
    nothing behind; folders that existed before, and anything written into them, are kept."""

    def __init__(self, *folders) -> None:
        from pathlib import Path

        self.new: list = []
        for folder in folders:
            p = Path(folder).absolute()
            while not p.exists() and p not in self.new:
                self.new.append(p)
                p = p.parent

    def __enter__(self) -> "removed_on_failure":
        return self

    def __exit__(self, kind, value, tb) -> bool:
        if kind is not None:
            for p in sorted(self.new, key=lambda q: len(q.parts), reverse=True):  # deepest first
                try:
                    p.rmdir()  # only an empty folder goes
                except OSError:
                    pass
        return False
