"""The built-in filters the running stream can take now (schema and enrich stage permitting).

Examples
--------
>>> from broker.core.config import load_settings
>>> [f.name for f in builtin_filters(load_settings())][:3]
['bright_transient', 'new_object', 'known_solar_system']
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from broker.core.schema import filter_view_schema
from broker.filters.base import FilterSpec
from broker.filters.builtin import all_builtin_filters
from broker.filters.sql import PY_PASSED_COLUMN
from broker.pipeline.enrich import output_schema


def stream_runs_python_filters() -> bool:
    """True when the enrich stage emits ``py_passed``, so the stream can run Python filters."""
    return PY_PASSED_COLUMN in output_schema().names


def builtin_filters(settings: Any = None, schema: pa.Schema | None = None) -> list[FilterSpec]:
    """The built-in filters the stream can run now.

    Those whose inputs are all columns of the filter view, and Python ones only
    when the enrich stage runs Python filters (:func:`stream_runs_python_filters`).

    Parameters
    ----------
    settings
        Faucon settings (thresholds in ``settings.filters``); the process settings when None.
    schema
        The filter view; :func:`broker.core.schema.filter_view_schema` when None.
    """
    columns = set((schema or filter_view_schema()).names)
    python = stream_runs_python_filters()
    return [
        f
        for f in all_builtin_filters(settings)
        if set(f.inputs) <= columns and (f.kind == "sql" or python)
    ]
