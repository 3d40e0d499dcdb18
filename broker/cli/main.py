"""The ``faucon`` command line.

Every command prints what it did; errors say what went wrong, which input,
and what to do, and exit non-zero.  Sub-command groups live in their own
modules (``cli_kafka``, ``cli_models``, ``cli_catalogs``, ...).

Examples
--------
>>> from typer.testing import CliRunner
>>> CliRunner().invoke(app, ["--help"]).exit_code
0
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from broker import __version__
from broker.cli.anomaly import app as anomaly_app
from broker.cli.archive import airflow_app
from broker.cli.archive import app as archive_app
from broker.cli.archive import retrain as retrain_command
from broker.cli.bench import bench as bench_command
from broker.cli.catalogs import app as catalogs_app
from broker.cli.filter import app as filter_app
from broker.cli.kafka import app as kafka_app
from broker.cli.models import app as models_app
from broker.cli.portal import app as portal_app
from broker.cli.spark import app as spark_app
from broker.cli.support import setup_logging as _setup_logging
from broker.cli.users import app as users_app
from broker.core.config import load_settings
from broker.core.errors import FauconError

app = typer.Typer(
    help="Faucon: real-time alert broker for ZTF and Rubin/LSST.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.add_typer(kafka_app, name="kafka", help="Run the local Apache Kafka broker (KRaft).")
app.add_typer(spark_app, name="spark", help="Run a local Spark standalone cluster.")
app.add_typer(models_app, name="models", help="Train, evaluate, list and promote classifiers.")
app.add_typer(catalogs_app, name="catalogs", help="Local cross-match catalogs.")
app.add_typer(archive_app, name="archive", help="Parquet archive of enriched alerts by night.")
app.add_typer(airflow_app, name="airflow", help="Local Apache Airflow running the Faucon DAGs.")
models_app.command("retrain")(retrain_command)
app.add_typer(filter_app, name="filter", help="Register, test and manage science filters.")
app.add_typer(anomaly_app, name="anomaly", help="Anomaly score: experts' labels, nightly training.")
app.add_typer(users_app, name="users", help="Kafka users (SASL/SCRAM) and their ACLs.")
app.add_typer(portal_app, name="portal", help="The science portal and REST API.")
app.command("bench")(bench_command)
console = Console(soft_wrap=True)  # no hard line breaks in output scripts read
err_console = Console(stderr=True, soft_wrap=True)


@app.command()
def version() -> None:
    """Print Faucon's version."""
    console.print(f"faucon {__version__}")


@app.command()
def replay(
    topic: Annotated[str, typer.Option(help="Kafka topic to publish to")],
    paths: Annotated[list[str] | None, typer.Argument(help="alert files, folders or globs")] = None,
    rate: Annotated[float | None, typer.Option(help="messages per second (default: max)")] = None,
    loop: Annotated[int, typer.Option(min=1, help="send everything K times")] = 1,
    night: Annotated[
        str | None, typer.Option(help="replay this archived night (YYYY-MM-DD) instead of files")
    ] = None,
    filter_name: Annotated[
        str | None, typer.Option("--filter", help="with --night: only this SQL filter's selection")
    ] = None,
) -> None:
    """Publish alert files to Kafka as the surveys do, or an archived night (--night)."""
    from broker.kafka.replay import load_messages, publish

    settings = load_settings()
    if night is not None:
        from broker.archive.night import replay_night
        from broker.cli.archive import filter_expression

        if paths:
            raise FauconError("give alert files or --night, not both")
        condition = filter_expression(settings, filter_name) if filter_name else None
        done = replay_night(settings, night, topic, condition)
        console.print(f"sent {done.sent} archived alerts of night {night} to {topic}")
        return
    if not paths:
        raise FauconError("give alert files, folders or globs, or --night")
    skipped: dict[str, str] = {}
    messages = load_messages(paths, skipped)
    for path, reason in skipped.items():
        err_console.print(f"[yellow]note[/] {path}: {reason}")
    if not messages:
        raise FauconError(f"no alert to send in {paths}")
    summary = publish(settings, topic, messages, rate=rate, loop=loop)
    kinds = ", ".join(f"{n} {k}" for k, n in summary.kinds.items())
    console.print(
        f"sent {summary.sent} messages ({kinds}; {summary.bytes / 1e6:.1f} MB) to "
        f"{topic} in {summary.seconds:.1f} s ({summary.rate:,.0f} msg/s)"
    )


@app.command()
def stream(
    available_now: Annotated[
        bool, typer.Option("--available-now", help="process everything waiting in Kafka, then exit")
    ] = False,
    master: Annotated[str | None, typer.Option(help="Spark master URL (default: config)")] = None,
    max_seconds: Annotated[float | None, typer.Option(help="stop after this long")] = None,
) -> None:
    """Run the stream: Kafka -> decode -> enrich -> filters -> Kafka topics."""
    from streams.ingest import run

    _setup_logging()
    settings = load_settings()
    if master:
        settings = settings.model_copy(
            update={"spark": settings.spark.model_copy(update={"master": master})}
        )
    console.print(
        f"faucon stream: {settings.kafka.subscribe_pattern} on "
        f"{settings.kafka.bootstrap}, Spark {settings.spark.master}"
    )
    stats = run(settings, available_now=available_now, max_seconds=max_seconds)
    d = stats.data
    console.print(
        f"run summary: {d['in']} in, {d['ok']} published, {d['rejected_total']} "
        f"rejected {d['rejected']}, {d['batches']} batches"
    )
    for topic, n in d["published"].items():
        console.print(f"  {topic}: {n}")
    console.print(f"reconciles (in = published + rejected): {stats.reconciles()}")


