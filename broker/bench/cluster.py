"""``faucon bench --cluster``: the stream on real clusters, with 1 and 2 Spark workers.

In one run, on this machine: a three-node Kafka cluster (replication factor 3,
``min.insync.replicas`` 2, ``acks=all``) is started, then

* ``decode_floor_alerts_per_s``: fastavro decoding, one process per core (the
  baseline every figure is divided by, as in ``faucon bench``);
* ``local``: the full stream in ``local[N]`` on that Kafka cluster;
* ``workers_1``, ``workers_2``: the same job on a Spark standalone cluster
  (master and workers from pyspark's ``spark-class``) of 1, then 2 workers of
  ``FAUCON_SPARK__WORKER_CORES`` cores each.

Each stream figure is the full pipeline (decode, enrich, 25 filters, Kafka
writes) catching up on a backlog of real alerts, after a warm-up, on topics of
its own. The mean raw message size is recorded for sizing
(``docs/operations.md``).

Examples
--------
>>> sizing_rubin(alerts_per_s_per_core=300.0)["cores_for_peak"]
3
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from broker.bench.resources import machine
from broker.bench.run import bench_messages, decode_floor
from broker.core.config import Settings

RUBIN_ALERTS_PER_VISIT = 10_000  # alerts per Rubin visit (design)
RUBIN_VISIT_S = 40.0  # seconds between Rubin visits
RUBIN_ALERTS_PER_NIGHT = 10_000_000  # alerts in a busy Rubin night
# throughput / sustained rate: after an outage, catch up twice as fast as the backlog grew
HEADROOM = 3.0


def sizing_rubin(alerts_per_s_per_core: float, headroom: float = HEADROOM) -> dict[str, Any]:
    """Cores a Rubin night needs at a measured per-core stream rate.

    The sustained rate is one visit's alerts per visit interval (250 alerts/s);
    the cluster needs ``headroom`` times that, so that after an outage it
    catches up while the night goes on.

    Examples
    --------
    >>> sizing_rubin(100.0)["sustained_alerts_per_s"]
    250.0
    """
    sustained = RUBIN_ALERTS_PER_VISIT / RUBIN_VISIT_S
    need = sustained * headroom
    return {
        "sustained_alerts_per_s": sustained,
        "needed_alerts_per_s": need,
        "cores_for_sustained": math.ceil(sustained / alerts_per_s_per_core),
        "cores_for_peak": math.ceil(need / alerts_per_s_per_core),
        "night_hours_at_one_core": RUBIN_ALERTS_PER_NIGHT / alerts_per_s_per_core / 3600,
    }


def _stream_rate(
    settings: Settings, master: str, messages: list[Any], n_alerts: int, filters: list[Any]
) -> dict[str, Any]:
    """Warm-up, then the throughput of the full stream on ``master``."""
    from broker.bench.stream import throughput
    from broker.spark.session import spark_session, stop_spark

    s = settings.model_copy(update={"spark": settings.spark.model_copy(update={"master": master})})
    spark = spark_session(s)
    try:
        throughput(spark, s, messages, max(n_alerts // 10, 500), filters)  # warm-up
        return throughput(spark, s, messages, n_alerts, filters)
    finally:
        stop_spark(spark)


def run_cluster_bench(
    settings: Settings, quick: bool = False, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run the cluster measurements (see the module doc) and return the result dict."""
    from broker.bench.stream import bench_filters
    from broker.kafka.cluster import LocalKafkaCluster
    from broker.spark.cluster import LocalSparkCluster

    info = machine()
    cores = int(info["cores"])
    messages = bench_messages()
    n_alerts = 5_000 if quick else 20_000
    filters = bench_filters(25)
    result: dict[str, Any] = {**info, "quick": quick, "alerts": n_alerts, "filters": 25}
    result["raw_message_bytes_mean"] = sum(len(m.value) for m in messages) / len(messages)
    log(f"{len(messages)} distinct real messages; decode floor with {cores} processes...")
    result["decode_floor_alerts_per_s"] = decode_floor(messages, cores)
    kafka = LocalKafkaCluster(settings, nodes=3)
    log("starting a three-node Kafka cluster...")
    started = kafka.start()
    s = kafka.settings_for_clients()
    result["kafka_nodes"] = 3
    try:
        log(f"throughput in local[{cores}] on {n_alerts:,} alerts...")
        result["local"] = _stream_rate(s, f"local[{cores}]", messages, n_alerts, filters)
        for workers in (1, 2):
            spark = LocalSparkCluster(s)
            if not spark.start(workers=workers):
                raise RuntimeError(
                    f"a Spark master already runs on {spark.master_url}; stop it "
                    "(`faucon spark stop`) before `faucon bench --cluster`"
                )
            try:
                log(f"throughput on a standalone cluster of {workers} worker(s)...")
                result[f"workers_{workers}"] = _stream_rate(
                    s, spark.master_url, messages, n_alerts, filters
                )
            finally:
                spark.stop()
    finally:
        if started:
            kafka.stop()
    floor = result["decode_floor_alerts_per_s"]
    for key in ("local", "workers_1", "workers_2"):
        result[key]["ratio_to_decode_floor"] = result[key]["alerts_per_s"] / floor
    one, two = result["workers_1"]["alerts_per_s"], result["workers_2"]["alerts_per_s"]
    result["speedup_2_over_1_workers"] = two / one
    per_core = one / settings.spark.worker_cores
    result["sizing_rubin"] = sizing_rubin(per_core)
    result["sizing_rubin"]["per_core_alerts_per_s"] = per_core
    return result


