"""What every ``faucon`` sub-command group shares: error exits and JSON output.

A :class:`~broker.core.errors.FauconError` (bad input, missing service, ...) is
printed as one line saying what to do, and the command exits with status 1;
anything else is a bug and keeps its traceback.

Examples
--------
>>> run(lambda: 42)
42
>>> print_json({"a": 1})
{
  "a": 1
}
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console

from broker.core.errors import FauconError

T = TypeVar("T")
err_console = Console(stderr=True, soft_wrap=True)


def run(action: Callable[[], T]) -> T:
    """Run ``action``; a Faucon error becomes a one-line message and exit status 1."""
    try:
        return action()
    except FauconError as exc:
        err_console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from exc


def fail_clearly(func: Callable[..., T]) -> Callable[..., T]:
    """Decorator form of :func:`run` for a whole command."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return run(lambda: func(*args, **kwargs))

    return wrapper


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON on stdout (``str`` for other types)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def setup_logging() -> None:
    """Log to stderr as configured (``FAUCON_LOG_FORMAT``: text or json)."""
    logging.getLogger("py4j").setLevel(logging.WARNING)
    from broker.core.config import load_settings

    fmt = load_settings().log_format
    if fmt == "json":
        logging.basicConfig(
            level=logging.INFO,
            format='{"ts":"%(asctime)s","level":'
            '"%(levelname)s","logger":"%(name)s","msg":"%(message)s"}',
        )
    else:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
