"""``faucon filter``: register, test and manage science filters.

Changes go to the filter registry (a compacted Kafka topic); the running
stream picks them up at its next micro-batch, without a restart.

Examples
--------
>>> from typer.testing import CliRunner
>>> CliRunner().invoke(app, ["--help"]).exit_code
0
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from broker.core.config import Settings, load_settings
from broker.filters.base import FilterSpec, FilterValidationError
from broker.filters.validate import validate_spec
from broker.registry.backtest import SAMPLE_PATHS, BacktestResult, backtest, check_on_sample
from broker.registry.filters import FilterRegistry

app = typer.Typer(
    help="Register, test and manage science filters (SQL or Python).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
console = Console()

SqlOpt = Annotated[str | None, typer.Option("--sql", help="boolean Spark SQL expression")]
PythonOpt = Annotated[
    str | None, typer.Option("--python", help="module:function or entrypoint:NAME")
]
InputsOpt = Annotated[
    str | None, typer.Option(help="comma-separated input columns of a Python filter")
]
ProfileOpt = Annotated[str | None, typer.Option(help="output profile: full, lite or thin")]
NoteOpt = Annotated[str, typer.Option(help="why (kept in the changelog)")]


def _inputs(text: str | None) -> tuple[str, ...] | None:
    return tuple(c.strip() for c in text.split(",") if c.strip()) if text else None


def _spec(name: str, sql: str | None, python: str | None, **fields: Any) -> FilterSpec:
    if (sql is None) == (python is None):
        raise FilterValidationError(name, "invalid", "give exactly one of --sql or --python")
    kind, expression = ("sql", sql) if sql is not None else ("python", str(python))
    try:
        return FilterSpec(
            name=name,
            kind=kind,  # type: ignore[arg-type]
            expression=expression,
            **{k: v for k, v in fields.items() if v is not None},
        )
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors())
        raise FilterValidationError(name, "invalid", problems) from None


def _print_backtest(result: BacktestResult) -> None:
    console.print(
        f"{result.name}: {result.passed} of {result.alerts} alerts passed "
        f"({100 * result.pass_rate:.1f} %), {result.alerts_per_s:,.0f} alerts/s"
    )
    for path, error in result.files_failed.items():
        console.print(f"  [yellow]skipped[/] {path}: {error}")
    if result.examples:
        table = Table("survey", "object_id", "alert_id", "mjd_tai", "band", "mag", title="examples")
        for ex in result.examples:
            mag = "" if ex["mag"] is None else f"{ex['mag']:.3f}"
            table.add_row(
                str(ex["survey"]), str(ex["object_id"]), str(ex["alert_id"]),
                f"{ex['mjd_tai']:.5f}", str(ex["band"]), mag,
            )  # fmt: skip
        console.print(table)
    if result.error:
        console.print(f"[red]error:[/] {result.error}")


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="filter name (becomes <prefix>.filter.NAME)")],
    sql: SqlOpt = None,
    python: PythonOpt = None,
    inputs: InputsOpt = None,
    description: Annotated[str | None, typer.Option(help="what it selects and why")] = None,
    owner: Annotated[str | None, typer.Option(help="team or person responsible")] = None,
    profile: ProfileOpt = "lite",
    check: Annotated[bool, typer.Option(help="backtest on the bundled sample first")] = True,
) -> None:
    """Register a new filter; it is live from the stream's next micro-batch."""
    from broker.filters.python import declared

    if python is not None and description is None:
        try:
            description = declared(python)[1] or None
        except Exception:  # reported by validation below
            description = None
    if not description:
        raise FilterValidationError(name, "invalid", "--description is required")
    spec = _spec(
        name, sql, python, inputs=_inputs(inputs), description=description,
        owner=owner or _default_owner(), profile=profile,
    )  # fmt: skip
    settings = load_settings()
    with FilterRegistry(settings) as registry:
        valid = validate_spec(spec)
        if check:
            _print_backtest(check_on_sample(valid, settings=settings))
        stored = registry.add(valid, check=False)
    console.print(
        f"registered {stored.name} v{stored.version} ({stored.kind}, profile {stored.profile}) "
        f"-> topic {stored.topic(settings.kafka.topic_prefix)}"
    )


