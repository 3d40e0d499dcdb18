"""A local single-node Apache Kafka broker (KRaft), run from the fetched jars.

Everything lives under ``settings.state_dir / "kafka"``: ``server.properties``,
``log4j2.xml``, ``cluster.id``, ``data/``, ``kafka.pid``, the JVM's output
(``kafka.out``) and the broker log (``logs/server.log``, WARN and above).
The client listener binds the first (loopback) ``settings.kafka.bootstrap``
entry; the controller listens on the next port.

Examples
--------
>>> from broker.core.config import load_settings
>>> kafka = LocalKafka(load_settings(state_dir="/tmp/faucon-doc"))
>>> kafka.server_properties()["process.roles"]
'broker,controller'
>>> kafka.start()  # doctest: +SKIP
True
>>> kafka.stop()  # doctest: +SKIP
True
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from broker.core.config import Settings
from broker.core.errors import ConfigError, InfrastructureError
from broker.core.processes import alive, check_port_free, wait_exit
from broker.kafka.credentials import write_secret
from broker.kafka.jars import KAFKA_VERSION, ensure_kafka_jars
from broker.kafka.sasl import admin_settings, format_argfile, sasl_server_properties
from broker.kafka.topics import client_config

KAFKA_MAIN = "kafka.Kafka"
STORAGE_TOOL_MAIN = "kafka.tools.StorageTool"
JVM_OPTS = "-Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
_LOOPBACK = ("127.", "localhost", "::1", "[::1]")
_LOG4J2 = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN" shutdownHook="disable"><Appenders>
  <RollingFile name="file" fileName="{logs}/server.log" filePattern="{logs}/server.log.%i">
    <PatternLayout pattern="[%d] %p %m (%c)%n"/><SizeBasedTriggeringPolicy size="10MB"/>
    <DefaultRolloverStrategy max="3"/></RollingFile>
</Appenders><Loggers><Root level="WARN"><AppenderRef ref="file"/></Root></Loggers></Configuration>
"""
# settings-independent broker properties: one node, replication 1, sized for 2 cores
_FIXED_PROPS = """
process.roles=broker,controller node.id=1 controller.listener.names=CONTROLLER
inter.broker.listener.name=CLIENT default.replication.factor=1 min.insync.replicas=1
auto.create.topics.enable=false log.retention.hours=168 log.retention.check.interval.ms=300000
offsets.topic.replication.factor=1 offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1 transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1 share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0 num.network.threads=2 num.io.threads=4
num.recovery.threads.per.data.dir=1
"""
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeRole:
    """One node of a local multi-node cluster (:mod:`broker.kafka.cluster`)."""

    node_id: int
    voters: str
    nodes: int
    home: Path
    cluster_id_file: Path

    def properties(self) -> dict[str, str]:
        """Node id, quorum and the replication of Kafka's internal topics."""
        replicas = str(min(3, self.nodes))
        min_isr = str(2 if self.nodes >= 3 else 1)
        return {
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters,
            "default.replication.factor": replicas,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_isr,
        }


@dataclass(frozen=True)
class KafkaStatus:
    """State of the local broker, as reported by :meth:`LocalKafka.status`."""

    running: bool
    pid: int | None
    listeners: dict[str, str]
    data_dir: Path
    log_file: Path
    version: str = KAFKA_VERSION


