"""Consume stage for science teams: read Faucon topics, decode, print or save.

Output messages are one-record Avro containers (any Avro library reads
them); this module decodes them, prints a table or JSON lines, or saves one
``.avro`` file per alert.  ``dedupe`` drops repeated alert ids (after a crash
the stream may republish the interrupted micro-batch).

Examples
--------
>>> row = table_row({"object_id": "ZTF1", "mjd_tai": 60000.5, "ra": 1.0, "dec": -2.0,
...                  "band": "g", "mag": 18.0, "flux_njy": 230000.0})
>>> row["object_id"], row["mag"]
('ZTF1', '18.000')
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

from broker.core.config import Settings
from broker.core.errors import AccessDenied, DeserializeError, InfrastructureError

# TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED, SASL_AUTHENTICATION_FAILED
_DENIED = (29, 30, 58)


@dataclass(frozen=True)
class Consumed:
    """One message read from Kafka."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    timestamp_ms: int


def read_topic(
    settings: Settings,
    topic: str,
    from_beginning: bool = True,
    max_messages: int | None = None,
    idle_timeout: float = 5.0,
    group: str | None = None,
) -> Iterator[Consumed]:
    """Yield messages of ``topic`` until ``max_messages`` or ``idle_timeout`` s without one.

    The idle clock starts once the consumer has its partitions (joining a new
    consumer group takes a few seconds), so a slow join does not end the read.
    """
    from confluent_kafka import Consumer, KafkaException

    from broker.kafka.topics import client_config

    auth_errors: list[str] = []

    def on_error(err: Any) -> None:
        if err.code() == -169:  # _AUTHENTICATION: wrong user or password, or no SASL
            auth_errors.append(err.str())

    conf = client_config(settings)
    conf.update(
        {
            "error_cb": on_error,
            "group.id": group or f"{_group_owner(settings)}consume-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "enable.auto.commit": group is not None,
            "fetch.max.bytes": max(settings.kafka.max_message_bytes, 52428800),
            "max.partition.fetch.bytes": settings.kafka.max_message_bytes,
        }
    )
    consumer = Consumer(conf)
    try:
        assigned: list[bool] = []
        consumer.subscribe([topic], on_assign=lambda _c, parts: assigned.append(bool(parts)))
        n, last, join_deadline = 0, time.monotonic(), time.monotonic() + 60.0
        while max_messages is None or n < max_messages:
            msg = consumer.poll(0.5)
            if auth_errors:
                raise AccessDenied(
                    f"Kafka at {settings.kafka.bootstrap} refused the login: {auth_errors[0]}; "
                    "check the user and password (FAUCON_KAFKA__CREDENTIALS_FILE, "
                    "--credentials)"
                )
            if msg is None:
                if not assigned and time.monotonic() < join_deadline:
                    last = time.monotonic()
                elif time.monotonic() - last > idle_timeout:
                    return
                continue
            error = msg.error()
            if error is not None:
                if error.code() == -191:  # end of partition
                    continue
                if error.code() in _DENIED:
                    raise AccessDenied(
                        f"reading {topic} refused by Kafka ({error.str()}): this user has no "
                        "READ ACL for it; ask the operator for `faucon users add USER --read "
                        f"{topic}`"
                    )
                raise InfrastructureError(f"reading {topic}: {error}")
            last = time.monotonic()
            n += 1
            raw_headers: Any = msg.headers() or []
            headers = {str(k): v if isinstance(v, bytes) else b"" for k, v in raw_headers}
            yield Consumed(
                str(msg.topic()),
                int(msg.partition() or 0),
                int(msg.offset() or 0),
                msg.key(),
                msg.value() or b"",
                headers,
                msg.timestamp()[1],
            )
    except KafkaException as exc:
        raise InfrastructureError(
            f"cannot read {topic} from {settings.kafka.bootstrap}: {exc}"
        ) from exc
    finally:
        consumer.close()


def _group_owner(settings: Settings) -> str:
    """Prefix of throw-away group ids: ``USER.`` on a secured broker (its ACL), else faucon-."""
    if settings.kafka.security_protocol == "PLAINTEXT":
        return "faucon-"
    from broker.kafka.credentials import sasl_credentials

    return f"{sasl_credentials(settings).username}."


def decode_output(value: bytes) -> dict[str, Any]:
    """Decode one Faucon output message (a one-record Avro container)."""
    try:
        return dict(next(fastavro.reader(io.BytesIO(value))))  # type: ignore[arg-type]
    except Exception as exc:
        raise DeserializeError("corrupt_avro", f"not a Faucon output message: {exc!r}") from exc


def _fmt(value: Any, spec: str) -> str:
    return "" if value is None else format(value, spec)


def table_row(rec: dict[str, Any]) -> dict[str, str]:
    """Columns shown by ``faucon consume --format table``."""
    scores = rec.get("scores") or {}
    best = ", ".join(
        f"{key}:{s['probability']:.2f}"
        for key, s in sorted(scores.items())
        if s.get("probability") is not None
    )
    return {
        "object_id": str(rec.get("object_id", rec.get("reason", ""))),
        "mjd_tai": _fmt(rec.get("mjd_tai"), ".5f"),
        "ra": _fmt(rec.get("ra"), ".5f"),
        "dec": _fmt(rec.get("dec"), "+.5f"),
        "band": str(rec.get("band") or ""),
        "mag": _fmt(rec.get("mag"), ".3f"),
        "flux_njy": _fmt(rec.get("flux_njy"), ".1f"),
        "scores": best,
    }


def json_safe(rec: Any) -> Any:
    """Replace bytes with their length so a record prints as JSON."""
    if isinstance(rec, bytes):
        return f"<{len(rec)} bytes>"
    if isinstance(rec, dict):
        return {k: json_safe(v) for k, v in rec.items()}
    if isinstance(rec, list):
        return [json_safe(v) for v in rec]
    return rec


def save_message(msg: Consumed, rec: dict[str, Any], directory: Path) -> Path:
    """Write one message's Avro container to ``directory`` and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{rec.get('object_id', 'dead')}_{rec.get('alert_id', msg.offset)}.avro"
    path = directory / name.replace("/", "_")
    path.write_bytes(msg.value)
    return path


def latencies_s(messages: Iterable[Consumed]) -> list[float]:
    """Kafka-ingest-to-output latency of each message, seconds (from the ingest header)."""
    out = []
    for msg in messages:
        ingest = msg.headers.get("faucon-ingest-ms")
        if ingest:
            out.append((msg.timestamp_ms - int(ingest)) / 1000.0)
    return out


def print_json(rec: dict[str, Any]) -> str:
    """One JSON line for a record."""
    return json.dumps(json_safe(rec), default=str)
