"""Metrics endpoint and `faucon status` against the real services."""

from __future__ import annotations

import re
import threading
import time
import urllib.request
from typing import Any

import pytest

from broker.core.config import Settings, load_settings
from broker.kafka.replay import load_messages, publish
from broker.ops.status import collect
from broker.registry.builtins import builtin_filters
from classifiers.providers import choose
from streams.ingest import run
from tests.conftest import DEMO_ALERTS, _free_port_pair

pytestmark = pytest.mark.integration


def _scrape(url: str) -> dict[str, float]:
    """Prometheus text to {'name{labels}': value}."""
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def test_metrics_match_counts_and_status_is_healthy(
    kafka: Any, spark: Any, unique_settings: Settings
) -> None:
    port = _free_port_pair()
    settings = unique_settings.model_copy(update={"metrics_port": port})
    tag = settings.kafka.topic_prefix
    msgs = load_messages([str(DEMO_ALERTS / "lsst" / "wire"), str(DEMO_ALERTS / "other")])
    publish(settings, f"raw.{tag}.mixed", msgs, progress=False)
    stop = threading.Event()
    result: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: result.setdefault("stats", run(settings, spark=spark, stop_event=stop))
    )
    thread.start()
    url = f"http://127.0.0.1:{port}/metrics"
    deadline = time.monotonic() + 180
    try:
        metrics: dict[str, float] = {}
        while time.monotonic() < deadline:
            try:
                metrics = _scrape(url)
            except OSError:
                metrics = {}
            if metrics.get("faucon_alerts_in_total") == len(msgs):
                break
            time.sleep(1)
        assert metrics.get("faucon_alerts_in_total") == len(msgs), metrics
        health = collect(settings, builtin_filters(settings), require_stream=True)
        assert health.healthy, health.problems
        assert any(w == "stream" and "running" in d for w, d in health.lines)
    finally:
        stop.set()
        thread.join(120)
    stats = result["stats"].data
    assert metrics["faucon_alerts_ok_total"] == stats["ok"] == 5
    assert metrics['faucon_rejected_total{reason="unsupported_survey"}'] == 8
    assert metrics[f'faucon_published_total{{topic="{tag}.enriched"}}'] == stats["ok"]
    for topic, n in stats["published"].items():
        assert metrics[f'faucon_published_total{{topic="{topic}"}}'] == n
    assert metrics["faucon_latency_seconds_count"] == stats["ok"]
    assert metrics["faucon_batches_total"] == stats["batches"]
    assert metrics["faucon_consumer_lag"] == 0
    version, sha = _promoted("snia")
    assert metrics[f'faucon_model_info{{hash="{sha}",model="snia",version="{version}"}}'] == 1
    chosen = choose()  # CUDA with onnxruntime-gpu and a visible GPU, else the CPU
    key = f'faucon_inference_provider{{provider="{chosen.provider}",reason="{chosen.reason}"}}'
    assert metrics[key] == 1
    workers = re.search(r"stream workers: (\d+) on (\w+)$", dict(health.lines)["inference"])
    assert workers and int(workers[1]) >= 1 and workers[2] == chosen.provider
    # The stream has stopped: its status says so, and requiring it is unhealthy.
    after = collect(settings, builtin_filters(settings), require_stream=True)
    assert not after.healthy and any("not running" in p for p in after.problems)


def _promoted(model: str) -> tuple[str, str]:
    """The promoted version of ``model`` and its ONNX file's sha256, read from the registry."""
    from classifiers.registry import load_manifest, promoted_version

    version = promoted_version(model)
    assert version is not None, f"no promoted {model}"
    return version, str(load_manifest(model, version)["model_sha256"])


def test_status_unhealthy_when_kafka_is_stopped(tmp_path: Any) -> None:
    from broker.kafka.local import LocalKafka

    port = _free_port_pair()
    settings = load_settings(state_dir=tmp_path, kafka={"bootstrap": f"127.0.0.1:{port}"})
    broker = LocalKafka(settings)
    broker.start()
    try:
        up = collect(settings, builtin_filters(settings))
        assert up.healthy, up.problems
    finally:
        broker.stop()
    down = collect(settings, builtin_filters(settings))
    assert not down.healthy
    assert any(p.startswith("kafka: no answer") for p in down.problems)