class LocalKafka:
    """Start, stop and inspect the local KRaft broker.

    Parameters
    ----------
    settings
        Faucon settings: ``kafka.bootstrap`` (first entry = client listener),
        ``kafka.partitions``, ``kafka.max_message_bytes``, ``state_dir``, ``cache_dir``.
    controller_port
        Port of the KRaft controller listener; default client port + 1.

    Examples
    --------
    >>> from broker.core.config import load_settings
    >>> LocalKafka(load_settings(kafka={"bootstrap": "127.0.0.1:19092"})).listeners()
    {'CLIENT': '127.0.0.1:19092', 'CONTROLLER': '127.0.0.1:19093'}
    """

    def __init__(
        self,
        settings: Settings,
        controller_port: int | None = None,
        *,
        node: NodeRole | None = None,
    ) -> None:
        self.settings = settings
        self.node = node
        first = settings.kafka.bootstrap.split(",")[0].strip()
        host, _, port = first.rpartition(":")
        if not host.startswith(_LOOPBACK) or not port.isdigit():
            raise ConfigError(
                f"kafka.bootstrap={settings.kafka.bootstrap!r}: the local broker needs a "
                "loopback host:port first (e.g. 127.0.0.1:9092); set FAUCON_KAFKA__BOOTSTRAP"
            )
        self.host, self.port = host, int(port)
        self.controller_port = controller_port or self.port + 1
        self.home = (node.home if node else settings.state_dir / "kafka").absolute()
        self.data_dir = self.home / "data"
        self.pid_file = self.home / "kafka.pid"
        self.out_file = self.home / "kafka.out"
        self.log_file = self.home / "logs" / "server.log"
        self.properties_file = self.home / "server.properties"

    def listeners(self) -> dict[str, str]:
        """Return listener name → host:port (extend here for SASL listeners)."""
        host = self.host
        return {"CLIENT": f"{host}:{self.port}", "CONTROLLER": f"{host}:{self.controller_port}"}

    def server_properties(self) -> dict[str, str]:
        """Return the broker configuration written to ``server.properties``."""
        k = self.settings.kafka
        listen = self.listeners()
        protocol = "SASL_PLAINTEXT" if self.secured else "PLAINTEXT"
        protocols = {"CLIENT": protocol, "CONTROLLER": protocol}
        props = dict(kv.split("=", 1) for kv in _FIXED_PROPS.split())
        props |= {
            "controller.quorum.voters": f"1@{listen['CONTROLLER']}",
            "listeners": ",".join(f"{n}://{a}" for n, a in listen.items()),
            "advertised.listeners": f"CLIENT://{listen['CLIENT']}",
            "listener.security.protocol.map": ",".join(f"{n}:{p}" for n, p in protocols.items()),
            "log.dirs": str(self.data_dir),
            "num.partitions": str(k.partitions),
            "message.max.bytes": str(k.max_message_bytes),
            "replica.fetch.max.bytes": str(k.max_message_bytes),
            "socket.request.max.bytes": str(max(104_857_600, k.max_message_bytes + 1_048_576)),
        }
        if self.node is not None:
            props |= self.node.properties()
        return props | self._security_properties()

    @property
    def secured(self) -> bool:
        """Whether the broker runs SASL listeners and enforces ACLs."""
        return self.settings.kafka.security_protocol.upper() == "SASL_PLAINTEXT"

    def admin_settings(self) -> Settings:
        """Settings of the broker's super user, for administration (unchanged if unsecured)."""
        return (
            admin_settings(self.settings, self.admin_password_file)
            if self.secured
            else self.settings
        )

    def _security_properties(self) -> dict[str, str]:
        """SASL listeners and ACLs (:mod:`broker.kafka.sasl`); none for PLAINTEXT."""
        return sasl_server_properties(self._admin_password()) if self.secured else {}

    @property
    def admin_password_file(self) -> Path:
        """File (mode 600) with the super user's password, created on first secured start."""
        return self.home / "admin.password"

    def _admin_password(self) -> str:
        if not self.admin_password_file.is_file():
            write_secret(self.admin_password_file, secrets.token_urlsafe(24))
        return self.admin_password_file.read_text().strip()

    def is_running(self) -> bool:
        """Return whether the broker started from this state dir is alive."""
        return self._pid() is not None

    def status(self) -> KafkaStatus:
        """Return pid, listeners, data dir and log file of the local broker."""
        pid = self._pid()
        return KafkaStatus(pid is not None, pid, self.listeners(), self.data_dir, self.log_file)

    def start(self, timeout: float = START_TIMEOUT_S) -> bool:
        """Start the broker and wait until it answers; no-op if already running.

        Returns True if started now, False if it was already running.  Raises
        InfrastructureError if java or the jars are missing, a port is in use,
        or the broker does not answer within ``timeout`` s (the message ends
        with the log's last lines; the failed broker is stopped).
        """
        if (pid := self._pid()) is not None:
            log.info("Kafka already running (pid %d) on %s", pid, self.listeners()["CLIENT"])
            return False
        pid = self.launch()
        self.wait_ready(pid, timeout)
        log.info("Kafka %s started (pid %d) on %s", KAFKA_VERSION, pid, self.listeners()["CLIENT"])
        return True

    def launch(self) -> int:
        """Start the broker's JVM without waiting for it (a quorum's nodes start together)."""
        if (java_bin := shutil.which("java")) is None:
            raise InfrastructureError("java not found on PATH; install a Java 17+ runtime")
        jars = ensure_kafka_jars(self.settings)
        for name, address in self.listeners().items():
            check_port_free(name, address)
        self._write_config()
        java = [java_bin, *JVM_OPTS.split(), f"-Dkafka.logs.dir={self.log_file.parent}"]
        java += [f"-Dlog4j2.configurationFile={self.home / 'log4j2.xml'}", "-cp", f"{jars}/*"]
        if not (self.data_dir / "meta.properties").is_file():
            self._format(java)
        elif self.secured and not (self.home / "secured").is_file():
            raise ConfigError(
                f"Kafka data in {self.data_dir} was created without SASL, so it has no super "
                "user: stop, remove that folder (its topics are lost) or use another "
                "FAUCON_STATE_DIR, then start again with FAUCON_KAFKA__SECURITY_PROTOCOL="
                "SASL_PLAINTEXT"
            )
        cmd = [*java, KAFKA_MAIN, str(self.properties_file)]
        # double fork through sh: java is detached (own session), not our child
        launcher = '"$@" >>"$0" 2>&1 </dev/null & echo $!'
        try:
            out = subprocess.run(
                ["/bin/sh", "-c", launcher, str(self.out_file), *cmd],
                capture_output=True, text=True, start_new_session=True, check=True, timeout=30,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            raise InfrastructureError(f"cannot launch java for Kafka: {exc}") from exc
        pid = int(out.stdout.strip())
        self.pid_file.write_text(f"{pid}\n")
        return pid

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> bool:
        """Stop our broker: SIGTERM, SIGKILL after ``timeout`` s.  False if none was running."""
        if (pid := self._pid()) is None:
            return False
        os.kill(pid, signal.SIGTERM)
        if not wait_exit(pid, timeout):
            log.warning("Kafka (pid %d) ignored SIGTERM for %.0f s; killing it", pid, timeout)
            os.kill(pid, signal.SIGKILL)
            wait_exit(pid, 10.0)
        self.pid_file.unlink(missing_ok=True)
        log.info("Kafka (pid %d) stopped", pid)
        return True

    def log_tail(self, lines: int = 20) -> str:
        """Return the last lines of the JVM output and of the broker log."""
        parts = []
        for path in (self.out_file, self.log_file):
            if path.is_file() and (text := path.read_text(errors="replace").strip()):
                parts.append(f"--- {path} ---\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts) or "(no log output)"

    def _pid(self) -> int | None:
        """Return our broker's pid if alive; drop a stale pid file."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:  # guard against the pid being reused by another program
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            cmdline = ""
        if alive(pid) and (not cmdline or str(self.properties_file) in cmdline):
            return pid
        log.info("removing stale pid file %s (pid %d is not our broker)", self.pid_file, pid)
        self.pid_file.unlink(missing_ok=True)
        return None

    def _write_config(self) -> None:
        """Write server.properties, log4j2.xml and (once) the cluster id."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"{k}={v}" for k, v in self.server_properties().items()]
        text = "# written by broker/kafka/local.py\n" + "\n".join(lines)
        write_secret(self.properties_file, text)  # mode 600: may hold the super user's password
        (self.home / "log4j2.xml").write_text(_LOG4J2.format(logs=self.log_file.parent))

    def _format(self, java: list[str]) -> None:
        """Format the KRaft storage with this state dir's cluster id."""
        id_file = self.node.cluster_id_file if self.node else self.home / "cluster.id"
        if not id_file.is_file():
            id_file.write_text(_kafka_uuid() + "\n")
        args = [STORAGE_TOOL_MAIN, "format", "-t", id_file.read_text().strip()]
        args += ["-c", str(self.properties_file)]
        argfile = self.home / "format.args"
        if self.secured:  # the super user's SCRAM credential, via a java @argfile (mode 600)
            write_secret(argfile, format_argfile(args, self._admin_password()))
            args = [f"@{argfile}"]
        try:
            proc = subprocess.run([*java, *args], capture_output=True, text=True)
        finally:
            argfile.unlink(missing_ok=True)
        if self.secured and not proc.returncode:
            (self.home / "secured").write_text("formatted with SASL/SCRAM and ACLs\n")
        if proc.returncode:
            raise InfrastructureError(
                f"formatting Kafka storage in {self.data_dir} failed:\n"
                f"{(proc.stdout + proc.stderr).strip()[-2000:]}\n"
                f"Remove {self.data_dir} to start from empty storage."
            )

    def wait_ready(self, pid: int, timeout: float = START_TIMEOUT_S) -> None:
        """Wait until the broker answers a metadata request, or explain why not."""
        deadline = time.monotonic() + timeout
        admin: AdminClient | None = None
        while time.monotonic() < deadline:
            if not alive(pid):
                self.pid_file.unlink(missing_ok=True)
                hint = ""
                if "Address already in use" in self.log_tail(200):
                    hint = " A port it needs is in use: free it or change FAUCON_KAFKA__BOOTSTRAP."
                raise InfrastructureError(f"Kafka exited during startup.{hint}\n{self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 1):
                admin = admin or AdminClient(client_config(self.admin_settings()))
                with contextlib.suppress(KafkaException):
                    if admin.list_topics(timeout=2).brokers:
                        return
            time.sleep(0.3)
        tail = self.log_tail()
        self.stop()
        raise InfrastructureError(
            f"Kafka (pid {pid}) did not answer on {self.listeners()['CLIENT']} within "
            f"{timeout:.0f} s, so it was stopped; retry with a longer timeout.\n{tail}"
        )


def _kafka_uuid() -> str:
    """Return a random Kafka cluster id (URL-safe base64 of 16 bytes, not starting with '-')."""
    text = "-"
    while text.startswith("-"):
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    return text
