"""The stream end to end: real Kafka, real Spark, real alerts plus injected bad messages."""

from __future__ import annotations

import hashlib
import json
import struct
from collections import Counter
from typing import Any

import pytest

from broker.core.config import REPO_ROOT, Settings
from broker.core.schema import CUTOUT_FIELDS, schema_version
from broker.kafka.consume import Consumed, decode_output, read_topic
from broker.kafka.replay import Message, load_messages, publish
from broker.kafka.topics import topic_counts
from streams.ingest import run
from tests.conftest import DEMO_ALERTS
from tests.streams.oracle import Expected, expected_for, raw_record

pytestmark = pytest.mark.integration

GOOD = [
    DEMO_ALERTS / "ztf" / "kowalski-3.3-d11e13b2.avro",
    DEMO_ALERTS / "ztf" / "kowalski-4.01-85a86d2d.avro",
    DEMO_ALERTS / "ztf" / "alerce-3.2-703160cb.avro",
    DEMO_ALERTS / "ztf" / "fink-datasim-4.02-0e972a9e.avro",
    DEMO_ALERTS / "lsst" / "commissioning-v9_0-lsst.v9_0-4b938564.avro",
    DEMO_ALERTS / "lsst" / "wire",
    DEMO_ALERTS / "other",
]


def _bad(wire: bytes, ocf: bytes) -> dict[str, tuple[bytes, str]]:
    """Injected malformed messages: name -> (bytes, expected dead-letter reason)."""
    return {
        "empty": (b"", "empty_message"),
        "garbage": (b"\x13\x37 not an alert at all", "unknown_format"),
        "wrong_magic": (b"\x07" + wire[1:], "unknown_format"),
        "unknown_schema_id": (b"\x00" + struct.pack(">I", 4242) + wire[5:], "unknown_schema_id"),
        "truncated_wire": (wire[: len(wire) // 2], "truncated_avro"),
        "truncated_container": (ocf[: len(ocf) // 2], "truncated_avro"),
    }


def _read_all(settings: Settings, topic: str) -> list[Consumed]:
    """Every message of ``topic`` (as many as its offsets say, however slow the machine)."""
    n = topic_counts(settings, [topic])[topic]
    msgs = list(read_topic(settings, topic, max_messages=n, idle_timeout=30.0))
    assert len(msgs) == n, f"read {len(msgs)} of {n} messages from {topic}"
    return msgs


def _by_source(msgs: list[Consumed]) -> dict[tuple[int, int], tuple[Consumed, dict[str, Any]]]:
    """Output records keyed by the (partition, offset) of the raw message they came from."""
    out = {}
    for m in msgs:
        rec = decode_output(m.value)
        prov = rec["provenance"]
        out[(prov["input_partition"], prov["input_offset"])] = (m, rec)
    assert len(out) == len(msgs), "one output per raw message in a topic"
    return out


def test_stream_routes_every_message(kafka: Any, spark: Any, unique_settings: Settings) -> None:
    settings = unique_settings
    tag = settings.kafka.topic_prefix
    messages = load_messages([str(p) for p in GOOD])
    wire = next(m.value for m in messages if m.kind == "wire")
    ocf = next(m.value for m in messages if m.kind == "ocf")
    bad = _bad(wire, ocf)
    good_topic, bad_topic = f"raw.{tag}.ztf", f"raw.{tag}.junk"
    publish(settings, good_topic, messages, progress=False)
    publish(
        settings, bad_topic, [Message(v, k, "bad") for k, (v, _r) in bad.items()], progress=False
    )

    # Expected outcome of every raw message, keyed by where it sits in Kafka: real alert
    # ids repeat across sources (with and without cutouts), (partition, offset) do not.
    expected: dict[tuple[int, int], Expected] = {}
    per_filter: Counter[str] = Counter()
    unsupported = 0
    for raw in _read_all(settings, good_topic):
        exp = expected_for(raw.value)
        if exp is None:
            unsupported += 1
        else:
            expected[(raw.partition, raw.offset)] = exp
            per_filter.update(exp.filters)
    assert unsupported == 8  # the ATLAS and DECam alerts
    assert len(expected) > 250

    stats = run(settings, available_now=True, spark=spark)
    d = stats.data
    assert d["in"] == len(messages) + len(bad)
    assert d["ok"] == len(expected)
    want_reasons = Counter(r for _v, r in bad.values())
    want_reasons["unsupported_survey"] += unsupported
    assert d["rejected"] == dict(want_reasons)
    assert stats.reconciles()

    k = settings.kafka
    enriched = _by_source(_read_all(settings, k.enriched_topic))
    assert set(enriched) == set(expected)
    for source, (msg, rec) in enriched.items():
        exp = expected[source]
        assert (rec["survey"], rec["alert_id"]) == (exp.survey, exp.alert_id)
        assert rec["object_id"] == exp.object_id and msg.key == exp.object_id.encode()
        assert msg.headers["faucon-schema"] == f"faucon.alert/{schema_version()}".encode()
        assert rec["provenance"]["input_topic"] == good_topic
        assert (rec["cutout_science"] is not None) == exp.has_cutouts

    _check_scores([rec for _m, rec in enriched.values()])
    _check_anomaly([rec for _m, rec in enriched.values()])

    for name, profile in [
        ("bright_transient", "lite"),
        ("new_object", "full"),
        ("known_solar_system", "thin"),
    ]:
        msgs = _read_all(settings, f"{tag}.filter.{name}")
        assert len(msgs) == per_filter[name] == d["published"][f"{tag}.filter.{name}"], name
        want = {e.alert_id for e in expected.values() if name in e.filters}
        assert {int(decode_output(m.value)["alert_id"]) for m in msgs} == want, name
        assert all(m.headers["faucon-profile"] == profile.encode() for m in msgs)
        if profile == "thin":  # no provenance in the thin profile
            assert all(not set(CUTOUT_FIELDS) & set(decode_output(m.value)) for m in msgs)
            continue
        for source, (_msg, rec) in _by_source(msgs).items():
            assert name in expected[source].filters
            if profile == "lite":
                assert all(rec[f] is None for f in CUTOUT_FIELDS)
            else:
                assert (rec["cutout_science"] is not None) == expected[source].has_cutouts
    # The real sample exercises every filter.
    assert all(per_filter[f] > 0 for f in ("bright_transient", "new_object", "known_solar_system"))

    dead = [decode_output(m.value) for m in _read_all(settings, k.deadletter_topic)]
    assert len(dead) == d["rejected_total"]
    injected = {r["original"]: r for r in dead if r["input_topic"] == bad_topic}
    for name, (value, reason) in bad.items():
        rec = injected[value]
        assert rec["reason"] == reason, name
        assert rec["stage"] == "deserialize" and rec["input_partition"] in (0, 1)
    others = [r for r in dead if r["input_topic"] == good_topic]
    assert {r["reason"] for r in others} == {"unsupported_survey"}
    assert all(raw_record(r["original"]).get("publisher") != "ZTF" for r in others)


def _promoted(name: str) -> tuple[str, str]:
    """(version, sha256 of model.onnx) of a promoted model, read from the registry files."""
    root = REPO_ROOT / "classifiers" / "models" / name
    version = (root / "PROMOTED").read_text().strip()
    digest = hashlib.sha256((root / version / "model.onnx").read_bytes()).hexdigest()
    return version, digest


def _served() -> dict[str, set[str]]:
    """Score keys per survey: each promoted model's labels, read from its manifest file."""
    served: dict[str, set[str]] = {"ZTF": set(), "LSST": set()}
    for promoted in (REPO_ROOT / "classifiers" / "models").glob("*/PROMOTED"):
        version = promoted.read_text().strip()
        manifest = json.loads((promoted.parent / version / "manifest.json").read_text())
        if manifest.get("kind") == "anomaly":  # scores the alert's `anomaly` field instead
            continue
        for survey in manifest["surveys"]:
            served[survey] |= {f"{promoted.parent.name}.{lb}" for lb in manifest["labels"]}
    return served


def _check_scores(records: list[dict[str, Any]]) -> None:
    """Every alert carries the promoted models of its survey, a probability or a reason."""
    served = _served()
    assert served["ZTF"] >= {"snia_ztf.Ia", "sntype_ztf.Ia"} and served["LSST"] >= {"snia.Ia"}
    scored = unscored = 0
    for rec in records:
        scores = rec["scores"]
        assert set(scores) == served[rec["survey"]], rec["alert_id"]
        for key, sc in scores.items():
            version, digest = _promoted(sc["model"])
            assert key == f"{sc['model']}.{sc['label']}"
            assert (sc["version"], sc["model_hash"].removeprefix("sha256:")) == (version, digest)
            if sc["probability"] is None:
                assert sc["reason"] and sc["reason"].startswith(
                    ("too_few_points", "context_veto")
                ), sc
                unscored += 1
            else:
                assert 0.0 <= sc["probability"] <= 1.0 and sc["reason"] is None
                scored += 1
    assert scored > 50 and unscored > 50, (scored, unscored)


def _check_anomaly(records: list[dict[str, Any]]) -> None:
    """Every alert carries its survey's promoted anomaly model: a score or a reason."""
    scored = 0
    for rec in records:
        a = rec["anomaly"]
        name = f"anomaly_{rec['survey'].lower()}"
        version, digest = _promoted(name)
        assert (a["model"], a["version"], a["model_hash"]) == (name, version, digest)
        if a["score"] is None:
            assert a["reason"].startswith("too_few_points"), a
        else:
            assert 0.0 < a["unsupervised"] <= 1.0 and a["reason"] is None
            scored += 1
    assert scored > 50, scored


def test_restart_resumes_from_checkpoint(kafka: Any, spark: Any, unique_settings: Settings) -> None:
    settings = unique_settings
    topic = f"raw.{settings.kafka.topic_prefix}.lsst"
    wire = load_messages([str(DEMO_ALERTS / "lsst" / "wire")])
    publish(settings, topic, wire, progress=False)
    first = run(settings, available_now=True, spark=spark)
    assert first.data["in"] == len(wire) == first.data["ok"]

    again = run(settings, available_now=True, spark=spark)
    assert again.data["in"] == 0, "a restart must not reprocess committed offsets"

    publish(settings, topic, wire[:2], progress=False)
    third = run(settings, available_now=True, spark=spark)
    assert third.data["in"] == 2
    enriched = _read_all(settings, settings.kafka.enriched_topic)
    assert len(enriched) == len(wire) + 2
