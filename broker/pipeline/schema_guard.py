"""Checks on a writer schema read from a message, before any record is decoded.

A container message carries its own writer schema, so a corrupted or hostile
message can carry a schema that makes decoding unbounded: an array or map
whose items encode in zero bytes lets a few bytes of block count allocate
billions of items (a bit flip turning ``"fields"`` into ``"fyelds"`` does
exactly this, since fastavro reads a record without ``fields`` as an empty
record). This module refuses such schemas, so every item an array holds
costs at least one byte of the message and memory stays proportional to the
message size.
"""

from __future__ import annotations

from typing import Any

from broker.core.errors import DeserializeError

_PRIMITIVE_MIN_BYTES = {
    "null": 0,
    "boolean": 1,
    "int": 1,
    "long": 1,
    "float": 4,
    "double": 8,
    "bytes": 1,
    "string": 1,
}
_MAX_DEPTH = 64


def check_writer_schema(schema: Any) -> None:
    """Raise if ``schema`` is malformed or allows zero-byte array or map items.

    Parameters
    ----------
    schema
        The writer schema as parsed JSON.

    Raises
    ------
    DeserializeError
        Reason ``invalid_schema``, naming the offending type.

    Examples
    --------
    >>> check_writer_schema({"type": "array", "items": "long"})
    >>> check_writer_schema({"type": "array", "items": {"type": "record", "name": "r"}})
    Traceback (most recent call last):
    ...
    broker.core.errors.DeserializeError: invalid_schema: record 'r' has no "fields" list
    """
    _min_bytes(schema, {}, 0)


def _fail(message: str) -> DeserializeError:
    return DeserializeError("invalid_schema", message)


def _min_bytes(schema: Any, named: dict[str, int], depth: int) -> int:
    """Fewest bytes one value of ``schema`` can encode in; validates as it goes."""
    if depth > _MAX_DEPTH:
        raise _fail(f"schema nests deeper than {_MAX_DEPTH} levels")
    if isinstance(schema, str):
        if schema in _PRIMITIVE_MIN_BYTES:
            return _PRIMITIVE_MIN_BYTES[schema]
        if schema in named:
            return named[schema]
        short = schema.rsplit(".", 1)[-1]
        matches = [v for k, v in named.items() if k.rsplit(".", 1)[-1] == short]
        if matches:
            return min(matches)
        raise _fail(f"type {schema!r} is neither primitive nor defined before use")
    if isinstance(schema, list):
        if not schema:
            raise _fail("empty union")
        return 1 + min(_min_bytes(s, named, depth + 1) for s in schema)
    if not isinstance(schema, dict):
        raise _fail(f"schema element of type {type(schema).__name__}")
    kind = schema.get("type")
    if kind in ("record", "error"):
        return _record(schema, named, depth)
    if kind in ("array", "map"):
        key = "items" if kind == "array" else "values"
        if key not in schema:
            raise _fail(f"{kind} has no {key!r}")
        item = _min_bytes(schema[key], named, depth + 1) + (1 if kind == "map" else 0)
        if item == 0:
            raise _fail(f"{kind} of items that encode in zero bytes (unbounded allocation)")
        return 1
    if kind == "enum":
        if not isinstance(schema.get("symbols"), list) or not schema["symbols"]:
            raise _fail(f"enum {schema.get('name')!r} has no symbols")
        _register(schema, named, 1)
        return 1
    if kind == "fixed":
        size = schema.get("size")
        if not isinstance(size, int) or size < 0:
            raise _fail(f"fixed {schema.get('name')!r} has no valid size")
        _register(schema, named, size)
        return size
    if kind is None:
        raise _fail('schema object without "type"')
    return _min_bytes(kind, named, depth + 1)  # {"type": "long", "logicalType": ...}


def _record(schema: dict[str, Any], named: dict[str, int], depth: int) -> int:
    name = schema.get("name")
    fields = schema.get("fields")
    if not isinstance(fields, list):
        raise _fail(f'record {name!r} has no "fields" list')
    # A reference to the record inside itself sits in a union, array or map
    # (a direct one could never end), so it costs at least one byte.
    _register(schema, named, 1)
    total = 0
    for field in fields:
        if not isinstance(field, dict) or "name" not in field or "type" not in field:
            raise _fail(f'record {name!r} has a field without "name" and "type"')
        total += _min_bytes(field["type"], named, depth + 1)
    _register(schema, named, total)
    return total


def _register(schema: dict[str, Any], named: dict[str, int], size: int) -> None:
    name = schema.get("name")
    if not isinstance(name, str):
        raise _fail(f"named {schema.get('type')} without a name")
    namespace = schema.get("namespace")
    full = name if "." in name or not namespace else f"{namespace}.{name}"
    named[full] = size
