"""Python filters: loading by reference, and the isolated, vectorized runner.

A Python filter is a function ``fn(frame: pandas.DataFrame) -> booleans``
that receives one row per alert with exactly its declared ``inputs`` columns
(nested columns such as ``history``, ``scores`` or ``xmatch`` as Python
lists/dicts) and returns a pandas Series or numpy array of ``len(frame)``
booleans.  It is named by reference, never by source:

* ``package.module:function`` -- a module importable in the stream's
  environment (installed by the operator);
* ``entrypoint:NAME`` -- an installed distribution's entry point ``NAME`` in
  group ``faucon.filters`` (how a science team ships its filters).

Functions are imported once per process and cached.  :func:`run_python_filters`
runs each filter on a batch under a time budget; a filter that raises,
returns the wrong shape or type, or overruns contributes no passes for that
batch and an error reason, and never affects the other filters.

Examples
--------
>>> import pandas as pd
>>> @python_filter(inputs=("mag",))
... def bright(frame):
...     return frame["mag"] < 18
>>> bright.faucon_inputs
('mag',)
>>> as_mask(bright(pd.DataFrame({"mag": [17.0, 19.0]})), 2).tolist()
[True, False]
"""

from __future__ import annotations

import importlib
import importlib.metadata
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from broker.core.errors import ConfigError, ProcessError
from broker.core.schema import filter_view_schema
from broker.filters.base import ENTRYPOINT_GROUP, ENTRYPOINT_PREFIX, FilterSpec

FilterFunction = Callable[[pd.DataFrame], Any]
F = TypeVar("F", bound=Callable[..., Any])


def python_filter(*, inputs: Sequence[str], description: str = "") -> Callable[[F], F]:
    """Declare a function's inputs (and description) so it registers without ``--inputs``.

    Examples
    --------
    >>> @python_filter(inputs=("mag", "band"), description="bright in g")
    ... def bright_g(frame):
    ...     return (frame["mag"] < 18) & (frame["band"] == "g")
    >>> bright_g.faucon_description
    'bright in g'
    """

    def mark(fn: F) -> F:
        fn.faucon_inputs = tuple(inputs)  # type: ignore[attr-defined]
        fn.faucon_description = description  # type: ignore[attr-defined]
        return fn

    return mark


@cache
def load_function(ref: str) -> FilterFunction:
    """Import the function named by ``module:function`` or ``entrypoint:NAME`` (cached).

    Raises
    ------
    ConfigError
        The module, attribute or entry point does not exist, or is not callable.
    """
    if ref.startswith(ENTRYPOINT_PREFIX):
        name = ref[len(ENTRYPOINT_PREFIX) :]
        found = importlib.metadata.entry_points(group=ENTRYPOINT_GROUP, name=name)
        if not found:
            raise ConfigError(
                f"no entry point {name!r} in group {ENTRYPOINT_GROUP!r}; install the package "
                "that provides it in the stream's environment (pip install ...)"
            )
        try:
            fn = next(iter(found)).load()
        except Exception as exc:
            raise ConfigError(f"entry point {name!r} cannot be loaded: {exc!r}") from exc
    else:
        module_name, _, attr = ref.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
        except Exception as exc:
            raise ConfigError(
                f"cannot import module {module_name!r} for Python filter {ref!r}: {exc!r}; "
                "it must be installed in the stream's environment"
            ) from exc
        try:
            for part in attr.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"module {module_name!r} has no attribute {attr!r}") from None
        fn = obj
    if not callable(fn):
        raise ConfigError(f"{ref!r} is not a function (it is a {type(fn).__name__})")
    return fn


def declared(ref: str) -> tuple[tuple[str, ...], str]:
    """Inputs and description declared with :func:`python_filter` (empty when none)."""
    fn = load_function(ref)
    return tuple(getattr(fn, "faucon_inputs", ())), str(getattr(fn, "faucon_description", ""))