@app.command()
def change(
    name: Annotated[str, typer.Argument(help="registered filter")],
    sql: SqlOpt = None,
    python: PythonOpt = None,
    inputs: InputsOpt = None,
    description: Annotated[str | None, typer.Option(help="new description")] = None,
    owner: Annotated[str | None, typer.Option(help="new owner")] = None,
    profile: ProfileOpt = None,
    note: NoteOpt = "",
    check: Annotated[bool, typer.Option(help="backtest on the bundled sample first")] = True,
) -> None:
    """Register a new version of a filter (expression, inputs, description, owner, profile)."""
    if sql is not None and python is not None:
        raise FilterValidationError(name, "invalid", "give at most one of --sql or --python")
    kind = "sql" if sql is not None else "python" if python is not None else None
    with FilterRegistry(load_settings()) as registry:
        stored = registry.change(
            name, note=note, check=check, kind=kind, expression=sql or python,
            inputs=_inputs(inputs), description=description, owner=owner, profile=profile,
        )  # fmt: skip
    console.print(f"{stored.name} is now version {stored.version}")


def stream_stats(settings: Settings) -> dict[str, Any]:
    """The running stream's counters file (empty when the stream never ran)."""
    path = settings.state_dir / "stream" / f"{settings.kafka.topic_prefix}-stats.json"
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def _errors(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("count", len(value)))
    return "" if value is None else str(value)


@app.command("list")
def list_filters() -> None:
    """Every filter with its state, version, profile and what the stream counted."""
    settings = load_settings()
    stats = stream_stats(settings)
    published, errors = stats.get("published", {}), stats.get("filter_errors", {})
    with FilterRegistry(settings) as registry:
        specs = registry.list_filters()
    table = Table("name", "kind", "state", "version", "profile", "passed", "errors", "owner")
    for f in specs:
        state = f.state + (f" ({f.quarantine_reason})" if f.quarantine_reason else "")
        passed = published.get(f.topic(settings.kafka.topic_prefix), 0)
        table.add_row(
            f.name, f.kind, state, str(f.version), f.profile, str(passed),
            _errors(errors.get(f.name, 0)), f.owner,
        )  # fmt: skip
    console.print(table)
    console.print(f"{len(specs)} filters in {registry.topic}")


@app.command()
def show(name: Annotated[str, typer.Argument(help="registered filter")]) -> None:
    """A filter's full specification and changelog."""
    settings = load_settings()
    with FilterRegistry(settings) as registry:
        spec = registry.show(name)
    for key in ("name", "kind", "expression", "inputs", "description", "owner", "profile"):
        value = getattr(spec, key)
        console.print(f"{key}: {', '.join(value) if isinstance(value, tuple) else value}")
    reason = f" ({spec.quarantine_reason})" if spec.quarantine_reason else ""
    console.print(f"state: {spec.state}{reason}")
    console.print(f"version: {spec.version}   builtin: {spec.builtin}")
    console.print(f"topic: {spec.topic(settings.kafka.topic_prefix)}")
    table = Table("version", "time (UTC)", "change", title="changelog")
    for entry in spec.changelog:
        table.add_row(str(entry.version), entry.time, entry.change)
    console.print(table)


@app.command()
def enable(name: Annotated[str, typer.Argument()], note: NoteOpt = "") -> None:
    """Enable a filter (also lifts a quarantine)."""
    with FilterRegistry(load_settings()) as registry:
        spec = registry.enable(name, note)
    console.print(f"{name} enabled (version {spec.version})")


@app.command()
def disable(name: Annotated[str, typer.Argument()], note: NoteOpt = "") -> None:
    """Disable a filter; it stays registered with its history."""
    with FilterRegistry(load_settings()) as registry:
        spec = registry.disable(name, note)
    console.print(f"{name} disabled (version {spec.version})")


@app.command()
def remove(name: Annotated[str, typer.Argument()]) -> None:
    """Remove a filter from the registry (its topic and alerts stay in Kafka)."""
    with FilterRegistry(load_settings()) as registry:
        registry.remove(name)
    console.print(f"{name} removed")


@app.command("test")
def backtest_command(
    name: Annotated[
        str | None, typer.Argument(help="registered filter, or a name for --sql")
    ] = None,
    sql: SqlOpt = None,
    python: PythonOpt = None,
    inputs: InputsOpt = None,
    alerts: Annotated[
        list[Path] | None, typer.Option(help="alert files/folders (default: bundled sample)")
    ] = None,
    examples: Annotated[int | None, typer.Option(help="passing alerts to show")] = None,
) -> None:
    """Backtest a registered or ad-hoc filter on real alert files."""
    settings = load_settings()
    if sql is None and python is None:
        if name is None:
            raise FilterValidationError("?", "invalid", "give a filter NAME, --sql or --python")
        with FilterRegistry(settings) as registry:
            spec = registry.show(name)
    else:
        spec = validate_spec(_spec(name or "adhoc", sql, python, inputs=_inputs(inputs)))
    paths = [str(p) for p in alerts] if alerts else [str(p) for p in SAMPLE_PATHS]
    result = backtest(spec, paths, settings=settings, examples=examples)
    _print_backtest(result)
    if result.error:
        raise typer.Exit(1)


def _default_owner() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
