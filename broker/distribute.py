"""Distribute stage: route processed rows to their Kafka topics in one pass.

Input is the DataFrame of :func:`broker.enrich.process_batch` rows (one per
raw message).  Output is one DataFrame with the Kafka sink's columns
``topic, key, value, headers``: each accepted alert goes to the enriched
topic and to every enabled filter whose condition it meets (with that
filter's output profile); each rejected message goes to the dead-letter
topic.  The filters are evaluated together in a single projection and the
rows exploded, so the batch is decoded once whatever the number of filters.

The per-batch counters (in, published, rejected per reason, passed per
filter) are computed by Spark's ``observe`` during the same write, never by
a second pass.

Examples
--------
>>> from broker.filters import FilterSpec
>>> sql_condition(FilterSpec(name="x1", kind="sql", expression="mag < 18"))
"coalesce((mag < 18), false)"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from broker import __version__
from broker.config import Settings
from broker.enrich import STATUS_OK, STATUS_REJECTED
from broker.filters import FilterSpec
from broker.filters.sql import condition_sql
from broker.schema import deadletter_schema_version, schema_version

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

PROFILE_COLUMN = {"full": "payload_full", "lite": "payload_lite", "thin": "payload_thin"}


def sql_condition(spec: FilterSpec) -> str:
    """The SQL boolean a filter contributes (null counts as not passed).

    SQL filters wrap their expression; Python filters read ``py_passed``.
    """
    return condition_sql(spec)


def profiles_in_use(filters: list[FilterSpec]) -> set[str]:
    """Payload profiles the enrich stage must encode for these filters."""
    return {"full"} | {f.profile for f in filters if f.enabled}


def _header(name: str, value: Any) -> Column:
    from pyspark.sql import functions as F

    value_col = value if not isinstance(value, str) else F.lit(value)
    return F.struct(F.lit(name).alias("key"), value_col.cast("binary").alias("value"))


def metrics(filters: list[FilterSpec]) -> list[Column]:
    """Per-batch counters, aggregated from the cached processed rows after the write."""
    from pyspark.sql import functions as F

    ok = F.col("status") == STATUS_OK
    cols = [
        F.count(F.lit(1)).alias("in"),
        F.sum(F.when(ok, 1).otherwise(0)).alias("ok"),
        F.collect_list(F.when(F.col("status") == STATUS_REJECTED, F.col("reason"))).alias(
            "rejected_reasons"
        ),
        F.max(F.when(ok, F.col("ingest_ms"))).alias("max_ingest_ms"),
        F.collect_list(F.when(ok, F.col("ingest_ms"))).alias("ingest_ms_list"),
        F.sum(F.when(ok & F.col("enrich_errors").isNotNull(), 1).otherwise(0)).alias(
            "enrich_errors"
        ),
        F.collect_list(F.col("filter_errors")).alias("filter_errors"),
    ]
    for spec in filters:
        cond = ok & F.expr(sql_condition(spec))
        cols.append(F.sum(F.when(cond, 1).otherwise(0)).alias(f"filter:{spec.name}"))
    return cols


def distribute(processed: DataFrame, filters: list[FilterSpec], settings: Settings) -> DataFrame:
    """Rows for the Kafka sink: (topic, key, value, headers).

    Parameters
    ----------
    processed
        Output of the enrich stage.
    filters
        Enabled filters (disabled ones must already be left out).
    settings
        Configuration (topic names).
    """
    from pyspark.sql import functions as F

    kafka = settings.kafka
    common = [
        _header("faucon-version", __version__),
        _header("faucon-ingest-ms", F.col("ingest_ms").cast("string")),
    ]
    alert_headers = [*common, _header("faucon-schema", f"faucon.alert/{schema_version()}")]
    ok = F.col("status") == STATUS_OK
    routes = [
        F.when(
            ok,
            F.struct(
                F.lit(kafka.enriched_topic).alias("topic"),
                F.col("payload_full").alias("value"),
                F.array(*alert_headers).alias("headers"),
            ),
        )
    ]
    for spec in filters:
        routes.append(
            F.when(
                ok & F.expr(sql_condition(spec)),
                F.struct(
                    F.lit(spec.topic(kafka.topic_prefix)).alias("topic"),
                    F.col(PROFILE_COLUMN[spec.profile]).alias("value"),
                    F.array(
                        *alert_headers,
                        _header("faucon-filter", f"{spec.name}/v{spec.version}"),
                        _header("faucon-profile", spec.profile),
                    ).alias("headers"),
                ),
            )
        )
    routes.append(
        F.when(
            ~ok,
            F.struct(
                F.lit(kafka.deadletter_topic).alias("topic"),
                F.col("deadletter").alias("value"),
                F.array(
                    *common,
                    _header("faucon-schema", f"faucon.deadletter/{deadletter_schema_version()}"),
                    _header("faucon-reason", F.col("reason")),
                ).alias("headers"),
            ),
        )
    )
    routed = F.filter(F.array(*routes), lambda r: r.isNotNull())
    return processed.select(F.col("key"), F.explode(routed).alias("r")).select(
        F.col("r.topic").alias("topic"),
        F.col("key"),
        F.col("r.value").alias("value"),
        F.col("r.headers").alias("headers"),
    )


def output_topics(filters: list[FilterSpec], settings: Settings) -> list[str]:
    """Every topic the stream writes for these filters."""
    k = settings.kafka
    return [k.enriched_topic, k.deadletter_topic, *(f.topic(k.topic_prefix) for f in filters)]
