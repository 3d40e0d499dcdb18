"""Read only the leading fields of a Faucon output message (a filter topic's copy of an alert).

A filter topic carries alerts already stored from the enriched topic; the
ingest needs just their identity.  Faucon's records start with
``schema_version, survey, [survey_schema,] alert_id, object_id, ra, dec,
mjd_tai`` in every profile, so the record is read up to ``mjd_tai`` with a
schema made of those leading fields (cached per writer schema) and the rest,
history and cutouts included, is never decoded.  Anything unexpected
(compressed block, other field order) falls back to the whole decoder.

Examples
--------
>>> prefix_fields({"fields": [{"name": "a", "type": "string"},
...                           {"name": "mjd_tai", "type": "double"},
...                           {"name": "history", "type": "string"}]})
['a', 'mjd_tai']
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import fastavro

from broker.pipeline.decode import Decoder

MAGIC = b"Obj\x01"
LAST_FIELD = "mjd_tai"
_META = fastavro.parse_schema({"type": "map", "values": "bytes"})
_SIMPLE = {"string", "long", "int", "double", "float", "boolean"}


def prefix_fields(schema: dict[str, Any]) -> list[str] | None:
    """Names of the fields up to ``mjd_tai``; None when one of them is not a plain type."""
    names = []
    for field in schema.get("fields", []):
        if field.get("type") not in _SIMPLE:
            return None
        names.append(field["name"])
        if field["name"] == LAST_FIELD:
            return names
    return None


class PrefixReader:
    """Identity of alerts in Faucon output messages, cheaply (see the module doc)."""

    def __init__(self, decoder: Decoder) -> None:
        self.decoder = decoder
        self._schemas: dict[bytes, Any] = {}

    def _prefix_schema(self, schema_bytes: bytes) -> Any:
        key = hashlib.sha1(schema_bytes).digest()
        if key not in self._schemas:
            raw = json.loads(schema_bytes)
            names = prefix_fields(raw)
            fields = [f for f in raw["fields"] if names and f["name"] in names]
            self._schemas[key] = (
                fastavro.parse_schema({"type": "record", "name": "prefix", "fields": fields})
                if names else None
            )  # fmt: skip
        return self._schemas[key]

    def read(self, value: bytes) -> dict[str, Any]:
        """``survey``, ``alert_id``, ``object_id``, ``mjd_tai`` (and the fields before) of one
        message; the whole record when the shortcut does not apply."""
        if value[:4] == MAGIC:
            buf = io.BytesIO(value)
            buf.seek(4)
            meta = fastavro.schemaless_reader(buf, _META, None)
            schema_bytes = meta.get("avro.schema") if isinstance(meta, dict) else None
            codec = meta.get("avro.codec", b"null") if isinstance(meta, dict) else b"?"
            prefix = self._prefix_schema(schema_bytes) if schema_bytes else None
            if prefix is not None and codec == b"null":
                buf.seek(16, io.SEEK_CUR)  # sync marker
                fastavro.schemaless_reader(buf, "long", None)  # records in the block
                fastavro.schemaless_reader(buf, "long", None)  # block size
                rec = fastavro.schemaless_reader(buf, prefix, None)
                if isinstance(rec, dict):
                    return rec
        return self.decoder.decode(value)[0]
