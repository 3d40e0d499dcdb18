"""The stream measurements of ``faucon bench``: throughput, latency, scaling.

Each measurement uses its own topics (``raw.<tag>.alerts`` in, ``<tag>.*``
out) and checkpoint on the local Kafka and one Spark session, with the same
filters a deployment would run.

Examples
--------
>>> len(bench_filters(25)), len({f.name for f in bench_filters(25)})
(25, 25)
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from broker.core.config import Settings
from broker.filters.base import FilterSpec
from broker.kafka.consume import latencies_s, read_topic
from broker.kafka.replay import Message, publish
from broker.kafka.topics import delete_topics, list_topics, topic_counts

# Selective, like science filters: together they pass a small fraction of the
# alerts (the measured fraction is reported with the results).
_TEMPLATES = (
    ("is_positive AND mag < {x}", (15.0, 15.5, 16.0, 16.5, 17.0, 17.5), "lite"),
    ("is_positive AND snr > {x}", (100.0, 200.0, 500.0, 1000.0), "thin"),
    (
        "is_positive AND coalesce(reliability, 0) >= {x} AND n_detections >= 5",
        (0.9, 0.95, 0.99),
        "thin",
    ),
    ("n_detections >= {x}", (20.0, 40.0, 60.0), "lite"),
    ("size(filter(history, h -> h.kind = 'detection' AND h.mag < {x})) > 2", (15.5, 16.5), "full"),
    (
        "context = '{x}'",
        ("young_stellar_object", "agn_blazar", "variable_star", "solar_system"),
        "thin",
    ),
    (
        "coalesce(scores['snia.Ia'].probability, scores['snia_ztf.Ia'].probability, 0) > {x}",
        (0.9, 0.95, 0.98),
        "lite",
    ),
)


def bench_filters(n: int) -> list[FilterSpec]:
    """``n`` SQL filters over real columns (magnitudes, S/N, history, context, scores)."""
    specs: list[FilterSpec] = []
    for template, values, profile in _TEMPLATES:
        for value in values:
            specs.append(
                FilterSpec(
                    name=f"bench_{len(specs):02d}",
                    kind="sql",
                    expression=template.format(x=value),
                    profile=profile,  # type: ignore[arg-type]
                    description="faucon bench filter",
                )
            )
    while len(specs) < n:
        specs.append(specs[len(specs) % 7].model_copy(update={"name": f"bench_{len(specs):02d}"}))
    return specs[:n]


def isolated(settings: Settings, label: str, **spark: Any) -> Settings:
    """Settings with topics and checkpoint of their own for one measurement."""
    tag = f"bench{label}{uuid.uuid4().hex[:6]}"
    kafka = settings.kafka.model_copy(
        update={"topic_prefix": tag, "subscribe_pattern": rf"raw\.{tag}\..+"}
    )
    return settings.model_copy(
        update={"kafka": kafka, "metrics_port": 0, "spark": settings.spark.model_copy(update=spark)}
    )


@contextmanager
def measurement(settings: Settings, label: str, **spark: Any) -> Iterator[Settings]:
    """Isolated settings for one measurement; its topics and checkpoint are deleted after.

    A full bench writes tens of GB to Kafka (every alert about four times):
    kept, they would fill the disk.
    """
    from broker.ops.stats import stats_path
    from streams.ingest import checkpoint_dir

    s = isolated(settings, label, **spark)
    tag = s.kafka.topic_prefix
    try:
        yield s
    finally:
        mine = [t for t in list_topics(s) if t.startswith((f"{tag}.", f"raw.{tag}."))]
        delete_topics(s, mine)
        shutil.rmtree(checkpoint_dir(s), ignore_errors=True)
        stats_path(s).unlink(missing_ok=True)


def throughput(
    spark: Any,
    settings: Settings,
    messages: list[Message],
    n_alerts: int,
    filters: list[FilterSpec],
) -> dict[str, Any]:
    """Alerts/s of the full stream catching up on ``n_alerts`` messages already in Kafka."""
    from streams.ingest import run

    with measurement(settings, "tp") as s:
        loops = -(-n_alerts // len(messages))
        publish(s, f"raw.{s.kafka.topic_prefix}.alerts", messages, loop=loops, progress=False)
        t0 = time.monotonic()
        stats = run(s, available_now=True, spark=spark, filter_source=lambda: filters)
        elapsed = time.monotonic() - t0
    d = stats.data
    return {
        "alerts": d["in"],
        "seconds": round(elapsed, 2),
        "batches": d["batches"],
        "alerts_per_s": d["in"] / elapsed,
        "reconciles": stats.reconciles(),
        # output volume: messages written to filter topics per input alert
        "filter_messages_per_alert": sum(
            n for topic, n in d["published"].items() if ".filter." in topic
        )
        / max(d["in"], 1),
    }


def latency(
    spark: Any,
    settings: Settings,
    messages: list[Message],
    rate: float,
    seconds: float,
    filters: list[FilterSpec],
) -> dict[str, Any]:
    """Ingest-to-output latency of alerts offered at ``rate`` per second for ``seconds``."""
    from streams.ingest import start_query

    with measurement(settings, f"lat{int(rate)}") as s:
        query, handler = start_query(spark, s, filter_source=lambda: filters)
        topic = f"raw.{s.kafka.topic_prefix}.alerts"
        try:
            publish(s, topic, messages[:50], progress=False)  # warm-up batch
            _wait(handler, 50, query)
            start_ms = int(time.time() * 1000)
            n = int(rate * seconds)
            loops = -(-n // len(messages))
            sent = publish(s, topic, (messages * loops)[:n], rate=rate, progress=False).sent
            _wait(handler, 50 + sent, query)
        finally:
            query.stop()
        out = s.kafka.enriched_topic
        msgs = read_topic(s, out, max_messages=topic_counts(s, [out])[out], idle_timeout=30)
        # streamed: only the two timestamps of each message are kept, not its payload
        lat = latencies_s(
            m for m in msgs if int(m.headers.get("faucon-ingest-ms", b"0")) >= start_ms
        )
    from broker.bench.resources import percentiles

    return {"rate": rate, "offered": sent, "measured": len(lat), **percentiles(lat)}


def _wait(handler: Any, n: int, query: Any, timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while handler.run.data["in"] < n:
        if not query.isActive or time.monotonic() > deadline:
            raise RuntimeError(
                f"bench stream processed {handler.run.data['in']} of {n}: {query.exception()}"
            )
        time.sleep(0.1)
