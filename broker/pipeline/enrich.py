"""Enrich stage: one Arrow batch of raw Kafka messages to publishable rows.

This is the Python side of the stream, run by Spark's Python workers through
``mapInArrow``.  For every input message it emits exactly one row:

* ``status = "ok"``: the normalized, enriched alert, its encoded payloads for
  the output profiles in use, and the alert's columns that SQL filters read;
* ``status = "rejected"``: a dead-letter payload with the reason, the stage
  (deserialize, process, quality), the source topic/partition/offset and the
  original bytes.

One row per message is what makes the counts reconcile:
``in = published + rejected`` per reason, by construction.

The heavy objects (decoder with its schema cache, encoders) are created once
per worker process and reused across batches.

Examples
--------
>>> import pyarrow as pa
>>> from broker.core.config import load_settings
>>> batch = pa.RecordBatch.from_pylist(
...     [{"value": b"junk", "topic": "raw.ztf", "partition": 0, "offset": 3,
...       "timestamp_ms": 0}], schema=INPUT_SCHEMA)
>>> out = process_batch(batch, load_settings(), ("full",))
>>> out.column("reason").to_pylist()
['unknown_format']
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache
from typing import Any

import pyarrow as pa

from broker import __version__
from broker.core.config import Settings
from broker.core.errors import DeserializeError
from broker.core.schema import (
    CUTOUT_FIELDS,
    PROFILES,
    alert_schema,
    deadletter_schema,
    deadletter_schema_version,
    filter_view_schema,
    profile_schema,
    schema_version,
)
from broker.filters import FilterSpec
from broker.filters.python import run_python_filters
from broker.pipeline.decode import Decoder
from broker.pipeline.encode import ContainerEncoder, ProfileEncoder, View
from broker.pipeline.enrichers import run_enrichers
from broker.pipeline.normalize import normalize
from broker.pipeline.quality import quality_reason
from broker.pipeline.worker import skip_unchanged_zip_rescans

INPUT_SCHEMA = pa.schema(
    [
        pa.field("value", pa.binary()),
        pa.field("topic", pa.string()),
        pa.field("partition", pa.int32()),
        pa.field("offset", pa.int64()),
        pa.field("timestamp_ms", pa.int64()),
    ]
)
STATUS_OK = "ok"
# Room left in a Kafka message for the key, the headers and the record overhead, bytes.
_HEADERS_ROOM = 16_384
STATUS_REJECTED = "rejected"


@cache
def output_schema(view_columns: tuple[str, ...] | None = None) -> pa.Schema:
    """Arrow schema of the rows :func:`process_batch` emits.

    ``view_columns`` narrows the filter-view columns to those the enabled
    filters read (None: all of them); the JVM then converts only those.
    """
    fixed = [
        pa.field("status", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("stage", pa.string()),
        pa.field("key", pa.binary()),
        pa.field("ingest_ms", pa.int64()),
        pa.field("deadletter", pa.binary()),
        pa.field("enrich_errors", pa.string()),
        pa.field("py_passed", pa.list_(pa.string())),
        pa.field("filter_errors", pa.string()),
        *[pa.field(f"payload_{p}", pa.binary()) for p in PROFILES],
    ]
    view = filter_view_schema()
    keep = view.names if view_columns is None else set(view_columns)
    return pa.schema(fixed + [f for f in view if f.name in keep])


@cache
def _decoder(max_block_bytes: int) -> Decoder:
    return Decoder(max_block_bytes=max_block_bytes)


@cache
def _encoder(profile: str) -> ContainerEncoder:
    return ContainerEncoder(profile_schema(profile))


@cache
def _profile_encoder() -> ProfileEncoder:
    """Every profile of the alert, each field encoded once (``lite`` shares ``full``'s header)."""
    full = alert_schema()
    names = tuple(f["name"] for f in full["fields"])
    thin = tuple(f["name"] for f in profile_schema("thin")["fields"])
    return ProfileEncoder(
        full,
        {
            "full": View(_encoder("full"), names),
            "lite": View(_encoder("full"), names, frozenset(CUTOUT_FIELDS)),
            "thin": View(_encoder("thin"), thin),
        },
    )


@cache
def _deadletter_encoder() -> ContainerEncoder:
    return ContainerEncoder(deadletter_schema())


def _deadletter(
    msg: dict[str, Any],
    ingest_ms: int,
    stage: str,
    reason: str,
    detail: str,
    max_bytes: int | None = None,
) -> dict[str, Any]:
    record = {
        "schema_version": deadletter_schema_version(),
        "reason": reason,
        "stage": stage,
        "detail": detail[:2000],
        "input_topic": msg["topic"],
        "input_partition": msg["partition"],
        "input_offset": msg["offset"],
        "ingest_ms": ingest_ms,
        "processed_ms": int(time.time() * 1000),
        "faucon_version": __version__,
        "original": msg["value"] or b"",
    }
    payload = _deadletter_encoder().encode(record)
    if max_bytes is not None and len(payload) > max_bytes:  # keep the reference, not the bytes
        record["original"] = b""
        record["detail"] = (
            f"{record['detail'][:1500]} [original of {len(msg['value'] or b'')} bytes omitted: "
            f"too large for the dead-letter topic; it stays at {msg['topic']} partition "
            f"{msg['partition']} offset {msg['offset']}]"
        )
        payload = _deadletter_encoder().encode(record)
    return {
        "status": STATUS_REJECTED,
        "reason": reason,
        "stage": stage,
        "key": (msg["topic"] or "").encode() + b":" + str(msg["offset"]).encode(),
        "ingest_ms": ingest_ms,
        "deadletter": payload,
    }


def max_output_bytes(settings: Settings) -> int:
    """Largest payload the stream writes: the message limit less room for key and headers."""
    return settings.kafka.max_message_bytes - _HEADERS_ROOM


def _accept(
    msg: dict[str, Any], settings: Settings, limit: int | None = None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Decode, normalize, apply quality cuts: ``(alert, None)`` or ``(None, dead letter)``."""
    ingest_ms = int(msg.get("timestamp_ms") or 0)
    try:
        record, schema_name = _decoder(settings.limits.max_decoded_block_mib << 20).decode(
            msg["value"]
        )
        alert = normalize(record, schema_name)
    except DeserializeError as exc:
        stage = "process" if exc.reason == "invalid_alert" else "deserialize"
        return None, _deadletter(msg, ingest_ms, stage, exc.reason, exc.detail, limit)
    except Exception as exc:  # bad input must never stop the stream
        return None, _deadletter(msg, ingest_ms, "process", "invalid_alert", repr(exc), limit)
    failed = quality_reason(alert, settings.quality)
    if failed is not None:
        return None, _deadletter(msg, ingest_ms, "quality", *failed, limit)
    alert["provenance"] = {
        "faucon_version": __version__,
        "input_topic": msg["topic"],
        "input_partition": msg["partition"],
        "input_offset": msg["offset"],
        "ingest_ms": ingest_ms,
        "processed_ms": int(time.time() * 1000),
    }
    return alert, None


def _output_row(
    alert: dict[str, Any], profiles: tuple[str, ...], unit_errors: str | None
) -> dict[str, Any]:
    """The output row of an accepted alert, with its payloads for ``profiles``."""
    row = dict(alert)
    row.update(
        status=STATUS_OK,
        reason=None,
        stage=None,
        ingest_ms=alert["provenance"]["ingest_ms"],
        key=alert["object_id"].encode(),
        enrich_errors=unit_errors,
    )
    for profile, payload in _profile_encoder().encode(alert, profiles).items():
        row[f"payload_{profile}"] = payload
    return row


def process_batch(
    batch: pa.RecordBatch,
    settings: Settings,
    profiles: Iterable[str],
    python_filters: Sequence[FilterSpec] = (),
    view_columns: tuple[str, ...] | None = None,
) -> pa.RecordBatch:
    """Process one Arrow batch of Kafka rows (value, topic, partition, offset, timestamp_ms).

    Per message: decode, normalize, quality cuts.  Then, on all accepted alerts
    of the batch at once: the enrichers (cross-match, classifiers).  Then
    encoding.  Exactly one output row per input row, in order, with the
    filter-view columns ``view_columns`` (None: all).
    """
    profiles = tuple(profiles)
    msgs = batch.to_pylist()
    rows: list[dict[str, Any] | None] = [None] * len(msgs)
    accepted: list[tuple[int, dict[str, Any]]] = []
    limit = max_output_bytes(settings)
    for i, msg in enumerate(msgs):
        alert, dead = _accept(msg, settings, limit)
        if alert is None:
            rows[i] = dead
        else:
            accepted.append((i, alert))
    errors = run_enrichers([a for _i, a in accepted], settings)
    unit_errors = ",".join(sorted(errors)) or None
    passed, filter_errors = run_python_filters(
        python_filters, [a for _i, a in accepted], settings.filters.python_budget_s_per_batch
    )
    for k, (i, alert) in enumerate(accepted):
        row = _output_row(alert, profiles, unit_errors)
        row["py_passed"] = passed[k]
        size = max(len(v) for key, v in row.items() if key.startswith("payload_") and v)
        if size > limit:  # Kafka would refuse it and fail the whole batch: dead-letter it
            row = _deadletter(
                msgs[i], row["ingest_ms"], "produce", "oversized_output",
                f"enriched alert of {size} bytes exceeds {limit} bytes "
                "(FAUCON_KAFKA__MAX_MESSAGE_BYTES less headers)", limit,
            )  # fmt: skip
        # The batch's failing Python filters, once per Arrow batch (read on the driver).
        row["filter_errors"] = json.dumps(filter_errors) if filter_errors and k == 0 else None
        rows[i] = row
    return pa.RecordBatch.from_pylist(rows, schema=output_schema(view_columns))


def make_mapper(
    settings: Settings,
    profiles: Iterable[str],
    python_filters: Sequence[FilterSpec] = (),
    view_columns: tuple[str, ...] | None = None,
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function handed to Spark's ``mapInArrow`` (picklable closure)."""
    profiles = tuple(profiles)
    python_filters = tuple(f for f in python_filters if f.kind == "python" and f.enabled)

    def mapper(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        skip_unchanged_zip_rescans()  # in the worker: later tasks start faster
        for batch in batches:
            yield process_batch(batch, settings, profiles, python_filters, view_columns)

    return mapper


__all__ = ["INPUT_SCHEMA", "make_mapper", "output_schema", "process_batch", "schema_version"]
