"""Decode stage on every schema version of the real alerts in ``../shared/data``.

Expected records come from fastavro's own readers on the raw files (see
:mod:`tests.broker.pipeline.datafiles`), never from :mod:`broker.pipeline.decode`.
"""

from __future__ import annotations

import io
import random
import struct
from pathlib import Path

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.core.errors import DeserializeError
from broker.pipeline.decode import Decoder
from broker.pipeline.normalize import normalize
from tests.broker.pipeline.datafiles import (
    DEMO_ALERTS,
    LSST_SCHEMAS,
    SHARED_DATA,
    AlertFile,
    canonical,
    catalog,
    groups,
    ocf_layout,
    official_schema,
    raw_bytes,
    raw_record,
    raw_records,
    read_ocf,
    rel,
    shared,
    to_wire,
    varint,
    wire_id,
)

GROUPS = groups()
MAX_PER_GROUP = 60  # every file is decoded and normalized in test_normalize; here a spread
FAKE_SAMPLES = sorted(
    LSST_SCHEMAS.glob("*/*/sample_data/fakeAlert.avro"),
    key=lambda p: (int(p.parts[-4]), int(p.parts[-3])),
)
ZTF_OCF = shared("ztf", "kowalski", "2475433850215010008.avro")
ZTF_SNAPPY = shared("ztf", "alerce", "000010510092392116.avro")
RUBIN_OCF = shared("lsst", "schemas", "11", "0", "sample_data", "fakeAlert.avro")
RUBIN_SPARK = shared("lsst", "commissioning-v9_0", "169298432598474793_169298432598474793.avro")
RUBIN_WIRE = shared("lsst", "wire-format", "message_0.avro")


def _sample_id(path: Path) -> int:
    """Confluent schema id of an official Rubin sample, from its ``MAJOR/MINOR`` folder.

    Parameters
    ----------
    path
        ``.../schemas/MAJOR/MINOR/sample_data/fakeAlert.avro``.

    Returns
    -------
    int
        ``major * 100 + minor``.
    """
    return int(path.parts[-4]) * 100 + int(path.parts[-3])


def _files(version: str) -> list[Path]:
    """Files of every group of one version label (e.g. ``ztf-3.3``), whatever the writer.

    Parameters
    ----------
    version
        First word of the group label.

    Returns
    -------
    list of Path
        The files, sorted.
    """
    return sorted(f.path for label, fs in GROUPS.items() if label.split()[0] == version for f in fs)


def _spread(items: list[AlertFile], n: int) -> list[AlertFile]:
    """At most ``n`` items evenly spread over ``items`` (first and last included).

    Parameters
    ----------
    items
        A sorted list.
    n
        Most items returned.

    Returns
    -------
    list
        The selection, in order.
    """
    if len(items) <= n:
        return items
    step = (len(items) - 1) / (n - 1)
    return [items[round(i * step)] for i in range(n)]


def _count(data: bytes) -> int:
    """Records in a container file, counted block by block by fastavro (not decoded).

    Parameters
    ----------
    data
        A whole Avro object container file.

    Returns
    -------
    int
        The number of records.
    """
    return sum(block.num_records for block in fastavro.block_reader(io.BytesIO(data)))


def _reason(value: bytes | None, decoder: Decoder | None = None) -> str:
    """Reason of the :class:`DeserializeError` that decoding ``value`` raises.

    Parameters
    ----------
    value
        A message.
    decoder
        Decoder to use (a fresh one by default).

    Returns
    -------
    str
        The error's ``reason``.
    """
    with pytest.raises(DeserializeError) as info:
        (decoder or Decoder()).decode(value)
    return info.value.reason


# --- every schema version decodes like fastavro reads it -------------------------------


