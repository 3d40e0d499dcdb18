"""Encode stage: Faucon records to self-describing Avro messages.

Each output message is a complete Avro object container file holding one
record (ZTF's convention): any Avro library reads it without a registry.
The container header (magic, schema, codec, sync marker) is built once per
schema and process; per record only the data block is written, which keeps
encoding cheap on the hot path.

Examples
--------
>>> import io, fastavro
>>> from broker.schema import deadletter_schema
>>> enc = ContainerEncoder(deadletter_schema())
>>> msg = enc.encode({"schema_version": "1.0", "reason": "empty_message", "stage": "deserialize",
...     "detail": "", "input_topic": "raw.ztf", "input_partition": 0, "input_offset": 7,
...     "ingest_ms": 0, "processed_ms": 0, "faucon_version": "0", "original": b""})
>>> next(fastavro.reader(io.BytesIO(msg)))["input_offset"]
7
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import fastavro

OCF_MAGIC = b"Obj\x01"


def _long(value: int) -> bytes:
    """Avro zig-zag varint encoding of ``value``."""
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _avro_bytes(data: bytes) -> bytes:
    return _long(len(data)) + data


class ContainerEncoder:
    """Write records as one-record Avro container files, header cached.

    Parameters
    ----------
    schema
        Avro schema (JSON dict) of the records.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.parsed = fastavro.parse_schema(schema)
        self.sync = os.urandom(16)
        meta = {
            "avro.schema": json.dumps(schema, separators=(",", ":")).encode(),
            "avro.codec": b"null",
        }
        header = bytearray(OCF_MAGIC)
        header += _long(len(meta))
        for key, value in meta.items():
            header += _avro_bytes(key.encode()) + _avro_bytes(value)
        header += _long(0)
        header += self.sync
        self.header = bytes(header)

    def encode(self, record: dict[str, Any]) -> bytes:
        """One record as a complete Avro container file."""
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, self.parsed, record)
        data = buf.getvalue()
        return b"".join((self.header, _long(1), _long(len(data)), data, self.sync))
