"""Experts' anomaly labels on the real Kafka broker: durable, with who, when and history."""

from __future__ import annotations

import datetime as dt
import getpass
from typing import Any

import pytest
from confluent_kafka.admin import ConfigResource

from broker.core.config import Settings
from broker.core.errors import ConfigError
from broker.kafka.topics import admin_client
from broker.registry.labels import LabelStore, labels_topic

pytestmark = pytest.mark.integration


def test_labels_persist_with_who_when_and_history(kafka: Any, unique_settings: Settings) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with LabelStore(unique_settings) as store:
        store.label("ZTF18aaaaaaa", "boring", note="RR Lyrae", by="ana")
        store.label("ZTF21abcdefg", "interesting", note="fast and blue")
        store.label("ZTF18aaaaaaa", "interesting", note="not an RR Lyrae after all", by="bo")
        with pytest.raises(ConfigError, match="interesting, boring"):
            store.label("ZTF18aaaaaaa", "weird")
        with pytest.raises(ConfigError, match="object id"):
            store.label("  ", "boring")

    with LabelStore(unique_settings) as again:  # a fresh reader: what another machine sees
        current = again.current()
    assert sorted(current) == ["ZTF18aaaaaaa", "ZTF21abcdefg"]
    relabelled = current["ZTF18aaaaaaa"]
    assert (relabelled.label, relabelled.by, relabelled.note) == (
        "interesting",
        "bo",
        "not an RR Lyrae after all",
    )
    assert [(h["label"], h["by"], h["note"]) for h in relabelled.history] == [
        ("boring", "ana", "RR Lyrae")
    ]
    assert current["ZTF21abcdefg"].by == getpass.getuser()  # the OS user by default
    assert dt.datetime.fromisoformat(current["ZTF21abcdefg"].at) >= before

    admin = admin_client(unique_settings)
    topic = labels_topic(unique_settings)
    resource = ConfigResource("topic", topic)
    config = admin.describe_configs([resource])[resource].result()
    assert config["cleanup.policy"].value == "compact"
