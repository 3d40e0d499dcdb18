"""Replay an archived night, or a filter's selection of it, into a Kafka topic.

The night's Parquet files are read with Spark, the optional SQL filter
expression (the same language as the stream's SQL filters, over the alert's
columns) selects the rows, each row is re-encoded as a one-record Avro
container of ``faucon.alert`` (the enriched topic's format, cutouts included)
in Python workers (``mapInArrow``), and the Kafka sink writes them keyed by
object id with the stream's headers plus ``faucon-replay-night`` and
``faucon-replay-filter``.

Examples
--------
>>> rec = alert_record({"survey": "ZTF", "scores": [("snia.Ia", {"label": "Ia"})],
...                     "night": "2023-10-17", "kafka_offset": 3})
>>> rec["scores"], "night" in rec
({'snia.Ia': {'label': 'Ia'}}, False)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pyarrow as pa

from broker import __version__
from broker.archive.paths import archive_root, check_night, night_dirs
from broker.core.config import Settings
from broker.core.errors import ConfigError
from broker.core.schema import alert_schema, schema_version
from broker.pipeline.encode import ContainerEncoder

ENCODED_SCHEMA = pa.schema(
    [
        pa.field("key", pa.binary()),
        pa.field("value", pa.binary()),
        pa.field("survey", pa.string()),
        pa.field("alert_id", pa.int64()),
    ]
)


@dataclass
class ReplayNightSummary:
    """What :func:`replay_night` published."""

    night: str
    topic: str
    filter_sql: str | None
    sent: int = 0
    by_survey: dict[str, int] = field(default_factory=dict)
    alert_ids: list[tuple[str, int]] = field(default_factory=list)


@cache
def _map_fields() -> tuple[str, ...]:
    """Top-level alert fields of Avro map type (Arrow gives them as lists of pairs)."""
    out = []
    for f in alert_schema()["fields"]:
        types = f["type"] if isinstance(f["type"], list) else [f["type"]]
        if any(isinstance(t, dict) and t.get("type") == "map" for t in types):
            out.append(f["name"])
    return tuple(out)


@cache
def _field_names() -> tuple[str, ...]:
    return tuple(f["name"] for f in alert_schema()["fields"])


def alert_record(row: dict[str, Any]) -> dict[str, Any]:
    """A ``faucon.alert`` record from an archived row (maps restored, archive columns dropped)."""
    rec = {name: row.get(name) for name in _field_names()}
    for name in _map_fields():
        value = rec.get(name)
        if isinstance(value, list):
            rec[name] = dict(value)
    return rec


@cache
def _encoder() -> ContainerEncoder:
    return ContainerEncoder(alert_schema())


def encode_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Archived rows to (key, value, survey, alert_id): value is a one-record Avro container."""
    out = []
    for row in batch.to_pylist():
        rec = alert_record(row)
        out.append(
            {
                "key": str(rec["object_id"]).encode(),
                "value": _encoder().encode(rec),
                "survey": rec["survey"],
                "alert_id": rec["alert_id"],
            }
        )
    return pa.RecordBatch.from_pylist(out, schema=ENCODED_SCHEMA)


def _encode_all(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield encode_batch(batch)


def read_night(spark: Any, settings: Settings, night: str) -> Any:
    """DataFrame of an archived night (every survey), with ``survey`` and ``night`` columns."""
    night = check_night(night)
    dirs = night_dirs(settings, night)
    if not dirs:
        raise ConfigError(
            f"night {night} is not archived under {archive_root(settings)}; "
            f"run `faucon archive --night {night}` first"
        )
    root = str(archive_root(settings))
    return spark.read.option("basePath", root).parquet(*(str(d) for d in dirs.values()))


def select(df: Any, filter_sql: str | None) -> Any:
    """Rows of ``df`` passing ``filter_sql`` (null counts as not passed, as in the stream)."""
    if not filter_sql:
        return df
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    # pyspark logs analysis errors through these loggers, and fails doing so when
    # they are plain loggers (errorClass keyword): the error is reported below instead.
    quiet = [logging.getLogger(n) for n in ("SQLQueryContextLogger", "DataFrameQueryContextLogger")]
    before = [q.disabled for q in quiet]
    try:
        for q in quiet:
            q.disabled = True
        selected = df.where(F.expr(f"coalesce(({filter_sql}), false)"))
        selected.schema  # noqa: B018 -- analyses the expression now
    except (PySparkException, Py4JJavaError) as exc:
        text = str(exc).strip().splitlines()
        first = next((x for x in text if "Exception:" in x or "[" in x), text[0] if text else "")
        raise ConfigError(f"filter expression {filter_sql!r} is not valid here: {first}") from exc
    finally:
        for q, was in zip(quiet, before, strict=True):
            q.disabled = was
    return selected


def replay_night(
    settings: Settings,
    night: str,
    topic: str,
    filter_sql: str | None = None,
    spark: Any = None,
) -> ReplayNightSummary:
    """Publish the archived alerts of ``night`` (those passing ``filter_sql``) on ``topic``.

    Parameters
    ----------
    settings
        Faucon settings (Kafka, archive location).
    night
        ``YYYY-MM-DD`` (Rubin dayObs).
    topic
        Destination topic (created when missing).
    filter_sql
        Spark SQL boolean over the alert's columns, e.g. ``"mag < 18 AND is_positive"``.
    spark
        Spark session (default: :func:`broker.spark.session.spark_session`).

    Examples
    --------
    >>> replay_night(load_settings(), "2023-10-17", "replay.bright", "mag < 18")  # doctest: +SKIP
    ReplayNightSummary(night='2023-10-17', topic='replay.bright', ..., sent=41, ...)
    """
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    from broker.kafka.topics import ensure_topics
    from broker.spark.session import kafka_security_options, spark_session

    night = check_night(night)
    spark = spark or spark_session(settings)
    rows = select(read_night(spark, settings, night), filter_sql)
    encoded = rows.mapInArrow(_encode_all, from_arrow_schema(ENCODED_SCHEMA)).persist()
    try:
        summary = ReplayNightSummary(night, topic, filter_sql)
        ids = encoded.select("survey", "alert_id").collect()
        summary.alert_ids = sorted((str(r["survey"]), int(r["alert_id"])) for r in ids)
        for survey, _id in summary.alert_ids:
            summary.by_survey[survey] = summary.by_survey.get(survey, 0) + 1
        summary.sent = len(summary.alert_ids)
        if summary.sent:
            ensure_topics(settings, [topic])
            headers = [
                ("faucon-version", __version__),
                ("faucon-schema", f"faucon.alert/{schema_version()}"),
                ("faucon-replay-night", night),
                ("faucon-replay-filter", filter_sql or ""),
            ]
            out = encoded.select(
                "key",
                "value",
                F.array(
                    *(
                        F.struct(F.lit(k).alias("key"), F.lit(v).cast("binary").alias("value"))
                        for k, v in headers
                    )
                ).alias("headers"),
            )
            k = settings.kafka
            writer = (
                out.write.format("kafka")
                .mode("append")
                .option("kafka.bootstrap.servers", k.bootstrap)
                .option("topic", topic)
                .option("kafka.max.request.size", str(k.max_message_bytes))
                .option("kafka.compression.type", k.compression)
                .option("kafka.acks", "all")
            )
            for key, value in kafka_security_options(settings).items():
                writer = writer.option(key, value)
            writer.save()
    finally:
        encoded.unpersist()
    return summary
