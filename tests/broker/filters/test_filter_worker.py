"""The Python filter runner inside a real Spark Python worker, where the stream calls it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from broker.filters import FilterSpec

pytestmark = pytest.mark.integration


def test_budget_and_isolation_hold_in_a_spark_python_worker(
    spark: Any, team: str, tmp_path: Path
) -> None:
    spark.sparkContext.addPyFile(str(tmp_path / f"{team}.py"))  # installed on the workers
    specs = [
        FilterSpec(name=fn, kind="python", expression=f"{team}:{fn}", inputs=("mag",))
        for fn in ("busy", "boom", "faint")
    ]
    alerts = [{"mag": 17.0}, {"mag": 19.0}]

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import threading
        import time

        from broker.filters.python import run_python_filters

        for _batch in batches:
            started = time.monotonic()
            passed, errors = run_python_filters(specs, alerts, budget_s=0.5)
            row = {
                "passed": json.dumps(passed),
                "errors": json.dumps(errors),
                "seconds": time.monotonic() - started,
                "main_thread": threading.current_thread() is threading.main_thread(),
            }
            yield pa.RecordBatch.from_pylist([row])

    schema = "passed string, errors string, seconds double, main_thread boolean"
    (row,) = spark.range(1, numPartitions=1).mapInArrow(run, schema).collect()
    assert row.main_thread  # so the alarm can interrupt a filter that never returns
    assert json.loads(row.passed) == [[], ["faint"]]
    errors = json.loads(row.errors)
    assert errors["busy"] == "exceeded its time budget of 0.5 s for a batch of 2 alerts"
    assert errors["boom"] == "raised ValueError: no luck"
    assert row.seconds < 3
