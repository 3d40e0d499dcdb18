"""``faucon models``: train, list, show, evaluate and promote classifiers.

The registry root is ``--models-dir``, else ``$FAUCON_MODELS_DIR``, else
``classifiers/models`` in the repository.

Examples
--------
::

    faucon models train --task snia --data /work/shared/data/labeled-snpcc-train.tar.xz
    faucon models list
    faucon models show snia
    faucon models evaluate --model snia --snana DIR_OR_TAR --early 20
    faucon models evaluate --model snia_ztf --curves /work/shared/data/labeled-real \\
        --output report.json
    faucon models promote snia 1
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from broker.cli.support import print_json, run

app = typer.Typer(
    help="Supernova classifiers: train, list, show, evaluate, promote.", no_args_is_help=True
)
_err = Console(stderr=True)
T = TypeVar("T")

ModelsDir = Annotated[
    Path | None,
    typer.Option(
        "--models-dir", help="registry root (default $FAUCON_MODELS_DIR or classifiers/models)"
    ),
]


@app.command()
def train(
    task: Annotated[str, typer.Option(help="snia, snia_ztf, sntype or sntype_ztf")],
    data: Annotated[Path, typer.Option(help="directory or .tar.xz of SNANA .DAT files")],
    version: Annotated[
        str | None, typer.Option(help="version to write (default: next integer)")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="use only the first N curves")] = None,
    seed: Annotated[int, typer.Option(help="augmentation and boosting seed")] = 0,
    threads: Annotated[int, typer.Option(help="OpenMP threads for boosting (<= 2 here)")] = 1,
    promote: Annotated[bool, typer.Option(help="promote the new version at once")] = False,
    real_curves: Annotated[
        Path | None,
        typer.Option(
            help="real labelled curves laid out like labeled-real: their training half is "
            "added to ZTF tasks (the validation half is never read)"
        ),
    ] = None,
    models_dir: ModelsDir = None,
) -> None:
    """Train a model on labelled SNANA curves and store it as a new version."""
    from classifiers import registry
    from classifiers.train import train as run_train

    def action() -> dict[str, Any]:
        manifest = run_train(
            task,
            data,
            version=version,
            limit=limit,
            models_dir=models_dir,
            seed=seed,
            threads=threads,
            log=lambda msg: _err.print(msg),
            real_dir=real_curves,
        )
        if promote:
            registry.promote(manifest["name"], manifest["version"], models_dir)
        return manifest

    manifest = run(action)
    print_json({k: manifest[k] for k in ("name", "version", "model_sha256", "metrics")})


@app.command("list")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    models_dir: ModelsDir = None,
) -> None:
    """List models, versions, promoted version and held-out ROC AUC."""
    from classifiers import registry

    def action() -> list[dict[str, Any]]:
        rows = []
        for name in registry.model_names(models_dir):
            promoted = registry.promoted_version(name, models_dir)
            for v in registry.versions(name, models_dir):
                m = registry.load_manifest(name, v, models_dir)
                metrics = m.get("metrics", {})
                rows.append(
                    {
                        "name": name,
                        "version": v,
                        "promoted": v == promoted,
                        "surveys": m.get("surveys", []),
                        "bands": "".join(m.get("bands", [])),
                        "roc_auc_full": metrics.get("holdout_full", {}).get("roc_auc"),
                        "roc_auc_early": metrics.get("holdout_early", {}).get("roc_auc"),
                        "created": m.get("created"),
                    }
                )
        return rows

    rows = run(action)
    if as_json:
        print_json(rows)
        return
    table = Table(
        "name", "version", "promoted", "surveys", "bands", "AUC full", "AUC early", "created"
    )
    for r in rows:
        table.add_row(
            r["name"],
            r["version"],
            "yes" if r["promoted"] else "",
            ",".join(r["surveys"]),
            r["bands"],
            str(r["roc_auc_full"]),
            str(r["roc_auc_early"]),
            str(r["created"]),
        )
    Console().print(table)


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="model name")],
    version: Annotated[str | None, typer.Option(help="default: promoted, else newest")] = None,
    models_dir: ModelsDir = None,
) -> None:
    """Print a model version's manifest (JSON)."""
    from classifiers import registry
    from classifiers.evaluate import resolve_version

    def action() -> dict[str, Any]:
        v = resolve_version(name, version, models_dir)
        manifest = registry.load_manifest(name, v, models_dir)
        manifest["promoted"] = registry.promoted_version(name, models_dir) == v
        return manifest

    print_json(run(action))


