"""`faucon demo`'s runner on the session's real Kafka and Spark."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from broker.core.config import Settings
from broker.demo import run_demo

pytestmark = pytest.mark.integration


def test_demo_accounts_for_every_message(
    kafka: Any, spark: Any, service_settings: Settings
) -> None:
    out = io.StringIO()
    result = run_demo(service_settings, spark=spark, console=Console(file=out, width=120))
    s = result.stats
    assert result.sent == s["in"] >= 1_500 + 4
    assert s["in"] == s["ok"] + s["rejected_total"]
    assert s["rejected"]["unsupported_survey"] == 8  # the bundled ATLAS and DECam alerts
    for reason in ("empty_message", "unknown_format", "truncated_avro", "unknown_schema_id"):
        assert s["rejected"][reason] == 1
    assert result.topic_counts["demo.enriched"] == s["ok"]
    assert result.topic_counts["demo.deadletter"] == s["rejected_total"]
    assert 0 < len(result.latency_s) <= s["ok"] - 40  # steady state, after the warm-up
    assert all(0 <= lat < 120 for lat in result.latency_s)
    text = out.getvalue()
    assert "in = published + rejected" in text and "-> yes" in text
    assert "latency Kafka ingest -> output: p50" in text
    assert kafka.is_running(), "the demo must not stop a broker it did not start"
