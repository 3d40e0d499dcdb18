"""Feed the portal's store from Kafka: the enriched topic and every filter topic.

One consumer (group ``<prefix>.portal``) subscribes to ``<prefix>.enriched``
and to the pattern ``^<prefix>\\.filter\\..+`` (filter topics created later
are picked up within ``METADATA_REFRESH_MS``).  Each poll of up to
``portal.ingest_batch`` messages is decoded and written to the store in one
transaction, then the offsets are committed: at-least-once, and the store's
writes are idempotent, so a restart repeats nothing visible.  A message that
does not decode is counted and skipped (the stream never writes one).  Of a
filter topic's message only the leading fields are read
(:mod:`broker.portal.prefix`).

Examples
--------
>>> filter_name("faucon", "faucon.filter.bright_transient")
'bright_transient'
>>> filter_name("faucon", "faucon.enriched") is None
True
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from broker.core.config import Settings
from broker.core.errors import DeserializeError, FauconError
from broker.pipeline.decode import Decoder
from broker.portal.prefix import PrefixReader
from broker.portal.store import AlertStore

log = logging.getLogger("faucon.portal.ingest")
METADATA_REFRESH_MS = 3000


def filter_name(prefix: str, topic: str) -> str | None:
    """The filter a topic belongs to, None for any other topic."""
    head = f"{prefix}.filter."
    return topic[len(head) :] if topic.startswith(head) else None


@dataclass
class IngestStatus:
    """What the ingest did since it started (served by the health endpoint)."""

    running: bool = False
    messages: int = 0
    alerts: int = 0
    filter_hits: int = 0
    undecodable: int = 0
    batches: int = 0
    last_batch_ms: int | None = None
    last_error: str | None = None
    topics: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return asdict(self)


class Ingest:
    """The store's feeder, run in a background thread (:meth:`start`, :meth:`stop`)."""

    def __init__(self, settings: Settings, store: AlertStore, group: str | None = None) -> None:
        self.settings = settings
        self.store = store
        self.group = group or f"{settings.kafka.topic_prefix}.portal"
        self.status = IngestStatus()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._decoder = Decoder(max_block_bytes=settings.limits.max_decoded_block_mib << 20)
        self._prefix = PrefixReader(self._decoder)
        self._warned = False

    def _consumer(self) -> Any:
        from confluent_kafka import Consumer

        from broker.kafka.topics import client_config

        def on_error(err: Any) -> None:
            self.status.last_error = f"Kafka: {err.str()}"
            if not self._warned:  # once until Kafka answers again, not at every retry
                self._warned = True
                log.warning("portal ingest: %s (retrying; the portal serves its store)",
                            self.status.last_error)  # fmt: skip

        k = self.settings.kafka
        conf = client_config(self.settings)
        conf.update(
            {
                "group.id": self.group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "topic.metadata.refresh.interval.ms": METADATA_REFRESH_MS,
                "fetch.max.bytes": max(k.max_message_bytes, 52_428_800),
                "max.partition.fetch.bytes": k.max_message_bytes,
                "error_cb": on_error,
                "log_level": 2,  # librdkafka's own retries are reported through on_error
            }
        )
        consumer = Consumer(conf)
        pattern = "^" + re.escape(f"{k.topic_prefix}.filter.") + ".+"
        self.status.topics = [k.enriched_topic, pattern]
        consumer.subscribe(self.status.topics)
        return consumer

    def process(self, messages: list[Any]) -> tuple[int, int]:
        """Decode and store one poll's messages; returns (alerts, filter hits) written."""
        prefix = self.settings.kafka.topic_prefix
        enriched = self.settings.kafka.enriched_topic
        alerts: list[dict[str, Any]] = []
        hits: list[tuple[str, dict[str, Any], int]] = []
        for msg in messages:
            if msg.error() is not None:
                continue
            topic = str(msg.topic())
            name = filter_name(prefix, topic)
            if topic != enriched and name is None:
                continue
            try:  # a filter topic's copy: its identity is enough (the alert came enriched)
                rec = self._decoder.decode(msg.value())[0] if name is None else \
                    self._prefix.read(msg.value())  # fmt: skip
            except DeserializeError as exc:
                self.status.undecodable += 1
                log.warning("undecodable message at %s[%s]@%s: %s",
                            topic, msg.partition(), msg.offset(), exc)  # fmt: skip
                continue
            if name is None:
                alerts.append(rec)
            else:
                hits.append((name, rec, int(msg.timestamp()[1])))
        if alerts or hits:
            self.store.add(alerts, hits)
        return len(alerts), len(hits)

    def run(self) -> None:
        """Poll, store, commit until :meth:`stop` (the thread's body)."""
        consumer = None
        self.status.running = True
        try:
            while not self._stop.is_set():
                if consumer is None:
                    try:
                        consumer = self._consumer()
                    except FauconError as exc:
                        self.status.last_error = str(exc)
                        self._stop.wait(5.0)
                        continue
                messages = consumer.consume(self.settings.portal.ingest_batch, 0.5)
                if not messages:
                    continue
                try:
                    n_alerts, n_hits = self.process(messages)
                except Exception as exc:  # the store refused: retry the same offsets later
                    self.status.last_error = f"store: {exc}"
                    log.exception("portal store write failed; the batch will be read again")
                    consumer.close()
                    consumer = None
                    self._stop.wait(5.0)
                    continue
                consumer.commit(asynchronous=False)
                if self._warned:
                    self._warned = False
                    log.warning("portal ingest: Kafka answers again")
                st = self.status
                st.messages += len(messages)
                st.alerts += n_alerts
                st.filter_hits += n_hits
                st.batches += 1
                st.last_batch_ms = int(time.time() * 1000)
        finally:
            if consumer is not None:
                consumer.close()
            self.status.running = False

    def start(self) -> Ingest:
        """Run in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="portal-ingest", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current batch and close the consumer."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def drain(self, messages: int, timeout: float = 120.0) -> bool:
        """Run until ``messages`` Kafka messages were stored (or ``timeout`` s), then stop.

        What the demo calls to fill the store before it stops Kafka; True when done.
        """
        self.start()
        deadline = time.monotonic() + timeout
        try:
            while self.status.messages < messages and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            self.stop()
        return self.status.messages >= messages
