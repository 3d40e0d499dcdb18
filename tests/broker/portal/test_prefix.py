"""The ingest's shortcut for filter topics reads the same identity as a whole decode."""

from __future__ import annotations

import pyarrow as pa

from broker.core.config import load_settings
from broker.kafka.consume import decode_output
from broker.kafka.replay import load_messages
from broker.pipeline.decode import Decoder
from broker.pipeline.enrich import INPUT_SCHEMA, process_batch
from broker.portal.prefix import PrefixReader
from tests.broker.portal.conftest import LSST_FILES, ZTF_FILES

KEYS = ("survey", "alert_id", "object_id", "ra", "dec", "mjd_tai")


def test_every_profile_gives_the_identity_of_the_whole_record() -> None:
    msgs = load_messages([str(ZTF_FILES[-1]), str(LSST_FILES[1])])
    rows = [{"value": m.value, "topic": "raw.t", "partition": 0, "offset": i,
             "timestamp_ms": 0} for i, m in enumerate(msgs)]  # fmt: skip
    out = process_batch(pa.RecordBatch.from_pylist(rows, schema=INPUT_SCHEMA), load_settings(),
                        ["full", "lite", "thin"]).to_pylist()  # fmt: skip
    reader = PrefixReader(Decoder())
    checked = 0
    for row in out:
        for profile in ("full", "lite", "thin"):
            payload = row[f"payload_{profile}"]
            whole = decode_output(payload)
            short = reader.read(payload)
            assert {k: short[k] for k in KEYS} == {k: whole[k] for k in KEYS}, profile
            assert "history" not in short and "cutout_science" not in short
            checked += 1
    assert checked == 3 * len(msgs) == 3 * 29
    # not an Avro container (a raw Rubin message here): the whole decoder answers
    wire = load_messages([str(LSST_FILES[1])])[0].value
    assert reader.read(wire)["alertId"] == Decoder().decode(wire)[0]["alertId"]
