"""One progress library (rich) for every command, drawn only on a terminal.

In a log file or a pipe a bar is nothing but carriage returns, so there it is off; the bars model
libraries draw themselves (transformers' "Loading weights", huggingface_hub's downloads, diffusers'
steps) are switched off for good, so a command's progress is ours alone.
"""

from __future__ import annotations

import os
import sys


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def progress(console=None, enabled: bool = True):
    """A rich `Progress` with ultrabench's columns, or None when disabled or not on a terminal."""
    console = console if console is not None and console.stderr else stderr_console()
    if not enabled or not console.is_terminal:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, transient=False)


class Bar:
    """One task of a rich `Progress`, started at once: `update(n)` and `close()`."""

    def __init__(self, prog, description: str, total: int) -> None:
        self.prog = prog
        self.task = prog.add_task(description, total=total)
        prog.start()

    def update(self, n: int = 1) -> None:
        self.prog.advance(self.task, n)

    def close(self) -> None:
        self.prog.stop()


def bar(description: str, total: int, enabled: bool = True) -> Bar | None:
    prog = progress(None, enabled and bool(total))
    return Bar(prog, description, total) if prog is not None else None


def silence_library_bars() -> None:
    """Switch off the bars transformers, diffusers and huggingface_hub draw themselves: the
    environment variable for libraries not yet imported, their switches for those that are."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    for module, switch in (("transformers.utils.logging", "disable_progress_bar"),
                           ("diffusers.utils.logging", "disable_progress_bar"),
                           ("huggingface_hub.utils", "disable_progress_bars")):
        if module in sys.modules:
            getattr(sys.modules[module], switch)()
