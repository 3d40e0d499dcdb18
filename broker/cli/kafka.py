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
from broker.kafka.cluster import LocalKafkaCluster
from broker.kafka.local import LocalKafka
from broker.kafka.topics import list_topics, topic_counts

app = typer.Typer(help="Run the local single-node Kafka broker (KRaft).", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


@app.command()
@fail_clearly
def start(
    timeout: float = typer.Option(60.0, help="seconds to wait for the broker to answer"),
    nodes: int = typer.Option(1, min=1, help="KRaft nodes (broker+controller each) on loopback"),
) -> None:
    """Start the broker (fetches its jars the first time); no-op if running.

    With ``--nodes 3``, a replicated cluster: node i listens on the first
    bootstrap port + 2(i-1); topics Faucon creates get 3 replicas, 2 in sync.
    """
    if nodes > 1:
        cluster = LocalKafkaCluster(settings(), nodes=nodes)
        with console.status(f"starting {nodes} Kafka nodes..."):
            started = cluster.start(timeout=timeout * 2)
        verb = "started" if started else "already running"
        console.print(
            f"Kafka cluster of {nodes} nodes {verb}; clients use "
            f"FAUCON_KAFKA__BOOTSTRAP={cluster.bootstrap}",
            soft_wrap=True,
        )
        return
    kafka = LocalKafka(settings())
    with console.status("starting Kafka..."):
        started = kafka.start(timeout=timeout)
    st = kafka.status()
    verb = "started" if started else "already running"
    console.print(f"Kafka {st.version} {verb}: pid {st.pid}, {st.listeners['CLIENT']}")


@app.command()
@fail_clearly
def stop() -> None:
    """Stop the broker (or the multi-node cluster) started from this state dir."""
    kafka = LocalKafka(settings())
    with console.status("stopping Kafka..."):
        stopped = kafka.stop()
        if (cluster := _cluster()) is not None:
            stopped = cluster.stop() or stopped
    console.print("Kafka stopped" if stopped else "Kafka was not running")


def _cluster() -> LocalKafkaCluster | None:
    """The multi-node cluster of this state dir, if one was ever started."""
    s = settings()
    return LocalKafkaCluster(s) if (s.state_dir / "kafka-cluster" / "nodes").is_file() else None


def _cluster_status(cluster: LocalKafkaCluster) -> None:
    running = cluster.running()
    console.print(f"Kafka cluster of {cluster.nodes} nodes, bootstrap {cluster.bootstrap}")
    nodes = Table("node", "client listener", "state", box=None, pad_edge=False)
    for i, pid in running.items():
        address = cluster.node(i).listeners()["CLIENT"]
        nodes.add_row(str(i), address, f"running (pid {pid})" if pid else "[red]down[/red]")
    console.print(nodes)
    if not any(running.values()):
        raise typer.Exit(1)
    parts = Table("topic", "partition", "leader", "replicas", "in sync", box=None, pad_edge=False)
    for p in cluster.partitions():
        mark = "" if len(p.isr) == len(p.replicas) else " [yellow](under-replicated)[/yellow]"
        parts.add_row(
            p.topic, str(p.partition), str(p.leader), ",".join(map(str, p.replicas)),
            ",".join(map(str, sorted(p.isr))) + mark,
        )  # fmt: skip
    console.print(parts if parts.row_count else "  no topics")


@app.command()
@fail_clearly
def status() -> None:
    """Show listeners, pid, data dir and topics; exit code 1 if not running."""
    if (cluster := _cluster()) is not None and any(cluster.running().values()):
        _cluster_status(cluster)
        return
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