@app.command()
def evaluate(
    model: Annotated[str, typer.Option(help="model name")],
    snana: Annotated[
        Path | None, typer.Option(help="directory or .tar.xz of labelled SNANA .DAT files")
    ] = None,
    curves: Annotated[
        Path | None,
        typer.Option(
            help="real labelled curves laid out like labeled-real: class folders "
            "(SNIa, RRLyrae...) with light-curves/*.csv (magnitudes or fluxes)"
        ),
    ] = None,
    version: Annotated[str | None, typer.Option(help="default: promoted, else newest")] = None,
    early: Annotated[
        float | None,
        typer.Option(
            help="--snana: cut curves DAYS after the first S/N>=5 point; "
            "--curves: days scanned by the simulated early_snia_candidate filter (default 10)"
        ),
    ] = None,
    part: Annotated[
        str, typer.Option(help="--curves: all, or the validation / train half")
    ] = "all",
    limit: Annotated[
        int | None, typer.Option(help="use only the first N curves (per class)")
    ] = None,
    total_flux: Annotated[
        list[str] | None,
        typer.Option(
            help="--curves: a class folder of total (not difference) photometry besides "
            "the known ones (RRLyrae, EB, LPV, AGN); repeatable; other unknown classes "
            "are guessed from their curves"
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="also write the report to this JSON file")
    ] = None,
    record: Annotated[
        bool,
        typer.Option(
            help="--curves --part validation: store the report in the version's manifest "
            "(metrics.real_validation)"
        ),
    ] = False,
    models_dir: ModelsDir = None,
) -> None:
    """Score labelled curves with the ONNX model and print the metrics as JSON.

    With ``--snana``: n, roc_auc, accuracy, purity, efficiency.  With ``--curves``
    (real curves): ROC AUC SN Ia vs each negative class on full curves, at 20 days
    and in each negative's densest 20-day window; recall and false-positive rate
    at the promoted threshold; the fraction labelled Ia; the simulated
    ``early_snia_candidate`` filter; the skipped curves and why.
    """
    if (snana is None) == (curves is None):
        _err.print("error: give exactly one of --snana DIR_OR_TAR or --curves DIR")
        raise typer.Exit(2)
    if part not in ("all", "validation", "train"):
        _err.print(f"error: --part {part!r}: use all, validation or train")
        raise typer.Exit(2)
    if record and (curves is None or part != "validation" or limit is not None):
        _err.print("error: --record needs --curves and --part validation, without --limit")
        raise typer.Exit(2)

    def action() -> dict[str, Any]:
        if curves is not None:
            from classifiers.evaluate_real import evaluate_curves

            return evaluate_curves(
                model,
                curves,
                early_days=10.0 if early is None else early,
                models_dir=models_dir,
                version=version,
                part=part,
                limit=limit,
                total_flux=total_flux or (),
            )
        from classifiers.evaluate import evaluate as run_evaluate

        assert snana is not None
        return run_evaluate(
            model, snana, version=version, early_days=early, limit=limit, models_dir=models_dir
        )

    report = run(action)
    if record:
        from classifiers.registry import record_metrics

        run(lambda: record_metrics(model, report["version"], "real_validation", report, models_dir))
        _err.print(f"{model} {report['version']}: metrics.real_validation updated")
    for item in report["skipped"]["curves"][:10] if curves is not None else []:
        _err.print(f"skipped {item['curve']}: {item['reason']}", markup=False, highlight=False)
    if output is not None:
        import json

        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2, default=str) + "\n")
        _err.print(f"report written to {output}")
    print_json(report)


@app.command()
def promote(
    name: Annotated[str, typer.Argument(help="model name")],
    version: Annotated[str, typer.Argument(help="version to serve")],
    models_dir: ModelsDir = None,
) -> None:
    """Make VERSION the version the stream uses (atomic; running scorers reload it)."""
    from classifiers import registry

    run(lambda: registry.promote(name, version, models_dir))
    _err.print(f"{name}: version {version} promoted")
