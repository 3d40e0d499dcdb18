"""``faucon demo``: the whole path on the embedded default, then a summary.

Starts the local Kafka broker (if needed) and a local Spark stream, replays
the bundled real alerts (ZTF as containers, Rubin in wire format) plus a few
injected bad messages, waits until every message is accounted for, reads the
output topics back, prints what happened and stops what it started.

The demo uses its own topics (``raw.demo.*`` in, ``demo.*`` out) and its own
checkpoint, reset at every run, so it never touches a real deployment's.
"""

from __future__ import annotations

import shutil
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from broker.core.config import REPO_ROOT, Settings, load_settings
from broker.core.errors import InfrastructureError

DEMO_ALERTS = REPO_ROOT / "deploy" / "demo-alerts"
WARMUP_MESSAGES = 50
CLUSTER_KAFKA_NODES = 3
CLUSTER_SPARK_WORKERS = 2


def demo_settings(base: Settings | None = None) -> Settings:
    """The demo's settings: own topic names, everything else from the configuration."""
    base = base or load_settings()
    kafka = base.kafka.model_copy(
        update={"topic_prefix": "demo", "subscribe_pattern": r"raw\.demo\..+"}
    )
    return base.model_copy(update={"kafka": kafka})


def bad_messages(good: bytes) -> dict[str, bytes]:
    """Injected malformed messages, with the reason each must get."""
    return {
        "empty_message": b"",
        "unknown_format": b"this is not an alert",
        "truncated_avro": good[: len(good) // 2],
        "unknown_schema_id": b"\x00" + struct.pack(">I", 9999) + good[5:200],
    }


@dataclass
class DemoResult:
    """Figures of one demo run."""

    sent: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    topic_counts: dict[str, int] = field(default_factory=dict)
    latency_s: list[float] = field(default_factory=list)
    busy_s: float = 0.0
    wall_s: float = 0.0
    warmup_end_ms: int = 0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_demo(
    settings: Settings | None = None,
    spark: Any = None,
    rate: float = 250.0,
    timeout_s: float = 300.0,
    console: Console | None = None,
    cluster: bool = False,
) -> DemoResult:
    """Run the demo and return its figures (also printed).

    ``spark``: an existing session to use (left running); by default the demo
    creates one and stops it at the end. ``cluster``: run on a local
    three-node Kafka cluster and a Spark standalone cluster of two workers
    (started and stopped by the demo) instead of one broker and ``local[N]``.
    """
    from broker.kafka.consume import latencies_s, read_topic
    from broker.kafka.local import LocalKafka
    from broker.kafka.replay import load_messages, publish
    from broker.kafka.topics import delete_topics, list_topics, topic_counts
    from broker.spark.session import spark_session, stop_spark
    from streams.ingest import checkpoint_dir, start_query

    console = console or Console()
    settings = demo_settings(settings)
    kafka: Any = LocalKafka(settings)
    spark_cluster: Any = None
    if cluster:
        from broker.kafka.cluster import LocalKafkaCluster
        from broker.spark.cluster import LocalSparkCluster

        kafka = LocalKafkaCluster(settings, nodes=CLUSTER_KAFKA_NODES)
        settings = kafka.settings_for_clients()
    started_kafka = kafka.start()
    console.print(
        f"[bold]Kafka[/] {'started' if started_kafka else 'already running'} "
        f"on {settings.kafka.bootstrap}"
    )
    own_spark = spark is None
    try:
        if cluster:
            spark_cluster = LocalSparkCluster(settings)
            spark_cluster.start(workers=CLUSTER_SPARK_WORKERS)
            update = {"master": spark_cluster.master_url}
            settings = settings.model_copy(
                update={"spark": settings.spark.model_copy(update=update)}
            )
            console.print(
                f"[bold]Spark[/] standalone cluster {spark_cluster.master_url} with "
                f"{spark_cluster.status().alive_workers} workers"
            )
        old = [t for t in list_topics(settings) if t.startswith(("raw.demo.", "demo."))]
        delete_topics(settings, old)
        shutil.rmtree(checkpoint_dir(settings), ignore_errors=True)
        ztf = load_messages([str(DEMO_ALERTS / "ztf"), str(DEMO_ALERTS / "other")])
        lsst = load_messages([str(DEMO_ALERTS / "lsst")])
        bad = bad_messages(lsst[0].value)
        console.print(
            f"[bold]Alerts[/] {len(ztf)} ZTF/other containers, {len(lsst)} Rubin "
            f"wire messages, {len(bad)} injected bad messages"
        )
        console.print(f"[bold]Spark[/] starting the stream ({settings.spark.master})...")
        spark = spark or spark_session(settings)
        query, handler = start_query(spark, settings)
        result = DemoResult()
        from broker.kafka.replay import Message

        def wait_for(n: int) -> None:
            deadline = time.monotonic() + timeout_s
            while handler.run.data["in"] < n:
                if not query.isActive or time.monotonic() > deadline:
                    raise InfrastructureError(
                        f"the demo stream processed {handler.run.data['in']} of {n} messages "
                        f"before {'stopping' if not query.isActive else 'the timeout'}: "
                        f"{query.exception()}"
                    )
                time.sleep(0.2)

        # Warm-up: the first micro-batch starts the Python workers and loads the
        # catalogs and models; latency is reported for the steady state after it.
        warm = ztf[:WARMUP_MESSAGES]
        result.sent += publish(settings, "raw.demo.ztf", warm, progress=False).sent
        wait_for(result.sent)
        result.warmup_end_ms = int(time.time() * 1000)
        busy_warm = handler.busy_seconds
        console.print(
            f"[bold]Warm-up[/] {len(warm)} alerts processed; replaying the rest at "
            f"{rate:.0f} alerts/s"
        )
        t0 = time.monotonic()
        result.sent += publish(
            settings, "raw.demo.ztf", ztf[WARMUP_MESSAGES:], rate=rate, progress=False
        ).sent
        result.sent += publish(settings, "raw.demo.lsst", lsst, rate=rate, progress=False).sent
        result.sent += publish(
            settings, "raw.demo.ztf", [Message(v, k, "bad") for k, v in bad.items()], progress=False
        ).sent
        console.print(f"[bold]Replay[/] {result.sent} messages sent; waiting for the stream...")
        wait_for(result.sent)
        result.wall_s = time.monotonic() - t0
        query.stop()
        result.stats = handler.run.data
        result.busy_s = handler.busy_seconds - busy_warm
        outputs = [t for t in list_topics(settings) if t.startswith("demo.")]
        result.topic_counts = topic_counts(settings, outputs)
        enriched = list(
            read_topic(
                settings,
                settings.kafka.enriched_topic,
                max_messages=result.topic_counts[settings.kafka.enriched_topic],
                idle_timeout=30.0,
            )
        )
        result.latency_s = latencies_s(
            [
                m
                for m in enriched
                if int(m.headers.get("faucon-ingest-ms", b"0")) >= result.warmup_end_ms
            ]
        )
        print_summary(result, console)
        if not handler.run.reconciles():
            raise InfrastructureError("counts do not reconcile: in != published + rejected")
        hand_to_portal(settings, result.topic_counts, console)
        return result
    finally:
        # clients first: the stream's producers would warn about a stopped broker
        if own_spark and spark is not None:
            console.print("[bold]Spark[/] stopping")
            stop_spark(spark)
        if spark_cluster is not None:
            spark_cluster.stop()
            console.print("[bold]Spark[/] cluster stopped")
        if started_kafka:
            kafka.stop()
            console.print("[bold]Kafka[/] stopped")


def print_summary(result: DemoResult, console: Console) -> None:
    """Print the demo's figures."""
    s = result.stats
    table = Table(title="Faucon demo: what happened", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("messages in", str(s["in"]))
    table.add_row("alerts published (enriched)", str(s["ok"]))
    table.add_row("messages rejected (dead letter)", str(s["rejected_total"]))
    for reason, n in s["rejected"].items():
        table.add_row(f"  rejected: {reason}", str(n))
    for topic, n in sorted(result.topic_counts.items()):
        table.add_row(f"topic {topic}", str(n))
    console.print(table)
    ok = "yes" if s["in"] == s["ok"] + s["rejected_total"] else "NO"
    console.print(
        f"in = published + rejected: {s['in']} = {s['ok']} + {s['rejected_total']} -> {ok}"
    )
    if result.busy_s:
        steady = s["in"] - WARMUP_MESSAGES
        console.print(
            f"throughput: {steady / result.busy_s:,.0f} alerts/s while processing after warm-up "
            f"({steady} messages in {result.busy_s:.1f} s of micro-batch time; "
            f"{s['batches']} micro-batches; replay {result.wall_s:.1f} s at a fixed rate)"
        )
    if result.latency_s:
        console.print(
            f"latency Kafka ingest -> output: p50 {_percentile(result.latency_s, 50):.2f} s, "
            f"p99 {_percentile(result.latency_s, 99):.2f} s over {len(result.latency_s)} alerts "
            "replayed after warm-up"
        )


def hand_to_portal(settings: Settings, counts: dict[str, int], console: Console) -> None:
    """Store the demo's alerts for ``faucon portal --demo`` and print its URL and login.

    The password is printed on the terminal only (never in the log file).
    """
    from broker.portal.handoff import fill_store

    prefix = settings.kafka.topic_prefix
    ours = [
        t for t in counts if t == settings.kafka.enriched_topic or t.startswith(f"{prefix}.filter.")
    ]
    try:
        done = fill_store(settings, sum(counts[t] for t in ours))
    except InfrastructureError as exc:
        console.print(f"[bold]Portal[/] not refreshed: {exc}")
        return
    console.print(
        f"[bold]Portal[/] {done.alerts} alerts of {done.objects} objects stored for the portal "
        f"({done.store})",
        soft_wrap=True,
    )
    console.print(
        "Browse them: run [bold].venv/bin/faucon portal --demo[/], open "
        f"{done.url} and log in as [bold]{done.user}[/] with password [bold]{done.password}[/] "
        "(a new one at every demo run)",
        soft_wrap=True,
    )


def demo_alerts_dir() -> Path:
    """Folder of the bundled demo alerts."""
    return DEMO_ALERTS
