"""Replay stage: publish alert files to Kafka the way the surveys do.

* ZTF (and any other container-file survey): one Avro object container file
  per message.  A file holding several records is split into one container
  per record, with the file's writer schema.
* Rubin/LSST: Confluent wire format -- byte ``0x00``, the 4-byte big-endian
  schema id (``major * 100 + minor``), then the record as schemaless Avro
  written with the official alert_packet schema of that version.  Rubin
  container files written by brokers (e.g. Spark's ``topLevelRecord``) are
  converted; files already in wire format are sent unchanged.

Examples
--------
>>> msgs = load_messages(["deploy/demo-alerts/lsst/wire"])
>>> msgs[0].kind, msgs[0].value[:1]
('wire', b'\\x00')
"""

from __future__ import annotations

import io
import struct
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro

from broker.core.config import Settings
from broker.core.errors import DeserializeError, ProduceError
from broker.pipeline.decode import OCF_MAGIC, Decoder, default_registry
from broker.pipeline.encode import ContainerEncoder
from broker.pipeline.inspect import expand_paths
from broker.pipeline.normalize import survey_of


@dataclass(frozen=True)
class Message:
    """One message to publish: its bytes, where it came from and its kind."""

    value: bytes
    source: str
    kind: str  # ocf | wire | raw


@dataclass
class ReplaySummary:
    """What a replay did."""

    sent: int = 0
    bytes: int = 0
    seconds: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Messages per second."""
        return self.sent / self.seconds if self.seconds else 0.0


def _wire(record: dict, schema_id: int) -> bytes:
    buf = io.BytesIO()
    buf.write(b"\x00" + struct.pack(">I", schema_id))
    fastavro.schemaless_writer(buf, default_registry().get(schema_id), record)
    return buf.getvalue()


def messages_from_file(path: Path, decoder: Decoder) -> tuple[list[Message], str | None]:
    """Messages for one file, or ``([], reason)`` when it holds no alert."""
    data = path.read_bytes()
    if not data:
        return [], "empty file"
    if data[:1] == b"\x00":
        return [Message(data, str(path), "wire")], None
    if data[:4] != OCF_MAGIC:
        return [Message(data, str(path), "raw")], None
    records, _name = decoder.decode_container(data)
    if not records:
        return [], "Avro container with no record"
    with open(path, "rb") as fh:
        schema = fastavro.reader(fh).writer_schema
    if survey_of(records[0]) == "LSST":
        sid = default_registry().infer_id(records[0])
        if sid is not None:
            return [Message(_wire(r, sid), str(path), "wire") for r in records], None
    if len(records) == 1:
        return [Message(data, str(path), "ocf")], None
    enc = ContainerEncoder(schema)  # type: ignore[arg-type]
    return [Message(enc.encode(r), f"{path}#{i}", "ocf") for i, r in enumerate(records)], None


def load_messages(paths: Iterable[str], skipped: dict[str, str] | None = None) -> list[Message]:
    """Every message for the given paths, in order."""
    decoder = Decoder(max_records=1_000_000, max_block_bytes=1 << 31)
    out: list[Message] = []
    for path in expand_paths(paths):
        try:
            msgs, reason = messages_from_file(path, decoder)
        except DeserializeError as exc:  # a broken file is replayed as is: the stream rejects it
            msgs, reason = [Message(path.read_bytes(), str(path), "raw")], None
            if skipped is not None:
                skipped[str(path)] = f"sent unchanged, not decodable here: {exc}"
        if reason and skipped is not None:
            skipped[str(path)] = reason
        out.extend(msgs)
    return out


def publish(
    settings: Settings,
    topic: str,
    messages: list[Message],
    rate: float | None = None,
    loop: int = 1,
    progress: bool = True,
) -> ReplaySummary:
    """Send ``messages`` to ``topic`` ``loop`` times, at most ``rate`` messages per second."""
    from confluent_kafka import Producer
    from rich.progress import Progress

    from broker.kafka.topics import client_config, ensure_topics

    ensure_topics(settings, [topic])
    conf = client_config(settings)
    conf.update(
        {
            "linger.ms": 5,
            "message.max.bytes": settings.kafka.max_message_bytes,
            "queue.buffering.max.kbytes": 262144,
            "enable.idempotence": True,
        }
    )
    producer = Producer(conf)
    errors: list[str] = []

    def _report(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    summary = ReplaySummary()
    total = len(messages) * loop
    start = time.monotonic()
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"replay -> {topic}", total=total)
        for i in range(total):
            msg = messages[i % len(messages)]
            if len(msg.value) > settings.kafka.max_message_bytes:
                errors.append(
                    f"message {i} ({msg.source}) has {len(msg.value)} bytes, more than "
                    f"FAUCON_KAFKA__MAX_MESSAGE_BYTES={settings.kafka.max_message_bytes}: not sent"
                )
                continue
            while True:
                try:
                    producer.produce(topic, msg.value, on_delivery=_report)
                    break
                except BufferError:
                    producer.poll(0.05)
            summary.sent += 1
            summary.bytes += len(msg.value)
            summary.kinds[msg.kind] += 1
            if rate:
                ahead = summary.sent / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
            if i % 200 == 0:
                producer.poll(0)
                bar.update(task, completed=i + 1)
        remaining = producer.flush(60)
    summary.seconds = time.monotonic() - start
    if remaining or errors:
        raise ProduceError(
            f"{len(errors)} message(s) failed and {remaining} undelivered to {topic} on "
            f"{settings.kafka.bootstrap} ({summary.sent} handed to Kafka): "
            f"{errors[:3]}; is Kafka running (faucon kafka status)?"
        )
    return summary
