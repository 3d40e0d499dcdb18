"""Every built-in filter on the 1,805 bundled real ZTF and Rubin alerts, against the raw oracle."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from broker.core.config_filters import FilterSettings
from broker.core.schema import filter_view_schema
from broker.filters.builtin import all_builtin_filters, snia_thresholds
from broker.filters.validate import validate_spec
from broker.registry.backtest import evaluate_specs
from broker.registry.builtins import builtin_filters, stream_runs_python_filters
from classifiers.registry import operating_threshold
from tests.broker.filters.oracle import ORACLE, Raw, expected

pytestmark = pytest.mark.integration
NAMES = [f.name for f in all_builtin_filters()]


@pytest.fixture(scope="module")
def results(spark: Any, real_alerts: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    specs = all_builtin_filters()
    passed, errors = evaluate_specs(specs, real_alerts, spark=spark)
    assert errors == {}
    return passed


def test_at_least_ten_builtins_on_the_current_schema_including_python() -> None:
    specs = all_builtin_filters()
    assert [f.name for f in specs] == NAMES == sorted(ORACLE, key=NAMES.index)
    assert len(specs) >= 10
    assert {f.kind for f in specs} == {"sql", "python"}
    assert all(f.builtin and f.description for f in specs)
    # Every built-in reads columns of the current schema; the Python one needs the stream
    # to run Python filters (the enrich stage's py_passed column).
    runnable = {f.name for f in builtin_filters()}
    assert runnable == set(NAMES) - (
        set() if stream_runs_python_filters() else {"rising_in_two_bands"}
    )


def test_declared_inputs_are_what_the_expressions_read(spark: Any) -> None:
    for spec in all_builtin_filters():
        assert validate_spec(spec, spark=spark).inputs == spec.inputs, spec.name


def test_filters_reading_missing_columns_are_left_out() -> None:
    without = filter_view_schema().remove(filter_view_schema().get_field_index("context"))
    names = {f.name for f in builtin_filters(schema=without)}
    assert {"yso_flare", "blazar_flare", "variable_star_outburst"}.isdisjoint(names)
    assert "bright_transient" in names


def test_thresholds_come_from_settings() -> None:
    settings = SimpleNamespace(filters=FilterSettings(bright_mag=17.25, rubin_min_snr=42.0))
    by_name = {f.name: f for f in all_builtin_filters(settings)}
    assert "mag < 17.25" in by_name["bright_transient"].expression
    assert "snr >= 42.0" in by_name["rubin_high_snr_new"].expression


@pytest.mark.parametrize("name", NAMES)
def test_builtin_selects_exactly_the_expected_real_alerts(
    name: str, results: dict[str, np.ndarray], raws: list[Raw], real_alerts: list[dict[str, Any]]
) -> None:
    got = np.flatnonzero(results[name]).tolist()
    want = expected(name, raws)
    assert got == want, (
        name,
        [real_alerts[i]["alert_id"] for i in sorted(set(got) ^ set(want))][:10],
    )
    # The curated sample exercises every filter (early_snia_candidate needs promoted models).
    if name != "early_snia_candidate":
        assert 0 < len(got) < len(real_alerts) / 2, (name, len(got))


def test_every_survey_is_exercised(results: dict[str, np.ndarray], raws: list[Raw]) -> None:
    surveys = {
        name: {raws[i].survey for i in np.flatnonzero(mask)} for name, mask in results.items()
    }
    assert surveys["rubin_high_snr_new"] == {"LSST"}
    assert surveys["nuclear_transient"] == {"ZTF"}
    assert surveys["new_object"] == surveys["known_solar_system"] == {"ZTF", "LSST"}


def test_early_snia_candidate_on_real_alerts_with_synthetic_scores(
    spark: Any, real_alerts: list[dict[str, Any]], raws: list[Raw]
) -> None:
    """Until a promoted SN Ia model scores the alerts, this filter needs given scores.

    SYNTHETIC: the probabilities below are made up for this test (a fixed
    ramp over the real alerts, on both keys the filter reads); every other
    field is the real alert's.  The oracle applies the definition to them.
    """
    alerts = []
    for i, alert in enumerate(real_alerts):
        key = "snia.Ia" if i % 2 else "snia_ztf.Ia"
        record = {"model": key.split(".")[0], "version": "test", "model_hash": "0" * 64,
                  "label": "Ia", "probability": (i % 10) / 10, "reason": None}  # fmt: skip
        alerts.append({**alert, "scores": {key: record}})
    spec = next(f for f in all_builtin_filters() if f.name == "early_snia_candidate")
    passed, errors = evaluate_specs([spec], alerts, spark=spark)
    assert errors == {}
    for raw, alert in zip(raws, alerts, strict=True):
        raw.scores = alert["scores"]
    want = expected("early_snia_candidate", raws)
    assert np.flatnonzero(passed["early_snia_candidate"]).tolist() == want
    assert len(want) > 10
    # Each model's own early operating threshold, from its promoted manifest.
    cuts = snia_thresholds(FilterSettings())
    assert cuts == {m: operating_threshold(m, early=True) for m in ("snia", "snia_ztf")}
    assert all(s["probability"] >= cuts[s["model"]]
               for i in want for s in alerts[i]["scores"].values())  # fmt: skip
    assert f">= {cuts['snia_ztf']}" in spec.expression and "model manifests" in spec.description
    for raw, alert in zip(raws, real_alerts, strict=True):
        raw.scores = alert.get("scores") or {}