def as_mask(result: Any, n: int) -> np.ndarray:
    """Check a filter's result and return it as a boolean numpy array of length ``n``.

    Raises
    ------
    ProcessError
        Not a Series/array, wrong length or shape, or not boolean.
    """
    if not isinstance(result, pd.Series | pd.Index | np.ndarray | pd.api.extensions.ExtensionArray):
        raise ProcessError(
            f"returned {type(result).__name__}; return a pandas Series or numpy array of "
            f"{n} booleans"
        )
    shape = tuple(result.shape)
    if len(shape) != 1 or shape[0] != n:
        raise ProcessError(f"returned shape {shape}; expected ({n},): one boolean per row")
    if isinstance(result.dtype, pd.BooleanDtype):
        return np.asarray(pd.array(result, dtype="boolean").fillna(False), dtype=bool)
    if result.dtype != np.bool_:
        raise ProcessError(f"returned dtype {result.dtype}; expected bool (one boolean per row)")
    return np.asarray(result, dtype=bool)


class _BudgetExceeded(BaseException):
    """Raised by the alarm inside a filter that overran its budget (not an Exception)."""


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (main thread only; elsewhere checked afterwards)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(_signum: int, _frame: Any) -> None:
        raise _BudgetExceeded()

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _raise)
    outer, _interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:  # re-arm an enclosing timer (e.g. a test timeout) with what is left
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 1e-3))


def evaluate(spec: FilterSpec, frame: pd.DataFrame, budget_s: float) -> np.ndarray:
    """Run one Python filter on ``frame`` within ``budget_s`` seconds.

    Raises
    ------
    ProcessError
        The reason the filter failed (load error, exception, shape/type, budget).
    """
    try:
        fn = load_function(spec.expression)
    except ConfigError as exc:
        raise ProcessError(f"cannot load {spec.expression}: {exc}") from exc
    n = len(frame)
    started = time.monotonic()
    try:
        with _alarm(budget_s):
            result = fn(frame)
    except _BudgetExceeded:
        raise ProcessError(
            f"exceeded its time budget of {budget_s:g} s for a batch of {n} alerts"
        ) from None
    except (Exception, SystemExit) as exc:
        raise ProcessError(f"raised {type(exc).__name__}: {exc}") from None
    elapsed = time.monotonic() - started
    if elapsed > budget_s:
        raise ProcessError(
            f"exceeded its time budget of {budget_s:g} s for a batch of {n} alerts "
            f"(took {elapsed:.2f} s)"
        )
    return as_mask(result, n)


def input_frame(
    alerts: Sequence[dict[str, Any]], inputs: Sequence[str], schema: pa.Schema | None = None
) -> pd.DataFrame:
    """The DataFrame a Python filter receives: one row per alert, exactly ``inputs`` columns.

    Raises
    ------
    ProcessError
        An input is not a column of the filter view.
    """
    schema = schema or filter_view_schema()
    columns = {}
    for name in inputs:
        if name not in schema.names:
            raise ProcessError(f"input {name!r} is not a column of the filter view")
        nested = pa.types.is_nested(schema.field(name).type)
        values = [a.get(name) for a in alerts]
        columns[name] = pd.Series(values, dtype=object) if nested else pd.Series(values)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(alerts)))


def run_python_filters(
    specs: Sequence[FilterSpec], alerts: list[dict[str, Any]], budget_s: float
) -> tuple[list[list[str]], dict[str, str]]:
    """Run the enabled Python filters on a batch of alerts, each isolated from the others.

    Parameters
    ----------
    specs
        Filters; SQL and disabled ones are ignored.
    alerts
        Alert records (dicts with the filter view's fields).
    budget_s
        Time each filter may take on this batch, seconds.

    Returns
    -------
    passed, errors
        For each alert, the names of the Python filters it passed (in ``specs``
        order); and filter name -> reason for every filter that failed on this
        batch (it then passed no alert).

    Examples
    --------
    >>> spec = FilterSpec(name="rising", kind="python", inputs=("mag",),
    ...                   expression="broker.filters.science:rising_in_two_bands")
    >>> run_python_filters([spec], [{"mag": 17.0}], budget_s=1.0)
    ([[]], {'rising': "raised KeyError: 'is_positive'"})
    """
    python = [s for s in specs if s.kind == "python" and s.enabled]
    passed: list[list[str]] = [[] for _ in alerts]
    errors: dict[str, str] = {}
    if not alerts or not python:
        return passed, errors
    for spec in python:
        try:
            mask = evaluate(spec, input_frame(alerts, spec.inputs), budget_s)
        except ProcessError as exc:
            errors[spec.name] = str(exc)
            continue
        for i in np.flatnonzero(mask):
            passed[i].append(spec.name)
    return passed, errors
