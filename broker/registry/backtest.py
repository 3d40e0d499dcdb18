"""Backtest a filter on real alert files, evaluated exactly as the stream evaluates it.

Alert files of any supported format are decoded and normalized
(:func:`broker.pipeline.inspect.inspect_paths`), enriched by the stream's own
enrichers (:func:`broker.pipeline.enrichers.run_enrichers`), and turned into filter view
rows (Arrow, :func:`broker.core.schema.filter_view_schema`).  SQL filters run in
Spark as ``coalesce((expr), false)`` over ``spark.createDataFrame`` of those
rows; Python filters run in :func:`broker.filters.python.run_python_filters`,
the runner the stream's workers use.

Examples
--------
>>> from broker.filters import FilterSpec
>>> spec = FilterSpec(name="bright", kind="sql", expression="mag < 18")
>>> result = backtest(spec)  # doctest: +SKIP
>>> result.alerts, result.passed  # doctest: +SKIP
(29, 11)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from broker.core.config import REPO_ROOT, filter_settings
from broker.core.errors import ProcessError
from broker.core.schema import filter_view_schema
from broker.filters.base import FilterSpec, FilterValidationError
from broker.filters.python import run_python_filters
from broker.filters.sql import condition_sql, filter_spark, quiet_spark_errors

DEMO = REPO_ROOT / "deploy" / "demo-alerts"
SAMPLE_PATHS = (DEMO / "ztf" / "kowalski-4.01-85a86d2d.avro", DEMO / "lsst" / "wire")


@dataclass
class BacktestResult:
    """What a filter did on a set of alerts."""

    name: str
    kind: str
    alerts: int
    passed: int
    seconds: float
    examples: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    files_failed: dict[str, str] = field(default_factory=dict)

    @property
    def pass_rate(self) -> float:
        """Fraction of alerts that passed (0 when there was none)."""
        return self.passed / self.alerts if self.alerts else 0.0

    @property
    def alerts_per_s(self) -> float:
        """Evaluation throughput, alerts per second."""
        return self.alerts / self.seconds if self.seconds > 0 else float("inf")


def load_alerts(paths: Sequence[str | Path]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Normalized alerts of files, folders or globs, and file -> error for undecodable ones."""
    from broker.pipeline.inspect import inspect_paths

    results = inspect_paths([str(p) for p in paths])
    alerts = [a for r in results for a in r.alerts]
    return alerts, {r.path: r.error for r in results if r.error}


def complete_alerts(alerts: list[dict[str, Any]], settings: Any = None) -> list[dict[str, Any]]:
    """Run the stream's enrichers (cross-match, context, classifiers) on alerts that lack them.

    Alerts read from Faucon's own output files are already enriched and left as they are.
    """
    from broker.core.config import settings as process_settings
    from broker.pipeline.enrichers import run_enrichers

    todo = [a for a in alerts if "context" not in a]
    if todo:
        run_enrichers(todo, settings or process_settings())
    return alerts


def view_table(alerts: list[dict[str, Any]], schema: pa.Schema | None = None) -> pa.Table:
    """Filter view rows of alerts, as the enrich stage builds them."""
    return pa.Table.from_pylist(alerts, schema=schema or filter_view_schema())


def evaluate_specs(
    specs: Sequence[FilterSpec],
    alerts: list[dict[str, Any]],
    spark: Any = None,
    schema: pa.Schema | None = None,
    budget_s: float | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Evaluate filters on alerts as the stream does: SQL in one projection, Python in the runner.

    Returns
    -------
    passed, errors
        Filter name -> boolean array (one per alert); filter name -> error reason.
    """
    schema = schema or filter_view_schema()
    n = len(alerts)
    out: dict[str, np.ndarray] = {}
    errors: dict[str, str] = {}
    sql = [s for s in specs if s.kind == "sql"]
    if sql and n:
        spark = spark or filter_spark()
        try:
            with quiet_spark_errors():
                frame = spark.createDataFrame(view_table(alerts, schema))
                rows = frame.selectExpr(
                    *(f"{condition_sql(s)} AS `{s.name}`" for s in sql)
                ).collect()
        except Exception as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            errors.update({s.name: f"Spark could not evaluate it: {detail}" for s in sql})
        else:
            for s in sql:
                out[s.name] = np.array([bool(r[s.name]) for r in rows], dtype=bool)
    elif sql:
        out.update({s.name: np.zeros(0, dtype=bool) for s in sql})
    python = [s for s in specs if s.kind == "python"]
    if python:
        budget = budget_s if budget_s is not None else filter_settings().python_budget_s_per_batch
        enabled = [s.model_copy(update={"enabled": True}) for s in python]
        passed, py_errors = run_python_filters(enabled, alerts, budget)
        errors.update(py_errors)
        for s in python:
            if s.name not in py_errors:
                out[s.name] = np.array([s.name in p for p in passed], dtype=bool)
    return out, errors


def _example(alert: dict[str, Any]) -> dict[str, Any]:
    keys = ("survey", "object_id", "alert_id", "mjd_tai", "band", "mag")
    return {k: alert.get(k) for k in keys}


def backtest(
    spec: FilterSpec,
    paths: Sequence[str | Path] | None = None,
    spark: Any = None,
    settings: Any = None,
    schema: pa.Schema | None = None,
    examples: int | None = None,
) -> BacktestResult:
    """Run one filter on alert files and report passes, pass rate, examples and throughput.

    Parameters
    ----------
    spec
        The filter (need not be registered).
    paths
        Alert files, folders or globs; :data:`SAMPLE_PATHS` when None.
    spark
        Spark session for SQL filters.
    settings
        Faucon settings (Python budget, number of examples); process settings when None.
    schema
        The filter view; :func:`broker.core.schema.filter_view_schema` when None.
    examples
        How many passing alerts to show; ``backtest_examples`` setting when None.
    """
    fs = filter_settings(settings)
    schema = schema or filter_view_schema()
    alerts, failed = load_alerts(paths or SAMPLE_PATHS)
    started = time.perf_counter()
    alerts = complete_alerts(alerts, settings)
    passed, errors = evaluate_specs([spec], alerts, spark, schema, fs.python_budget_s_per_batch)
    seconds = time.perf_counter() - started
    mask = passed.get(spec.name, np.zeros(len(alerts), dtype=bool))
    count = examples if examples is not None else fs.backtest_examples
    shown = [_example(alerts[i]) for i in np.flatnonzero(mask)[:count]]
    return BacktestResult(
        spec.name, spec.kind, len(alerts), int(mask.sum()), seconds, shown,
        errors.get(spec.name), failed,
    )  # fmt: skip


def check_on_sample(
    spec: FilterSpec, spark: Any = None, settings: Any = None, schema: pa.Schema | None = None
) -> BacktestResult:
    """Backtest on the bundled sample; refuse a filter that fails on it.

    Raises
    ------
    FilterValidationError
        The filter raised, returned the wrong shape or type, overran, or Spark
        could not evaluate it (reason ``backtest``).
    """
    result = backtest(spec, SAMPLE_PATHS, spark=spark, settings=settings, schema=schema)
    if result.error:
        raise FilterValidationError(
            spec.name,
            "backtest",
            f"failed on the sample alerts ({result.alerts} real ZTF and Rubin alerts): "
            f"{result.error}; fix it and try `faucon filter test` first",
        )
    if result.alerts == 0:
        raise ProcessError(f"the sample alerts {SAMPLE_PATHS} could not be read: {result}")
    return result
