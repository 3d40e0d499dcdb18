"""Deserialize stage: raw Kafka message bytes to Avro records.

Two wire formats are in use by the surveys:

* **Avro object container file (OCF)**, one alert per message: ZTF's
  convention (and Spark-written files such as Fink's).  The writer schema is
  in the message header; Faucon parses each distinct schema once per process
  (cached by its hash) and decodes the data block with fastavro's
  schemaless reader, so a stream of 10,000 messages with the same schema
  parses that schema once.
* **Confluent wire format**: byte ``0x00``, a 4-byte big-endian schema id,
  then schemaless Avro.  Rubin/LSST uses it, with the schema id
  ``major * 100 + minor`` (701 is alert_packet 7.1); schemas are resolved
  from ``schemas/lsst/MAJOR/MINOR``.

Anything else is rejected with a :class:`~broker.core.errors.DeserializeError`
whose ``reason`` becomes the dead-letter reason.

Examples
--------
>>> from broker.pipeline.decode import Decoder
>>> dec = Decoder()
>>> dec.decode(b"")
Traceback (most recent call last):
...
broker.core.errors.DeserializeError: empty_message: the message value is empty
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import load_schema

from broker.core.config import REPO_ROOT
from broker.core.errors import DeserializeError
from broker.pipeline.schema_guard import check_writer_schema

OCF_MAGIC = b"Obj\x01"
WIRE_MAGIC = 0
_HEADER_SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "Header",
        "namespace": "org.apache.avro.file",
        "fields": [
            {"name": "magic", "type": {"type": "fixed", "name": "Magic", "size": 4}},
            {"name": "meta", "type": {"type": "map", "values": "bytes"}},
            {"name": "sync", "type": {"type": "fixed", "name": "Sync", "size": 16}},
        ],
    }
)


def _read_long(buf: io.BytesIO) -> int:
    """Read one Avro zig-zag varint long from ``buf``."""
    shift = 0
    accum = 0
    while True:
        byte = buf.read(1)
        if not byte:
            raise DeserializeError("truncated_avro", "container block header ends early")
        b = byte[0]
        accum |= (b & 0x7F) << shift
        if not b & 0x80:
            return (accum >> 1) ^ -(accum & 1)
        shift += 7
        if shift > 63:
            raise DeserializeError("corrupt_avro", "varint longer than 10 bytes")


def _decompress(codec: str, data: bytes, limit: int) -> bytes:
    try:
        return _decompress_raw(codec, data, limit)
    except DeserializeError:
        raise
    except Exception as exc:  # zlib.error, cramjam.DecompressionError, ...
        raise DeserializeError(
            "corrupt_avro", f"{codec} block does not decompress: {exc!r}"
        ) from exc


def _too_big(codec: str, limit: int) -> DeserializeError:
    return DeserializeError(
        "oversized_block",
        f"{codec} block decompresses to more than {limit} bytes "
        "(FAUCON_LIMITS__MAX_DECODED_BLOCK_MIB)",
    )


def _decompress_raw(codec: str, data: bytes, limit: int) -> bytes:
    """Decompress one block, never producing more than ``limit`` bytes."""
    if codec == "null":
        return data
    if codec == "deflate":
        inflater = zlib.decompressobj(-15)
        out = inflater.decompress(data, limit)
        if inflater.unconsumed_tail:
            raise _too_big(codec, limit)
        return out
    if codec == "snappy":
        import cramjam

        if cramjam.snappy.decompress_raw_len(data[:-4]) > limit:
            raise _too_big(codec, limit)
        return bytes(cramjam.snappy.decompress_raw(data[:-4]))
    if codec == "zstandard":
        import cramjam

        # Frames without a content size cannot be checked before decompressing.
        out = bytes(cramjam.zstd.decompress(data))
        if len(out) > limit:
            raise _too_big(codec, limit)
        return out
    raise DeserializeError("unsupported_codec", f"Avro codec {codec!r} is not supported")


class SchemaRegistry:
    """Rubin schemas by Confluent schema id, loaded from ``schemas/lsst``.

    Parameters
    ----------
    schemas_dir
        The repository's ``schemas`` directory.

    Examples
    --------
    >>> reg = SchemaRegistry()
    >>> reg.get(704)["name"]
    'lsst.v7_4.alert'
    """

    def __init__(self, schemas_dir: Path | None = None) -> None:
        self.root = (schemas_dir or REPO_ROOT / "schemas") / "lsst"
        self._cache: dict[int, Any] = {}
        self._signatures: list[tuple[int, frozenset[str], frozenset[str]]] | None = None

    def known_ids(self) -> list[int]:
        """Schema ids available on disk."""
        ids = []
        for major in self.root.iterdir() if self.root.is_dir() else []:
            for minor in major.iterdir() if major.is_dir() else []:
                if major.name.isdigit() and minor.name.isdigit():
                    ids.append(int(major.name) * 100 + int(minor.name))
        return sorted(ids)

    def path(self, schema_id: int) -> Path:
        """Path of the alert schema of ``schema_id``."""
        major, minor = divmod(schema_id, 100)
        return self.root / str(major) / str(minor) / f"lsst.v{major}_{minor}.alert.avsc"

    def infer_id(self, record: dict[str, Any]) -> int | None:
        """Schema id whose fields match a Rubin record written with another schema.

        Broker-written container files (e.g. Spark's ``topLevelRecord``) keep
        Rubin's fields but lose the schema name.  The newest official schema
        whose ``diaSource`` fields equal the record's, and whose top-level
        fields are all present, is taken.
        """
        src = record.get("diaSource")
        if not isinstance(src, dict):
            return None
        if self._signatures is None:
            self._signatures = []
            for sid in self.known_ids():
                schema = self.get(sid)
                fields = {f["name"]: f for f in schema["fields"]}
                dia = fields["diaSource"]["type"]
                dia_names = (
                    frozenset(f["name"] for f in dia["fields"])
                    if isinstance(dia, dict)
                    else frozenset()
                )
                self._signatures.append((sid, frozenset(fields), dia_names))
        keys, src_keys = record.keys(), frozenset(src)
        matches = [sid for sid, top, dia in self._signatures if dia == src_keys and top <= keys]
        return max(matches) if matches else None

    def get(self, schema_id: int) -> Any:
        """Parsed schema of ``schema_id``; raises ``unknown_schema_id``."""
        parsed = self._cache.get(schema_id)
        if parsed is None:
            path = self.path(schema_id)
            if not path.is_file():
                raise DeserializeError(
                    "unknown_schema_id",
                    f"schema id {schema_id} has no schema at {path}; known ids: {self.known_ids()}",
                )
            parsed = load_schema(str(path))
            self._cache[schema_id] = parsed
        return parsed


_DEFAULT_REGISTRY: SchemaRegistry | None = None


def default_registry() -> SchemaRegistry:
    """The process-wide registry of the repository's Rubin schemas."""
    global _DEFAULT_REGISTRY
    if _DEFAULT_REGISTRY is None:
        _DEFAULT_REGISTRY = SchemaRegistry()
    return _DEFAULT_REGISTRY


class Decoder:
    """Decode raw alert messages (OCF or Confluent wire format) to dicts.

    One instance per worker process; it caches parsed schemas.

    Parameters
    ----------
    schemas_dir
        The repository's ``schemas`` directory (for Rubin schema ids).
    max_records
        Most records accepted in one container message (alerts are one per message).
    max_block_bytes
        Largest decompressed container block, bytes (``limits.max_decoded_block_mib``).
    """

    def __init__(
        self,
        schemas_dir: Path | None = None,
        max_records: int = 1,
        max_block_bytes: int = 64 << 20,
    ) -> None:
        self.registry = SchemaRegistry(schemas_dir) if schemas_dir else default_registry()
        self.max_records = max_records
        self.max_block_bytes = max_block_bytes
        self._ocf_schemas: dict[bytes, tuple[Any, str]] = {}

    def decode(self, value: bytes | None) -> tuple[dict[str, Any], str]:
        """Decode one message.

        Parameters
        ----------
        value
            The Kafka message value.

        Returns
        -------
        tuple of (dict, str)
            The record and a description of the writer schema (its name, or
            ``wire:<id>``).

        Raises
        ------
        DeserializeError
            With a reason such as ``empty_message``, ``unknown_format``,
            ``unknown_schema_id``, ``truncated_avro`` or ``corrupt_avro``.
        """
        if not value:
            raise DeserializeError("empty_message", "the message value is empty")
        if value[:4] == OCF_MAGIC:
            records, name = self.decode_container(value)
            if not records:
                raise DeserializeError("empty_container", "Avro container holds no record")
            return records[0], name
        if value[0] == WIRE_MAGIC:
            if len(value) < 6:
                raise DeserializeError("truncated_avro", f"wire message of {len(value)} bytes")
            (schema_id,) = struct.unpack(">I", value[1:5])
            schema = self.registry.get(schema_id)
            try:
                buf = io.BytesIO(value)
                buf.seek(5)
                record = fastavro.schemaless_reader(buf, schema, None)
            except (EOFError, StopIteration, IndexError) as exc:
                raise DeserializeError(
                    "truncated_avro", f"schema id {schema_id}: message ends early ({exc!r})"
                ) from exc
            except Exception as exc:
                raise DeserializeError("corrupt_avro", f"schema id {schema_id}: {exc!r}") from exc
            if buf.tell() != len(value):
                raise DeserializeError(
                    "corrupt_avro",
                    f"schema id {schema_id}: {len(value) - buf.tell()} trailing bytes",
                )
            return record, f"wire:{schema_id}"  # type: ignore[return-value]
        raise DeserializeError(
            "unknown_format",
            f"first bytes {value[:5].hex()} are neither an Avro container (4f626a01) nor "
            "Confluent wire format (00 + schema id)",
        )

    def decode_container(self, value: bytes) -> tuple[list[dict[str, Any]], str]:
        """Decode every record of an Avro container file held in ``value``."""
        buf = io.BytesIO(value)
        try:
            header = fastavro.schemaless_reader(buf, _HEADER_SCHEMA, None)
        except Exception as exc:
            raise DeserializeError("truncated_avro", f"container header: {exc!r}") from exc
        meta: dict[str, bytes] = header["meta"]  # type: ignore[index,call-overload,assignment]
        sync: bytes = header["sync"]  # type: ignore[index,call-overload,assignment]
        schema_bytes = meta.get("avro.schema")
        if not schema_bytes:
            raise DeserializeError("corrupt_avro", "container header has no avro.schema")
        codec = meta.get("avro.codec", b"null").decode()
        key = hashlib.sha1(schema_bytes).digest()
        cached = self._ocf_schemas.get(key)
        if cached is None:
            try:
                raw = json.loads(schema_bytes)
                check_writer_schema(raw)
                cached = (fastavro.parse_schema(raw), str(raw.get("name", "")))
            except DeserializeError:
                raise
            except Exception as exc:
                raise DeserializeError("corrupt_avro", f"writer schema: {exc!r}") from exc
            self._ocf_schemas[key] = cached
        schema, name = cached
        records: list[dict[str, Any]] = []
        while buf.tell() < len(value):
            count = _read_long(buf)
            size = _read_long(buf)
            data = buf.read(size)
            if len(data) != size or count < 0:
                raise DeserializeError("truncated_avro", f"block of {size} bytes ends early")
            marker = buf.read(16)
            if len(marker) < 16:
                raise DeserializeError("truncated_avro", "container ends inside a sync marker")
            if marker != sync:
                raise DeserializeError("corrupt_avro", "block sync marker does not match")
            if len(records) + count > self.max_records:
                raise DeserializeError(
                    "multiple_records",
                    f"container holds more than {self.max_records} record(s); "
                    "alerts are published one per message",
                )
            block = io.BytesIO(_decompress(codec, data, self.max_block_bytes))
            for _ in range(count):
                try:
                    records.append(fastavro.schemaless_reader(block, schema, None))  # type: ignore[arg-type]
                except (EOFError, StopIteration, IndexError) as exc:
                    raise DeserializeError(
                        "truncated_avro", f"record ends early ({exc!r})"
                    ) from exc
                except Exception as exc:
                    raise DeserializeError("corrupt_avro", f"record: {exc!r}") from exc
        return records, name
