"""The compiled writer and the shared-field profile encoder write fastavro's exact bytes."""

from __future__ import annotations

import io
import itertools
import math

import fastavro
import pyarrow as pa
import pytest

from broker.core.config import load_settings
from broker.core.schema import CUTOUT_FIELDS, alert_schema, profile_schema
from broker.kafka.replay import load_messages
from broker.pipeline.avro_write import compile_writer
from broker.pipeline.enrich import INPUT_SCHEMA, _profile_encoder, process_batch
from tests.conftest import DEMO_ALERTS


@pytest.fixture(scope="module")
def alerts() -> list[dict[str, object]]:
    """Complete alert records (every survey and version in the bundle) from the enrich stage."""
    msgs = load_messages([str(DEMO_ALERTS / "ztf"), str(DEMO_ALERTS / "lsst")])[::5]
    batch = pa.RecordBatch.from_pylist(
        [
            {"value": m.value, "topic": "raw.test", "partition": 0, "offset": i, "timestamp_ms": 0}
            for i, m in enumerate(msgs)
        ],
        schema=INPUT_SCHEMA,
    )
    out = process_batch(batch, load_settings(), ["full"]).to_pylist()
    records = [_body(r["payload_full"]) for r in out if r["status"] == "ok"]
    assert len(records) > 300
    return records


def _fastavro(schema: dict[str, object], record: dict[str, object]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), record)
    return buf.getvalue()


def _body(container: bytes) -> dict[str, object]:
    (record,) = list(fastavro.reader(io.BytesIO(container)))
    return record  # type: ignore[return-value]


def test_compiled_writer_equals_fastavro_on_real_alerts(alerts: list[dict[str, object]]) -> None:
    schema = alert_schema()
    write = compile_writer(schema)
    for alert in alerts:
        # records read back by fastavro are all on the fast path
        assert write(alert) == _fastavro(schema, alert)


def test_every_profile_combination_decodes_to_the_profile_record(
    alerts: list[dict[str, object]],
) -> None:
    encoder = _profile_encoder()
    thin_fields = [f["name"] for f in profile_schema("thin")["fields"]]
    for profiles in itertools.chain.from_iterable(
        itertools.combinations(("full", "lite", "thin"), n) for n in (1, 2, 3)
    ):
        for alert in alerts[::5]:
            payloads = encoder.encode(alert, profiles)
            assert set(payloads) == set(profiles)
            for profile, payload in payloads.items():
                got = _body(payload)
                want = dict(alert)
                if profile == "lite":
                    want.update(dict.fromkeys(CUTOUT_FIELDS))
                if profile == "thin":
                    want = {k: want[k] for k in thin_fields}
                assert _same(got, want), (profile, alert.get("alert_id"))


def _same(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() >= {k for k in b} and all(_same(a[k], b[k]) for k in b)
    if isinstance(a, list) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def test_unknown_profile_is_refused(alerts: list[dict[str, object]]) -> None:
    with pytest.raises(ValueError):
        _profile_encoder().encode(alerts[0], ("huge",))
