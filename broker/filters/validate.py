"""Validate a filter specification against the filter view before it is registered.

* SQL: :func:`broker.filters.sql.validate_sql` (syntax, columns, boolean,
  allowlisted functions only); ``inputs`` becomes the columns it reads.
* Python: the function must import (module path or entry point), and its
  inputs (``inputs`` or those declared with ``@python_filter``) must be
  columns of the view.

Examples
--------
>>> from broker.filters import FilterSpec
>>> spec = FilterSpec(name="rise", kind="python",
...                   expression="broker.filters.science:rising_in_two_bands")
>>> validate_spec(spec).inputs
('mjd_tai', 'band', 'mag', 'is_positive', 'history')
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from broker.core.errors import ConfigError
from broker.core.schema import filter_view_schema
from broker.filters.base import FilterSpec, FilterValidationError
from broker.filters.python import declared
from broker.filters.sql import validate_sql


def validate_spec(
    spec: FilterSpec, spark: Any = None, schema: pa.Schema | None = None
) -> FilterSpec:
    """Check ``spec`` against the filter view; return it with ``inputs`` filled.

    Parameters
    ----------
    spec
        The filter.
    spark
        Spark session for SQL filters (the active one, or a local one, when None).
    schema
        The filter view; :func:`broker.core.schema.filter_view_schema` when None.

    Raises
    ------
    FilterValidationError
        What is wrong, with the fix.
    """
    schema = schema or filter_view_schema()
    if spec.kind == "sql":
        check = validate_sql(spec.name, spec.expression, spark=spark, schema=schema)
        return spec.model_copy(update={"inputs": check.columns})
    try:
        inputs, _description = declared(spec.expression)
    except ConfigError as exc:
        raise FilterValidationError(spec.name, "python_load", str(exc)) from None
    inputs = spec.inputs or inputs
    if not inputs:
        raise FilterValidationError(
            spec.name,
            "no_inputs",
            f"{spec.expression} declares no inputs; pass --inputs col1,col2 (columns of the "
            "filter view) or decorate the function with @python_filter(inputs=...)",
        )
    unknown = [c for c in inputs if c not in schema.names]
    if unknown:
        raise FilterValidationError(
            spec.name,
            "unknown_input",
            f"inputs {', '.join(unknown)} are not columns of the filter view; "
            f"choose among {', '.join(schema.names)}",
        )
    if len(set(inputs)) != len(inputs):
        raise FilterValidationError(spec.name, "unknown_input", f"duplicate inputs in {inputs}")
    return spec.model_copy(update={"inputs": tuple(inputs)})
