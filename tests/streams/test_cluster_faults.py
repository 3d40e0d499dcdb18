"""The stream on real clusters loses a Kafka broker, then a Spark worker: nothing is lost.

A three-node KRaft cluster (``faucon kafka start --nodes 3``'s code) and a Spark
standalone cluster of two workers (``faucon spark start --workers 2``'s code)
run the real ``faucon stream --master spark://...`` process, supervised as a
deployment would (started again if it exits). A night of 6 x 1,813 real alerts
(10,878 messages: ZTF, Rubin and 8 of other surveys) is replayed; one loop
before the stream starts, the rest at a limited rate while it runs. Mid-replay:

1. the leader of the raw topic's first partition is SIGKILLed (a crashed broker:
   no controlled shutdown); the replay and the stream go on with two brokers
   (replication factor 3, ``min.insync.replicas`` 2, ``acks=all``);
2. a micro-batch later, a Spark worker is SIGKILLed; its executor goes with it
   (the executor watches its worker) and the driver reruns the lost tasks on
   the other worker's executor.

Then the dead broker is started again and must catch up: every partition of
every topic the test wrote has its three replicas in sync. The content is
checked as in the one-broker restart test (``tests/streams/supervise.py``):
every raw (partition, offset) in the enriched or dead-letter topic and in each
filter topic the independent oracle expects, duplicates only from replayed
micro-batches, counters reconciled.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from broker.core.config import Settings
from broker.kafka.cluster import LocalKafkaCluster
from broker.kafka.replay import load_messages, publish
from broker.kafka.topics import ensure_topics, list_topics, topic_counts
from broker.spark.cluster import LocalSparkCluster
from tests.conftest import DEMO_ALERTS, _free_ports
from tests.streams.oracle import expected_for
from tests.streams.supervise import (
    BackgroundReplay,
    Supervisor,
    Timeline,
    beyond,
    check_outputs,
    stats,
    stream_env,
    wait_until,
)

pytestmark = pytest.mark.integration
MAX_OFFSETS = 1_000  # per micro-batch; duplicates are bounded by replayed batches
LOOPS = 6  # 6 x 1,813 real alerts = 10,878 messages
RATE = 150.0  # messages per second of the loops published while the stream runs


def _processes_under(directory: Path) -> list[int]:
    """Pids of live processes whose working directory is inside ``directory``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cwd = (proc / "cwd").resolve()
            except OSError:
                continue
            if cwd.is_relative_to(directory):
                found.append(int(proc.name))
    return found