def test_every_expected_version_is_present() -> None:
    """Discovery finds every ZTF, Rubin and Spark-written layout the brief lists."""
    versions = {label.split()[0] for label in GROUPS}
    ztf = {f"ztf-{v}" for v in ("2.0", "3.0", "3.1", "3.2", "3.3", "3.5", "4.01", "4.02")}
    rubin = {f"lsst-{p.parts[-4]}.{p.parts[-3]}" for p in FAKE_SAMPLES}
    assert len(rubin) == 14, "official Rubin samples 3.0 .. 11.0"
    assert ztf | rubin | {"lsst-wire-704", "ztf-2016-presurvey"} <= versions
    spark = {label for label in GROUPS if "topLevelRecord" in label}
    assert {"lsst-7.4 topLevelRecord null", "lsst-9.0 topLevelRecord null"} <= spark
    assert {label.split()[0] for label in spark if label.startswith("ztf-")} >= {
        "ztf-3.0",
        "ztf-3.3",
        "ztf-4.02",
    }


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_decode_matches_fastavro(group: str) -> None:
    """Every file of a version group decodes to the record fastavro reads from it."""
    decoder = Decoder()
    files = _spread(GROUPS[group], MAX_PER_GROUP)
    assert files
    for f in files:
        expected, writer = raw_records(f.path)
        assert len(expected) == 1, rel(f.path)
        record, name = decoder.decode(raw_bytes(f.path))
        assert name == writer, rel(f.path)
        assert canonical(record) == canonical(expected[0]), rel(f.path)


@pytest.mark.parametrize("path", FAKE_SAMPLES, ids=lambda p: f"v{p.parts[-4]}.{p.parts[-3]}")
def test_official_rubin_sample_as_wire_format(path: Path) -> None:
    """Each official Rubin sample, sent as Rubin sends it (wire format), decodes unchanged."""
    sid = _sample_id(path)
    expected = raw_record(path)
    message = to_wire(expected, sid)
    assert message[:5] == b"\x00" + sid.to_bytes(4, "big")
    record, name = Decoder().decode(message)
    assert name == f"wire:{sid}"
    assert canonical(record) == canonical(expected)


def test_real_wire_messages_decode_with_their_schema_id() -> None:
    """Rubin's own Kafka messages carry id 704 and decode to the official-schema record."""
    paths = sorted((SHARED_DATA / "lsst" / "wire-format").glob("*.avro"))
    assert len(paths) == 5
    for path in paths:
        data = raw_bytes(path)
        assert wire_id(data) == 704
        record, name = Decoder().decode(data)
        assert name == "wire:704"
        assert record["alertId"] == raw_record(path)["alertId"]
        assert record["diaSource"]["diaSourceId"] == raw_record(path)["diaSource"]["diaSourceId"]


def test_multi_record_bundle_decodes_as_container() -> None:
    """A deflate bundle of many real alerts decodes record by record with ``decode_container``."""
    path = next(DEMO_ALERTS.glob("ztf/kowalski-4.01-*.avro"))
    expected, writer = read_ocf(raw_bytes(path))
    assert len(expected) > 1
    assert fastavro.reader(io.BytesIO(raw_bytes(path))).codec == "deflate"
    records, name = Decoder(max_records=10_000).decode_container(raw_bytes(path))
    assert name == writer
    assert canonical(records) == canonical(expected)


def test_schema_is_parsed_once_per_writer_schema() -> None:
    """Many messages with one writer schema share one parsed schema in the decoder."""
    decoder = Decoder()
    files = GROUPS["ztf-4.02 topLevelRecord null"][:60]
    for f in files:
        decoder.decode(raw_bytes(f.path))
    distinct = {
        fastavro.reader(io.BytesIO(raw_bytes(f.path))).metadata["avro.schema"] for f in files
    }
    assert 1 <= len(decoder._ocf_schemas) == len(distinct) < len(files)


# --- bad inputs and their exact reasons --------------------------------------------------


@pytest.mark.parametrize("value", [b"", None], ids=["empty-bytes", "none"])
def test_empty_message(value: bytes | None) -> None:
    assert _reason(value) == "empty_message"


def _garbage() -> dict[str, bytes]:
    """Real non-alert bytes and seeded random bytes (none starts with 0x00 or ``Obj``)."""
    rng = random.Random(20240601)
    cutout = raw_record(ZTF_OCF)["cutoutScience"]["stampData"]
    return {
        "random-bytes": bytes(rng.randrange(1, 256) for _ in range(4096)),
        "ztf-cutout-gzip": cutout,
        "avro-schema-json": (LSST_SCHEMAS / "7" / "4" / "lsst.v7_4.alert.avsc").read_bytes(),
        "readme-text": (SHARED_DATA / "README.md").read_bytes(),
    }


@pytest.mark.parametrize("name", sorted(_garbage()))
def test_unknown_format(name: str) -> None:
    data = _garbage()[name]
    assert data[0] != 0 and data[:4] != b"Obj\x01"
    assert _reason(data) == "unknown_format"


