"""SQL filters: validation against the filter view, and the condition the stream evaluates.

An expression is checked three ways before it is registered:

1. parsed by Spark's own SQL parser (syntax), alone and wrapped exactly as
   the stream evaluates it (``coalesce((expr), false)``), so that comments
   or unbalanced parentheses cannot change the wrapper;
2. on the parsed tree: every function named must be in
   :data:`broker.filters.functions.ALLOWED_FUNCTIONS`; subqueries and
   ``IDENTIFIER(...)`` are refused before anything is resolved;
3. analyzed against an empty frame with :func:`broker.core.schema.filter_view_schema`:
   unknown columns and type errors fail here, the result must be boolean, the
   expression deterministic, and no node of the analyzed Catalyst tree may be
   a function outside the allowlist (walked through py4j, one ``toJSON`` call).

Examples
--------
>>> from broker.filters import FilterSpec
>>> condition_sql(FilterSpec(name="bright", kind="sql", expression="mag < 18"))
'coalesce((mag < 18), false)'
>>> check = validate_sql("bright", "mag < 18 AND is_positive")  # doctest: +SKIP
>>> check.columns  # doctest: +SKIP
('is_positive', 'mag')
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from broker.core.schema import filter_view_schema
from broker.filters.base import FilterSpec, FilterValidationError
from broker.filters.functions import (
    ALLOWED_FUNCTIONS,
    FORBIDDEN_NODE_WORDS,
    FORBIDDEN_PARSED,
    STRUCTURAL_NODES,
)

PY_PASSED_COLUMN = "py_passed"
DOCS = "docs/filters.md"
_QUIET_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")
_views: dict[tuple[int, str], Any] = {}
_denied: dict[int, dict[str, set[str]]] = {}


@dataclass(frozen=True)
class SqlCheck:
    """What validation learned about an expression."""

    expression: str
    columns: tuple[str, ...]
    functions: tuple[str, ...]


def condition_sql(spec: FilterSpec) -> str:
    """The SQL boolean a filter contributes to the stream's projection (null = not passed).

    SQL filters wrap their expression; Python filters read the ``py_passed``
    column (names of the Python filters each alert passed, from the enrich stage).

    Examples
    --------
    >>> spec = FilterSpec(name="rise", kind="python", expression="m:f", inputs=("mag",))
    >>> condition_sql(spec)
    "coalesce(array_contains(py_passed, 'rise'), false)"
    """
    if spec.kind == "sql":
        return f"coalesce(({spec.expression}), false)"
    return f"coalesce(array_contains({PY_PASSED_COLUMN}, '{spec.name}'), false)"


def filter_spark() -> Any:
    """The running Spark session, else a small local one configured like the stream's."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    return (
        SparkSession.builder.master("local[1]")
        .appName("faucon-filters")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


@contextmanager
def quiet_spark_errors() -> Iterator[None]:
    """Silence pyspark's logging of expected analysis errors (they are reported instead)."""
    loggers = [logging.getLogger(n) for n in _QUIET_LOGGERS]
    before = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, was in zip(loggers, before, strict=True):
            lg.disabled = was


