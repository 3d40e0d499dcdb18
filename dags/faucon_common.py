"""Shared pieces of the Faucon DAGs: the command they call, defaults, the night.

The DAGs stay thin: every task is one call of a Faucon package entry point
in the broker's own environment, ``$FAUCON_PYTHON -m broker.cli.archive ...``
(``FAUCON_PYTHON`` defaults to ``<repo>/.venv/bin/python`` when it exists, else
to Airflow's own Python, as in the ``faucon-airflow`` image where Faucon is
installed next to Airflow), from the repository directory, with the
``FAUCON_*`` environment of the Airflow worker.

Examples
--------
>>> night_before(dt.datetime(2024, 1, 2, 14, 0, tzinfo=dt.UTC))
'2024-01-01'
>>> cli("archive", "--night", "2024-01-01").split()[-3:]
['archive', '--night', '2024-01-01']
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
NIGHT_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "faucon",
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "max_retry_delay": dt.timedelta(minutes=30),
}


def python() -> str:
    """The broker environment's Python: ``$FAUCON_PYTHON``, else ``<repo>/.venv/bin/python``,
    else this interpreter (an image where Faucon is installed next to Airflow)."""
    venv = REPO / ".venv" / "bin" / "python"
    return os.environ.get("FAUCON_PYTHON") or (str(venv) if venv.is_file() else sys.executable)


def cli(*args: str, module: str = "broker.cli.archive") -> str:
    """Shell command running ``python -m MODULE ARGS`` (arguments quoted)."""
    words = [python(), "-m", module, *args]
    return " ".join(shlex.quote(w) for w in words)


def night_before(when: dt.datetime) -> str:
    """Last night (Rubin dayObs) complete at ``when``: nights end at 12:00 UTC."""
    return (when.astimezone(dt.UTC) - dt.timedelta(hours=36)).date().isoformat()


def resolve_night(params: dict[str, Any], context: dict[str, Any]) -> str:
    """``params["night"]`` when given, else the last night complete when the run was due."""
    if params.get("night"):
        return str(dt.date.fromisoformat(str(params["night"])))
    run = context.get("dag_run")
    when = (
        context.get("data_interval_end")
        or context.get("logical_date")
        or getattr(run, "run_after", None)
        or dt.datetime.now(dt.UTC)
    )
    return night_before(when)


def state_dir() -> Path:
    """The Faucon state directory as the tasks see it (``$FAUCON_STATE_DIR`` or ``.state``)."""
    return Path(os.environ.get("FAUCON_STATE_DIR") or REPO / ".state")
