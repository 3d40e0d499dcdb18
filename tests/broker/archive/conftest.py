"""Fixtures of the archive tests: real alerts enriched by Faucon's own code, on real Kafka."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from broker.core.config import Settings
from broker.kafka.replay import Message, load_messages, publish
from broker.pipeline.enrich import INPUT_SCHEMA, process_batch
from tests.broker.archive.helpers import avro_record
from tests.conftest import DEMO_ALERTS

FILES = [
    DEMO_ALERTS / "ztf" / "fink-datasim-4.02-0e972a9e.avro",
    DEMO_ALERTS / "ztf" / "kowalski-4.01-85a86d2d.avro",
    DEMO_ALERTS / "lsst" / "commissioning-v9_0-lsst.v9_0-4b938564.avro",
]


@dataclass
class Published:
    """What was published on the enriched topic: payloads and their fastavro decoding."""

    settings: Settings
    payloads: list[bytes]
    records: list[dict[str, Any]]


def enriched_payloads(settings: Settings, files: list[Path]) -> list[bytes]:
    """The enriched-topic payloads the stream's enrich stage makes of these real alerts."""
    msgs = load_messages([str(f) for f in files])
    rows = [
        {"value": m.value, "topic": "raw.test", "partition": 0, "offset": i, "timestamp_ms": 0}
        for i, m in enumerate(msgs)
    ]
    out = process_batch(pa.RecordBatch.from_pylist(rows, schema=INPUT_SCHEMA), settings, ["full"])
    return [r["payload_full"] for r in out.to_pylist() if r["status"] == "ok"]


@pytest.fixture(scope="module")
def published(
    kafka: Any, service_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Published:
    """Real alerts on a fresh enriched topic, one of them published twice (at-least-once)."""
    import uuid

    tag = "a" + uuid.uuid4().hex[:8]
    settings = service_settings.model_copy(
        update={
            "state_dir": tmp_path_factory.mktemp("archive-state"),
            "kafka": service_settings.kafka.model_copy(update={"topic_prefix": tag}),
        }
    )
    payloads = enriched_payloads(settings, FILES)
    payloads.append(payloads[5])  # a micro-batch replayed after a crash repeats messages
    publish(
        settings,
        settings.kafka.enriched_topic,
        [Message(p, "test", "ocf") for p in payloads],
        progress=False,
    )
    return Published(settings, payloads, [avro_record(p) for p in payloads])
