"""``faucon archive``, ``faucon airflow`` and ``faucon models retrain`` commands.

Until they are mounted in :mod:`broker.cli.main`, run them as
``python -m broker.cli.archive archive|airflow|retrain ...`` (what the DAGs do).

Examples
--------
::

    faucon archive --night 2023-10-17          # Spark job: Kafka -> Parquet
    faucon archive compact --night 2023-10-17
    faucon archive manifest --night 2023-10-17
    faucon archive verify --night 2023-10-17
    faucon archive followup --night 2023-10-17 --top 20
    faucon archive replay --night 2023-10-17 --topic replay.bright --filter bright_transient
    faucon models retrain --task snia --data labeled.tar.xz --limit 2000
    faucon airflow start | status | stop
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from broker.cli.support import print_json, run
from broker.core.config import Settings, load_settings
from broker.core.errors import ConfigError

T = TypeVar("T")
app = typer.Typer(help="Parquet archive of enriched alerts, by survey and night.")
airflow_app = typer.Typer(help="Local Apache Airflow (SQLite) running the Faucon DAGs.")
cli = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False)
cli.add_typer(app, name="archive")
cli.add_typer(airflow_app, name="airflow")
_err = Console(stderr=True)
Night = Annotated[str, typer.Option(help="night YYYY-MM-DD (Rubin dayObs: UTC date - 12 h)")]


@app.callback(invoke_without_command=True)
def archive(
    ctx: typer.Context, night: Annotated[str | None, typer.Option(help="night YYYY-MM-DD")] = None
) -> None:
    """Archive a night: read the enriched topic with Spark, write Parquet (atomic per survey)."""
    if ctx.invoked_subcommand is not None:
        return
    if night is None:
        _err.print(ctx.get_help())
        raise typer.Exit(2)
    from broker.archive.night import archive_night

    result = run(lambda: archive_night(load_settings(), night))
    print_json(asdict(result))


@app.command()
def compact(
    night: Night,
    max_rows: Annotated[int, typer.Option(help="most rows per Parquet file")] = 250_000,
) -> None:
    """Rewrite a night's partitions into few large Parquet files."""
    from broker.archive.files import compact_night

    print_json(run(lambda: compact_night(load_settings(), night, max_rows_per_file=max_rows)))


@app.command()
def manifest(night: Night) -> None:
    """Write the night's manifest.json (counts, Kafka offsets, files with sha256 and rows)."""
    from broker.archive.files import write_manifest

    print_json(run(lambda: write_manifest(load_settings(), night)))


@app.command()
def verify(night: Night) -> None:
    """Check files against the manifest and that every published alert is archived once."""
    from broker.archive.files import verify_night

    print_json(run(lambda: verify_night(load_settings(), night)))


@app.command()
def followup(
    night: Night,
    top: Annotated[int, typer.Option(help="number of targets to publish")] = 20,
    max_mag: Annotated[
        float | None, typer.Option(help="only alerts at least this bright (AB mag)")
    ] = None,
) -> None:
    """Rank the night's alerts by snia uncertainty; publish the top on <prefix>.followup."""
    from broker.archive.followup import publish_followup

    summary = run(lambda: publish_followup(load_settings(), night, top=top, max_mag=max_mag))
    _err.print(f"{len(summary.records)} follow-up targets on {summary.topic}, in {summary.path}")
    print_json(summary.records)


def filter_expression(settings: Settings, name: str) -> str:
    """SQL expression of the built-in filter ``name`` (Python filters cannot be replayed)."""
    from broker.filters.builtin import all_builtin_filters

    specs = {f.name: f for f in all_builtin_filters(settings)}
    spec = specs.get(name)
    if spec is None:
        raise ConfigError(f"no filter named {name!r}; known: {', '.join(sorted(specs))}")
    if spec.kind != "sql":
        raise ConfigError(f"filter {name!r} is a {spec.kind} filter; give its logic with --where")
    return spec.expression


@app.command()
def replay(
    night: Night,
    topic: Annotated[str, typer.Option(help="topic to publish to")],
    filter_name: Annotated[
        str | None, typer.Option("--filter", help="replay only what this SQL filter selects")
    ] = None,
    where: Annotated[str | None, typer.Option(help="or a Spark SQL condition")] = None,
) -> None:
    """Republish an archived night (or a filter's selection of it) into a topic."""
    from broker.archive.night import replay_night

    def action() -> Any:
        settings = load_settings()
        if filter_name and where:
            raise ConfigError("give --filter or --where, not both")
        condition = filter_expression(settings, filter_name) if filter_name else where
        return replay_night(settings, night, topic, condition)

    summary = run(action)
    _err.print(f"replayed {summary.sent} alerts of night {night} to {topic}")
    print_json({k: v for k, v in asdict(summary).items() if k != "alert_ids"})


def retrain(
    task: Annotated[str, typer.Option(help="snia, snia_ztf, sntype or sntype_ztf")],
    data: Annotated[Path, typer.Option(help="directory or .tar.xz of labelled SNANA .DAT files")],
    work_dir: Annotated[Path, typer.Option(help="scratch directory (training and held-out sets)")],
    extra: Annotated[
        list[Path] | None, typer.Option(help="more labelled .DAT directories (repeatable)")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="use only the first N base curves")] = None,
    metric: Annotated[str, typer.Option(help="gate metric, e.g. roc_auc_early")] = "roc_auc_early",
    tolerance: Annotated[float, typer.Option(help="how much worse may the candidate be")] = 0.005,
    threads: Annotated[int, typer.Option(help="OpenMP threads for boosting")] = 1,
    models_dir: Annotated[Path | None, typer.Option(help="registry root")] = None,
    real_curves: Annotated[
        Path | None,
        typer.Option(
            help="real labelled curves (class folders, light-curves/*.csv) for the second "
            "half of the gate; default $FAUCON_REAL_CURVES, else ../shared/data/labeled-real"
        ),
    ] = None,
) -> None:
    """Train a candidate, evaluate it and the promoted version on the same held-out set
    (SNPCC) and on real validation curves, promote it when not worse on both; the report
    is saved next to the candidate."""
    from classifiers.retrain import retrain as retrain_task

    def action() -> dict[str, Any]:
        return retrain_task(
            task,
            data,
            work_dir=work_dir,
            extra=extra or (),
            limit=limit,
            metric=metric,
            tolerance=tolerance,
            threads=threads,
            models_dir=models_dir,
            log=lambda m: _err.print(m),
            real_dir=real_curves,
        )

    print_json(run(action))


cli.command("retrain")(retrain)


@airflow_app.command()
def start(
    port: Annotated[int | None, typer.Option(help="API server / UI port (loopback)")] = None,
) -> None:
    """Set up AIRFLOW_HOME under the state dir and start api-server, scheduler, dag-processor."""
    from broker.ops.airflow_local import LocalAirflow

    local = LocalAirflow(load_settings(), port=port)
    run(local.start)
    _err.print(f"Airflow up on http://127.0.0.1:{port} (AIRFLOW_HOME={local.home})")


@airflow_app.command()
def stop() -> None:
    """Stop the local Airflow processes started by `faucon airflow start`."""
    from broker.ops.airflow_local import LocalAirflow

    stopped = run(LocalAirflow(load_settings()).stop)
    _err.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@airflow_app.command()
def status() -> None:
    """Which local Airflow processes run, and where AIRFLOW_HOME is."""
    from broker.ops.airflow_local import LocalAirflow

    print_json(run(LocalAirflow(load_settings()).status))


def main() -> None:
    """Entry point of ``python -m broker.cli.archive``."""
    cli()


if __name__ == "__main__":
    main()