def markdown(r: dict[str, Any]) -> str:
    """The cluster benchmark as a Markdown page."""
    floor = r["decode_floor_alerts_per_s"]
    rows = [
        ("decode-only floor (fastavro, one process per core)", floor),
        (f"stream, `local[{r['cores']}]`", r["local"]["alerts_per_s"]),
        ("stream, standalone cluster, 1 worker", r["workers_1"]["alerts_per_s"]),
        ("stream, standalone cluster, 2 workers", r["workers_2"]["alerts_per_s"]),
    ]
    size = r["sizing_rubin"]
    lines = [
        "# Faucon on clusters: benchmark",
        "",
        f"Measured by `faucon bench --cluster{' --quick' if r['quick'] else ''}` on {r['date']}: "
        f"{r['cores']} cores, {r['memory_gb']:.0f} GB, a three-node Kafka cluster on loopback "
        "(replication factor 3, min.insync.replicas 2, acks=all), "
        f"{r['alerts']:,} real alerts per run with {r['filters']} filters, each after a "
        f"warm-up. Load average at the start: {r.get('load_average_at_start')}. Every "
        "process (3 Kafka JVMs, Spark master, workers, executors, driver) shares these "
        "cores: a second worker here adds an executor core but no machine, so the 1-worker "
        "figure is the per-core rate to size from (docs/operations.md).",
        "",
        "| measure | alerts/s | ratio to decode floor |",
        "|---|---|---|",
        *(f"| {name} | {v:,.0f} | {v / floor:.2f} |" for name, v in rows),
        "",
        f"Speed-up from 1 to 2 workers: {r['speedup_2_over_1_workers']:.2f} x. "
        f"Mean message size: raw {r['raw_message_bytes_mean'] / 1024:.1f} kB.",
        "",
        f"Rubin sizing from the 1-worker rate ({size['per_core_alerts_per_s']:,.0f} alerts/s "
        f"per core): sustained {size['sustained_alerts_per_s']:.0f} alerts/s needs "
        f"{size['cores_for_sustained']} cores, {HEADROOM:.0f} x headroom "
        f"{size['cores_for_peak']} cores (see [operations.md](operations.md#sizing-a-cluster"
        "-for-rubin)).",
        "",
    ]
    return "\n".join(lines)
