"""Limits: a storm is absorbed by bounded micro-batches; oversized input is refused clearly."""

from __future__ import annotations

import math
from typing import Any

import pytest

from broker.core.config import Settings
from broker.core.errors import ProduceError
from broker.kafka.replay import Message, load_messages, publish
from broker.kafka.topics import topic_counts
from streams.ingest import run
from tests.conftest import DEMO_ALERTS

pytestmark = pytest.mark.integration


def _with(settings: Settings, **spark: Any) -> Settings:
    return settings.model_copy(update={"spark": settings.spark.model_copy(update=spark)})


def test_a_storm_is_absorbed_in_bounded_micro_batches(
    kafka: Any, spark: Any, unique_settings: Settings
) -> None:
    """Three times the bundled night at full speed; each micro-batch takes at most its cap."""
    tag = unique_settings.kafka.topic_prefix
    msgs = load_messages([str(DEMO_ALERTS / "ztf"), str(DEMO_ALERTS / "lsst")])
    summary = publish(unique_settings, f"raw.{tag}.storm", msgs, loop=3, progress=False)
    n = summary.sent
    assert n == 3 * len(msgs) > 5000
    cap = 800
    stats = run(
        _with(unique_settings, max_offsets_per_trigger=cap), available_now=True, spark=spark
    )
    d = stats.data
    assert d["in"] == n and stats.reconciles()
    assert d["batches"] >= math.ceil(n / cap), "a micro-batch took more than its cap"
    k = unique_settings.kafka
    counts = topic_counts(unique_settings, [k.enriched_topic, k.deadletter_topic])
    assert counts[k.enriched_topic] == d["ok"] and counts[k.deadletter_topic] == d["rejected_total"]


def test_oversized_input_is_refused_with_a_clear_error(
    kafka: Any, unique_settings: Settings
) -> None:
    tag = unique_settings.kafka.topic_prefix
    (good,) = load_messages([str(DEMO_ALERTS / "ztf" / "kowalski-4.01-85a86d2d.avro")])[:1]
    limit = unique_settings.kafka.max_message_bytes
    big = Message(good.value + b"\0" * limit, "padded", "raw")
    with pytest.raises(ProduceError, match="MAX_MESSAGE_BYTES") as info:
        publish(unique_settings, f"raw.{tag}.big", [good, big, good], progress=False)
    assert "1 message(s) failed" in str(info.value) and "padded" in str(info.value)
    assert topic_counts(unique_settings, [f"raw.{tag}.big"])[f"raw.{tag}.big"] == 2


def test_outputs_too_large_for_kafka_are_dead_lettered_not_fatal(
    kafka: Any, spark: Any, unique_settings: Settings
) -> None:
    """Inputs a raw topic accepts but whose enriched form Kafka would refuse."""
    from broker.kafka.consume import decode_output, read_topic
    from broker.pipeline.enrich import max_output_bytes

    tag = unique_settings.kafka.topic_prefix
    msgs = load_messages([str(DEMO_ALERTS / "ztf" / "kowalski-4.01-85a86d2d.avro"),
                          str(DEMO_ALERTS / "lsst" / "wire")])  # fmt: skip
    publish(unique_settings, f"raw.{tag}.large", msgs, progress=False)
    small = unique_settings.model_copy(
        update={"kafka": unique_settings.kafka.model_copy(update={"max_message_bytes": 60_000})}
    )
    stats = run(small, available_now=True, spark=spark)
    d = stats.data
    assert d["in"] == len(msgs) and stats.reconciles()
    assert 0 < d["rejected"]["oversized_output"] < len(msgs) and d["ok"] > 0
    k, limit = small.kafka, max_output_bytes(small)
    dead = [decode_output(m.value) for m in read_topic(small, k.deadletter_topic,
            max_messages=d["rejected_total"], idle_timeout=30)]  # fmt: skip
    assert len(dead) == d["rejected_total"]
    raw_msgs = read_topic(unique_settings, f"raw.{tag}.large", max_messages=len(msgs))
    raw = {(m.partition, m.offset): m.value for m in raw_msgs}
    for rec in dead:
        assert rec["reason"] == "oversized_output" and rec["stage"] == "produce"
        original = raw[(rec["input_partition"], rec["input_offset"])]
        if rec["original"]:
            assert rec["original"] == original
        else:  # too large to carry: the reference to the raw message instead
            assert f"offset {rec['input_offset']}" in rec["detail"] and len(original) > 40_000
    assert topic_counts(small, [k.enriched_topic])[k.enriched_topic] == d["ok"]
    ok = list(read_topic(small, k.enriched_topic, max_messages=d["ok"], idle_timeout=30))
    assert len(ok) == d["ok"] and all(len(m.value) <= limit for m in ok)
