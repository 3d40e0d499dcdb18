"""The built-in anomaly filter: the served model's manifest threshold, or the configured one."""

from __future__ import annotations

from types import SimpleNamespace

from broker.core.config_filters import FilterSettings
from broker.filters.builtin import all_builtin_filters
from broker.pipeline.distribute import sql_condition


def _anomaly(fs: FilterSettings) -> str:
    spec = next(f for f in all_builtin_filters(SimpleNamespace(filters=fs)) if f.name == "anomaly")
    assert spec.inputs == ("anomaly",) and spec.profile == "full" and spec.builtin
    return sql_condition(spec)


def test_threshold_travels_with_each_score_by_default() -> None:
    # Each alert's record carries the threshold of the model version that scored it, so a
    # nightly promotion moves the cut without re-registering the filter.
    assert "anomaly.score >= anomaly.threshold" in _anomaly(FilterSettings())


def test_configured_minimum_score_wins() -> None:
    condition = _anomaly(FilterSettings(anomaly_min_score=0.61))
    assert "anomaly.score >= 0.61" in condition and "anomaly.threshold" not in condition
