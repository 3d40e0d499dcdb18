"""Run by test_cluster.py in its own process: decode real alerts on a cluster's executors.

Prints one JSON line: the object ids decoded on the executors and where they ran.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import pyarrow as pa


def decode_on_executor(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Decode and normalize each message with the pipeline's own code, on the executor."""
    from broker.pipeline.decode import Decoder
    from broker.pipeline.normalize import normalize

    decoder = Decoder()
    for batch in batches:
        ids = []
        for value in batch.column("value").to_pylist():
            record, schema_name = decoder.decode(value)
            ids.append(normalize(record, schema_name)["object_id"])
        n = len(ids)
        yield pa.RecordBatch.from_pydict(
            {
                "object_id": ids,
                "pid": [os.getpid()] * n,
                "cwd": [os.getcwd()] * n,
            }
        )


def main(master: str, paths: list[str]) -> None:
    from broker.core.config import load_settings
    from broker.kafka.replay import load_messages
    from broker.spark.session import spark_session, stop_spark

    settings = load_settings(spark={"master": master, "executor_memory": "1g"})
    values = [m.value for m in load_messages(paths)]
    spark = spark_session(settings)
    try:
        df = spark.createDataFrame([(v,) for v in values], "value binary").repartition(2)
        out = df.mapInArrow(decode_on_executor, "object_id string, pid long, cwd string")
        rows = out.collect()
        result: dict[str, Any] = {
            "driver_pid": os.getpid(),
            "object_ids": sorted(r.object_id for r in rows),
            "pids": sorted({r.pid for r in rows}),
            "cwds": sorted({r.cwd for r in rows}),
            "app_master": spark.sparkContext.master,
        }
    finally:
        stop_spark(spark)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
