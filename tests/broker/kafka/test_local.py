"""Integration test of the local Kafka broker and topic admin (real broker, no mocks)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from broker.core.config import Settings, load_settings
from broker.kafka.local import LocalKafka
from broker.kafka.topics import (
    client_config,
    delete_topics,
    ensure_topics,
    list_topics,
    topic_counts,
)

BOOTSTRAP = "127.0.0.1:19092"
TOPIC = "raw.test_local"

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a broker on a non-default port with state under tmp_path."""
    return load_settings(state_dir=tmp_path / "state", kafka={"bootstrap": BOOTSTRAP})


@pytest.fixture
def kafka(settings: Settings) -> Iterator[LocalKafka]:
    """A LocalKafka that is always stopped at the end, even if the test fails."""
    local = LocalKafka(settings)
    assert not local.is_running()
    yield local
    local.stop()


def test_local_broker_lifecycle(kafka: LocalKafka, settings: Settings) -> None:
    assert kafka.start() is True
    pid = kafka.status().pid
    assert kafka.is_running()
    assert kafka.start() is False, "second start must be a no-op"
    assert kafka.status().pid == pid

    assert ensure_topics(settings, [TOPIC], partitions=3) == [TOPIC]
    assert ensure_topics(settings, [TOPIC]) == [], "second ensure must create nothing"
    assert list_topics(settings)[TOPIC] == 3

    producer = Producer(client_config(settings))
    for i in range(10):
        producer.produce(TOPIC, value=f"alert {i}".encode(), key=str(i).encode())
    assert producer.flush(30) == 0
    assert topic_counts(settings, [TOPIC]) == {TOPIC: 10}
    assert topic_counts(settings)[TOPIC] == 10

    status = kafka.status()
    assert status.running and status.pid == pid
    assert status.listeners == {"CLIENT": BOOTSTRAP, "CONTROLLER": "127.0.0.1:19093"}
    assert status.data_dir == (settings.state_dir / "kafka" / "data").absolute()
    assert (status.data_dir / "meta.properties").is_file()
    props = kafka.properties_file.read_text()
    assert "auto.create.topics.enable=false" in props
    assert f"message.max.bytes={settings.kafka.max_message_bytes}" in props

    assert delete_topics(settings, [TOPIC]) == [TOPIC]
    assert TOPIC not in list_topics(settings)

    assert kafka.stop() is True
    assert not kafka.is_running()
    assert not kafka.pid_file.exists()
    assert kafka.status().running is False
    assert kafka.stop() is False, "second stop must be a no-op"