OCF_CUTS = {
    # label: (offset from the layout, expected reason)
    "inside-magic": (lambda lay, n: 3, "unknown_format"),
    "after-magic": (lambda lay, n: 4, "truncated_avro"),
    "inside-header": (lambda lay, n: lay.header_end // 2, "truncated_avro"),
    "inside-header-sync": (lambda lay, n: lay.header_end - 1, "truncated_avro"),
    "at-header-end": (lambda lay, n: lay.header_end, "empty_container"),
    "after-block-count": (lambda lay, n: lay.count_end, "truncated_avro"),
    "inside-block-size": (lambda lay, n: lay.count_end + 1, "truncated_avro"),
    "inside-block-data": (lambda lay, n: (lay.data_start + lay.data_end) // 2, "truncated_avro"),
    "before-block-sync": (lambda lay, n: lay.data_end, "truncated_avro"),
    "inside-block-sync": (lambda lay, n: n - 1, "truncated_avro"),
}


@pytest.mark.parametrize("cut", sorted(OCF_CUTS))
@pytest.mark.parametrize(
    "path",
    [ZTF_OCF, ZTF_SNAPPY, RUBIN_OCF, RUBIN_SPARK],
    ids=["ztf", "ztf-snappy", "rubin", "spark"],
)
def test_truncated_container(path: Path, cut: str) -> None:
    """Each truncation point of a real one-alert container gives its precise reason."""
    data = raw_bytes(path)
    layout = ocf_layout(data)
    assert layout.data_end + 16 == len(data), "one block"
    assert layout.data_start - layout.count_end >= 2, "block size takes 2+ bytes"
    where, reason = OCF_CUTS[cut]
    assert _reason(data[: where(layout, len(data))]) == reason


WIRE_CUTS = {
    "first-byte-only": (lambda n: 1, "truncated_avro"),
    "header-only": (lambda n: 5, "truncated_avro"),
    "last-byte-missing": (lambda n: n - 1, "truncated_avro"),
}


@pytest.mark.parametrize("cut", sorted(WIRE_CUTS))
@pytest.mark.parametrize("source", ["rubin-kafka-704", "sample-700", "sample-1100"])
def test_truncated_wire(source: str, cut: str) -> None:
    """Truncated wire messages: id cut, header only, last byte missing."""
    data = _wire_source(source)
    where, reason = WIRE_CUTS[cut]
    assert _reason(data[: where(len(data))]) == reason


def test_truncated_wire_inside_cutout() -> None:
    """Rubin's own message cut in the middle of its template cutout (bytes field)."""
    data = raw_bytes(RUBIN_WIRE)
    record = raw_record(RUBIN_WIRE)
    template = record["cutoutTemplate"]
    assert data.endswith(template) and len(template) > 10_000
    assert _reason(data[: len(data) - len(template) // 2]) == "truncated_avro"


def _wire_source(source: str) -> bytes:
    """A real Rubin wire message: Rubin's own (704) or an official sample converted."""
    if source == "rubin-kafka-704":
        return raw_bytes(RUBIN_WIRE)
    sid = int(source.split("-")[1])
    path = LSST_SCHEMAS / str(sid // 100) / str(sid % 100) / "sample_data" / "fakeAlert.avro"
    return to_wire(raw_record(path), sid)


@pytest.mark.parametrize("source", ["rubin-kafka-704", "sample-700", "sample-1100"])
def test_truncated_wire_inside_first_long(source: str) -> None:
    """A wire message cut inside its first field (a long id) is truncated, not corrupt."""
    data = _wire_source(source)
    schema = official_schema(wire_id(data))
    assert schema["fields"][0]["type"] == "long"
    _, end = varint(data, 5)
    assert end - 5 >= 2, "the first varint spans several bytes"
    assert _reason(data[:6]) == "truncated_avro"


def test_wire_with_trailing_bytes_is_corrupt() -> None:
    data = raw_bytes(RUBIN_WIRE)
    assert _reason(data + b"\x00") == "corrupt_avro"


def test_wire_unknown_schema_id() -> None:
    data = raw_bytes(RUBIN_WIRE)
    message = b"\x00" + struct.pack(">I", 9999) + data[5:]
    with pytest.raises(DeserializeError) as info:
        Decoder().decode(message)
    assert info.value.reason == "unknown_schema_id"
    assert "9999" in info.value.detail


def test_container_with_two_records() -> None:
    """Two real alerts of one writer schema in one container are refused."""
    paths = _files("ztf-3.3")[:2]
    records = [raw_record(p) for p in paths]
    schema = fastavro.reader(io.BytesIO(raw_bytes(paths[0]))).writer_schema
    assert schema == fastavro.reader(io.BytesIO(raw_bytes(paths[1]))).writer_schema
    for sync_interval in (16_000 * 1000, 1):  # one block of two records; two blocks of one
        buf = io.BytesIO()
        fastavro.writer(buf, schema, records, sync_interval=sync_interval)
        assert _reason(buf.getvalue()) == "multiple_records"


def test_demo_bundle_is_multiple_records() -> None:
    """The repository's deflate bundles (many alerts each) are not single messages."""
    bundles = [p for p in sorted(DEMO_ALERTS.glob("*/*.avro")) if _count(raw_bytes(p)) > 1]
    assert len(bundles) >= 10
    for path in bundles:
        assert _reason(raw_bytes(path)) == "multiple_records", rel(path)


def test_empty_containers() -> None:
    """Spark wrote some fink-datasim files with 0 records."""
    empty = [f for f in catalog() if f.n_records == 0]
    assert len(empty) == 10
    decoder = Decoder()
    for f in empty:
        assert read_ocf(raw_bytes(f.path))[0] == []
        assert _reason(raw_bytes(f.path), decoder) == "empty_container", rel(f.path)


@pytest.mark.parametrize("folder", ["atlas", "decam"])
def test_other_surveys_are_unsupported(folder: str) -> None:
    """ATLAS and DECam alerts decode but are refused by normalize."""
    files = [f for f in catalog() if f.path.parent.name == folder]
    assert files
    decoder = Decoder()
    for f in files:
        record, name = decoder.decode(raw_bytes(f.path))
        with pytest.raises(DeserializeError) as info:
            normalize(record, name)
        assert info.value.reason == "unsupported_survey", rel(f.path)


def test_ztf_2016_presurvey_is_unsupported_version() -> None:
    """2016 ZTF test packets have no objectId: reason unsupported_schema_version."""
    files = _files("ztf-2016-presurvey")
    assert len(files) == 6
    for path in files:
        assert "objectId" not in raw_record(path)
        record, name = Decoder().decode(raw_bytes(path))
        with pytest.raises(DeserializeError) as info:
            normalize(record, name)
        assert info.value.reason == "unsupported_schema_version", rel(path)


# --- mutations of real alerts only ever raise DeserializeError --------------------------

FUZZ_FILES = [ZTF_OCF, ZTF_SNAPPY, RUBIN_OCF, RUBIN_SPARK, RUBIN_WIRE]


@st.composite
def mutated_alerts(draw: st.DrawFn) -> bytes:
    """A real alert with 1 to 3 random bit flips, byte changes, cuts or insertions."""
    data = bytearray(raw_bytes(draw(st.sampled_from(FUZZ_FILES))))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[pos : pos + draw(st.integers(1, 8))]
    return bytes(data)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_alerts())
def test_mutations_raise_only_deserialize_error(message: bytes) -> None:
    """Decode + normalize of a damaged real alert succeeds or raises DeserializeError."""
    try:
        record, name = Decoder().decode(message)
        normalize(record, name)
    except DeserializeError:
        pass


def test_corrupt_snappy_block() -> None:
    """A real snappy alert whose block preamble (uncompressed length) is damaged."""
    data = bytearray(raw_bytes(ZTF_SNAPPY))
    layout = ocf_layout(bytes(data))
    data[layout.data_start] ^= 0x01
    assert _reason(bytes(data)) == "corrupt_avro"


def test_corrupt_deflate_block() -> None:
    """A real deflate bundle whose first block starts with a reserved deflate block type."""
    path = next(DEMO_ALERTS.glob("ztf/kowalski-4.01-*.avro"))
    data = bytearray(raw_bytes(path))
    layout = ocf_layout(bytes(data))
    data[layout.data_start] |= 0x06  # BTYPE = 11: reserved, invalid
    with pytest.raises(DeserializeError) as info:
        Decoder(max_records=10_000).decode_container(bytes(data))
    assert info.value.reason == "corrupt_avro"