def empty_view(spark: Any, schema: pa.Schema | None = None) -> Any:
    """An empty DataFrame with the filter view's columns (cached per session and schema)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    schema = schema or filter_view_schema()
    key = (id(spark), schema.to_string())
    cached = _views.get(key)
    if cached is None or cached.sparkSession is not spark:  # a new session reused the id
        _views[key] = spark.createDataFrame([], from_arrow_schema(schema))
    return _views[key]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _parse(spark: Any, name: str, text: str) -> list[dict[str, Any]]:
    parser = spark._jsparkSession.sessionState().sqlParser()
    try:
        with quiet_spark_errors():
            return list(json.loads(parser.parseExpression(text).toJSON()))
    except Exception as exc:
        raise FilterValidationError(
            name,
            "syntax",
            f"SQL syntax error in {text!r}: {_first_line(exc)}; write one boolean Spark SQL "
            f"expression over the alert columns, e.g. 'mag < 18 AND is_positive' (see {DOCS})",
        ) from None


def _simple(node: dict[str, Any]) -> str:
    return str(node["class"]).rsplit(".", 1)[-1]


def _check_parsed(name: str, expression: str, nodes: list[dict[str, Any]]) -> list[str]:
    """Refuse subqueries, IDENTIFIER() and functions outside the allowlist; return functions."""
    used = []
    for node in nodes:
        cls = _simple(node)
        if cls in FORBIDDEN_PARSED:
            what = FORBIDDEN_PARSED[cls]
            detail = (
                "subqueries are not allowed: a filter sees one alert at a time"
                if what == "subquery"
                else "IDENTIFIER(...) is not allowed: name columns and functions directly"
            )
            raise FilterValidationError(name, what, f"{detail} (in {expression!r})")
        if cls == "UnresolvedFunction":
            parts = str(node.get("nameParts", "")).strip("[]").replace(", ", ".")
            if parts.lower() not in ALLOWED_FUNCTIONS:
                raise FilterValidationError(
                    name,
                    "forbidden_function",
                    f"function {parts!r} is not allowed in filters (only pure functions over "
                    f"the alert's columns; the allowed list is in {DOCS}); rewrite without it",
                )
            used.append(parts.lower())
    return used


def _denied_classes(spark: Any) -> dict[str, set[str]]:
    """Catalyst class -> function names, for registered functions outside the allowlist."""
    key = id(spark._jvm)
    if key not in _denied:
        registry = spark._jsparkSession.sessionState().functionRegistry()
        allowed: set[str] = set()
        names: dict[str, set[str]] = {}
        functions = registry.listFunction()
        for i in range(functions.size()):
            ident = functions.apply(i)
            info = registry.lookupFunction(ident)
            if not info.isDefined():
                continue
            cls = str(info.get().getClassName()).rsplit(".", 1)[-1]
            fname = str(ident.funcName()).lower()
            if fname in ALLOWED_FUNCTIONS:
                allowed.add(cls)
            names.setdefault(cls, set()).add(fname)
        _denied[key] = {c: n for c, n in names.items() if c not in allowed}
    return _denied[key]


def _analyze(spark: Any, name: str, expression: str, schema: pa.Schema | None) -> Any:
    try:
        with quiet_spark_errors():
            frame = empty_view(spark, schema).selectExpr(f"({expression}) AS passed")
            return frame
    except Exception as exc:
        condition = getattr(exc, "getCondition", lambda: None)() or ""
        params = getattr(exc, "getMessageParameters", lambda: None)() or {}
        columns = ", ".join((schema or filter_view_schema()).names)
        if condition.startswith(("UNRESOLVED_COLUMN", "FIELD_NOT_FOUND", "UNRESOLVED_FIELD")):
            unknown = params.get("objectName") or params.get("fieldName") or "?"
            raise FilterValidationError(
                name,
                "unknown_column",
                f"unknown column or field {unknown} in {expression!r}; the filter view has "
                f"columns {columns} (nested fields as in {DOCS})",
            ) from None
        raise FilterValidationError(
            name,
            "invalid",
            f"{expression!r} is not valid over the alert columns: {_first_line(exc)}",
        ) from None


def validate_sql(
    name: str, expression: str, spark: Any = None, schema: pa.Schema | None = None
) -> SqlCheck:
    """Validate a SQL filter expression against the filter view.

    Parameters
    ----------
    name
        The filter's name (for messages).
    expression
        Boolean Spark SQL expression.
    spark
        Spark session; :func:`filter_spark` when None.
    schema
        Arrow schema of the view; :func:`broker.core.schema.filter_view_schema` when None.

    Returns
    -------
    SqlCheck
        The expression, the top-level columns it reads and the functions it calls.

    Raises
    ------
    FilterValidationError
        Syntax error, unknown column, forbidden function or subquery,
        non-boolean or non-deterministic result; the message says which.

    Examples
    --------
    >>> validate_sql("x", "rand() < 0.5")  # doctest: +SKIP
    Traceback (most recent call last):
    FilterValidationError: filter 'x': function 'rand' is not allowed in filters ...
    """
    spark = spark or filter_spark()
    if not expression.strip():
        raise FilterValidationError(name, "syntax", "the SQL expression is empty")
    nodes = _parse(spark, name, expression)
    try:
        wrapped = _parse(spark, name, f"coalesce(({expression}), false)")
    except FilterValidationError:
        wrapped = []
    if not wrapped or wrapped[0].get("num-children") != 2:
        raise FilterValidationError(
            name,
            "syntax",
            f"{expression!r} is not one self-contained expression (unbalanced parentheses or a "
            "trailing comment); remove them",
        )
    functions = _check_parsed(name, expression, nodes)
    frame = _analyze(spark, name, expression, schema)
    dtype = frame.schema["passed"].dataType
    if dtype.typeName() != "boolean":
        raise FilterValidationError(
            name,
            "not_boolean",
            f"{expression!r} returns {dtype.simpleString()}, not boolean; compare it, "
            "e.g. 'mag < 18'",
        )
    analyzed = frame._jdf.queryExecution().analyzed().expressions().apply(0)
    denied = _denied_classes(spark)
    columns = set()
    for node in json.loads(analyzed.toJSON()):
        cls = _simple(node)
        if cls == "AttributeReference":
            columns.add(str(node.get("name")))
        if cls in STRUCTURAL_NODES:
            continue
        if cls in denied or any(word in cls for word in FORBIDDEN_NODE_WORDS):
            what = "/".join(sorted(denied.get(cls, {cls})))
            raise FilterValidationError(
                name,
                "forbidden_function",
                f"{what} is not allowed in filters (it resolves to {cls}); use only pure "
                f"functions over the alert's columns (see {DOCS})",
            )
    if not analyzed.deterministic():
        raise FilterValidationError(
            name, "not_deterministic", f"{expression!r} is not deterministic; remove random parts"
        )
    return SqlCheck(expression, tuple(sorted(columns)), tuple(sorted(set(functions))))
