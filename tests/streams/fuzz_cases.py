"""Mutations of real alerts for fuzzing the stream (issue 9).

Case 496 of ``mutants(good, random.Random(20261122))`` over
``deploy/demo-alerts/ztf/kowalski-4.01-85a86d2d.avro`` and
``deploy/demo-alerts/lsst/wire`` once made the decode stage allocate without
bound (about 24 GB, OOM-killed): a bit flip turned ``"fields"`` into
``"fyelds"`` in the writer schema, so an array of empty records cost no bytes.
:mod:`broker.pipeline.schema_guard` now refuses such schemas (``invalid_schema``).
"""

from __future__ import annotations

import io
import json
import random
import struct
from typing import Any

import fastavro

N_MUTANTS = 10_000


def wrong_types(ocf: bytes) -> bytes:
    """The same alert re-written as valid Avro whose magpsf is a string."""
    reader = fastavro.reader(io.BytesIO(ocf))
    schema: Any = json.loads(json.dumps(reader.writer_schema))
    record = next(reader)
    cand = next(f for f in schema["fields"] if f["name"] == "candidate")
    ctype = next(t for t in cand["type"] if isinstance(t, dict)) if isinstance(
        cand["type"], list) else cand["type"]  # fmt: skip
    for field in ctype["fields"]:
        if field["name"] == "magpsf":
            field["type"] = "string"
    record["candidate"]["magpsf"] = "bright"  # type: ignore[index]
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(schema), [record])
    return out.getvalue()


def mutants(good: list[bytes], rng: random.Random) -> list[bytes]:
    """Bit flips, truncations, wrong magic byte or schema id, empty, oversized, wrong types."""
    ztf = [g for g in good if g[:4] == b"Obj\x01"]
    out = []
    for i in range(N_MUTANTS):
        src = bytearray(rng.choice(good))
        kind = i % 8
        if kind in (0, 1):  # bit flips
            for _ in range(rng.randint(1, 8)):
                pos = rng.randrange(len(src))
                src[pos] ^= 1 << rng.randrange(8)
        elif kind == 2:  # truncation
            del src[rng.randrange(1, len(src)) :]
        elif kind == 3:  # wrong magic byte
            src[0] = rng.choice([1, 2, 0x7F, 0xFF])
        elif kind == 4:  # unknown schema id in wire format
            src = bytearray(b"\x00" + struct.pack(">I", rng.randrange(2000, 99999)) + src[5:])
        elif kind == 5:
            src = bytearray()
        elif kind == 6:  # oversized junk tail appended to a valid message
            src += rng.randbytes(rng.randint(1, 4096))
        else:
            src = bytearray(wrong_types(rng.choice(ztf)))
        out.append(bytes(src))
    return out
