"""Real alert files for the broker tests, read independently of the code under test.

Every alert used by ``test_decode``, ``test_normalize``, ``test_encode_schema``
and ``test_inspect`` is a real public alert from ``<repo>/../shared/data`` (see
its README) or from the repository's bundle ``deploy/demo-alerts``.  Expected
values come from these raw files through fastavro's own readers (``reader``
for container files; ``schemaless_reader`` with the official Rubin schema from
``../shared/data/lsst/schemas`` for the Confluent wire format), never from
:mod:`broker.pipeline.decode`.

Run ``python -m tests.broker.pipeline.datafiles [VERSION ...]`` from the repository root
to rebuild the Faucon schema samples (``schemas/faucon/*/<version>/sample_data``)
from their real sources, e.g. for a new schema version or after an intentional
change of the normalization.
"""

from __future__ import annotations

import io
import json
import math
import struct
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import load_schema

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
DEMO_ALERTS = REPO_ROOT / "deploy" / "demo-alerts"
LSST_SCHEMAS = SHARED_DATA / "lsst" / "schemas"
FAUCON_SCHEMAS = REPO_ROOT / "schemas" / "faucon"
OCF_MAGIC = b"Obj\x01"
SURVEY_DIRS = ("ztf", "lsst", "other-surveys")

# The source of the Faucon schema samples and their fixed provenance.
SAMPLE_ALERT_SOURCE = SHARED_DATA / "ztf" / "kowalski" / "2475433850215010008.avro"
SAMPLE_DEADLETTER_SOURCE = (
    SHARED_DATA
    / "ztf"
    / "fink-datasim"
    / "part-00000-37cd0039-b99f-4557-b3dc-0ad3bb2e0c92-c000.avro"
)
SAMPLE_PROVENANCE = {
    "faucon_version": "0.1.0",
    "input_topic": "raw.ztf",
    "input_partition": 0,
    "input_offset": 42,
    "ingest_ms": 1_661_382_600_000,
    "processed_ms": 1_661_382_600_250,
}
SAMPLE_SYNC = b"faucon-sample-01"


@dataclass(frozen=True)
class AlertFile:
    """One alert file of ``../shared/data`` and what its raw bytes say.

    Attributes
    ----------
    path
        The file.
    group
        Schema version label, e.g. ``ztf-3.3 ztf.alert null`` or ``lsst-wire-704``.
    writer
        Writer schema name as written in the container header (``wire:<id>`` for
        Confluent wire-format messages).
    n_records
        Records in the file (1 for wire-format messages).
    """

    path: Path
    group: str
    writer: str
    n_records: int


def shared(*parts: str) -> Path:
    """Path of a file under ``<repo>/../shared/data``.

    Parameters
    ----------
    *parts
        Path components below ``shared/data``.

    Returns
    -------
    Path
        The path (asserted to exist).
    """
    path = SHARED_DATA.joinpath(*parts)
    assert path.exists(), f"missing real data file {path}"
    return path


@cache
def raw_bytes(path: Path) -> bytes:
    """The bytes of a file, read once per test session.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    bytes
        Its content.
    """
    return path.read_bytes()


def read_ocf(data: bytes) -> tuple[list[dict[str, Any]], str]:
    """Records and writer schema name of an Avro container, read by fastavro.

    Parameters
    ----------
    data
        A whole Avro object container file.

    Returns
    -------
    tuple of (list of dict, str)
        The records and the ``name`` of the writer schema in the header.
    """
    reader = fastavro.reader(io.BytesIO(data))
    name = str(json.loads(reader.metadata["avro.schema"]).get("name", ""))
    return list(reader), name  # type: ignore[arg-type]


@cache
def official_schema(schema_id: int) -> Any:
    """Official Rubin alert schema of a Confluent schema id, from ``../shared/data``.

    Parameters
    ----------
    schema_id
        ``major * 100 + minor``, e.g. 704.

    Returns
    -------
    Any
        The parsed schema (fastavro).
    """
    major, minor = divmod(schema_id, 100)
    path = LSST_SCHEMAS / str(major) / str(minor) / f"lsst.v{major}_{minor}.alert.avsc"
    return load_schema(str(path))


def wire_id(data: bytes) -> int:
    """Schema id of a Confluent wire-format message (bytes 1 to 4, big-endian)."""
    return int(struct.unpack(">I", data[1:5])[0])


