"""Session fixtures: the real local Kafka broker and one Spark session, started once.

Integration tests ask for ``kafka`` and/or ``spark``; both are real (Apache
Kafka in KRaft mode from the project's jars, pyspark in local mode with the
spark-sql-kafka connector).  Each test isolates itself with its own topic
prefix (``unique_settings``).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from broker.core.config import REPO_ROOT, Settings, load_settings

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
DEMO_ALERTS = REPO_ROOT / "deploy" / "demo-alerts"


def _ephemeral_floor() -> int:
    """The lowest port the kernel hands out to ``bind(0)`` and outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# Ports handed out in this test session: never twice, even before their service binds.
_ISSUED: set[int] = set()


def _free_ports(n: int) -> int:
    """A port p such that p .. p+n-1 are free on loopback and never handed out before.

    Ports come from below the kernel's ephemeral range: a port picked with
    ``bind(0)`` is free now, but a Spark or Kafka client may take it as the
    local end of a connection before the service that was given it starts
    (CI saw the session broker's port taken that way). The scan starts at a
    point that depends on the process id, so concurrent sessions rarely meet.
    """
    low, high = 20000, _ephemeral_floor() - n
    span = high - low
    start = low + (os.getpid() * 211) % span
    for i in range(0, span, n + 1):
        base = low + (start - low + i) % span
        ports = range(base, base + n)
        if any(p in _ISSUED for p in ports):
            continue
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        _ISSUED.update(ports)
        return base
    raise RuntimeError(f"no run of {n} free loopback ports in {low}-{high}")


def _free_port_pair() -> int:
    """A port p such that p and p+1 are free on loopback (see :func:`_free_ports`)."""
    return _free_ports(2)


def _free_port() -> int:
    """One free loopback port (see :func:`_free_ports`)."""
    return _free_ports(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real alert data beside the repository (../shared/data)."""
    assert SHARED_DATA.is_dir(), f"../shared/data is missing at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def service_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the session's services: own state dir and loopback ports."""
    state = tmp_path_factory.mktemp("faucon-state")
    port = _free_port_pair()
    return load_settings(
        state_dir=state,
        kafka={"bootstrap": f"127.0.0.1:{port}", "partitions": 2},
        spark={"driver_memory": "2g", "trigger_seconds": 0.5},
        metrics_port=0,  # tests that scrape metrics pick a free port of their own
    )


@pytest.fixture(scope="session")
def kafka(service_settings: Settings) -> Iterator[Any]:
    """The real Kafka broker, started once per test session."""
    from broker.kafka.local import LocalKafka

    broker = LocalKafka(service_settings)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def spark(service_settings: Settings) -> Iterator[Any]:
    """One local Spark session for the whole test session."""
    from streams.ingest import spark_session

    session = spark_session(service_settings)
    yield session
    session.stop()


@pytest.fixture
def unique_settings(service_settings: Settings) -> Settings:
    """Service settings with a topic prefix and input pattern unique to the test."""
    tag = "t" + uuid.uuid4().hex[:8]
    kafka = service_settings.kafka.model_copy(
        update={"topic_prefix": tag, "subscribe_pattern": rf"raw\.{tag}\..+"}
    )
    return service_settings.model_copy(update={"kafka": kafka})
