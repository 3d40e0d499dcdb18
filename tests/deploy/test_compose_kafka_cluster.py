"""The three-broker overlay (deploy/compose/kafka-cluster.yml): valid, consistent, and real.

``config`` merges the overlay over docker-compose.yml with the real Compose
implementation; the tests check that the three nodes form one quorum, that
every topic is replicated 3 times with ``min.insync.replicas`` 2, and that every
service talking to Kafka knows all three nodes. Then the overlay's
``kafka-init`` step (``create-topics.sh`` with Kafka's own topic tool, with the
overlay's values) runs against a real three-node cluster started from the
project's jars, and the topics it makes are read back from the brokers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from broker.core.config import REPO_ROOT, load_settings
from broker.kafka.cluster import LocalKafkaCluster
from broker.kafka.topics import admin_client
from tests.conftest import _free_ports
from tests.deploy.helpers import clean_env, compose_variables, run_compose_config, volume_sources

OVERLAY = REPO_ROOT / "deploy" / "compose" / "kafka-cluster.yml"
NODES = ("kafka", "kafka-2", "kafka-3")
FAUCON = str(Path(sys.executable).parent / "faucon")


@pytest.fixture(scope="module")
def services(compose_tool: list[str], compose_project: Path) -> dict[str, Any]:
    proc = run_compose_config(compose_tool, compose_project, overlays=[OVERLAY])
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load(proc.stdout)
    assert {"kafka-2-data", "kafka-3-data"} <= set(config["volumes"])
    return dict(config["services"])


def test_three_nodes_form_one_quorum(services: dict[str, Any]) -> None:
    envs = {name: services[name]["environment"] for name in NODES}
    voters = {env["KAFKA_CONTROLLER_QUORUM_VOTERS"] for env in envs.values()}
    assert voters == {"1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093"}
    assert sorted(str(env["KAFKA_NODE_ID"]) for env in envs.values()) == ["1", "2", "3"]
    assert len({env["CLUSTER_ID"] for env in envs.values()}) == 1
    assert {env["KAFKA_PROCESS_ROLES"] for env in envs.values()} == {"broker,controller"}
    for name, env in envs.items():
        assert f"INTERNAL://{name}:9092" in env["KAFKA_ADVERTISED_LISTENERS"], name
        assert services[name]["healthcheck"]["test"], name
        assert services[name]["deploy"]["resources"]["limits"]["memory"], name
    volumes = [volume_sources(services[n])[0][1] for n in NODES]
    ports = [str(services[n]["ports"][0]).split(":")[-2].split("/")[0] for n in NODES]
    if isinstance(services["kafka"]["ports"][0], dict):  # long syntax (compose v2)
        ports = [str(services[n]["ports"][0]["published"]) for n in NODES]
    assert len(set(volumes)) == 3 and len(set(ports)) == 3, (volumes, ports)


def test_every_topic_is_replicated_three_times(services: dict[str, Any]) -> None:
    for name in NODES:
        env = services[name]["environment"]
        for key in ("DEFAULT_REPLICATION_FACTOR", "OFFSETS_TOPIC_REPLICATION_FACTOR",
                    "TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
                    "SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR"):  # fmt: skip
            assert str(env[f"KAFKA_{key}"]) == "3", (name, key)
        for key in ("MIN_INSYNC_REPLICAS", "TRANSACTION_STATE_LOG_MIN_ISR",
                    "SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR"):  # fmt: skip
            assert str(env[f"KAFKA_{key}"]) == "2", (name, key)
    init = services["kafka-init"]
    assert init["environment"]["BOOTSTRAP"] == "kafka:9092,kafka-2:9092,kafka-3:9092"
    assert (str(init["environment"]["REPLICATION_FACTOR"]),
            str(init["environment"]["MIN_INSYNC_REPLICAS"])) == ("3", "2")  # fmt: skip
    assert {n: init["depends_on"][n]["condition"] for n in NODES} == dict.fromkeys(
        NODES, "service_healthy"
    )


def test_every_kafka_client_knows_the_three_nodes(services: dict[str, Any]) -> None:
    clients = {
        n: s for n, s in services.items() if "FAUCON_KAFKA__BOOTSTRAP" in s.get("environment", {})
    }
    assert {"faucon-stream", "replay", "airflow-scheduler", "spark-worker"} <= set(clients)
    for name, service in clients.items():
        env = service["environment"]
        assert env["FAUCON_KAFKA__BOOTSTRAP"] == "kafka:9092,kafka-2:9092,kafka-3:9092", name
        replication = (
            env["FAUCON_KAFKA__REPLICATION_FACTOR"],
            env["FAUCON_KAFKA__MIN_INSYNC_REPLICAS"],
        )
        assert replication == ("3", "2"), name
    # and Faucon itself accepts these settings
    s = load_settings(kafka={"bootstrap": "kafka:9092,kafka-2:9092,kafka-3:9092",
                             "replication_factor": 3, "min_insync_replicas": 2})  # fmt: skip
    assert (s.kafka.replication_factor, s.kafka.min_insync_replicas) == (3, 2)


def test_new_variables_are_documented() -> None:
    doc = (REPO_ROOT / "docs" / "operations.md").read_text()
    missing = [v for v in compose_variables(OVERLAY.read_text()) if f"`{v}`" not in doc]
    assert not missing, f"variables of {OVERLAY.name} not in operations.md: {missing}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaCluster]:
    base = _free_ports(6)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAUCON_")}
    env |= {"FAUCON_STATE_DIR": str(tmp_path_factory.mktemp("compose-cluster")),
            "FAUCON_KAFKA__BOOTSTRAP": f"127.0.0.1:{base}"}  # fmt: skip
    started = subprocess.run([FAUCON, "kafka", "start", "--nodes", "3"], env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert started.returncode == 0, started.stdout + started.stderr
    settings = load_settings(
        state_dir=Path(env["FAUCON_STATE_DIR"]), kafka={"bootstrap": env["FAUCON_KAFKA__BOOTSTRAP"]}
    )
    c = LocalKafkaCluster(settings)
    yield c
    c.stop()


@pytest.mark.integration
def test_kafka_init_makes_replicated_topics_on_three_real_brokers(
    services: dict[str, Any], cluster: LocalKafkaCluster, kafka_topics_sh: Path
) -> None:
    from confluent_kafka.admin import ConfigResource

    init = services["kafka-init"]["environment"]
    tag = "k" + uuid.uuid4().hex[:6]
    env = clean_env(
        KAFKA_TOPICS_SH=str(kafka_topics_sh),
        BOOTSTRAP=cluster.bootstrap,  # the three nodes, as the overlay lists them
        RAW_TOPICS=f"raw.{tag}.ztf,raw.{tag}.lsst",
        RAW_PARTITIONS="3",
        TOPIC_PREFIX=tag,
        REPLICATION_FACTOR=str(init["REPLICATION_FACTOR"]),
        MIN_INSYNC_REPLICAS=str(init["MIN_INSYNC_REPLICAS"]),
    )
    script = REPO_ROOT / "deploy" / "compose" / "create-topics.sh"
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env,
                          timeout=180)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    topics = [f"raw.{tag}.ztf", f"raw.{tag}.lsst", f"{tag}.filters"]
    parts = cluster.partitions(topics)
    assert len(parts) == 3 + 3 + 1
    assert all(sorted(p.replicas) == [1, 2, 3] and len(p.isr) == 3 for p in parts)
    admin = admin_client(cluster.settings_for_clients())
    futures = admin.describe_configs([ConfigResource("topic", t) for t in topics])
    for resource, future in futures.items():
        assert future.result(timeout=30)["min.insync.replicas"].value == "2", resource
