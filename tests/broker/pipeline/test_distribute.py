"""The routing plan: the columns the filters read, and the narrowed enrich output."""

from __future__ import annotations

from typing import Any

from broker.core.config import Settings
from broker.core.schema import filter_view_schema
from broker.filters import FilterSpec
from broker.pipeline.distribute import Router, observed_counts
from broker.pipeline.enrich import output_schema

SQL = [
    FilterSpec(name="bright", kind="sql", expression="mag < 18 AND is_positive"),
    FilterSpec(
        name="rising",
        kind="sql",
        expression="size(filter(history, h -> h.kind = 'detection' AND h.mag < 17)) > 2",
    ),
]
PY = FilterSpec(name="rise", kind="python", expression="m:f", inputs=("mag",))


def test_view_columns_are_what_the_sql_filters_read(spark: Any, service_settings: Settings) -> None:
    assert Router([*SQL, PY], service_settings).view_columns(spark) == (
        "history",
        "is_positive",
        "mag",
    )
    assert Router([PY], service_settings).view_columns(spark) == ()


def test_enrich_output_keeps_only_those_columns() -> None:
    narrow = output_schema(("history", "mag"))
    view = set(filter_view_schema().names)
    assert set(narrow.names) & view == {"history", "mag"}
    assert {"status", "reason", "key", "payload_full", "py_passed"} <= set(narrow.names)
    assert set(output_schema().names) >= view  # None: every column


def test_observed_counts_decode_lists_and_name_filters() -> None:
    values = {
        "in": 3,
        "ok": 2,
        "rejected_reasons_json": '["corrupt_avro"]',
        "ingest_ms_list_json": "[1,2]",
        "filter_errors_json": None,
        "max_ingest_ms": None,
        "filter0": 1,
        "filter1": None,
    }
    counts = observed_counts(values, ["bright", "rising"])
    assert counts["rejected_reasons"] == ["corrupt_avro"]
    assert counts["ingest_ms_list"] == [1, 2]
    assert counts["filter_errors"] == []
    assert counts["max_ingest_ms"] == 0
    assert counts["filter:bright"] == 1 and counts["filter:rising"] == 0
