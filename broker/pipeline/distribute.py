"""Distribute stage: route processed rows to their Kafka topics in one pass.

Input is the DataFrame of :func:`broker.pipeline.enrich.process_batch` rows (one per
raw message).  Output is one DataFrame with the Kafka sink's columns
``topic, key, value, headers``: each accepted alert goes to the enriched
topic and to every enabled filter whose condition it meets (with that
filter's output profile); each rejected message goes to the dead-letter
topic.  Each filter's condition is evaluated once per row into a flag, and
the rows exploded, so the batch is decoded once whatever the number of
filters.

The per-batch counters (in, published, rejected per reason, passed per
filter) are computed by Spark's ``observe`` during the same write: no second
pass over the batch and no cache of its payloads.

Examples
--------
>>> from broker.filters import FilterSpec
>>> sql_condition(FilterSpec(name="x1", kind="sql", expression="mag < 18"))
"coalesce((mag < 18), false)"
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from broker import __version__
from broker.core.config import Settings
from broker.core.schema import deadletter_schema_version, schema_version
from broker.filters import FilterSpec
from broker.filters.sql import condition_sql
from broker.pipeline.enrich import STATUS_OK, STATUS_REJECTED

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

log = logging.getLogger("faucon.distribute")
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


def _pass_column(index: int) -> str:
    return f"_pass{index}"


class Router:
    """The routing plan of one filter set, built once and reused by every micro-batch.

    The Spark columns (filter conditions, counters, routes) are created once:
    building them costs hundreds of py4j calls and SQL parses, which would
    otherwise be paid again on every micro-batch.

    Parameters
    ----------
    filters
        Enabled filters (disabled ones must already be left out).
    settings
        Configuration (topic names).
    """

    def __init__(self, filters: list[FilterSpec], settings: Settings) -> None:
        from pyspark.sql import functions as F

        ok = F.col("status") == STATUS_OK
        self.filters = list(filters)
        self.names = [spec.name for spec in filters]
        # Each condition evaluated once per row; the counters and the routes read the flag.
        self.select_flags = [
            F.col("*"),
            *(
                (ok & F.expr(sql_condition(spec))).alias(_pass_column(i))
                for i, spec in enumerate(filters)
            ),
        ]
        self.metrics = _metric_columns(filters)
        routed = F.filter(F.array(*_routes(filters, settings)), lambda r: r.isNotNull())
        self.explode = [F.col("key"), F.explode(routed).alias("r")]
        self.sink_columns = [
            F.col("r.topic").alias("topic"),
            F.col("key"),
            F.col("r.value").alias("value"),
            F.col("r.headers").alias("headers"),
        ]

    def view_columns(self, spark: Any) -> tuple[str, ...] | None:
        """The filter-view columns the SQL filters read (one analysis); None when unknown.

        The enrich stage then returns only these columns: the JVM converts no
        column that no filter reads.
        """
        from broker.filters.sql import empty_view

        sql = [spec.expression for spec in self.filters if spec.kind == "sql"]
        if not sql:
            return ()
        try:
            frame = empty_view(spark).selectExpr(*(f"({e}) AS c{i}" for i, e in enumerate(sql)))
            refs = frame._jdf.queryExecution().analyzed().references().toSeq()
            return tuple(sorted({str(refs.apply(i).name()) for i in range(refs.size())}))
        except Exception as exc:  # validated filters analyze; if not, convert every column
            log.warning("could not list the columns the filters read (%s); sending all", exc)
            return None

    def route(self, processed: DataFrame, name: str) -> tuple[DataFrame, Any]:
        """Rows for the Kafka sink, and the Observation that counts them during the write.

        Parameters
        ----------
        processed
            Output of the enrich stage.
        name
            Name of the observation (unique per micro-batch).

        Returns
        -------
        tuple
            ``(DataFrame of topic, key, value, headers; pyspark Observation)``.
            The observation's values are available once the DataFrame is written.
        """
        from pyspark.sql import Observation

        observation = Observation(name)
        flagged = processed.select(*self.select_flags).observe(observation, *self.metrics)
        return flagged.select(*self.explode).select(*self.sink_columns), observation


def observed_counts(values: dict[str, Any], filter_names: list[str]) -> dict[str, Any]:
    """The observation's values as the stream's counters (JSON lists decoded, nulls as 0)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key.endswith("_json"):
            out[key[: -len("_json")]] = json.loads(value) if value else []
        else:
            out[key] = value if value is not None else 0
    for i, name in enumerate(filter_names):
        out[f"filter:{name}"] = int(out.pop(f"filter{i}", 0) or 0)
    return out


def _metric_columns(filters: list[FilterSpec]) -> list[Column]:
    """Per-batch counters, observed during the write (no second pass over the batch)."""
    from pyspark.sql import functions as F

    ok = F.col("status") == STATUS_OK
    cols = [
        F.count(F.lit(1)).alias("in"),
        F.sum(F.when(ok, 1).otherwise(0)).alias("ok"),
        F.to_json(
            F.collect_list(F.when(F.col("status") == STATUS_REJECTED, F.col("reason")))
        ).alias("rejected_reasons_json"),
        F.max(F.when(ok, F.col("ingest_ms"))).alias("max_ingest_ms"),
        F.to_json(F.collect_list(F.when(ok, F.col("ingest_ms")))).alias("ingest_ms_list_json"),
        F.sum(F.when(ok & F.col("enrich_errors").isNotNull(), 1).otherwise(0)).alias(
            "enrich_errors"
        ),
        F.to_json(F.collect_list(F.col("filter_errors"))).alias("filter_errors_json"),
    ]
    for i in range(len(filters)):
        cols.append(F.sum(F.col(_pass_column(i)).cast("int")).alias(f"filter{i}"))
    return cols


def _routes(filters: list[FilterSpec], settings: Settings) -> list[Column]:
    """One optional (topic, value, headers) struct per destination of a row."""
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
    for i, spec in enumerate(filters):
        routes.append(
            F.when(
                F.col(_pass_column(i)),
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
    return routes


def output_topics(filters: list[FilterSpec], settings: Settings) -> list[str]:
    """Every topic the stream writes for these filters."""
    k = settings.kafka
    return [k.enriched_topic, k.deadletter_topic, *(f.topic(k.topic_prefix) for f in filters)]
