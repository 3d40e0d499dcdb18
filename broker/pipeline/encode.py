"""Encode stage: Faucon records to self-describing Avro messages.

Each output message is a complete Avro object container file holding one
record (ZTF's convention): any Avro library reads it without a registry.
The container header (magic, schema, codec, sync marker) is built once per
schema and process; per record only the data block is written, which keeps
encoding cheap on the hot path.  The data block is written by the
schema-compiled writer of :mod:`broker.pipeline.avro_write` (fastavro's bytes, faster),
and :class:`ProfileEncoder` writes the ``full``, ``lite`` and ``thin``
profiles of a record from one encoding of each field.

Examples
--------
>>> import io, fastavro
>>> from broker.core.schema import deadletter_schema
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
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import fastavro

from broker.pipeline.avro_write import Unsupported, compile_writer

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


_ONE = _long(1)


def _avro_bytes(data: bytes) -> bytes:
    return _long(len(data)) + data


def _write(fast: Callable[[Any], bytes] | None, parsed: Any, record: Any) -> bytes:
    """``record`` as Avro binary: the compiled writer, or fastavro outside its fast path."""
    if fast is not None:
        try:
            return fast(record)
        except Unsupported:
            pass
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, record)
    return buf.getvalue()


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
        self.fast = compile_writer(schema)
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
        data = _write(self.fast, self.parsed, record)
        return b"".join((self.header, _ONE, _long(len(data)), data, self.sync))


@dataclass(frozen=True)
class View:
    """One output profile as a view of the base record.

    Attributes
    ----------
    container
        Encoder of the profile's messages (its schema, header and sync marker).
    fields
        Base-schema fields the profile writes, in the base schema's order.
    nulled
        Fields written as null whatever the record holds (the ``lite`` cutouts).
    """

    container: ContainerEncoder
    fields: tuple[str, ...]
    nulled: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Run:
    """Consecutive base fields that every profile writes in the same way."""

    parsed: Any
    fast: Callable[[Any], bytes] | None
    null_bytes: bytes | None
    roles: tuple[str, ...]  # per profile: "value", "null" or "absent"


class ProfileEncoder:
    """Encode one record in several profiles, each field written once.

    An Avro record is the concatenation of its fields' encodings, so a
    profile that writes a subsequence of the base record's fields (``thin``),
    or nulls some of them (``lite``), is a concatenation of runs of fields
    encoded once per record and shared by the profiles; nulled runs are
    constant bytes computed here.  The messages are byte for byte what each
    profile's :class:`ContainerEncoder` writes for the same record.  Views
    whose schema is not such a subsequence (or whose named types cross runs)
    are encoded one by one.

    Parameters
    ----------
    base_schema
        Avro schema (JSON dict) of the full record.
    views
        Profile name to :class:`View`.

    Examples
    --------
    >>> base = {"type": "record", "name": "r", "fields": [
    ...     {"name": "a", "type": "long"}, {"name": "b", "type": ["null", "bytes"]}]}
    >>> thin = {"type": "record", "name": "t", "fields": base["fields"][:1]}
    >>> full = ContainerEncoder(base)
    >>> enc = ProfileEncoder(base, {"full": View(full, ("a", "b")),
    ...     "lite": View(full, ("a", "b"), frozenset({"b"})),
    ...     "thin": View(ContainerEncoder(thin), ("a",))})
    >>> out = enc.encode({"a": 3, "b": b"xy"}, ("full", "lite", "thin"))
    >>> out["lite"] == full.encode({"a": 3, "b": None})
    True
    """

    def __init__(self, base_schema: dict[str, Any], views: Mapping[str, View]) -> None:
        self.base = base_schema
        self.views = dict(views)
        self._plans: dict[tuple[str, ...], list[_Run] | None] = {}

    def _plan(self, profiles: tuple[str, ...]) -> list[_Run] | None:
        """Runs of base fields for ``profiles``; None when they cannot share encodings."""
        if profiles not in self._plans:
            unknown = [p for p in profiles if p not in self.views]
            if unknown:
                raise ValueError(f"unknown profile(s) {unknown}; choose among {tuple(self.views)}")
            views = [self.views[p] for p in profiles]
            fields = self.base["fields"]
            by_name = {f["name"]: f for f in fields}
            order = [f["name"] for f in fields]
            shared = all(
                [f["name"] for f in v.container.schema["fields"]] == list(v.fields)
                and all(f == by_name.get(f["name"]) for f in v.container.schema["fields"])
                and [n for n in order if n in v.fields] == list(v.fields)
                for v in views
            )
            plan = None
            if shared:
                try:
                    plan = self._runs(fields, views)
                except Exception:  # e.g. a named type defined in one run, used in another
                    plan = None
            self._plans[profiles] = plan
        return self._plans[profiles]

    def _runs(self, fields: list[dict[str, Any]], views: list[View]) -> list[_Run]:
        def role(view: View, name: str) -> str:
            if name not in view.fields:
                return "absent"
            return "null" if name in view.nulled else "value"

        groups: list[tuple[tuple[str, ...], list[dict[str, Any]]]] = []
        for f in fields:
            roles = tuple(role(v, f["name"]) for v in views)
            if groups and groups[-1][0] == roles:
                groups[-1][1].append(f)
            else:
                groups.append((roles, [f]))
        runs = []
        for k, (roles, run_fields) in enumerate(groups):
            sub = {
                "type": "record",
                "name": f"{self.base['name']}_run{k}",
                "fields": run_fields,
            }
            if "namespace" in self.base:
                sub["namespace"] = self.base["namespace"]
            parsed = fastavro.parse_schema(sub)
            null_bytes = None
            if "null" in roles:
                buf = io.BytesIO()
                fastavro.schemaless_writer(
                    buf, parsed, dict.fromkeys(f["name"] for f in run_fields)
                )
                null_bytes = buf.getvalue()
            runs.append(_Run(parsed, compile_writer(sub), null_bytes, roles))
        return runs

    def encode(self, record: dict[str, Any], profiles: Collection[str]) -> dict[str, bytes]:
        """``record`` as one complete Avro container file per profile in ``profiles``."""
        profiles = tuple(profiles)
        plan = self._plan(profiles)
        if plan is None:
            out = {}
            for p in profiles:
                view = self.views[p]
                rec = {**record, **dict.fromkeys(view.nulled)} if view.nulled else record
                out[p] = view.container.encode(rec)
            return out
        parts: list[list[bytes]] = [[] for _ in profiles]
        for run in plan:
            data = b""
            if "value" in run.roles:
                data = _write(run.fast, run.parsed, record)
            for k, r in enumerate(run.roles):
                if r == "value":
                    parts[k].append(data)
                elif r == "null":
                    parts[k].append(run.null_bytes)  # type: ignore[arg-type]
        out = {}
        for p, chunks in zip(profiles, parts, strict=True):
            c = self.views[p].container
            size = sum(len(x) for x in chunks)
            out[p] = b"".join((c.header, _ONE, _long(size), *chunks, c.sync))
        return out
