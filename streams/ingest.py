"""The Faucon stream job: Kafka to enriched and filtered Avro topics.

One Spark Structured Streaming query reads every survey topic matching
``settings.kafka.subscribe_pattern`` and, per micro-batch (``foreachBatch``):

1. runs the enrich stage in Python workers (``mapInArrow``): decode,
   normalize, quality cuts, encode;
2. routes the rows in one projection (:mod:`broker.pipeline.distribute`) and writes
   them to Kafka with the batch Kafka sink (DataSource V2, so that the
   counters are observed during the same write: one pass, no cache);
3. returns, and only then Spark commits the input offsets to the checkpoint:
   a crash before that replays the batch (at-least-once; duplicates are
   confined to that batch and carry stable keys and alert ids).

The filter set is read at the start of each micro-batch, so a changed filter
registry is in force from the next batch on without a restart.

Examples
--------
>>> from broker.core.config import load_settings
>>> checkpoint_dir(load_settings()).name
'faucon-stream'
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

from broker.core.config import Settings
from broker.core.errors import InfrastructureError
from broker.filters import FilterSpec
from broker.ops.metrics import StreamMetrics
from broker.ops.stats import StreamStats, stats_path
from broker.ops.status import promoted_models
from broker.pipeline.distribute import Router, observed_counts, output_topics, profiles_in_use
from broker.pipeline.enrich import make_mapper, output_schema
from broker.spark.session import kafka_security_options, spark_session
from streams.monitor import StreamMonitor

log = logging.getLogger("faucon.stream")
FilterSource = Callable[[], list[FilterSpec]]
FilterErrorSink = Callable[[str, str], object]


def checkpoint_dir(settings: Settings) -> Path:
    """Checkpoint directory of the stream query (offsets and commits), one per topic prefix."""
    return settings.state_dir / "checkpoints" / f"{settings.kafka.topic_prefix}-stream"


class BatchHandler:
    """The ``foreachBatch`` function: enrich, distribute, write, count."""

    def __init__(
        self,
        settings: Settings,
        filter_source: FilterSource,
        metrics: StreamMetrics | None = None,
        on_filter_error: FilterErrorSink | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.filter_source = filter_source
        self.on_filter_error = on_filter_error
        self.total = StreamStats(stats_path(settings))
        self.run = StreamStats()
        self.known_topics: set[str] = set()
        self.busy_seconds = 0.0
        self._plan_key: tuple[str, ...] | None = None
        self._mapper: Any = None
        self._router: Any = None
        self._spark_schema: Any = None

    def _ensure_topics(self, filters: list[FilterSpec]) -> None:
        from broker.kafka.topics import ensure_topics

        wanted = set(output_topics(filters, self.settings))
        missing = wanted - self.known_topics
        if missing:
            ensure_topics(self.settings, sorted(missing))
            self.known_topics |= missing

    def __call__(self, batch_df: Any, batch_id: int) -> None:
        from pyspark.sql.pandas.types import from_arrow_schema

        started = time.monotonic()
        filters = [f for f in self.filter_source() if f.enabled]
        self._ensure_topics(filters)
        plan_key = tuple(f.model_dump_json() for f in filters)
        if plan_key != self._plan_key:  # rebuilt only when the filter set changes
            self._plan_key = plan_key
            self._router = Router(filters, self.settings)
            columns = self._router.view_columns(batch_df.sparkSession)
            self._mapper = make_mapper(
                self.settings, sorted(profiles_in_use(filters)), filters, columns
            )
            self._spark_schema = from_arrow_schema(output_schema(columns))
        processed = batch_df.mapInArrow(self._mapper, self._spark_schema)
        # One pass: the counters are observed while the rows are written.
        out, observation = self._router.route(processed, f"faucon_batch_{batch_id}_{uuid4().hex}")
        k = self.settings.kafka
        writer = (
            out.write.format("kafka")
            .mode("append")
            .option("kafka.bootstrap.servers", k.bootstrap)
            .option("kafka.max.request.size", str(k.max_message_bytes))
            .option("kafka.linger.ms", str(k.linger_ms))
            # a producer batch is one broker message: keep it under the limit
            .option("kafka.batch.size", str(min(1_048_576, k.max_message_bytes // 2)))
            .option("kafka.compression.type", k.compression)
            .option("kafka.acks", "all")
            # Ride out a broker restart: wait, don't fail, for outage_tolerance_s.
            .option("kafka.max.block.ms", str(int(k.outage_tolerance_s * 1000)))
            .option("kafka.delivery.timeout.ms", str(int(k.outage_tolerance_s * 1000)))
        )
        for key, value in kafka_security_options(self.settings).items():
            writer = writer.option(key, value)
        writer.save()
        written_ms = time.time() * 1000
        observed = observed_counts(observation.get, self._router.names)
        reports: Any = observed.get("filter_errors") or []
        observed["filter_errors"] = failed = _filter_errors(reports)
        for name, reason in failed.items():  # Python filters that failed: quarantined
            log.warning("filter %s failed in batch %d: %s", name, batch_id, reason)
            if self.on_filter_error is not None:
                self.on_filter_error(name, reason)
        topics = {f.name: f.topic(k.topic_prefix) for f in filters}
        duration = time.monotonic() - started
        self.busy_seconds += duration
        if self.metrics is not None:
            latencies = [(written_ms - t) / 1000 for t in observed.get("ingest_ms_list") or []]
            self._observe_metrics(observed, duration, topics, latencies, filters)
        for stats in (self.total, self.run):
            stats.add_batch(
                batch_id, observed, duration, topics, k.enriched_topic, k.deadletter_topic
            )
        log.info(
            "batch %d: %d in, %d ok, %d rejected in %.2fs",
            batch_id,
            observed["in"],
            observed["ok"],
            observed["in"] - observed["ok"],
            duration,
        )

    def _observe_metrics(
        self,
        observed: dict[str, Any],
        duration: float,
        topics: dict[str, str],
        latencies: list[float],
        filters: list[FilterSpec],
    ) -> None:
        assert self.metrics is not None
        k = self.settings.kafka
        published = {k.enriched_topic: int(observed.get("ok") or 0)}
        rejected = int(observed.get("in") or 0) - int(observed.get("ok") or 0)
        if rejected:
            published[k.deadletter_topic] = rejected
        for name, topic in topics.items():
            published[topic] = int(observed.get(f"filter:{name}") or 0)
        self.metrics.observe_batch(observed, duration, published, latencies)
        self.metrics.set_filters({f.name: _filter_state(f) for f in self.filter_source()})


def _filter_errors(reports: list[str]) -> dict[str, str]:
    """Merge the per-Arrow-batch JSON maps of failing Python filters (first reason wins)."""
    merged: dict[str, str] = {}
    for report in reports:
        for name, reason in json.loads(report).items():
            merged.setdefault(name, reason)
    return merged


def registry_source(settings: Settings, spark: Any) -> tuple[FilterSource, FilterErrorSink]:
    """The filter registry as the stream's filter source, built-ins registered at first start."""
    from broker.registry.filters import FilterRegistry

    registry = FilterRegistry(settings)
    if settings.filters.register_builtins:
        registry.ensure_builtins(spark=spark)
    return registry.current, registry.quarantine


