"""Python filters: loading by module path and entry point, and isolation in the runner."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from broker.core.errors import ConfigError, ProcessError
from broker.filters import FilterSpec, FilterValidationError
from broker.filters.python import as_mask, input_frame, load_function, run_python_filters
from broker.filters.validate import validate_spec

ALERTS = [
    {"mag": 17.0, "band": "g", "history": [{"mag": 18.0}]},
    {"mag": 19.0, "band": "g", "history": []},
    {"mag": 16.5, "band": "r", "history": None},
]


def spec(module: str, fn: str, inputs: tuple[str, ...] = ("mag",)) -> FilterSpec:
    return FilterSpec(name=fn.lower(), kind="python", expression=f"{module}:{fn}", inputs=inputs)


def test_load_from_module_path_and_cache(team: str) -> None:
    fn = load_function(f"{team}:bright_g")
    assert fn is load_function(f"{team}:bright_g")
    assert fn.faucon_inputs == ("mag", "band")  # type: ignore[attr-defined]


def test_load_from_an_installed_entry_point(team: str) -> None:
    fn = load_function(f"entrypoint:{team}_bright")
    assert fn is load_function(f"{team}:bright_g")
    valid = validate_spec(
        FilterSpec(name="from_ep", kind="python", expression=f"entrypoint:{team}_bright")
    )
    assert valid.inputs == ("mag", "band")


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        ("no_such_module_xyz:fn", ["cannot import module 'no_such_module_xyz'", "installed"]),
        ("{team}:missing", ["has no attribute 'missing'"]),
        ("{team}:NOT_CALLABLE", ["is not a function"]),
        ("entrypoint:nobody_ships_this", ["no entry point 'nobody_ships_this'", "faucon.filters"]),
        ("entrypoint:{team}_broken", ["cannot be loaded"]),
    ],
)
def test_load_errors_say_what_to_do(team: str, ref: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_function(ref.format(team=team))
    assert all(w in str(info.value) for w in words), str(info.value)


def test_validation_of_python_specs(team: str) -> None:
    with pytest.raises(FilterValidationError) as info:
        validate_spec(spec(team, "faint", ("mag", "colour")))
    assert info.value.reason == "unknown_input" and "colour" in str(info.value)
    with pytest.raises(FilterValidationError) as info:
        validate_spec(spec(team, "faint", ()))
    assert info.value.reason == "no_inputs" and "--inputs" in str(info.value)
    with pytest.raises(FilterValidationError) as info:
        validate_spec(spec("no_such_module_xyz", "fn"))
    assert info.value.reason == "python_load"
    with pytest.raises(ValueError, match="module:function"):
        FilterSpec(name="bad_ref", kind="python", expression="import os; os.system('x')")


def test_frame_has_exactly_the_inputs_nested_as_python_objects() -> None:
    frame = input_frame(ALERTS, ("mag", "history"))
    assert list(frame.columns) == ["mag", "history"]
    assert frame["history"].tolist() == [[{"mag": 18.0}], [], None]
    assert frame["mag"].dtype == np.float64


def test_isolation_each_failure_is_reported_and_others_still_pass(team: str) -> None:
    specs = [
        spec(team, "bright_g", ("mag", "band")),
        spec(team, "boom"),
        spec(team, "short"),
        spec(team, "ints"),
        spec(team, "listy"),
        spec(team, "faint"),
        spec(team, "quits"),
        spec(team, "nullable"),
        spec(team, "history_sizes", ("history",)),
        spec("no_such_module_xyz", "fn"),
    ]
    passed, errors = run_python_filters(specs, ALERTS, budget_s=2.0)
    assert passed == [["bright_g", "nullable", "history_sizes"], ["faint"], ["nullable"]]
    assert errors["boom"] == "raised ValueError: no luck"
    assert errors["short"] == "returned shape (2,); expected (3,): one boolean per row"
    assert errors["ints"] == "returned dtype int64; expected bool (one boolean per row)"
    assert "returned list" in errors["listy"]
    assert errors["quits"] == "raised SystemExit: 3"
    assert "cannot import module" in errors["fn"]
    assert set(errors) == {"boom", "short", "ints", "listy", "quits", "fn"}


@pytest.mark.parametrize("fn", ["sleepy", "busy", "swallows", "spin"])
def test_a_slow_filter_is_stopped_at_its_budget(team: str, fn: str) -> None:
    specs = [spec(team, fn), spec(team, "faint")]
    started = time.monotonic()
    passed, errors = run_python_filters(specs, ALERTS, budget_s=0.3)
    assert time.monotonic() - started < 2.0
    assert "exceeded its time budget of 0.3 s for a batch of 3 alerts" in errors[fn]
    assert passed == [[], ["faint"], []]


def test_outside_the_main_thread_overruns_are_still_reported(team: str) -> None:
    """No alarm signal off the main thread: the overrun is detected when the filter returns."""
    out: dict[str, Any] = {}

    def run() -> None:
        out["result"] = run_python_filters([spec(team, "spin")], ALERTS, budget_s=0.2)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(30)
    passed, errors = out["result"]
    assert passed == [[], [], []]
    assert "exceeded its time budget of 0.2 s for a batch of 3 alerts (took 0.6" in errors["spin"]


def test_disabled_and_sql_filters_are_ignored_and_empty_batches_are_cheap(team: str) -> None:
    off = spec(team, "faint").model_copy(update={"enabled": False})
    sql = FilterSpec(name="sqlish", kind="sql", expression="mag < 18")
    assert run_python_filters([off, sql], ALERTS, budget_s=1.0) == ([[], [], []], {})
    assert run_python_filters([spec(team, "boom")], [], budget_s=1.0) == ([], {})


def test_as_mask_accepts_series_arrays_and_nullable_booleans() -> None:
    assert as_mask(pd.Series([True, False]), 2).tolist() == [True, False]
    assert as_mask(pd.array([True, None], dtype="boolean"), 2).tolist() == [True, False]
    with pytest.raises(ProcessError, match="shape"):
        as_mask(np.ones((2, 1), dtype=bool), 2)
