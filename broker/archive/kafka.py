"""Kafka side of the archive: offset ranges, decoding, Spark and consumer reads.

The same decoder (:func:`decode_batch`, built on :class:`broker.pipeline.decode.Decoder`)
runs in Spark's Python workers for the archive job and in the driver for the
verification, which re-reads the same offsets with a plain consumer.

Examples
--------
>>> import pyarrow as pa
>>> batch = pa.RecordBatch.from_pylist(
...     [{"value": b"junk", "partition": 0, "offset": 5, "timestamp_ms": 0}], schema=INPUT_SCHEMA)
>>> decode_batch(batch).column("decode_error").to_pylist()[0].startswith("DeserializeError")
True
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from broker.archive.paths import night_of
from broker.core.config import Settings
from broker.core.errors import ConfigError, InfrastructureError
from broker.core.schema import alert_schema, avro_field_to_arrow

INPUT_SCHEMA = pa.schema(
    [
        pa.field("value", pa.binary()),
        pa.field("partition", pa.int32()),
        pa.field("offset", pa.int64()),
        pa.field("timestamp_ms", pa.int64()),
    ]
)
_DECODER: dict[str, Any] = {}


def archive_arrow_schema() -> pa.Schema:
    """Arrow schema of the rows the decoder emits: alert fields, night, Kafka position."""
    fields = [avro_field_to_arrow(f) for f in alert_schema()["fields"]]
    return pa.schema(
        [
            *fields,
            pa.field("night", pa.string()),
            pa.field("kafka_partition", pa.int32()),
            pa.field("kafka_offset", pa.int64()),
            pa.field("kafka_timestamp_ms", pa.int64()),
            pa.field("decode_error", pa.string()),
        ]
    )


def decode_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Decode a batch of enriched-topic rows (value, partition, offset, timestamp_ms).

    One output row per message; a message that does not decode keeps its
    Kafka position and gets ``decode_error`` (it is counted, never archived).
    """
    from broker.pipeline.decode import Decoder

    decoder = _DECODER.setdefault("d", Decoder())
    rows: list[dict[str, Any]] = []
    for msg in batch.to_pylist():
        where = {
            "kafka_partition": msg["partition"],
            "kafka_offset": msg["offset"],
            "kafka_timestamp_ms": msg["timestamp_ms"],
        }
        try:
            record, _name = decoder.decode(msg["value"])
            rows.append({**record, "night": night_of(float(record["mjd_tai"])), **where})
        except Exception as exc:  # counted in the run record, never archived
            rows.append({**where, "decode_error": f"{type(exc).__name__}: {exc}"[:500]})
    return pa.RecordBatch.from_pylist(rows, schema=archive_arrow_schema())


def _decode_all(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield decode_batch(batch)


def offset_ranges(settings: Settings, topic: str, start_ms: int) -> dict[int, tuple[int, int]]:
    """Per partition ``(start, end)``: first offset at or after ``start_ms``, end snapshot."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    from broker.kafka.topics import client_config

    conf = client_config(settings, **{"group.id": "faucon-archive", "enable.auto.commit": False})
    consumer = Consumer(conf)
    try:
        meta = consumer.list_topics(topic, timeout=15)
        info = meta.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            raise ConfigError(
                f"topic {topic} does not exist on {settings.kafka.bootstrap}; "
                "has the stream run (faucon stream) with this topic prefix?"
            )
        wanted = [TopicPartition(topic, p, start_ms) for p in sorted(info.partitions)]
        found = consumer.offsets_for_times(wanted, timeout=15)
        ranges = {}
        for tp in found:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), 15)
            start = high if tp.offset < 0 else max(int(tp.offset), int(low))
            ranges[int(tp.partition)] = (start, int(high))
        return ranges
    except KafkaException as exc:
        raise InfrastructureError(
            f"cannot read offsets of {topic} on {settings.kafka.bootstrap}: {exc}; "
            "is Kafka running (faucon kafka status)?"
        ) from exc
    finally:
        consumer.close()


def read_range(
    spark: Any, settings: Settings, topic: str, ranges: dict[int, tuple[int, int]]
) -> Any:
    """Spark DataFrame of the decoded messages of ``topic`` in ``ranges`` (one row each)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    from broker.spark.session import kafka_security_options

    k = settings.kafka
    start = {topic: {str(p): s for p, (s, _e) in ranges.items()}}
    end = {topic: {str(p): e for p, (_s, e) in ranges.items()}}
    reader = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", k.bootstrap)
        .option("assign", json.dumps({topic: sorted(ranges)}))
        .option("startingOffsets", json.dumps(start))
        .option("endingOffsets", json.dumps(end))
        .option("kafka.max.partition.fetch.bytes", str(k.max_message_bytes))
    )
    for key, value in kafka_security_options(settings).items():
        reader = reader.option(key, value)
    raw = reader.load().selectExpr(
        "value", "partition", "offset", "unix_millis(timestamp) AS timestamp_ms"
    )
    return raw.mapInArrow(_decode_all, from_arrow_schema(archive_arrow_schema()))


def read_offsets(
    settings: Settings,
    topic: str,
    ranges: dict[int, tuple[int, int]],
    batch_size: int = 2000,
    timeout: float = 60.0,
) -> Iterator[pa.RecordBatch]:
    """Yield the messages of ``topic`` in ``ranges`` as Arrow batches (:data:`INPUT_SCHEMA`).

    Raises
    ------
    InfrastructureError
        When a range cannot be read completely within ``timeout`` idle seconds
        (messages deleted by retention, Kafka down).
    """
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    from broker.kafka.topics import client_config

    todo = {p: (s, e) for p, (s, e) in ranges.items() if e > s}
    if not todo:
        return
    conf = client_config(
        settings,
        **{
            "group.id": "faucon-archive-verify",
            "enable.auto.commit": False,
            "auto.offset.reset": "error",
            "max.partition.fetch.bytes": settings.kafka.max_message_bytes,
        },
    )
    consumer = Consumer(conf)
    try:
        consumer.assign([TopicPartition(topic, p, s) for p, (s, _e) in todo.items()])
        rows: list[dict[str, Any]] = []
        last = time.monotonic()
        while todo:
            msg = consumer.poll(0.5)
            if msg is None:
                if time.monotonic() - last > timeout:
                    raise InfrastructureError(
                        f"{topic}: offsets {todo} not readable after {timeout:.0f} s "
                        "(deleted by retention, or Kafka down?)"
                    )
                continue
            if msg.error() is not None:
                raise InfrastructureError(f"reading {topic}: {msg.error()}")
            last = time.monotonic()
            part, offset = int(msg.partition() or 0), int(msg.offset() or 0)
            if part not in todo or offset >= todo[part][1]:
                continue
            rows.append(
                {
                    "value": msg.value(),
                    "partition": part,
                    "offset": offset,
                    "timestamp_ms": msg.timestamp()[1],
                }
            )
            if offset + 1 >= todo[part][1]:
                consumer.incremental_unassign([TopicPartition(topic, part)])
                del todo[part]
            if len(rows) >= batch_size:
                yield pa.RecordBatch.from_pylist(rows, schema=INPUT_SCHEMA)
                rows = []
        if rows:
            yield pa.RecordBatch.from_pylist(rows, schema=INPUT_SCHEMA)
    except KafkaException as exc:
        raise InfrastructureError(
            f"cannot read {topic} on {settings.kafka.bootstrap}: {exc}"
        ) from exc
    finally:
        consumer.close()