def _filter_state(spec: FilterSpec) -> str:
    state = getattr(spec, "state", None)
    return str(state) if state else ("enabled" if spec.enabled else "disabled")


def start_query(
    spark: Any,
    settings: Settings,
    filter_source: FilterSource | None = None,
    available_now: bool = False,
    metrics: StreamMetrics | None = None,
) -> tuple[Any, BatchHandler]:
    """Start the streaming query; returns it with its batch handler (counters)."""
    k, sp = settings.kafka, settings.spark
    on_filter_error = None
    if filter_source is None:
        filter_source, on_filter_error = registry_source(settings, spark)
    handler = BatchHandler(settings, filter_source, metrics, on_filter_error)
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", k.bootstrap)
        .option("subscribePattern", k.subscribe_pattern)
        .option("startingOffsets", sp.starting_offsets)
        .option("maxOffsetsPerTrigger", str(sp.max_offsets_per_trigger))
        .option("failOnDataLoss", "false")
        .option("kafka.metadata.max.age.ms", "2000")
        .option("kafka.max.partition.fetch.bytes", str(k.max_message_bytes))
    )
    for key, value in kafka_security_options(settings).items():
        reader = reader.option(key, value)
    source = reader.load().selectExpr(
        "value", "topic", "partition", "offset", "unix_millis(timestamp) AS timestamp_ms"
    )
    writer = (
        source.writeStream.queryName(f"{k.topic_prefix}_stream")
        .foreachBatch(handler)
        .option("checkpointLocation", str(checkpoint_dir(settings)))
    )
    if available_now:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=f"{sp.trigger_seconds} seconds")
    return writer.start(), handler


def run(
    settings: Settings,
    available_now: bool = False,
    filter_source: FilterSource | None = None,
    spark: Any = None,
    max_seconds: float | None = None,
    stop_event: threading.Event | None = None,
) -> StreamStats:
    """Run the stream until stopped (SIGINT/SIGTERM, ``stop_event``), ``max_seconds``, or caught up.

    Returns the counters of this run.
    """
    from pyspark.errors import PySparkException

    spark = spark or spark_session(settings)
    metrics = StreamMetrics()
    metrics.set_models(promoted_models(settings))
    server = (
        metrics.serve(settings.metrics_port, settings.metrics_addr)
        if settings.metrics_port
        else None
    )
    query, handler = start_query(spark, settings, filter_source, available_now, metrics)
    monitor = StreamMonitor(settings, query, metrics)
    stop = {"flag": False}

    def _stop(signum: int, _frame: Any) -> None:
        stop["flag"] = True

    in_main = threading.current_thread() is threading.main_thread()
    signals = (signal.SIGINT, signal.SIGTERM) if in_main else ()
    previous = {s: signal.signal(s, _stop) for s in signals}
    deadline = time.monotonic() + max_seconds if max_seconds else None
    try:
        while query.isActive and not stop["flag"]:
            if stop_event is not None and stop_event.is_set():
                break
            if deadline and time.monotonic() > deadline:
                break
            query.awaitTermination(0.5)
            monitor.update()
    except PySparkException as exc:
        raise InfrastructureError(f"the stream query failed: {exc}") from exc
    finally:
        for sig, handler_fn in previous.items():
            signal.signal(sig, handler_fn)
        if query.isActive:
            query.stop()
        monitor.update(active=False)
        if server is not None:
            server[0].shutdown()
    if query.exception() is not None:
        raise InfrastructureError(f"the stream query failed: {query.exception()}")
    return handler.run