def read_wire(data: bytes) -> dict[str, Any]:
    """Record of a Rubin Confluent wire-format message, read with the official schema.

    Parameters
    ----------
    data
        ``0x00``, 4-byte big-endian schema id, schemaless Avro.

    Returns
    -------
    dict
        The record.
    """
    assert data[0] == 0
    buf = io.BytesIO(data[5:])
    record = fastavro.schemaless_reader(buf, official_schema(wire_id(data)), None)
    assert buf.tell() == len(data) - 5, "wire message has trailing bytes"
    return record  # type: ignore[return-value]


def to_wire(record: dict[str, Any], schema_id: int) -> bytes:
    """Rubin Confluent wire-format message of a record, with the official schema.

    Parameters
    ----------
    record
        A Rubin alert record of that schema version.
    schema_id
        ``major * 100 + minor``.

    Returns
    -------
    bytes
        ``0x00`` + id + schemaless Avro.
    """
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, official_schema(schema_id), record)
    return b"\x00" + struct.pack(">I", schema_id) + buf.getvalue()


def raw_records(path: Path) -> tuple[list[dict[str, Any]], str]:
    """Records of any real alert file (container or wire), read by fastavro.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    tuple of (list of dict, str)
        The records and the writer name (``wire:<id>`` for wire format).
    """
    data = raw_bytes(path)
    if data[:4] == OCF_MAGIC:
        return read_ocf(data)
    return [read_wire(data)], f"wire:{wire_id(data)}"


def raw_record(path: Path) -> dict[str, Any]:
    """The single record of a one-alert file.

    Parameters
    ----------
    path
        A file holding exactly one alert.

    Returns
    -------
    dict
        The record, read by fastavro.
    """
    records, _ = raw_records(path)
    assert len(records) == 1, f"{path} holds {len(records)} records"
    return records[0]


def _lsst_version_of_folder(folder: str) -> str:
    """Rubin schema version of a broker-written folder, from its name (``v7_4``)."""
    tail = folder.rsplit("v", 1)[-1]
    return tail.replace("_", ".")


def _group(path: Path, data: bytes) -> tuple[str, str, int]:
    """Version label, writer name and record count of one file's raw bytes."""
    if data[:4] != OCF_MAGIC:
        sid = wire_id(data)
        return f"lsst-wire-{sid}", f"wire:{sid}", 1
    reader = fastavro.reader(io.BytesIO(data))
    writer = str(json.loads(reader.metadata["avro.schema"]).get("name", ""))
    codec = reader.codec
    records: list[dict[str, Any]] = list(reader)  # type: ignore[arg-type]
    if not records:
        return f"empty {writer} {codec}", writer, 0
    rec = records[0]
    if "diaSource" in rec:
        if writer.startswith("lsst.v"):
            version = writer[len("lsst.v") :].split(".")[0].replace("_", ".")
        else:
            version = _lsst_version_of_folder(path.parent.name)
        label = f"lsst-{version}"
    elif isinstance(rec.get("candidate"), dict) and "magpsf" in rec["candidate"]:
        if not rec.get("objectId"):
            label = "ztf-2016-presurvey"
        elif rec.get("schemavsn"):
            label = f"ztf-{rec['schemavsn']}"
        else:
            label = "ztf-unversioned"
    else:
        label = f"{path.parent.name}-{rec.get('schemavsn') or 'unversioned'}"
    return f"{label} {writer} {codec}", writer, len(records)


@cache
def catalog() -> tuple[AlertFile, ...]:
    """Every alert file of ``../shared/data`` with its version group.

    Returns
    -------
    tuple of AlertFile
        Sorted by path; Spark's ``_SUCCESS`` markers and non-Avro files are left out.
    """
    files = []
    for top in SURVEY_DIRS:
        for path in sorted((SHARED_DATA / top).rglob("*.avro")):
            data = raw_bytes(path)
            group, writer, n = _group(path, data)
            files.append(AlertFile(path, group, writer, n))
    return tuple(files)


@cache
def groups() -> dict[str, list[AlertFile]]:
    """Alert files of ``../shared/data`` by schema version group (non-empty files only).

    Returns
    -------
    dict
        Group label to its files.
    """
    out: dict[str, list[AlertFile]] = defaultdict(list)
    for f in catalog():
        if f.n_records:
            out[f.group].append(f)
    return dict(out)


