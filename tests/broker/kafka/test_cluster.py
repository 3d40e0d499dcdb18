"""A real three-node KRaft cluster on loopback: replicated topics survive a node's death."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.core.config import load_settings
from broker.kafka.cluster import LocalKafkaCluster
from broker.kafka.replay import load_messages, publish
from broker.kafka.topics import ensure_topics, topic_counts
from tests.conftest import DEMO_ALERTS, _free_ports

pytestmark = pytest.mark.integration
FAUCON = str(Path(sys.executable).with_name("faucon"))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = _free_ports(6)
    out = {k: v for k, v in os.environ.items() if not k.startswith("FAUCON_")}
    return out | {
        "FAUCON_STATE_DIR": str(tmp_path_factory.mktemp("kafka-cluster")),
        "FAUCON_KAFKA__BOOTSTRAP": f"127.0.0.1:{base}",
        "COLUMNS": "200",
    }


@pytest.fixture(scope="module")
def cluster(env: dict[str, str]) -> Iterator[LocalKafkaCluster]:
    started = subprocess.run(
        [FAUCON, "kafka", "start", "--nodes", "3"], env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert started.returncode == 0, started.stdout + started.stderr
    settings = load_settings(
        state_dir=Path(env["FAUCON_STATE_DIR"]), kafka={"bootstrap": env["FAUCON_KAFKA__BOOTSTRAP"]}
    )
    c = LocalKafkaCluster(settings)
    assert c.nodes == 3 and f"FAUCON_KAFKA__BOOTSTRAP={c.bootstrap}" in started.stdout
    yield c
    stopped = subprocess.run([FAUCON, "kafka", "stop"], env=env, capture_output=True, text=True)
    assert stopped.returncode == 0 and "Kafka stopped" in stopped.stdout
    assert not any(c.running().values())


def _status(env: dict[str, str]) -> str:
    proc = subprocess.run(
        [FAUCON, "kafka", "status"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_node_killed_mid_replay_loses_nothing_and_catches_up(
    cluster: LocalKafkaCluster, env: dict[str, str]
) -> None:
    settings = cluster.settings_for_clients()
    topic = "raw.cluster-test"
    ensure_topics(settings, [topic])
    parts = cluster.partitions([topic])
    assert len(parts) == settings.kafka.partitions
    assert all(len(p.replicas) == 3 and len(p.isr) == 3 for p in parts)

    messages = load_messages([str(DEMO_ALERTS / "ztf"), str(DEMO_ALERTS / "lsst")])
    result: dict[str, object] = {}
    sender = threading.Thread(
        target=lambda: result.update(
            summary=publish(settings, topic, messages, rate=400, loop=3, progress=False)
        )
    )
    sender.start()
    time.sleep(2.0)
    victim = parts[0].leader  # the leader of partition 0 dies mid-replay
    cluster.kill_node(victim)
    sender.join(timeout=240)
    assert not sender.is_alive()
    summary = result["summary"]
    assert summary.sent == 3 * len(messages) > 5_000  # type: ignore[attr-defined]
    assert topic_counts(settings, [topic])[topic] == summary.sent  # type: ignore[attr-defined]

    after = cluster.partitions([topic])
    assert all(victim not in p.isr and p.leader != victim for p in after)
    status = _status(env)
    assert "down" in status and "under-replicated" in status

    assert cluster.start_node(victim)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all(len(p.isr) == 3 for p in cluster.partitions([topic])):
            break
        time.sleep(1)
    assert all(set(p.isr) == {1, 2, 3} for p in cluster.partitions([topic]))
    assert "under-replicated" not in _status(env)
