"""Backtests on real alert files: counts against the raw records, errors refused."""

from __future__ import annotations

import math
from typing import Any

import pytest

from broker.filters import FilterSpec, FilterValidationError
from broker.registry.backtest import SAMPLE_PATHS, backtest, check_on_sample
from tests.broker.filters.oracle import DEMO, _lsst, _rising, _ztf, read_raw

pytestmark = pytest.mark.integration


def _sample_raw() -> list[Any]:
    files = [SAMPLE_PATHS[0], *sorted(SAMPLE_PATHS[1].glob("*.avro"))]
    return [_ztf(r) if "candidate" in r else _lsst(r) for f in files for r in read_raw(f)]


def test_sql_backtest_on_the_sample_matches_the_raw_records(spark: Any) -> None:
    spec = FilterSpec(name="bright_pos", kind="sql", expression="is_positive AND mag < 18.5")
    result = backtest(spec, spark=spark, examples=3)
    raws = _sample_raw()
    want = [r for r in raws if r.positive and r.mag is not None and r.mag < 18.5]
    assert (result.alerts, result.passed) == (len(raws), len(want)) == (29, len(want))
    assert 0 < result.passed < result.alerts
    assert math.isclose(result.pass_rate, len(want) / len(raws))
    assert result.error is None and result.files_failed == {}
    assert len(result.examples) == 3
    assert all(ex["mag"] < 18.5 and ex["object_id"] for ex in result.examples)
    assert result.alerts_per_s > 0


def test_python_backtest_uses_the_stream_runner(spark: Any) -> None:
    spec = FilterSpec(
        name="rising_in_two_bands",
        kind="python",
        expression="broker.filters.science:rising_in_two_bands",
        inputs=("mjd_tai", "band", "mag", "is_positive", "history"),
    )
    paths = [DEMO / "ztf" / "fink-datasim-4.02-0e972a9e.avro", DEMO / "other"]
    result = backtest(spec, paths, spark=spark)
    raws = [_ztf(r) for r in read_raw(paths[0])]
    assert result.alerts == len(raws)
    assert result.passed == sum(r.positive and _rising(r) for r in raws) > 0
    assert set(result.files_failed) == {str(p) for p in sorted((DEMO / "other").glob("*.avro"))}
    assert all("unsupported_survey" in e for e in result.files_failed.values())


@pytest.mark.parametrize(
    ("fn", "words"),
    [("boom", "raised ValueError: no luck"), ("short", "returned shape (28,); expected (29,)")],
)
def test_a_failing_python_filter_is_refused_on_the_sample(
    spark: Any, team: str, fn: str, words: str
) -> None:
    spec = FilterSpec(name=fn, kind="python", expression=f"{team}:{fn}", inputs=("mag",))
    with pytest.raises(FilterValidationError) as info:
        check_on_sample(spec, spark=spark)
    assert info.value.reason == "backtest"
    assert words in str(info.value) and "faucon filter test" in str(info.value)


def test_a_working_filter_passes_the_sample_check(spark: Any, team: str) -> None:
    spec = FilterSpec(name="faint", kind="python", expression=f"{team}:faint", inputs=("mag",))
    result = check_on_sample(spec, spark=spark)
    assert result.error is None and result.alerts == 29
