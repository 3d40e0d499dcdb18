"""Prometheus metrics of the stream, served over HTTP by the driver.

Metric names (all prefixed ``faucon_``):

==================================  =========  ====================================================
name                                type       meaning
==================================  =========  ====================================================
alerts_in_total                     counter    raw messages read from the input topics
alerts_ok_total                     counter    alerts published on the enriched topic
published_total{topic}              counter    messages written per output topic
rejected_total{reason}              counter    messages dead-lettered, per reason
enrich_errors_total                 counter    alerts that lost an enrichment unit's output
batches_total                       counter    micro-batches processed
batch_duration_seconds              histogram  time to process one micro-batch
latency_seconds                     histogram  Kafka ingest timestamp to output written, per alert
consumer_lag                        gauge      input messages not yet processed (all partitions)
last_batch_timestamp_seconds        gauge      Unix time the last micro-batch finished
model_info{model,version,hash}      gauge      1 for each promoted model in use
inference_provider{provider,reason} gauge      1 for the onnxruntime execution provider models use
filter_state{filter,state}          gauge      1 for each filter's current state
==================================  =========  ====================================================

Examples
--------
>>> m = StreamMetrics()
>>> m.observe_batch({"in": 3, "ok": 2, "rejected_reasons": ["empty_message"]}, 0.5,
...                 {"t.enriched": 2}, [0.2, 1.5])
>>> b"faucon_alerts_in_total 3.0" in m.exposition()
True
"""

from __future__ import annotations

from collections import Counter as _Counter
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS_S = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0)
BATCH_BUCKETS_S = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 40.0, 80.0)


class StreamMetrics:
    """The stream's metrics, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.alerts_in = Counter("faucon_alerts_in", "raw messages read", registry=r)
        self.alerts_ok = Counter("faucon_alerts_ok", "alerts published (enriched)", registry=r)
        self.published = Counter(
            "faucon_published", "messages written per output topic", ["topic"], registry=r
        )
        self.rejected = Counter(
            "faucon_rejected", "messages dead-lettered per reason", ["reason"], registry=r
        )
        self.enrich_errors = Counter(
            "faucon_enrich_errors", "alerts that lost an enrichment unit's output", registry=r
        )
        self.batches = Counter("faucon_batches", "micro-batches processed", registry=r)
        self.batch_duration = Histogram(
            "faucon_batch_duration_seconds",
            "micro-batch processing time",
            registry=r,
            buckets=BATCH_BUCKETS_S,
        )
        self.latency = Histogram(
            "faucon_latency_seconds",
            "Kafka ingest to output written, per alert",
            registry=r,
            buckets=LATENCY_BUCKETS_S,
        )
        self.lag = Gauge("faucon_consumer_lag", "input messages not yet processed", registry=r)
        self.last_batch = Gauge(
            "faucon_last_batch_timestamp_seconds", "Unix time of the last micro-batch", registry=r
        )
        self.model_info = Gauge(
            "faucon_model_info", "promoted models in use", ["model", "version", "hash"], registry=r
        )
        self.filter_state = Gauge(
            "faucon_filter_state", "filter states", ["filter", "state"], registry=r
        )
        self.inference_provider = Gauge(
            "faucon_inference_provider",
            "onnxruntime execution provider the models run on",
            ["provider", "reason"],
            registry=r,
        )

    def observe_batch(
        self,
        observed: dict[str, Any],
        duration_s: float,
        published: dict[str, int],
        latencies_s: Iterable[float],
    ) -> None:
        """Record one micro-batch."""
        self.alerts_in.inc(int(observed.get("in") or 0))
        self.alerts_ok.inc(int(observed.get("ok") or 0))
        self.enrich_errors.inc(int(observed.get("enrich_errors") or 0))
        for reason, n in _Counter(r for r in observed.get("rejected_reasons") or [] if r).items():
            self.rejected.labels(reason=reason).inc(n)
        for topic, n in published.items():
            self.published.labels(topic=topic).inc(n)
        self.batches.inc()
        self.batch_duration.observe(duration_s)
        for value in latencies_s:
            self.latency.observe(value)
        import time

        self.last_batch.set(time.time())

    def set_models(self, models: Iterable[tuple[str, str, str]]) -> None:
        """Promoted models in use: (name, version, hash), and the provider they run on
        (the configured preference, as the workers read it)."""
        from broker.core.errors import ConfigError
        from classifiers.providers import choose

        self.model_info.clear()
        for name, version, digest in models:
            self.model_info.labels(model=name, version=version, hash=digest).set(1)
        self.inference_provider.clear()
        try:
            choice = choose()
            self.inference_provider.labels(provider=choice.provider, reason=choice.reason).set(1)
        except ConfigError as exc:  # the models cannot load either; say why
            self.inference_provider.labels(provider="unavailable", reason=str(exc)[:200]).set(1)

    def set_filters(self, states: dict[str, str]) -> None:
        """Current state of every filter (enabled, disabled, quarantined)."""
        self.filter_state.clear()
        for name, state in states.items():
            self.filter_state.labels(filter=name, state=state).set(1)

    def exposition(self) -> bytes:
        """The metrics in Prometheus text format."""
        return bytes(generate_latest(self.registry))

    def serve(self, port: int, addr: str = "127.0.0.1") -> Any:
        """Serve ``/metrics`` on ``addr:port`` from a daemon thread."""
        from prometheus_client import start_http_server

        return start_http_server(port, addr=addr, registry=self.registry)
