"""Shared by the CLI-level tests: run a command in-process, and fingerprint a folder's files."""

import hashlib

from typer.testing import CliRunner

from ultrabench.cli import app


def invoke(*args):
    """`ultrabench ARGS...` through Typer's runner (any argument may be a Path or a number)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def snapshot(root):
    """Every file under `root` with a hash of its bytes: equal snapshots mean nothing was written."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}