def test_a_broker_and_a_worker_killed_under_the_stream_lose_nothing(
    unique_settings: Settings, tmp_path: Path
) -> None:
    base = _free_ports(8)  # 3 x (client, controller), master, master UI
    u = unique_settings
    s = u.model_copy(
        update={
            "state_dir": tmp_path / "state",
            "kafka": u.kafka.model_copy(update={"bootstrap": f"127.0.0.1:{base}", "partitions": 2}),
            "spark": u.spark.model_copy(
                update={
                    "cluster_port": base + 6,
                    "cluster_ui_port": base + 7,
                    "worker_memory": "1536m",
                    "executor_memory": "1g",
                }
            ),
        }
    )
    kafka = LocalKafkaCluster(s, nodes=3)
    spark = LocalSparkCluster(s)
    raw = f"raw.{s.kafka.topic_prefix}.night"
    night = load_messages([str(DEMO_ALERTS / d) for d in ("ztf", "lsst", "other")])
    note = Timeline()
    rest: BackgroundReplay | None = None
    sup: Supervisor | None = None
    try:
        kafka.start()
        s = kafka.settings_for_clients()
        spark.start(workers=2)
        assert spark.status().alive_workers == 2
        note(f"Kafka on {s.kafka.bootstrap}; Spark {spark.master_url} with 2 workers")
        ensure_topics(s, [raw])
        assert all(len(p.replicas) == 3 for p in kafka.partitions([raw]))
        publish(s, raw, night, progress=False)
        rest = BackgroundReplay(s, raw, night, RATE, LOOPS - 1)
        env = stream_env(
            s,
            MAX_OFFSETS,
            FAUCON_SPARK__WORKER_MEMORY="1536m",
            FAUCON_SPARK__EXECUTOR_MEMORY="1g",
        )
        sup = Supervisor(s, tmp_path, note, env, args=["--master", spark.master_url])
        sup.start()
        oracle = {m.value: expected_for(m.value) for m in night}  # while Spark starts
        wait_until("the first micro-batch", beyond(s, 0), sup, 420)
        note(f"first micro-batch done ({stats(s)['in']} in); the rest published at {RATE}/s")
        rest.thread.start()

        # 1. A broker crashes in the middle of a micro-batch.
        wait_until("a micro-batch", beyond(s, stats(s)["in"]), sup, 300)
        time.sleep(min(0.5 * stats(s)["last_batch"]["duration_s"], 3.0))
        victim = kafka.partitions([raw])[0].leader
        kafka.kill_node(victim)
        at_kill = stats(s)["in"]
        note(f"Kafka node {victim} (leader of {raw}-0) SIGKILLed ({at_kill} in)")
        took = wait_until("the stream goes on with two brokers", beyond(s, at_kill), sup, 300)
        note(f"stream went on {took:.1f} s later ({stats(s)['in']} in)")
        assert all(victim not in p.isr for p in kafka.partitions([raw]))

        # 2. A Spark worker dies (and its executor with it) during the next micro-batch.
        wait_until("a micro-batch", beyond(s, stats(s)["in"]), sup, 300)
        time.sleep(min(0.5 * stats(s)["last_batch"]["duration_s"], 3.0))
        at_kill = stats(s)["in"]
        assert _processes_under(spark.home / "worker-1" / "work"), "no executor on worker-1"
        worker_pid = spark.kill_worker(1)
        note(f"Spark worker-1 (pid {worker_pid}) SIGKILLed ({at_kill} in)")
        took = wait_until("the stream goes on with one worker", beyond(s, at_kill), sup, 300)
        note(f"stream went on {took:.1f} s later ({stats(s)['in']} in)")
        wait_until(
            "the master sees one worker", lambda: spark.status().alive_workers == 1, sup, 120
        )
        wait_until(
            "worker-1's executor to follow its worker",
            lambda: not _processes_under(spark.home / "worker-1"),
            sup,
            60,
        )

        rest.thread.join(300)
        assert not rest.thread.is_alive(), "the rate-limited replay did not finish"
        assert not rest.failures, f"replay failed while a broker was down: {rest.failures}"
        sent = topic_counts(s, [raw])[raw]
        assert sent == LOOPS * len(night) >= 10_000, "the cluster kept every acknowledged message"
        took = wait_until("everything processed", beyond(s, sent - 1), sup, 600)
        note(f"all {sent} processed {took:.1f} s after the replay; stream exits {sup.exits}")
        sup.stop()

        # 3. The broker comes back and catches up on every topic the test wrote.
        assert kafka.start_node(victim)
        topics = [t for t in list_topics(s) if s.kafka.topic_prefix in t]
        assert raw in topics and s.kafka.enriched_topic in topics
        deadline = time.monotonic() + 180
        while not all(len(p.isr) == 3 for p in kafka.partitions(topics)):
            assert time.monotonic() < deadline, "the restarted broker did not catch up"
            time.sleep(1)
        states = kafka.partitions(topics)
        assert all(set(p.isr) == {1, 2, 3} for p in states)
        note(f"node {victim} back: {len(states)} partitions of {len(topics)} topics in sync")

        check_outputs(s, raw, sent, oracle, note, env, MAX_OFFSETS)
        note("outputs checked")
        assert sup.exits == [], f"the stream exited instead of riding it out:\n{sup.log_tail()}"
    finally:
        if rest is not None and rest.thread.is_alive():
            rest.thread.join(60)
        if sup is not None:
            sup.stop()
        spark.stop()
        kafka.stop()
        print(f"\n{note}")
    assert not _processes_under(spark.home), "a Spark process outlived the cluster"