def rel(path: Path) -> str:
    """A short, stable test id for a data file (path below ``shared/data`` or the repo)."""
    for root in (SHARED_DATA, REPO_ROOT):
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return path.name


def canonical(value: Any) -> Any:
    """A copy of a decoded record in which NaN compares equal to NaN.

    Parameters
    ----------
    value
        A record, list or scalar.

    Returns
    -------
    Any
        The same structure with every float NaN replaced by the string ``"NaN"``.
    """
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


def varint(data: bytes, pos: int) -> tuple[int, int]:
    """Decode one Avro zig-zag varint.

    Parameters
    ----------
    data
        Bytes.
    pos
        Offset of the varint.

    Returns
    -------
    tuple of (int, int)
        The value and the offset just after it.
    """
    shift = accum = 0
    while True:
        b = data[pos]
        pos += 1
        accum |= (b & 0x7F) << shift
        if not b & 0x80:
            return (accum >> 1) ^ -(accum & 1), pos
        shift += 7


@dataclass(frozen=True)
class OcfLayout:
    """Byte offsets of the first data block of an Avro container file.

    Attributes
    ----------
    header_end
        Offset just after the header (its sync marker included).
    count_end
        Offset just after the block's record count.
    data_start
        Offset of the block's (possibly compressed) data.
    data_end
        Offset just after the data, where the block's sync marker starts.
    """

    header_end: int
    count_end: int
    data_start: int
    data_end: int


def ocf_layout(data: bytes) -> OcfLayout:
    """Where the header and first block of a container file end.

    The sync marker ends the header and every block, so the file's last 16
    bytes locate the end of the header.

    Parameters
    ----------
    data
        A whole Avro object container file with at least one block.

    Returns
    -------
    OcfLayout
        The offsets.
    """
    sync = data[-16:]
    header_end = data.index(sync) + 16
    _, count_end = varint(data, header_end)
    size, data_start = varint(data, count_end)
    return OcfLayout(header_end, count_end, data_start, data_start + size)


def json_to_record(schema: Any, value: Any) -> Any:
    """A record from its plain-JSON sample form (bytes as code points 0-255).

    Parameters
    ----------
    schema
        Avro schema (JSON dict, list or type name) of ``value``.
    value
        The JSON value.

    Returns
    -------
    Any
        The value with every ``bytes`` field turned back into bytes.
    """
    if isinstance(schema, list):
        if value is None:
            return None
        others = [s for s in schema if s != "null"]
        assert len(others) == 1, "samples use only [null, T] unions"
        return json_to_record(others[0], value)
    if isinstance(schema, dict):
        kind = schema["type"]
        if kind == "record":
            return {
                f["name"]: json_to_record(f["type"], value[f["name"]]) for f in schema["fields"]
            }
        if kind == "array":
            return [json_to_record(schema["items"], v) for v in value]
        if kind == "map":
            return {k: json_to_record(schema["values"], v) for k, v in value.items()}
        return json_to_record(kind, value)
    if schema == "bytes":
        return value.encode("latin-1")
    return value


def record_to_json(schema: Any, value: Any) -> Any:
    """Plain-JSON sample form of a record (bytes as code points 0-255, Avro's convention).

    Parameters
    ----------
    schema
        Avro schema (JSON dict, list or type name) of ``value``.
    value
        The record or value.

    Returns
    -------
    Any
        A JSON-serializable value.
    """
    if isinstance(schema, list):
        if value is None:
            return None
        others = [s for s in schema if s != "null"]
        return record_to_json(others[0], value)
    if isinstance(schema, dict):
        kind = schema["type"]
        if kind == "record":
            return {
                f["name"]: record_to_json(f["type"], value[f["name"]]) for f in schema["fields"]
            }
        if kind == "array":
            return [record_to_json(schema["items"], v) for v in value]
        if kind == "map":
            return {k: record_to_json(schema["values"], v) for k, v in value.items()}
        return record_to_json(kind, value)
    if schema == "bytes":
        return value.decode("latin-1")
    return value


