"""Writer-schema checks and decompression limits: hostile containers stay bounded."""

from __future__ import annotations

import io
import json
import random
import zlib
from pathlib import Path

import cramjam
import fastavro
import pytest

from broker.core.errors import DeserializeError
from broker.kafka.replay import load_messages
from broker.pipeline.decode import Decoder
from broker.pipeline.schema_guard import check_writer_schema
from tests.broker.pipeline.datafiles import DEMO_ALERTS, SHARED_DATA
from tests.streams.fuzz_cases import mutants

REPO_SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def _container_schemas() -> dict[str, bytes]:
    """The raw writer schema of every distinct real container file, by its first file."""
    out: dict[str, bytes] = {}
    for path in sorted([*SHARED_DATA.rglob("*.avro"), *DEMO_ALERTS.rglob("*.avro")]):
        with path.open("rb") as fh:
            try:
                raw = fastavro.reader(fh).metadata["avro.schema"]
            except Exception:
                continue  # not a container (wire-format or broken sample files)
        out.setdefault(raw if isinstance(raw, str) else raw.decode(), str(path))
    return {path: schema.encode() for schema, path in out.items()}


def test_every_real_writer_schema_passes() -> None:
    schemas = _container_schemas()
    assert len(schemas) >= 10
    for path, raw in schemas.items():
        check_writer_schema(json.loads(raw)), path  # raises on a false alarm


def test_every_repo_schema_passes() -> None:
    paths = [p for p in sorted(REPO_SCHEMAS.rglob("*.avsc"))
             if "ztf" not in p.parts and p.name.endswith("alert.avsc")]  # fmt: skip
    assert len(paths) >= 14  # every Rubin version and the Faucon alert; ZTF: headers above
    for path in paths:
        schema = fastavro.schema.load_schema(path, _write_hint=False)
        check_writer_schema(json.loads(json.dumps(schema, default=str)))


@pytest.mark.parametrize(
    "schema, message",
    [
        ({"type": "array", "items": "null"}, "zero bytes"),
        ({"type": "array", "items": {"type": "record", "name": "e", "fields": []}}, "zero"),
        ({"type": "map", "values": {"type": "fixed", "name": "f", "size": 0}}, None),
        ({"type": "array", "items": {"type": "record", "name": "r", "fyelds": []}}, "fields"),
        ({"type": "record", "name": "r", "fields": [{"name": "a"}]}, "field without"),
        ({"type": "array", "items": "ztf.alert.nothing"}, "defined before use"),
        ({"type": "enum", "name": "e", "symbols": []}, "no symbols"),
        ([], "empty union"),
    ],
)
def test_bad_schemas_are_refused(schema: object, message: str | None) -> None:
    if message is None:  # a map key costs at least one byte: allowed
        check_writer_schema(schema)
        return
    with pytest.raises(DeserializeError, match=message) as info:
        check_writer_schema(schema)
    assert info.value.reason == "invalid_schema"


def test_recursive_and_nested_named_types_pass() -> None:
    tree = {"type": "record", "name": "node", "namespace": "t",
            "fields": [{"name": "kids", "type": {"type": "array", "items": "node"}},
                       {"name": "next", "type": ["null", "t.node"]}]}  # fmt: skip
    check_writer_schema(tree)
    check_writer_schema({"type": "array", "items": {"type": "long", "logicalType": "x"}})


def test_the_bit_flip_that_exhausted_memory_is_dead_lettered() -> None:
    """Case 496 of the stream fuzz: ``"fields"`` flipped to ``"fyelds"`` in a ZTF header."""
    sources = [DEMO_ALERTS / "ztf" / "kowalski-4.01-85a86d2d.avro", DEMO_ALERTS / "lsst" / "wire"]
    good = [m.value for m in load_messages([str(p) for p in sources])]
    case = mutants(good, random.Random(20261122))[496]
    assert b'"fyelds"' in case
    with pytest.raises(DeserializeError, match='no "fields" list') as info:
        Decoder().decode(case)
    assert info.value.reason == "invalid_schema"


def _bomb(codec: str, size: int) -> bytes:
    schema = {"type": "record", "name": "b", "fields": [{"name": "x", "type": "bytes"}]}
    out = io.BytesIO()
    fastavro.writer(out, schema, [{"x": b"\0" * size}], codec=codec)
    return out.getvalue()


@pytest.mark.parametrize("codec", ["deflate", "snappy"])
def test_decompression_bombs_are_refused(codec: str) -> None:
    bomb = _bomb(codec, 8 << 20)
    assert len(bomb) < 500_000
    with pytest.raises(DeserializeError, match="more than 1048576 bytes") as info:
        Decoder(max_block_bytes=1 << 20).decode(bomb)
    assert info.value.reason == "oversized_block"
    record, _ = Decoder(max_block_bytes=16 << 20).decode(bomb)
    assert record["x"] == b"\0" * (8 << 20)


def test_deflate_limit_is_exact() -> None:
    data = zlib.compress(b"a" * 1000)[2:-4]
    assert zlib.decompressobj(-15).decompress(data, 1000) == b"a" * 1000
    assert cramjam.snappy.decompress_raw_len(bytes(cramjam.snappy.compress_raw(b"a" * 10))) == 10
