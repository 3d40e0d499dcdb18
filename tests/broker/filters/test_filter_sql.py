"""SQL filter validation with the real Spark analyzer: errors name the problem; no escape hatch."""

from __future__ import annotations

from typing import Any

import pytest

from broker.filters import FilterSpec, FilterValidationError
from broker.filters.functions import ALLOWED_FUNCTIONS
from broker.filters.sql import condition_sql, validate_sql
from broker.filters.validate import validate_spec

pytestmark = pytest.mark.integration


def _reason(spark: Any, expression: str) -> FilterValidationError:
    with pytest.raises(FilterValidationError) as info:
        validate_sql("probe", expression, spark=spark)
    return info.value


def test_valid_expression_reports_columns_and_functions(spark: Any) -> None:
    check = validate_sql(
        "probe",
        "is_positive AND exists(history, h -> h.mag < mag - 1) "
        "AND scores['snia.Ia'].probability > 0.5 AND xmatch['gcvs'].class = 'RRAB' "
        "AND get_json_object(extra_json, '$.candidate.fwhm') < 3",
        spark=spark,
    )
    assert check.columns == ("extra_json", "history", "is_positive", "mag", "scores", "xmatch")
    assert check.functions == ("exists", "get_json_object")


@pytest.mark.parametrize(
    ("expression", "reason", "words"),
    [
        ("mag <", "syntax", ["syntax error", "mag <"]),
        ("mag < 18 --", "syntax", ["trailing comment"]),
        ("mag < 18) OR (true", "syntax", ["syntax error"]),
        ("magnitude < 18", "unknown_column", ["`magnitude`", "mjd_tai"]),
        ("history[0].magnitude < 18", "unknown_column", ["magnitude"]),
        ("mag + 1", "not_boolean", ["returns double", "not boolean"]),
        ("band", "not_boolean", ["returns string"]),
        ("mag < 'x' + array(1)", "invalid", ["not valid"]),
    ],
)
def test_invalid_expressions_say_what_is_wrong(
    spark: Any, expression: str, reason: str, words: list[str]
) -> None:
    err = _reason(spark, expression)
    assert err.reason == reason, err
    assert all(w in str(err) for w in words), str(err)
    assert str(err).startswith("filter 'probe':")


@pytest.mark.parametrize(
    "expression",
    [
        "reflect('java.lang.Runtime', 'getRuntime') IS NOT NULL",
        "java_method('java.lang.System', 'exit', 0) IS NULL",
        "try_reflect('java.lang.Runtime', 'getRuntime') IS NOT NULL",
        "input_file_name() = ''",
        "current_date() > DATE'2020-01-01'",
        "current_timestamp() IS NOT NULL",
        "current_user() = 'root'",
        "rand() < 0.5",
        "uuid() = 'x'",
        "raise_error('boom') IS NULL",
        "assert_true(mag > 0) IS NULL",
        "size(sequence(1, 1000000000)) > 0",
        "length(repeat('x', 1000000000)) > 0",
        "SYSTEM.BUILTIN.reflect('a', 'b') IS NULL",
        "my_team_udf(mag)",
        "mag < 18 AND (rand() > 0.5)",
    ],
)
def test_functions_outside_the_allowlist_are_refused(spark: Any, expression: str) -> None:
    err = _reason(spark, expression)
    assert err.reason == "forbidden_function", err
    assert "not allowed" in str(err)


@pytest.mark.parametrize(
    "expression",
    ["current_date > DATE'2020-01-01'", "current_timestamp IS NOT NULL", "user = 'root'"],
)
def test_bare_current_functions_are_refused_on_the_analyzed_tree(
    spark: Any, expression: str
) -> None:
    err = _reason(spark, expression)
    assert err.reason == "forbidden_function" and "resolves to Current" in str(err), err


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("(SELECT max(mag) FROM parquet.`/etc`) > 1", "subquery"),
        ("mag IN (SELECT 1)", "subquery"),
        ("EXISTS (SELECT * FROM range(10))", "subquery"),
        ("IDENTIFIER('reflect')('java.lang.Runtime', 'getRuntime') IS NULL", "identifier_clause"),
    ],
)
def test_subqueries_and_identifier_tricks_are_refused_before_analysis(
    spark: Any, expression: str, reason: str
) -> None:
    assert _reason(spark, expression).reason == reason


def test_a_registered_python_udf_is_refused(spark: Any) -> None:
    spark.udf.register("faucon_test_udf", lambda x: True, "boolean")
    assert _reason(spark, "faucon_test_udf(mag)").reason == "forbidden_function"


def test_every_allowed_function_exists_in_spark(spark: Any) -> None:
    registry = spark._jsparkSession.sessionState().functionRegistry()
    names = {str(f.funcName()).lower() for f in _iterate(registry.listFunction())}
    assert ALLOWED_FUNCTIONS - names == set()


def _iterate(seq: Any) -> list[Any]:
    return [seq.apply(i) for i in range(seq.size())]


def test_condition_is_what_the_stream_evaluates(spark: Any) -> None:
    sql = FilterSpec(name="bright", kind="sql", expression="mag < 18")
    python = FilterSpec(name="rise", kind="python", expression="m:f", inputs=("mag",))
    assert condition_sql(sql) == "coalesce((mag < 18), false)"
    assert condition_sql(python) == "coalesce(array_contains(py_passed, 'rise'), false)"
    valid = validate_spec(sql.model_copy(update={"inputs": ("junk",)}), spark=spark)
    assert valid.inputs == ("mag",)
