"""Replication of the topics Faucon creates: from configuration, right for the cluster."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from confluent_kafka.admin import ConfigResource, ResourceType

from broker.core.config import Settings, load_settings
from broker.core.errors import ConfigError
from broker.kafka.topics import admin_client, ensure_topics, replication


def _with(**kafka: Any) -> Settings:
    return load_settings(kafka=kafka)


@pytest.mark.parametrize(
    ("brokers", "expected"), [(1, (1, 1)), (2, (1, 1)), (3, (3, 2)), (5, (3, 2))]
)
def test_automatic_replication_follows_the_cluster(brokers: int, expected: tuple[int, int]) -> None:
    assert replication(load_settings(), brokers) == expected


def test_configured_replication_is_used_and_checked() -> None:
    assert replication(_with(replication_factor=2), 3) == (2, 1)
    assert replication(_with(replication_factor=3, min_insync_replicas=3), 5) == (3, 3)
    with pytest.raises(ConfigError, match=r"REPLICATION_FACTOR=3 needs 3 brokers.*has 1"):
        replication(_with(replication_factor=3), 1)
    with pytest.raises(ConfigError, match="MIN_INSYNC_REPLICAS=2 is more than the 1"):
        replication(_with(min_insync_replicas=2), 1)


@pytest.mark.integration
def test_topics_on_the_one_node_broker_get_one_replica(
    kafka: Any, unique_settings: Settings
) -> None:
    topic = f"{unique_settings.kafka.topic_prefix}.repl-{uuid.uuid4().hex[:6]}"
    assert ensure_topics(unique_settings, [topic]) == [topic]
    admin = admin_client(unique_settings)
    meta = admin.list_topics(topic, timeout=10)
    assert {len(p.replicas) for p in meta.topics[topic].partitions.values()} == {1}
    resource = ConfigResource(ResourceType.TOPIC, topic)
    conf = admin.describe_configs([resource])[resource].result(timeout=10)
    assert conf["min.insync.replicas"].value == "1"
    three = unique_settings.model_copy(
        update={"kafka": unique_settings.kafka.model_copy(update={"replication_factor": 3})}
    )
    with pytest.raises(ConfigError, match="needs 3 brokers"):
        ensure_topics(three, [topic + "-x"])
