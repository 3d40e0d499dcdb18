"""A schema-compiled Avro binary writer for the plain records Faucon publishes.

fastavro writes any schema, but resolves every union value against its
branches at run time, which makes records of nullable doubles (the alert's
``history``) its slowest case.  :func:`compile_writer` turns a schema made of
records, arrays, maps, primitives and ``["null", T]`` unions into nested
closures that check each value's exact Python type and append its encoding.

The output is byte for byte what ``fastavro.schemaless_writer`` writes for
the same record.  Anything outside that fast path (a value of another type,
a missing field, an int out of range, a string that does not encode) raises
:class:`Unsupported` and the caller writes the record with fastavro, so
defaults, coercions and error messages stay fastavro's.

Examples
--------
>>> import io, fastavro
>>> schema = {"type": "record", "name": "p", "fields": [
...     {"name": "t", "type": "double"}, {"name": "f", "type": ["null", "double"]},
...     {"name": "tags", "type": {"type": "array", "items": "string"}}]}
>>> write = compile_writer(schema)
>>> rec = {"t": 1.5, "f": None, "tags": ["a", "b"]}
>>> buf = io.BytesIO()
>>> fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), rec)
>>> write(rec) == buf.getvalue()
True
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

Writer = Callable[[bytearray, Any], None]
_PACK_DOUBLE = struct.Struct("<d").pack
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1


class Unsupported(Exception):
    """The value is outside the compiled fast path; write it with fastavro."""


def _varint(out: bytearray, value: int) -> None:
    """Append the zig-zag varint of ``value`` (caller checked the 64-bit range)."""
    n = (value << 1) ^ (value >> 63)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _integer(low: int, high: int) -> Writer:
    def write(out: bytearray, value: Any) -> None:
        if type(value) is not int or not low <= value <= high:
            raise Unsupported
        _varint(out, value)

    return write


def _double(out: bytearray, value: Any) -> None:
    if type(value) is not float:
        raise Unsupported
    out += _PACK_DOUBLE(value)


def _string(out: bytearray, value: Any) -> None:
    if type(value) is not str:
        raise Unsupported
    data = value.encode()
    size = len(data)
    if size < 0x40:  # one-byte zig-zag varint, the usual case
        out.append(size << 1)
    else:
        _varint(out, size)
    out += data


def _bytes(out: bytearray, value: Any) -> None:
    if type(value) is not bytes:
        raise Unsupported
    _varint(out, len(value))
    out += value


def _boolean(out: bytearray, value: Any) -> None:
    if type(value) is not bool:
        raise Unsupported
    out.append(1 if value else 0)


def _null(out: bytearray, value: Any) -> None:
    if value is not None:
        raise Unsupported


_PRIMITIVES: dict[str, Writer] = {
    "null": _null,
    "boolean": _boolean,
    "int": _integer(_INT_MIN, _INT_MAX),
    "long": _integer(_LONG_MIN, _LONG_MAX),
    "double": _double,
    "string": _string,
    "bytes": _bytes,
}


def _nullable(null_index: int, inner: Writer) -> Writer:
    null_tag, value_tag = (0, 2) if null_index == 0 else (2, 0)  # zig-zag of the branch index

    def write(out: bytearray, value: Any) -> None:
        if value is None:
            out.append(null_tag)
        else:
            out.append(value_tag)
            inner(out, value)

    return write


def _record(fields: list[tuple[str, Writer]]) -> Writer:
    def write(out: bytearray, value: Any) -> None:
        if type(value) is not dict:
            raise Unsupported
        try:
            for name, field_writer in fields:
                field_writer(out, value[name])
        except KeyError:  # fastavro applies the field's default
            raise Unsupported from None

    return write


def _array(items: Writer) -> Writer:
    def write(out: bytearray, value: Any) -> None:
        if type(value) is not list:
            raise Unsupported
        if value:
            _varint(out, len(value))
            for item in value:
                items(out, item)
        out.append(0)

    return write


def _map(values: Writer) -> Writer:
    def write(out: bytearray, value: Any) -> None:
        if type(value) is not dict:
            raise Unsupported
        if value:
            _varint(out, len(value))
            for key, item in value.items():
                _string(out, key)
                values(out, item)
        out.append(0)

    return write


def _compile(schema: Any) -> Writer:
    """Writer of one (unparsed) schema; raises :class:`Unsupported` for other constructs."""
    if isinstance(schema, str):
        if schema not in _PRIMITIVES:
            raise Unsupported(f"named type reference {schema!r}")
        return _PRIMITIVES[schema]
    if isinstance(schema, list):
        others = [s for s in schema if s != "null"]
        if len(schema) != 2 or len(others) != 1 or isinstance(others[0], list):
            raise Unsupported(f"union {schema!r}")
        return _nullable(schema.index("null"), _compile(others[0]))
    kind = schema.get("type")
    if kind == "record":
        return _record([(f["name"], _compile(f["type"])) for f in schema["fields"]])
    if kind == "array":
        return _array(_compile(schema["items"]))
    if kind == "map":
        return _map(_compile(schema["values"]))
    if kind in _PRIMITIVES and not schema.get("logicalType"):
        return _PRIMITIVES[kind]
    raise Unsupported(f"type {kind!r}")


def compile_writer(schema: dict[str, Any]) -> Callable[[Any], bytes] | None:
    """A function writing a record of ``schema`` as Avro binary, or None when unsupported.

    The function raises :class:`Unsupported` for a value outside the fast
    path (see the module doc); write that record with fastavro.
    """
    try:
        write = _compile(schema)
    except Unsupported:
        return None

    def encode(record: Any) -> bytes:
        out = bytearray()
        try:
            write(out, record)
        except Unsupported:
            raise
        except Exception as exc:  # e.g. a string that does not encode: fastavro decides
            raise Unsupported(repr(exc)) from exc
        return bytes(out)

    return encode
