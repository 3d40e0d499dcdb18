"""Encode stage and Faucon's own schemas: profiles, versions, samples, filter view."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import pytest
from fastavro.validation import validate

from broker.core.schema import (
    CUTOUT_FIELDS,
    PROFILES,
    THIN_FIELDS,
    alert_schema,
    deadletter_schema,
    filter_view_schema,
    profile_schema,
    schema_version,
)
from broker.pipeline.decode import Decoder
from broker.pipeline.encode import ContainerEncoder
from broker.pipeline.normalize import normalize
from tests.broker.pipeline.datafiles import (
    FAUCON_SCHEMAS,
    SAMPLE_DEADLETTER_SOURCE,
    SAMPLE_PROVENANCE,
    canonical,
    json_to_record,
    raw_bytes,
    record_to_json,
    rel,
    sample_alert,
    sample_deadletter,
    shared,
    with_defaults,
)

SOURCES = {
    "ztf-4.01-forced": shared("ztf", "kowalski", "2475433850215010008.avro"),
    "ztf-3.3-spark-snappy": shared("ztf", "alerce", "000010510116973199.avro"),
    "lsst-7.4-wire": shared("lsst", "wire-format", "message_0.avro"),
    "lsst-9.0-spark": shared(
        "lsst", "commissioning-v9_0", "169298432645136561_169298432645136561.avro"
    ),
    "lsst-11.0-sample": shared("lsst", "schemas", "11", "0", "sample_data", "fakeAlert.avro"),
}
VERSION_DIRS = sorted(
    p for kind in ("alert", "deadletter") for p in (FAUCON_SCHEMAS / kind).iterdir() if p.is_dir()
)


def _alert(path: Path) -> dict[str, Any]:
    """A real alert, decoded, normalized and given a fixed provenance.

    Parameters
    ----------
    path
        One-alert file.

    Returns
    -------
    dict
        The Faucon alert record.
    """
    record, name = Decoder().decode(raw_bytes(path))
    alert = normalize(record, name)
    alert["provenance"] = dict(SAMPLE_PROVENANCE)
    return alert


def _read_one(message: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """The single record of a container message and its writer schema, read by fastavro.

    Parameters
    ----------
    message
        An Avro object container file.

    Returns
    -------
    tuple of (dict, dict)
        The record and the writer schema.
    """
    reader = fastavro.reader(io.BytesIO(message))
    records = list(reader)
    assert len(records) == 1
    return records[0], reader.writer_schema  # type: ignore[return-value]


# --- ContainerEncoder --------------------------------------------------------------------


@pytest.mark.parametrize("path", list(SOURCES.values()), ids=list(SOURCES))
def test_full_profile_round_trip(path: Path) -> None:
    """A normalized real alert written by ContainerEncoder reads back unchanged."""
    alert = _alert(path)
    schema = profile_schema("full")
    message = ContainerEncoder(schema).encode(alert)
    record, writer = _read_one(message)
    assert writer["name"] == "faucon.alert"
    assert canonical(record) == canonical(with_defaults(schema, alert))
    assert record["cutout_science"] == alert["cutout_science"]
    decoded, _ = Decoder().decode(message)
    assert canonical(decoded) == canonical(record)


def test_encoder_header_is_shared_and_messages_are_independent() -> None:
    """Every message of an encoder starts with the same header and reads on its own."""
    schema = profile_schema("full")
    encoder = ContainerEncoder(schema)
    alerts = [_alert(p) for p in SOURCES.values()]
    messages = [encoder.encode(a) for a in alerts]
    for message, alert in zip(messages, alerts, strict=True):
        assert message.startswith(encoder.header)
        assert message.endswith(encoder.sync)
        assert canonical(_read_one(message)[0]) == canonical(with_defaults(schema, alert))


def test_lite_profile_drops_cutouts_only() -> None:
    alert = with_defaults(profile_schema("full"), _alert(SOURCES["ztf-4.01-forced"]))
    lite = {**alert, **dict.fromkeys(CUTOUT_FIELDS)}
    assert profile_schema("lite") == profile_schema("full")
    record, _ = _read_one(ContainerEncoder(profile_schema("lite")).encode(lite))
    assert all(record[f] is None for f in CUTOUT_FIELDS)
    assert canonical({k: v for k, v in record.items() if k not in CUTOUT_FIELDS}) == canonical(
        {k: v for k, v in alert.items() if k not in CUTOUT_FIELDS}
    )


@pytest.mark.parametrize("path", list(SOURCES.values()), ids=list(SOURCES))
def test_thin_profile_round_trip(path: Path) -> None:
    alert = _alert(path)
    schema = profile_schema("thin")
    record, writer = _read_one(ContainerEncoder(schema).encode(alert))
    assert writer["name"] == "faucon.alert_thin"
    assert set(record) <= set(THIN_FIELDS)
    assert canonical(record) == canonical(with_defaults(schema, alert))


def test_deadletter_round_trip() -> None:
    dead = sample_deadletter("1.0")
    record, writer = _read_one(ContainerEncoder(deadletter_schema()).encode(dead))
    assert writer["name"] == "faucon.deadletter"
    assert record == dead
    assert record["original"] == raw_bytes(SAMPLE_DEADLETTER_SOURCE)


# --- profile schemas ---------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_schema_parses(profile: str) -> None:
    schema = profile_schema(profile)
    fastavro.parse_schema(schema)
    names = [f["name"] for f in schema["fields"]]
    assert len(names) == len(set(names))
    assert {"alert_id", "object_id", "mjd_tai", "flux_njy", "history"} <= set(names)
    if profile == "thin":
        assert not set(CUTOUT_FIELDS) & set(names)
        assert set(names) <= set(THIN_FIELDS)
    else:
        assert set(CUTOUT_FIELDS) <= set(names)


def test_unknown_profile() -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        profile_schema("fat")


# --- every schema version directory: schema parses, samples validate and decode -----------


def test_version_directories_exist() -> None:
    kinds = {p.parent.name for p in VERSION_DIRS}
    assert kinds == {"alert", "deadletter"}
    assert schema_version() == max(
        (p.name for p in VERSION_DIRS if p.parent.name == "alert"),
        key=lambda v: tuple(int(x) for x in v.split(".")),
    )


@pytest.mark.parametrize("version_dir", VERSION_DIRS, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_schema_version_directory(version_dir: Path) -> None:
    """The .avsc parses; each sample_data JSON validates and equals its .avro twin."""
    avscs = sorted(version_dir.glob("*.avsc"))
    assert len(avscs) == 1
    schema = json.loads(avscs[0].read_text())
    assert schema["name"] == version_dir.parent.name
    assert version_dir.name in schema["doc"]
    parsed = fastavro.parse_schema(schema)
    samples = sorted((version_dir / "sample_data").glob("*.json"))
    assert samples, f"no sample_data/*.json in {version_dir}"
    for sample in samples:
        record = json_to_record(schema, json.loads(sample.read_text()))
        assert validate(record, parsed, raise_errors=True), rel(sample)
        assert record["schema_version"] == version_dir.name
        with sample.with_suffix(".avro").open("rb") as fo:
            reader = fastavro.reader(fo)
            records = list(reader)
            writer: dict[str, Any] = reader.writer_schema  # type: ignore[assignment]
            assert writer["name"] == f"faucon.{schema['name']}"
        assert records == [record], rel(sample)


ALERT_DIRS = [p for p in VERSION_DIRS if p.parent.name == "alert"]
DEADLETTER_DIRS = [p for p in VERSION_DIRS if p.parent.name == "deadletter"]


@pytest.mark.parametrize("version_dir", ALERT_DIRS, ids=lambda p: p.name)
def test_alert_sample_is_its_real_source_normalized(version_dir: Path) -> None:
    """alert.json is the real ZTF source alert normalized today (see datafiles.sample_alert)."""
    path = version_dir / "sample_data" / "alert.json"
    assert path.is_file(), f"missing {rel(path)}: run python -m tests.broker.pipeline.datafiles"
    schema = json.loads((version_dir / "faucon.alert.avsc").read_text())
    expected = record_to_json(schema, sample_alert(version_dir.name))
    assert json.loads(path.read_text()) == expected, (
        f"{rel(path)} differs from its source normalized now; if the change is intended, "
        f"run python -m tests.broker.pipeline.datafiles {version_dir.name}"
    )


@pytest.mark.parametrize("version_dir", DEADLETTER_DIRS, ids=lambda p: p.name)
def test_deadletter_sample_is_its_real_source(version_dir: Path) -> None:
    """deadletter.json carries a real empty Spark container and the reason Faucon gives it."""
    path = version_dir / "sample_data" / "deadletter.json"
    schema = json.loads((version_dir / "faucon.deadletter.avsc").read_text())
    expected = record_to_json(schema, sample_deadletter(version_dir.name))
    assert json.loads(path.read_text()) == expected
    assert expected["reason"] == "empty_container"


# --- Arrow view handed to SQL filters ----------------------------------------------------


def test_filter_view_has_no_cutouts() -> None:
    view = filter_view_schema()
    alert_fields = [f["name"] for f in alert_schema()["fields"]]
    assert view.names == [n for n in alert_fields if n not in CUTOUT_FIELDS]
    assert not set(CUTOUT_FIELDS) & set(view.names)


def test_filter_view_history_is_list_of_struct() -> None:
    history = filter_view_schema().field("history").type
    assert pa.types.is_list(history)
    assert pa.types.is_struct(history.value_type)
    avro_items = next(f for f in alert_schema()["fields"] if f["name"] == "history")["type"]
    item_names = [f["name"] for f in avro_items["items"]["fields"]]
    assert [history.value_type.field(i).name for i in range(history.value_type.num_fields)] == (
        item_names
    )
    assert history.value_type.field("mjd_tai").type == pa.float64()
    assert history.value_type.field("source_id").type == pa.int64()


def test_filter_view_types() -> None:
    view = filter_view_schema()
    assert view.field("alert_id").type == pa.int64()
    assert view.field("n_detections").type == pa.int32()
    assert view.field("is_positive").type == pa.bool_()
    assert view.field("flux_njy").type == pa.float64()
    assert pa.types.is_struct(view.field("provenance").type)


def test_filter_view_holds_a_real_alert() -> None:
    """A normalized real alert (minus cutouts) fits the filter view as one Arrow row."""
    alert = with_defaults(alert_schema(), _alert(SOURCES["ztf-4.01-forced"]))
    view = filter_view_schema()
    row = {k: alert[k] for k in view.names}
    table = pa.Table.from_pylist([row], schema=view)
    assert table.num_rows == 1
    assert table.column("history").to_pylist()[0] == alert["history"]
