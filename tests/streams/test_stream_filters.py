"""Registered filters in the running stream: hot registration, Python filters, quarantine."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

from broker.core.config import Settings
from broker.filters import FilterSpec
from broker.kafka.consume import decode_output, read_topic
from broker.kafka.replay import load_messages, publish
from broker.registry.filters import FilterRegistry
from streams.ingest import run
from tests.conftest import DEMO_ALERTS

pytestmark = pytest.mark.integration

TEAM = """
import numpy as np

def lsst_only(frame):
    return (frame["survey"] == "LSST").to_numpy()

def boom(frame):
    raise RuntimeError("science bug")
"""


def test_registry_drives_the_stream_and_failing_python_filters_are_quarantined(
    kafka: Any, spark: Any, unique_settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    settings = unique_settings
    tag = settings.kafka.topic_prefix
    module = tmp_path / "stream_team.py"
    module.write_text(TEAM)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    spark.sparkContext.addPyFile(str(module))  # what installing it on the workers does
    topic = f"raw.{tag}.mixed"
    sample = [DEMO_ALERTS / "lsst" / "wire", DEMO_ALERTS / "ztf" / "kowalski-4.01-85a86d2d.avro"]
    messages = load_messages([str(p) for p in sample])
    publish(settings, topic, messages, progress=False)
    with FilterRegistry(settings) as reg:
        reg.add(FilterSpec(name="lsst_sql", kind="sql", expression="survey = 'LSST'"),
                spark=spark, check=False)  # fmt: skip
        reg.add(FilterSpec(name="lsst_py", kind="python", expression="stream_team:lsst_only",
                           inputs=("survey",)), spark=spark, check=False)  # fmt: skip
        reg.add(FilterSpec(name="broken", kind="python", expression="stream_team:boom",
                           inputs=("mag",)), spark=spark, check=False)  # fmt: skip
    try:
        stats = run(settings, available_now=True, spark=spark)
    finally:
        sys.modules.pop("stream_team", None)
    d = stats.data
    assert d["in"] == d["ok"] == len(messages) == 29
    for name in ("lsst_sql", "lsst_py"):
        got = [decode_output(m.value) for m in read_topic(settings, f"{tag}.filter.{name}",
                                                          idle_timeout=3.0)]  # fmt: skip
        assert len(got) == 5 and {r["survey"] for r in got} == {"LSST"}, name
        assert d["published"][f"{tag}.filter.{name}"] == 5
    assert d["published"].get(f"{tag}.filter.broken", 0) == 0
    assert d["filter_errors"] == {"broken": 1}
    with FilterRegistry(settings) as reg:
        broken = reg.show("broken")
        names = {f.name for f in reg.current()}
    assert broken.state == "quarantined"
    assert broken.quarantine_reason == "raised RuntimeError: science bug"
    assert {"bright_transient", "rising_in_two_bands", "lsst_py"} <= names  # built-ins too


def test_filters_added_changed_disabled_while_the_stream_runs(
    kafka: Any, spark: Any, unique_settings: Settings
) -> None:
    """Each registry change is in force within two micro-batches, without a restart."""
    import time

    from streams.ingest import registry_source, start_query

    settings = unique_settings
    tag = settings.kafka.topic_prefix
    topic, out = f"raw.{tag}.live", f"{tag}.filter.hot"
    sample = [DEMO_ALERTS / "lsst" / "wire", DEMO_ALERTS / "ztf" / "kowalski-4.01-85a86d2d.avro"]
    messages = load_messages([str(p) for p in sample])  # 5 Rubin + 24 ZTF
    source, _quarantine = registry_source(settings, spark)
    query, handler = start_query(spark, settings, filter_source=source)
    registry = FilterRegistry(settings)

    def phase(expected_in: int) -> None:
        publish(settings, topic, messages, progress=False)
        deadline = time.monotonic() + 300
        while handler.run.data["in"] < expected_in:
            assert query.isActive and time.monotonic() < deadline, query.exception()
            time.sleep(0.2)

    def hot() -> list[dict[str, Any]]:
        return [decode_output(m.value) for m in read_topic(settings, out, idle_timeout=4.0)]

    def settle() -> None:  # two micro-batches: registry refresh + trigger, twice
        time.sleep(2 * (settings.filters.registry_refresh_s + settings.spark.trigger_seconds))

    try:
        phase(29)  # no such filter yet
        registry.add(FilterSpec(name="hot", kind="sql", expression="survey = 'LSST'"),
                     spark=spark, check=False)  # fmt: skip
        settle()
        phase(58)
        got = hot()
        assert len(got) == 5 and {r["survey"] for r in got} == {"LSST"}
        assert all(r["provenance"]["input_offset"] >= 0 for r in got)
        registry.change("hot", note="ZTF instead", expression="survey = 'ZTF'", check=False)
        settle()
        phase(87)
        got = hot()
        assert [r["survey"] for r in got].count("ZTF") == 24 and len(got) == 29
        registry.disable("hot", note="done")
        settle()
        phase(116)
        assert len(hot()) == 29, "a disabled filter publishes nothing more"
        spec = registry.show("hot")
        assert (spec.version, spec.state) == (3, "disabled")  # every change is a version
    finally:
        query.stop()
        registry.close()
