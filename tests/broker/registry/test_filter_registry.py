"""The filter registry on the real Kafka broker: durable, versioned, shared, cheap to poll."""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka.admin import ConfigResource

from broker.core.config import Settings
from broker.core.config_filters import FilterSettings
from broker.filters import FilterSpec, FilterValidationError
from broker.kafka.consume import read_topic
from broker.kafka.topics import admin_client
from broker.registry.builtins import builtin_filters
from broker.registry.filters import BUILTINS_KEY, FilterRegistry, registry_topic

pytestmark = pytest.mark.integration
BRIGHT = FilterSpec(
    name="bright18", kind="sql", expression="is_positive AND mag < 18", description="bright"
)


def _with_filters(settings: Settings, **values: Any) -> Settings:
    """Settings whose ``filters`` section is the filters' own model (as once mounted)."""
    return settings.model_copy(update={"filters": FilterSettings(**values)})


def test_changes_persist_across_restarts_with_versions_and_changelog(
    kafka: Any, spark: Any, unique_settings: Settings
) -> None:
    with FilterRegistry(unique_settings) as reg:
        added = reg.add(BRIGHT, spark=spark, check=False)
        assert (added.version, added.inputs, added.state) == (1, ("is_positive", "mag"), "enabled")
        with pytest.raises(FilterValidationError) as info:
            reg.add(BRIGHT, spark=spark, check=False)
        assert info.value.reason == "duplicate" and "faucon filter change" in str(info.value)
        reg.change("bright18", note="deeper", spark=spark, check=False, expression="mag < 19")
        reg.disable("bright18", note="too many")
        reg.enable("bright18")
        reg.enable("bright18")  # no change, no new version
        reg.quarantine("bright18", "raised ValueError: boom")
        reg.quarantine("bright18", "raised ValueError: boom")  # idempotent

    with FilterRegistry(unique_settings) as again:  # a restart: a fresh consumer reads the topic
        spec = again.show("bright18")
    assert spec.version == 5
    assert (spec.expression, spec.inputs, spec.description) == ("mag < 19", ("mag",), "bright")
    assert (spec.state, spec.quarantine_reason) == ("quarantined", "raised ValueError: boom")
    assert [e.version for e in spec.changelog] == [1, 2, 3, 4, 5]
    changes = [e.change for e in spec.changelog]
    assert changes[0].startswith("created by")
    assert "expression='mag < 19'" in changes[1] and changes[1].endswith(": deeper")
    assert changes[2].startswith("disabled by") and changes[2].endswith(": too many")
    assert changes[4] == "quarantined by the stream: raised ValueError: boom"


def test_remove_writes_a_tombstone_on_a_compacted_topic(
    kafka: Any, spark: Any, unique_settings: Settings
) -> None:
    with FilterRegistry(unique_settings) as reg:
        reg.add(BRIGHT, spark=spark, check=False)
        reg.remove("bright18")
        assert reg.current() == []
        with pytest.raises(FilterValidationError) as info:
            reg.remove("bright18")
        assert info.value.reason == "unknown_filter"
    topic = registry_topic(unique_settings)
    records = list(read_topic(unique_settings, topic, idle_timeout=2.0))
    assert [(r.key, bool(r.value)) for r in records] == [(b"bright18", True), (b"bright18", False)]
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    admin = admin_client(unique_settings)  # keep the client alive until the future resolves
    configs = admin.describe_configs([resource])[resource].result()
    assert configs["cleanup.policy"].value == "compact"
    with FilterRegistry(unique_settings) as again:
        assert again.list_filters() == []


def test_current_is_cheap_and_sees_other_writers_after_the_refresh_interval(
    kafka: Any, spark: Any, unique_settings: Settings
) -> None:
    stream_side = FilterRegistry(_with_filters(unique_settings, registry_refresh_s=1.0))
    cli_side = FilterRegistry(unique_settings)
    try:
        cli_side.add(BRIGHT, spark=spark, check=False)
        assert [f.state for f in stream_side.current()] == ["enabled"]  # first call reads
        cli_side.disable("bright18")
        started = time.perf_counter()
        for _ in range(100):  # within the refresh interval: the cached list, no I/O
            assert [f.state for f in stream_side.current()] == ["enabled"]
        assert time.perf_counter() - started < 0.05
        time.sleep(1.05)
        started = time.perf_counter()
        assert [f.state for f in stream_side.current()] == ["disabled"]
        assert time.perf_counter() - started < 0.5  # one round trip plus the new record
    finally:
        stream_side.close()
        cli_side.close()


def test_builtins_are_registered_once_and_a_removed_one_stays_removed(
    kafka: Any, spark: Any, unique_settings: Settings
) -> None:
    names = [f.name for f in builtin_filters(unique_settings)]
    with FilterRegistry(unique_settings) as reg:
        assert reg.ensure_builtins(spark=spark) == names
        assert {f.name for f in reg.current()} == set(names)
        assert all(f.builtin and f.version == 1 for f in reg.current())
        reg.remove("yso_flare")
        reg.disable("fast_riser")
    with FilterRegistry(unique_settings) as again:
        assert again.ensure_builtins(spark=spark) == []
        current = {f.name: f for f in again.list_filters()}
        assert "yso_flare" not in current and current["fast_riser"].state == "disabled"
    records = read_topic(unique_settings, registry_topic(unique_settings), idle_timeout=2.0)
    assert any(r.key == BUILTINS_KEY.encode() for r in records)


def test_builtins_follow_threshold_settings_unless_edited(
    kafka: Any, spark: Any, unique_settings: Settings
) -> None:
    with FilterRegistry(unique_settings) as reg:
        reg.ensure_builtins(spark=spark)
        reg.change("blazar_flare", spark=spark, check=False, expression="context = 'agn_blazar'")
    changed = _with_filters(unique_settings, bright_mag=17.0, flare_min_snr=9.0)
    with FilterRegistry(changed) as reg:
        assert reg.ensure_builtins(spark=spark) == ["bright_transient", "yso_flare"]
        bright = reg.show("bright_transient")
        blazar = reg.show("blazar_flare")
    assert bright.version == 2 and "mag < 17.0" in bright.expression
    assert bright.changelog[-1].change == "thresholds updated from the settings"
    assert not blazar.builtin and blazar.expression == "context = 'agn_blazar'"
    assert "no longer follows the built-in settings" in blazar.changelog[-1].change


def test_invalid_filters_are_refused_before_anything_is_written(
    kafka: Any, spark: Any, unique_settings: Settings
) -> None:
    with FilterRegistry(unique_settings) as reg:
        bad = BRIGHT.model_copy(update={"expression": "reflect('java.lang.Runtime','exit')"})
        with pytest.raises(FilterValidationError) as info:
            reg.add(bad, spark=spark, check=False)
        assert info.value.reason == "forbidden_function"
        with pytest.raises(FilterValidationError) as info:
            reg.show("nothing_here")
        assert info.value.reason == "unknown_filter"
        assert reg.quarantine("nothing_here", "x") is None
        assert reg.list_filters() == []