@app.command()
def consume(
    topic: Annotated[str, typer.Option(help="topic to read")],
    from_beginning: Annotated[bool, typer.Option("--from-beginning")] = False,
    max_messages: Annotated[int | None, typer.Option("--max", help="stop after N")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    save: Annotated[Path | None, typer.Option(help="save one .avro file per alert here")] = None,
    dedupe: Annotated[bool, typer.Option("--dedupe", help="drop repeated alert ids")] = False,
    timeout: Annotated[float, typer.Option(help="stop after this many idle seconds")] = 10.0,
    credentials: Annotated[
        Path | None,
        typer.Option(help="Kafka client properties from `faucon users add` (SASL user)"),
    ] = None,
) -> None:
    """Read a Faucon topic: print alerts as a table or JSON, or save them.

    On a secured broker the user and password come from --credentials FILE or
    FAUCON_KAFKA__CREDENTIALS_FILE / FAUCON_KAFKA__SASL_USERNAME with
    FAUCON_KAFKA__SASL_PASSWORD(_FILE), never from the command line.
    """
    from broker.kafka.consume import decode_output, print_json, read_topic, save_message, table_row
    from broker.kafka.credentials import settings_with_credentials

    if fmt not in ("table", "json"):
        raise FauconError(f"--format {fmt!r}: choose table or json")
    settings = settings_with_credentials(load_settings(), credentials)
    seen: set[tuple[str, int]] = set()
    rows, n, dropped = [], 0, 0
    for msg in read_topic(settings, topic, from_beginning, max_messages, timeout):
        rec = decode_output(msg.value)
        ident = (str(rec.get("survey")), int(rec.get("alert_id", -1 - msg.offset)))
        if dedupe and ident in seen:
            dropped += 1
            continue
        seen.add(ident)
        n += 1
        if save:
            save_message(msg, rec, save)
        elif fmt == "json":
            print(print_json(rec))
        else:
            rows.append(table_row(rec))
    if rows:
        table = Table(*rows[0].keys(), title=topic)
        for row in rows:
            table.add_row(*row.values())
        console.print(table)
    err_console.print(
        f"{n} messages from {topic}"
        + (f", {dropped} duplicates dropped" if dedupe else "")
        + (f", saved to {save}" if save else "")
    )


@app.command()
def inspect(
    paths: Annotated[list[str], typer.Argument(help="alert files, folders or globs")],
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Decode alert files of any supported format and print them normalized."""
    from broker.kafka.consume import print_json, table_row
    from broker.pipeline.inspect import inspect_paths

    results = inspect_paths(paths)
    table = Table(
        "file",
        "survey",
        "schema",
        "object_id",
        "mjd_tai",
        "band",
        "mag",
        "flux_njy",
        "n_det",
        "history",
    )
    failed = 0
    for res in results:
        if res.error:
            failed += 1
            err_console.print(f"[red]cannot decode[/] {res.path}: {res.error}")
            continue
        for alert in res.alerts:
            if fmt == "json":
                print(print_json(alert))
                continue
            row = table_row(alert)
            table.add_row(
                Path(res.path).name,
                alert["survey"],
                alert["survey_schema"],
                row["object_id"],
                row["mjd_tai"],
                row["band"],
                row["mag"],
                row["flux_njy"],
                str(alert["n_detections"]),
                str(len(alert["history"])),
            )
    if fmt == "table":
        console.print(table)
    n_alerts = sum(len(r.alerts) for r in results)
    err_console.print(f"{n_alerts} alerts from {len(results) - failed} files; {failed} failed")
    if failed:
        raise typer.Exit(1)


def _registry_filters(settings: Any) -> list[Any]:
    """Filters from the registry; empty when Kafka does not answer (status says so)."""
    from broker.registry.filters import FilterRegistry

    try:
        registry = FilterRegistry(settings)
        try:
            return list(registry.current())
        finally:
            registry.close()
    except Exception:  # Kafka down: the kafka check reports it
        return []


@app.command()
def status(
    require_stream: Annotated[
        bool, typer.Option("--require-stream", help="unhealthy when no stream is running")
    ] = False,
) -> None:
    """One-screen health: Kafka, stream progress and lag, counters, models, filters."""
    from broker.ops.status import collect

    settings = load_settings()
    health = collect(settings, _registry_filters(settings), require_stream)
    table = Table("check", "state", title=f"faucon status ({settings.kafka.topic_prefix})")
    for what, detail in health.lines:
        table.add_row(what, detail)
    console.print(table)
    console.print(
        "healthy" if health.healthy else "[red]UNHEALTHY[/]: " + "; ".join(health.problems)
    )
    if not health.healthy:
        raise typer.Exit(1)


@app.command()
def demo(
    rate: Annotated[float, typer.Option(help="replay rate, messages/s")] = 250.0,
    cluster: Annotated[
        bool, typer.Option(help="three Kafka nodes and a Spark standalone cluster of two workers")
    ] = False,
) -> None:
    """Run the whole broker on the bundled real alerts and print what happened.

    Progress and the summary go to the terminal; the full output of Spark,
    Kafka clients and Python goes to a log file under the state directory.
    """
    from broker.core.config import load_settings
    from broker.demo import run_demo
    from broker.ops.logfile import output_to, run_log

    log_file = run_log(load_settings().state_dir, "demo")
    console.print(f"[bold]Logs[/] {log_file}", soft_wrap=True)
    try:
        with output_to(log_file) as terminal:
            run_demo(rate=rate, console=terminal, cluster=cluster)
    except FauconError:
        err_console.print(f"Full log: {log_file}", soft_wrap=True)
        raise
    console.print(f"Full log: {log_file}", soft_wrap=True)


def main() -> None:
    """Entry point of the ``faucon`` console script."""
    try:
        app()
    except FauconError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
