"""Send a command's process-level output to a log file, keeping the terminal for progress.

The JVMs (Spark's driver, whose log4j writes to stderr), librdkafka and Python
warnings all write to file descriptors 1 and 2, which child processes
inherit. :func:`output_to` points both at a log file for the length of a
command and hands back a console on the real terminal, so a user sees the
progress lines and the summary, and the full logs are in one file.

Examples
--------
>>> import tempfile, pathlib
>>> log = pathlib.Path(tempfile.mkdtemp()) / "run.log"
>>> with output_to(log) as console:
...     _ = os.write(2, b"a JVM warning")
>>> "a JVM warning" in log.read_text()
True
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console


def run_log(state_dir: Path, command: str) -> Path:
    """A new log file for one run of ``command``: ``<state_dir>/logs/<command>-<UTC time>.log``."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = state_dir / "logs" / f"{command}-{stamp}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def output_to(log_file: Path) -> Iterator[Console]:
    """Point stdout and stderr (descriptors 1 and 2) at ``log_file`` inside the block.

    Yields a console writing to the original terminal. Python logging goes
    to the file too. Child processes started inside the block (the Spark JVM)
    keep writing to the file after it ends; the descriptors of this process
    are restored on exit, exceptions included.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved_out), "w", buffering=1)
    log_fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    handler = logging.StreamHandler(sys.stderr)
    root = logging.getLogger()
    old_level = root.level
    try:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        root.addHandler(handler)
        root.setLevel(min(old_level or logging.INFO, logging.INFO))
        yield Console(file=terminal, force_terminal=terminal.isatty())
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        root.removeHandler(handler)
        root.setLevel(old_level)
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        for fd in (saved_out, saved_err, log_fd):
            os.close(fd)
        terminal.close()
