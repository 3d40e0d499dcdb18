"""``faucon spark``: start, stop and inspect a local Spark standalone cluster.

Examples
--------
Mounted by the main CLI as ``faucon spark``::

    $ faucon spark start --workers 2
    $ faucon stream --master spark://127.0.0.1:7077
    $ faucon spark status
    $ faucon spark stop

>>> from typer.testing import CliRunner
>>> CliRunner().invoke(app, ["--help"]).exit_code
0
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from broker.cli.support import fail_clearly
from broker.core.config import settings
from broker.spark.cluster import LocalSparkCluster

app = typer.Typer(
    help="Run a local Spark standalone cluster (master and workers).", no_args_is_help=True
)
console = Console()


@app.command()
@fail_clearly
def start(
    workers: int = typer.Option(1, min=1, help="number of workers"),
    timeout: float = typer.Option(90.0, help="seconds to wait for the master and workers"),
) -> None:
    """Start a master and WORKERS workers from pyspark's distribution; no-op if running."""
    cluster = LocalSparkCluster(settings())
    with console.status("starting the Spark cluster..."):
        started = cluster.start(workers=workers, timeout=timeout)
    st = cluster.status()
    verb = "started" if started else "already running"
    console.print(
        f"Spark standalone cluster {verb}: {st.master_url}, {st.alive_workers} workers alive, "
        f"UI {st.ui_url}; run the stream on it with `faucon stream --master {st.master_url}`",
        soft_wrap=True,
    )


@app.command()
@fail_clearly
def stop() -> None:
    """Stop the workers and the master started from this state dir."""
    stopped = LocalSparkCluster(settings()).stop()
    console.print("Spark cluster stopped" if stopped else "Spark cluster was not running")


@app.command()
@fail_clearly
def status() -> None:
    """Show the master and each worker; exit code 1 if the master does not answer."""
    st = LocalSparkCluster(settings()).status()
    if not st.running:
        console.print(f"Spark master not running at {st.master_url}")
        raise typer.Exit(1)
    table = Table(title=f"Spark master {st.master_url} (UI {st.ui_url})")
    for col in ("worker", "host:port", "cores", "memory MiB", "state"):
        table.add_column(col)
    for w in st.workers:
        table.add_row(
            str(w["id"]), f"{w['host']}:{w['port']}", str(w["cores"]), str(w["memory"]),
            str(w["state"]),
        )  # fmt: skip
    console.print(table)
