"""A one-partition compacted Kafka topic read as a key -> latest value table.

:class:`CompactedTopic` keeps one long-lived consumer positioned after the
last record it read.  :meth:`CompactedTopic.sync` asks for the end offset
(one round trip, on a second idle client so that the request does not queue
behind the reader's long-polling fetch) and reads only the records added
since, returning what changed.  Writes are synchronous (flushed, ``acks=all``)
and followed by a sync, so a writer reads its own writes.

Examples
--------
>>> from broker.core.config import load_settings
>>> log = CompactedTopic(load_settings(), "faucon.filters")  # doctest: +SKIP
>>> log.write("bright", b'{"name": "bright"}')  # doctest: +SKIP
>>> log.sync()  # nothing new since the write  # doctest: +SKIP
{}
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from broker.core.config import Settings
from broker.core.errors import InfrastructureError, ProduceError

TIMEOUT_S = 15.0


class CompactedTopic:
    """Incremental reader and synchronous writer of a compacted, one-partition topic."""

    def __init__(self, settings: Settings, topic: str) -> None:
        from broker.kafka.topics import ensure_topics

        self.settings = settings
        self.topic = topic
        ensure_topics(
            settings,
            [topic],
            partitions=1,
            config={"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1"},
        )
        self._next_offset = 0
        self._consumer: Any = None
        self._probe: Any = None
        self._producer: Any = None

    def _open(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        from broker.kafka.topics import client_config

        group = f"faucon-compacted-{uuid.uuid4().hex[:8]}"  # never committed
        conf = client_config(
            self.settings,
            **{
                "group.id": group,
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
            },
        )
        self._consumer = Consumer(conf)
        self._consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        self._probe = Consumer({**conf, "group.id": f"{group}-probe"})

    def sync(self) -> dict[str, bytes | None]:
        """Read the records added since the last call: key -> latest value (None = removed).

        Raises
        ------
        InfrastructureError
            Kafka unreachable, or the topic not read to its end in time.
        """
        from confluent_kafka import KafkaError, KafkaException, TopicPartition

        if self._consumer is None:
            self._open()
        changed: dict[str, bytes | None] = {}
        try:
            _low, high = self._probe.get_watermark_offsets(
                TopicPartition(self.topic, 0), timeout=TIMEOUT_S, cached=False
            )
            deadline = time.monotonic() + TIMEOUT_S
            while self._next_offset < high:
                msg = self._consumer.poll(0.1)  # returns as soon as a record is there
                error = msg.error() if msg is not None else None
                if msg is None or (error is not None and error.code() == KafkaError._PARTITION_EOF):
                    if msg is not None:  # compaction may leave no record at the end offsets
                        self._next_offset = max(self._next_offset, int(msg.offset() or 0))
                elif error is not None:
                    raise InfrastructureError(f"reading {self.topic}: {error}")
                else:
                    changed[msg.key().decode()] = msg.value()
                    self._next_offset = int(msg.offset() or 0) + 1
                if time.monotonic() > deadline:
                    raise InfrastructureError(
                        f"{self.topic} was not read to offset {high} in {TIMEOUT_S:.0f} s; "
                        f"check Kafka ({self.settings.kafka.bootstrap})"
                    )
        except KafkaException as exc:
            raise InfrastructureError(
                f"cannot read {self.topic} from {self.settings.kafka.bootstrap}: {exc}; "
                "start Kafka with `faucon kafka start` or fix FAUCON_KAFKA__BOOTSTRAP"
            ) from exc
        return changed

    def write(self, key: str, value: bytes | None) -> None:
        """Write one record (``None`` is a tombstone) and wait until Kafka has it.

        Raises
        ------
        ProduceError
            Kafka did not acknowledge the record.
        """
        from confluent_kafka import Producer

        from broker.kafka.topics import client_config

        if self._producer is None:
            # Synchronous writes of whole values: retries cannot reorder or corrupt anything.
            self._producer = Producer(client_config(self.settings, acks="all", **{"linger.ms": 0}))
        failures: list[Any] = []
        self._producer.produce(
            self.topic,
            key=key.encode(),
            value=value,
            on_delivery=lambda err, _msg: failures.append(err) if err else None,
        )
        if self._producer.flush(TIMEOUT_S) or failures:
            raise ProduceError(
                f"cannot write {key!r} to {self.topic}: {failures or 'timed out'}; "
                f"check Kafka ({self.settings.kafka.bootstrap})"
            )

    def close(self) -> None:
        """Close the Kafka clients (the next call reopens them)."""
        if self._consumer is not None:
            self._consumer.close()
            self._probe.close()
            self._consumer = self._probe = None
            self._next_offset = 0
        if self._producer is not None:
            self._producer.flush(TIMEOUT_S)
            self._producer = None
