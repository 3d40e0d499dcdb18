"""``faucon kafka``: start, stop and inspect the local Kafka broker.

Examples
--------
Mounted by the main CLI as ``faucon kafka``::

    $ faucon kafka start
    $ faucon kafka status
    $ faucon kafka stop

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
from broker.kafka.local import LocalKafka
from broker.kafka.topics import list_topics, topic_counts

app = typer.Typer(help="Run the local single-node Kafka broker (KRaft).", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


@app.command()
@fail_clearly
def start(
    timeout: float = typer.Option(60.0, help="seconds to wait for the broker to answer"),
) -> None:
    """Start the broker (fetches its jars the first time); no-op if running."""
    kafka = LocalKafka(settings())
    with console.status("starting Kafka..."):
        started = kafka.start(timeout=timeout)
    st = kafka.status()
    verb = "started" if started else "already running"
    console.print(f"Kafka {st.version} {verb}: pid {st.pid}, {st.listeners['CLIENT']}")


@app.command()
@fail_clearly
def stop() -> None:
    """Stop the broker started from this state dir; no-op if stopped."""
    kafka = LocalKafka(settings())
    with console.status("stopping Kafka..."):
        stopped = kafka.stop()
    console.print("Kafka stopped" if stopped else "Kafka was not running")


@app.command()
@fail_clearly
def status() -> None:
    """Show listeners, pid, data dir and topics; exit code 1 if not running."""
    kafka = LocalKafka(settings())
    st = kafka.status()
    state = f"[green]running[/green] (pid {st.pid})" if st.running else "[red]not running[/red]"
    console.print(f"Kafka {st.version}: {state}")
    for name, address in st.listeners.items():
        console.print(f"  {name.lower()} listener: {address}")
    console.print(f"  data dir: {st.data_dir}\n  log:      {st.log_file}")
    if not st.running:
        raise typer.Exit(1)
    s = settings()
    counts = topic_counts(s)
    table = Table("topic", "partitions", "messages", title=None, box=None, pad_edge=False)
    for name, parts in list_topics(s).items():
        table.add_row(name, str(parts), f"{counts.get(name, 0):,}")
    if table.row_count:
        console.print(table)
    else:
        console.print("  no topics")
