"""The Spark session and the Kafka client options of the stream.

Examples
--------
>>> from broker.core.config import load_settings
>>> kafka_security_options(load_settings())
{}
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from typing import Any

from broker.core.config import Settings


def spark_session(settings: Settings) -> Any:
    """Create (or reuse) the Spark session, with the Kafka connector jars.

    Sized for a 2-core, 24 GB machine by default (``local[2]``, 2 GB driver);
    every knob is in :class:`broker.core.config.SparkSettings`.
    """
    from pyspark.sql import SparkSession

    from broker.kafka.jars import ensure_spark_kafka_jars

    jars = ensure_spark_kafka_jars(settings)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    sp = settings.spark
    local_dir = settings.state_dir / "spark"
    local_dir.mkdir(parents=True, exist_ok=True)
    builder = (
        SparkSession.builder.master(sp.master)
        .appName("faucon-stream")
        .config("spark.jars", ",".join(str(j) for j in jars))
        .config("spark.driver.memory", sp.driver_memory)
        .config("spark.executor.memory", sp.executor_memory)
        .config("spark.sql.shuffle.partitions", str(sp.shuffle_partitions))
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(sp.arrow_batch_rows))
        .config("spark.sql.session.timeZone", "UTC")
        # A bad filter expression yields null (not passed) instead of failing the batch.
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.python.worker.reuse", "true")
        # Kafka through DataSource V2 (not V1): a batch write then runs in the
        # query's own plan, so Observation counters are collected by the write.
        .config("spark.sql.sources.useV1SourceList", "avro,csv,json,orc,parquet,text")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.local.dir", str(local_dir))
        .config("spark.sql.warehouse.dir", str(settings.state_dir / "spark-warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={local_dir}")
    )
    if sp.master.startswith("spark://"):
        # executors are other JVMs in their own working directories: same interpreter,
        # paths in the settings are absolute, jars are shipped by spark.jars
        builder = builder.config("spark.pyspark.python", sys.executable).config(
            "spark.executor.cores", str(sp.worker_cores)
        )
        if sp.master.split("//", 1)[1].startswith(("127.", "localhost")):
            # a master on loopback: the driver answers its executors there too
            builder = builder.config("spark.driver.host", "127.0.0.1").config(
                "spark.driver.bindAddress", "127.0.0.1"
            )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def kafka_security_options(settings: Settings) -> dict[str, str]:
    """Spark Kafka options for the configured security protocol.

    The JAAS line holds the password; Spark's Kafka connector redacts
    ``sasl.jaas.config`` in its logs, and Faucon never logs these options.
    """
    from broker.kafka.credentials import SASL_MECHANISM, sasl_credentials

    k = settings.kafka
    if k.security_protocol == "PLAINTEXT":
        return {}
    creds = sasl_credentials(settings)
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{creds.username}" password="{creds.password}";'
    )
    return {
        "kafka.security.protocol": k.security_protocol,
        "kafka.sasl.mechanism": SASL_MECHANISM,
        "kafka.sasl.jaas.config": jaas,
    }


def stop_spark(spark: Any, timeout_s: float = 15.0) -> None:
    """Stop the session and the driver JVM this process launched, so no client outlives it.

    ``SparkSession.stop`` leaves the gateway JVM running until Python exits,
    with its cached Kafka producers still connected; a command that then
    stops the broker would get their connection warnings. The JVM exits
    when its standard input closes (pyspark's launcher watches it).
    """
    from pyspark import SparkContext

    spark.stop()
    gateway = SparkContext._gateway
    proc = getattr(gateway, "proc", None)
    if gateway is None or proc is None:
        return
    with contextlib.suppress(Exception):
        gateway.shutdown()
    SparkContext._gateway = None
    SparkContext._jvm = None
    with contextlib.suppress(OSError):
        proc.stdin.close()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout_s)