def sample_alert(version: str) -> dict[str, Any]:
    """The Faucon alert sample of one schema version: a real ZTF 4.01 alert, normalized.

    The alert has forced photometry, detections and upper limits.  Its cutouts
    are set to null to keep the sample small; fields the normalizer does not
    fill (enrichment results) take their schema default.

    Parameters
    ----------
    version
        Alert schema version, e.g. ``1.0``.

    Returns
    -------
    dict
        The alert with :data:`SAMPLE_PROVENANCE`, holding exactly that version's fields.
    """
    from broker.core.schema import alert_schema
    from broker.pipeline.decode import Decoder
    from broker.pipeline.normalize import normalize

    record, name = Decoder().decode(raw_bytes(SAMPLE_ALERT_SOURCE))
    alert = normalize(record, name)
    alert.update(cutout_science=None, cutout_template=None, cutout_difference=None)
    alert["provenance"] = dict(SAMPLE_PROVENANCE)
    alert["schema_version"] = version
    return with_defaults(alert_schema(version), alert)


def with_defaults(schema: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """A record restricted to a schema's fields, missing ones set to their default.

    Parameters
    ----------
    schema
        Avro record schema (JSON dict).
    record
        The record.

    Returns
    -------
    dict
        What an Avro writer of ``schema`` writes for ``record``.
    """
    fields = schema["fields"]
    return {f["name"]: record[f["name"]] if f["name"] in record else f["default"] for f in fields}


def sample_deadletter(version: str) -> dict[str, Any]:
    """The Faucon dead-letter sample: a real empty Spark container (0 records).

    Parameters
    ----------
    version
        Dead-letter schema version, e.g. ``1.0``.

    Returns
    -------
    dict
        The dead-letter record the stream writes for it.
    """
    from broker.core.errors import DeserializeError
    from broker.pipeline.decode import Decoder

    original = raw_bytes(SAMPLE_DEADLETTER_SOURCE)
    try:
        Decoder().decode(original)
    except DeserializeError as exc:
        reason, detail = exc.reason, exc.detail
    else:  # pragma: no cover - the source is chosen to be rejected
        raise AssertionError(f"{SAMPLE_DEADLETTER_SOURCE} decodes")
    return {
        "schema_version": version,
        "reason": reason,
        "stage": "deserialize",
        "detail": detail,
        "input_topic": SAMPLE_PROVENANCE["input_topic"],
        "input_partition": SAMPLE_PROVENANCE["input_partition"],
        "input_offset": SAMPLE_PROVENANCE["input_offset"],
        "ingest_ms": SAMPLE_PROVENANCE["ingest_ms"],
        "processed_ms": SAMPLE_PROVENANCE["processed_ms"],
        "faucon_version": SAMPLE_PROVENANCE["faucon_version"],
        "original": original,
    }


def write_sample(schema_path: Path, stem: str, record: dict[str, Any]) -> None:
    """Write ``sample_data/<stem>.json`` and ``<stem>.avro`` beside a schema.

    Parameters
    ----------
    schema_path
        The ``.avsc`` file.
    stem
        Sample file name without suffix.
    record
        The sample record.
    """
    schema = json.loads(schema_path.read_text())
    out = schema_path.parent / "sample_data"
    out.mkdir(exist_ok=True)
    text = json.dumps(record_to_json(schema, record), indent=2, allow_nan=False)
    (out / f"{stem}.json").write_text(text + "\n")
    with (out / f"{stem}.avro").open("wb") as fo:
        fastavro.writer(fo, fastavro.parse_schema(schema), [record], sync_marker=SAMPLE_SYNC)


def write_samples(alert_versions: list[str]) -> None:
    """Rebuild alert samples of some versions and the dead-letter samples from real sources.

    Parameters
    ----------
    alert_versions
        Alert schema versions (directories under ``schemas/faucon/alert``).
    """
    for version in alert_versions:
        schema_path = FAUCON_SCHEMAS / "alert" / version / "faucon.alert.avsc"
        write_sample(schema_path, "alert", sample_alert(version))
    for schema_path in sorted((FAUCON_SCHEMAS / "deadletter").glob("*/faucon.deadletter.avsc")):
        write_sample(schema_path, "deadletter", sample_deadletter(schema_path.parent.name))


if __name__ == "__main__":
    import sys

    write_samples(sys.argv[1:] or sorted(p.name for p in (FAUCON_SCHEMAS / "alert").iterdir()))
