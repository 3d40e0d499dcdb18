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
    snana: Annotated[Path, typer.Option(help="directory or .tar.xz of labelled SNANA .DAT files")],
    version: Annotated[str | None, typer.Option(help="default: promoted, else newest")] = None,
    early: Annotated[
        float | None, typer.Option(help="cut curves DAYS after the first S/N>=5 point")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="use only the first N curves")] = None,
    models_dir: ModelsDir = None,
) -> None:
    """Score labelled curves with the ONNX model; print n, roc_auc, accuracy, purity, efficiency."""
    from classifiers.evaluate import evaluate as run_evaluate

    print_json(
        run(
            lambda: run_evaluate(
                model, snana, version=version, early_days=early, limit=limit, models_dir=models_dir
            )
        )
    )


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
