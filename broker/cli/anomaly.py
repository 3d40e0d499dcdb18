"""``faucon anomaly``: label anomaly candidates, train and inspect the anomaly models.

Also runnable as ``python -m broker.cli.anomaly ...`` (what the DAG does).

Examples
--------
::

    faucon anomaly label ZTF18abcdefg --as interesting --note "odd colour, blue and fast"
    faucon anomaly labels
    faucon anomaly train --survey ZTF --night 2023-10-17          # from the archived window
    faucon anomaly train --survey ZTF --alerts ../shared/data/ztf  # from alert files
    faucon anomaly evaluate --alerts ../shared/data/ztf --curves ../shared/data/labeled-real
    faucon anomaly show
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from broker.cli.support import print_json, run
from broker.core.config import load_settings
from broker.core.errors import ConfigError

app = typer.Typer(help="Anomaly score: experts' labels, nightly training, models.")
cli = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False)
cli.add_typer(app, name="anomaly")
console = Console(soft_wrap=True)
_err = Console(stderr=True, soft_wrap=True)


@app.command()
def label(
    object_id: Annotated[str, typer.Argument(help="survey object id, e.g. ZTF18abcdefg")],
    as_: Annotated[str, typer.Option("--as", help="interesting or boring")],
    note: Annotated[str, typer.Option(help="why (free text)")] = "",
    by: Annotated[str | None, typer.Option(help="who labels (default: the OS user)")] = None,
) -> None:
    """Label an object interesting or boring; the next nightly training re-ranks with it."""
    from broker.registry.labels import LabelStore

    def write() -> None:
        with LabelStore(load_settings()) as store:
            done = store.label(object_id, as_, note=note, by=by)
        changed = f" (was {done.history[-1]['label']})" if done.history else ""
        console.print(f"{done.object_id} labelled {done.label}{changed} by {done.by} at {done.at}")

    run(write)


@app.command()
def labels(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List the current labels (object, label, who, when, note)."""
    from broker.registry.labels import LabelStore

    def read() -> None:
        with LabelStore(load_settings()) as store:
            current = sorted(store.current().values(), key=lambda x: x.at)
        if as_json:
            print_json([x.model_dump() for x in current])
            return
        table = Table("object", "label", "by", "at", "note", "earlier")
        for x in current:
            table.add_row(x.object_id, x.label, x.by, x.at, x.note, str(len(x.history)))
        console.print(table)
        _err.print(f"{len(current)} labelled objects")

    run(read)


@app.command()
def train(
    survey: Annotated[str, typer.Option(help="ZTF or LSST")],
    night: Annotated[
        str | None, typer.Option(help="train on the archived window ending this night")
    ] = None,
    alerts: Annotated[
        list[str] | None, typer.Option(help="or on these alert files, folders or globs")
    ] = None,
    snana: Annotated[str | None, typer.Option(help="with --alerts: SNPCC curves")] = None,
    simulated: Annotated[int, typer.Option(help="with --alerts: simulated snapshots")] = 0,
    window_days: Annotated[
        int | None, typer.Option(help="with --night: nights read (default: settings)")
    ] = None,
    min_alerts: Annotated[
        int | None, typer.Option(help="with --night: fewest alerts to train on (settings)")
    ] = None,
    promote: Annotated[bool, typer.Option(help="promote when the gate passes")] = True,
    models_dir: Annotated[Path | None, typer.Option(help="model registry root")] = None,
) -> None:
    """Train the survey's anomaly model, gate it on the reference set, promote it."""

    def go() -> dict[str, object]:
        settings = load_settings(**({"models_dir": models_dir} if models_dir else {}))
        changes = {"window_days": window_days, "min_train_alerts": min_alerts}
        changes = {k: v for k, v in changes.items() if v is not None}
        if changes:
            try:
                section = type(settings.anomaly)(**{**settings.anomaly.model_dump(), **changes})
            except ValidationError as exc:
                raise ConfigError(f"invalid option: {exc.errors()[0]['msg']}") from exc
            settings = settings.model_copy(update={"anomaly": section})
        if (night is None) == (alerts is None):
            raise ConfigError("give --night (archived window) or --alerts (files), not both")
        if night is not None:
            from broker.archive.anomaly import train_nightly
            from broker.registry.labels import LabelStore

            with LabelStore(settings) as store:
                current = {k: v.label for k, v in store.current().items()}
            return train_nightly(settings, survey, night, current, promote=promote)
        from broker.archive.anomaly_files import train_from_files

        return train_from_files(settings, survey, alerts or [], snana, simulated, promote=promote)

    print_json(run(go))


@app.command()
def evaluate(
    alerts: Annotated[list[str], typer.Option(help="real ZTF alert files or folders")],
    curves: Annotated[Path, typer.Option(help="labelled curves (labeled-real layout)")],
    trials: Annotated[int, typer.Option(min=1, help="random splits averaged")] = 10,
    output: Annotated[Path | None, typer.Option(help="also write the JSON here")] = None,
) -> None:
    """Measure precision in the top N of the next night before and after labels (real data)."""
    from broker.archive.anomaly_files import evaluate_feedback

    result = run(lambda: evaluate_feedback(alerts, curves, trials=trials))
    if output:
        output.write_text(json.dumps(result, indent=1) + "\n")
    print_json(result)


@app.command()
def show(
    models_dir: Annotated[Path | None, typer.Option(help="model registry root")] = None,
) -> None:
    """Promoted anomaly models: version, threshold, training data, labels used, provider."""
    from classifiers import anomaly, registry
    from classifiers.providers import describe

    def collect() -> list[dict[str, object]]:
        root = models_dir or load_settings().models_dir
        out = []
        for name in filter(anomaly.is_anomaly_model, registry.model_names(root)):
            version = registry.promoted_version(name, root)
            if version is None:
                continue
            m = registry.load_manifest(name, version, root)
            out.append(
                {
                    "model": name,
                    "version": version,
                    "threshold": m.get("threshold"),
                    "top_fraction": m.get("top_fraction"),
                    "training_data": m.get("training_data"),
                    "feedback": m.get("feedback"),
                    "gate": {k: m.get("gate", {}).get(k) for k in ("passed", "problems")},
                    "provider": describe(),
                }
            )
        return out

    print_json(run(collect))


def main() -> None:
    """Entry point of ``python -m broker.cli.anomaly``."""
    cli()


if __name__ == "__main__":
    main()
