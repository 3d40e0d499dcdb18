"""A local multi-node Apache Kafka cluster (KRaft) on loopback, from the same jars.

Each node is a combined broker and controller (``process.roles=broker,controller``),
so three nodes form a three-voter quorum: the cluster keeps working, metadata
and data, when any one node dies. Node ``i`` (1-based) listens for clients on
``base + 2(i-1)`` and for the quorum on the next port, where ``base`` is the
port of the first ``FAUCON_KAFKA__BOOTSTRAP`` entry; its files are under
``<state_dir>/kafka-cluster/node-i``. All nodes are formatted with one cluster id.

Examples
--------
>>> from broker.core.config import load_settings
>>> c = LocalKafkaCluster(load_settings(kafka={"bootstrap": "127.0.0.1:19092"}), nodes=3)
>>> c.bootstrap
'127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096'
>>> c.node(2).server_properties()["controller.quorum.voters"]
'1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097'
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Any

from broker.core.config import Settings
from broker.core.errors import ConfigError, InfrastructureError
from broker.core.processes import wait_exit
from broker.kafka.local import START_TIMEOUT_S, LocalKafka, NodeRole, _kafka_uuid
from broker.kafka.topics import admin_client


@dataclass(frozen=True)
class PartitionState:
    """Leader, replicas and in-sync replicas of one topic partition."""

    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


class LocalKafkaCluster:
    """Start, stop, inspect (and, for fault tests, kill) a local multi-node cluster."""

    def __init__(self, settings: Settings, nodes: int | None = None) -> None:
        if settings.kafka.security_protocol.upper() != "PLAINTEXT":
            raise ConfigError(
                "the local multi-node Kafka runs PLAINTEXT only; use one node "
                "(`faucon kafka start`) for SASL, or unset FAUCON_KAFKA__SECURITY_PROTOCOL"
            )
        self.settings = settings
        self.home = (settings.state_dir / "kafka-cluster").absolute()
        first = LocalKafka(settings)  # validates the loopback bootstrap
        self.host, self.base = first.host, first.port
        recorded = self.home / "nodes"
        if nodes is None:
            nodes = int(recorded.read_text()) if recorded.is_file() else 3
        if nodes < 1:
            raise ConfigError(f"--nodes {nodes}: a cluster needs at least one node")
        self.nodes = nodes

    def _ports(self, i: int) -> tuple[int, int]:
        client = self.base + 2 * (i - 1)
        return client, client + 1

    @property
    def bootstrap(self) -> str:
        """The client addresses of every node, for ``FAUCON_KAFKA__BOOTSTRAP``."""
        return ",".join(f"{self.host}:{self._ports(i)[0]}" for i in range(1, self.nodes + 1))

    def settings_for_clients(self) -> Settings:
        """The settings with the bootstrap of every node."""
        kafka = self.settings.kafka.model_copy(update={"bootstrap": self.bootstrap})
        return self.settings.model_copy(update={"kafka": kafka})

    def node(self, i: int) -> LocalKafka:
        """Node ``i`` (1-based) as a :class:`LocalKafka` with its own ports and files."""
        if not 1 <= i <= self.nodes:
            raise ConfigError(f"node {i} does not exist; the cluster has {self.nodes} nodes")
        client, controller = self._ports(i)
        voters = ",".join(f"{n}@{self.host}:{self._ports(n)[1]}" for n in range(1, self.nodes + 1))
        kafka = self.settings.kafka.model_copy(update={"bootstrap": f"{self.host}:{client}"})
        role = NodeRole(i, voters, self.nodes, self.home / f"node-{i}", self.home / "cluster.id")
        return LocalKafka(self.settings.model_copy(update={"kafka": kafka}), controller, node=role)

    def start(self, timeout: float = START_TIMEOUT_S * 2) -> bool:
        """Start every node that is not running, then wait until all answer.

        Returns False if every node was already running.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "nodes").write_text(f"{self.nodes}\n")
        id_file = self.home / "cluster.id"
        if not id_file.is_file():
            id_file.write_text(_kafka_uuid() + "\n")
        launched = {}
        for i in range(1, self.nodes + 1):
            node = self.node(i)
            if not node.is_running():
                launched[i] = node.launch()  # together: a quorum needs a majority up
        for i, pid in launched.items():
            self.node(i).wait_ready(pid, timeout)
        return bool(launched)

    def start_node(self, i: int, timeout: float = START_TIMEOUT_S) -> bool:
        """(Re)start one node, e.g. after :meth:`kill_node`."""
        return self.node(i).start(timeout=timeout)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop every node at once (one by one, the last would lose its quorum and hang).

        SIGTERM to all, SIGKILL to any still alive after ``timeout`` s; False if
        none was running.
        """
        nodes = [self.node(i) for i in range(1, self.nodes + 1)]
        pids = {n: pid for n in nodes if (pid := n.status().pid) is not None}
        for pid in pids.values():
            os.kill(pid, signal.SIGTERM)
        for node, pid in pids.items():
            if not wait_exit(pid, timeout):
                os.kill(pid, signal.SIGKILL)
                wait_exit(pid, 10.0)
            node.pid_file.unlink(missing_ok=True)
        return bool(pids)

    def kill_node(self, i: int) -> int:
        """SIGKILL node ``i``, as a crash would; returns its pid."""
        status = self.node(i).status()
        if status.pid is None:
            raise InfrastructureError(f"Kafka node {i} is not running")
        os.kill(status.pid, signal.SIGKILL)
        wait_exit(status.pid, 10.0)
        return status.pid

    def running(self) -> dict[int, int | None]:
        """Node id -> pid (None when the node is down)."""
        return {i: self.node(i).status().pid for i in range(1, self.nodes + 1)}

    def partitions(self, topics: list[str] | None = None, timeout: float = 10.0) -> list[Any]:
        """Leader, replicas and ISR of every partition (of ``topics``), from live metadata."""
        meta = admin_client(self.settings_for_clients()).list_topics(timeout=timeout)
        out = []
        for name, t in sorted(meta.topics.items()):
            if (topics is not None and name not in topics) or name.startswith("__"):
                continue
            for p in sorted(t.partitions.values(), key=lambda p: p.id):
                out.append(PartitionState(name, p.id, p.leader, tuple(p.replicas), tuple(p.isrs)))
        return out
