"""The real CLI entry points as processes; a SIGKILLed stream loses nothing on restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import Any

import pytest

from broker.core.config import REPO_ROOT, Settings
from broker.kafka.consume import decode_output, read_topic
from broker.kafka.topics import topic_counts
from tests.conftest import DEMO_ALERTS
from tests.streams.supervise import FAUCON, stream_env

pytestmark = pytest.mark.integration
MAX_OFFSETS = 1500  # per micro-batch


def _env(settings: Settings) -> dict[str, str]:
    """The environment a deployment would set for these settings."""
    return stream_env(settings, MAX_OFFSETS)


def _faucon(settings: Settings, *args: str, timeout: float = 600) -> str:
    proc = subprocess.run(
        [FAUCON, *args],
        env=_env(settings),
        cwd=REPO_ROOT,
        text=True,
        capture_output=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout


def _read(settings: Settings, topic: str) -> list[dict[str, Any]]:
    n = topic_counts(settings, [topic])[topic]
    msgs = list(read_topic(settings, topic, max_messages=n, idle_timeout=30.0))
    assert len(msgs) == n
    return [decode_output(m.value) for m in msgs]


def test_cli_replay_stream_consume(kafka: Any, unique_settings: Settings) -> None:
    s, tag = unique_settings, unique_settings.kafka.topic_prefix
    out = _faucon(
        s,
        "replay",
        str(DEMO_ALERTS / "lsst" / "wire"),
        str(DEMO_ALERTS / "other"),
        "--topic",
        f"raw.{tag}.cli",
    )
    assert "sent 13 messages (" in out and "5 wire" in out and "8 ocf" in out
    out = _faucon(s, "stream", "--available-now")
    assert "run summary: 13 in, 5 published, 8 rejected {'unsupported_survey': 8}" in out
    assert "reconciles (in = published + rejected): True" in out
    lines = (
        _faucon(
            s,
            "consume",
            "--topic",
            f"{tag}.enriched",
            "--from-beginning",
            "--format",
            "json",
            "--max",
            "5",
        )
        .strip()
        .splitlines()
    )
    records = [json.loads(line) for line in lines]
    assert len(records) == 5 and {r["survey"] for r in records} == {"LSST"}
    assert all(r["survey_schema"] == "lsst-7.4" for r in records)


def test_sigkill_mid_replay_loses_nothing(kafka: Any, unique_settings: Settings) -> None:
    s, tag = unique_settings, unique_settings.kafka.topic_prefix
    raw = f"raw.{tag}.night"
    bundle = [str(DEMO_ALERTS / "ztf"), str(DEMO_ALERTS / "lsst")]
    _faucon(s, "replay", *bundle, "--topic", raw, "--loop", "11")  # 11 x 1,805 = 19,855
    sent = topic_counts(s, [raw])[raw]
    assert sent >= 19_800
    stream = subprocess.Popen(
        [FAUCON, "stream"],
        env=_env(s),
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    stats_file = s.state_dir / "stream" / f"{tag}-stats.json"
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:  # kill once part of the night is through
            done = json.loads(stats_file.read_text())["in"] if stats_file.is_file() else 0
            if done >= 3_000:
                break
            assert stream.poll() is None, "the stream exited on its own"
            time.sleep(0.2)
        assert 0 < done < sent, done
    finally:
        os.killpg(stream.pid, signal.SIGKILL)  # the driver, its JVM and Python workers
        stream.wait(30)
    _faucon(s, "stream", "--available-now", timeout=900)

    out = s.kafka
    seen: dict[tuple[int, int], int] = {}
    alert_ids = set()
    for rec in _read(s, out.enriched_topic):
        key = (rec["provenance"]["input_partition"], rec["provenance"]["input_offset"])
        seen[key] = seen.get(key, 0) + 1
        alert_ids.add((rec["survey"], rec["alert_id"]))
    for rec in _read(s, out.deadletter_topic):
        key = (rec["input_partition"], rec["input_offset"])
        seen[key] = seen.get(key, 0) + 1
    offsets = {(p, o) for p in range(s.kafka.partitions) for o in range(_end(s, raw, p))}
    assert set(seen) == offsets, "every raw message reaches the enriched or dead-letter topic"
    duplicates = sum(n - 1 for n in seen.values())
    assert duplicates <= 1_500, "duplicates only from the interrupted micro-batch"
    # Consumers drop the replayed duplicates by alert id (the bundle repeats 11 times too).
    saved = s.state_dir / "saved"
    _faucon(
        s,
        "consume",
        "--topic",
        out.enriched_topic,
        "--from-beginning",
        "--dedupe",
        "--save",
        str(saved),
    )
    assert len(list(saved.glob("*.avro"))) == len(alert_ids)


def _end(settings: Settings, topic: str, partition: int) -> int:
    from confluent_kafka import Consumer, TopicPartition

    from broker.kafka.topics import client_config

    c = Consumer({**client_config(settings), "group.id": "faucon-test-end"})
    try:
        return int(c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1])
    finally:
        c.close()
