"""``faucon catalogs``: list, add and inspect the cross-match catalogs.

Examples
--------
>>> from typer.testing import CliRunner
>>> result = CliRunner().invoke(app, ["list", "--catalogs-dir", "/nonexistent"])
>>> result.exit_code, "gcvs" in result.output
(0, True)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from broker.catalogs.add import add_catalog
from broker.catalogs.registry import load_registry
from broker.core.errors import FauconError

app = typer.Typer(help="Cross-match catalogs: list, add, show.", no_args_is_help=True)
console = Console(width=120)
F = TypeVar("F", bound=Callable[..., Any])

CatalogsDir = Annotated[
    Path | None,
    typer.Option(
        help="operator catalog directory (default: settings, $FAUCON_CATALOGS_DIR, <state>)"
    ),
]


def _friendly(fn: F) -> F:
    """Print Faucon errors as one red line and exit 1 instead of a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FauconError as exc:
            Console(stderr=True).print(f"[red]error:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(1) from exc

    return wrapper  # type: ignore[return-value]


@app.command("list")
@_friendly
def list_catalogs(
    catalogs_dir: CatalogsDir = None,
    all_versions: Annotated[bool, typer.Option("--all", help="every version")] = False,
) -> None:
    """Table of catalogs: name, version, rows, radius, context, source."""
    registry = load_registry(catalogs_dir)
    active = registry.active()
    table = Table("name", "version", "rows", "radius", "context", "origin", "source")
    shown = registry.catalogs if all_versions else tuple(active.values())
    for cat in sorted(shown, key=lambda c: (c.entry.name, c.entry.version)):
        e = cat.entry
        mark = "" if active.get(e.name) is cat else " (inactive)"
        table.add_row(
            e.name,
            f"{e.version}{mark}",
            f"{e.rows:,}",
            f'{e.radius_arcsec:g}"',
            e.context or "-",
            cat.origin,
            f"{e.title}; {e.citation}",
        )
    console.print(table)
    console.print(f"operator directory: {registry.operator_dir}")


@app.command("add")
@_friendly
def add(
    name: Annotated[str, typer.Argument(help="catalog name, [a-z_][a-z0-9_]*")],
    path: Annotated[Path, typer.Argument(help="Parquet, CSV or FITS file")],
    ra_col: Annotated[str, typer.Option(help="right ascension column")] = "ra",
    dec_col: Annotated[str, typer.Option(help="declination column")] = "dec",
    id_col: Annotated[str | None, typer.Option(help="identifier column (else row ids)")] = None,
    class_col: Annotated[str | None, typer.Option(help="class/type column")] = None,
    class_value: Annotated[str | None, typer.Option(help="constant class")] = None,
    radius: Annotated[float | None, typer.Option(help="match radius, arcsec")] = None,
    sexagesimal: Annotated[
        bool, typer.Option(help="coordinates are 'HH MM SS' / '+DD MM SS' strings")
    ] = False,
    context: Annotated[
        str | None,
        typer.Option(
            help="label a match implies: variable_star, young_stellar_object, "
            "agn_blazar, or '' for none"
        ),
    ] = None,
    release: Annotated[str | None, typer.Option(help="upstream release")] = None,
    title: Annotated[str | None, typer.Option(help="human-readable name")] = None,
    url: Annotated[str | None, typer.Option(help="upstream URL")] = None,
    licence: Annotated[str | None, typer.Option(help="licence or terms of use")] = None,
    citation: Annotated[str | None, typer.Option(help="what to cite")] = None,
    radius_reason: Annotated[str | None, typer.Option(help="why this radius")] = None,
    sep: Annotated[str, typer.Option(help="CSV separator")] = ",",
    hdu: Annotated[int, typer.Option(help="FITS table HDU")] = 1,
    drop_invalid: Annotated[
        bool, typer.Option(help="drop rows with bad coordinates instead of failing")
    ] = False,
    catalogs_dir: CatalogsDir = None,
) -> None:
    """Ingest a catalog file as a new version of NAME in the operator directory."""
    entry = add_catalog(
        name,
        path,
        ra_col=ra_col,
        dec_col=dec_col,
        id_col=id_col,
        class_col=class_col,
        class_value=class_value,
        radius_arcsec=radius,
        sexagesimal=sexagesimal,
        context=context,
        release=release,
        title=title,
        url=url,
        licence=licence,
        citation=citation,
        radius_reason=radius_reason,
        sep=sep,
        hdu=hdu,
        drop_invalid=drop_invalid,
        catalogs_dir=catalogs_dir,
    )
    console.print(
        f"added {entry.name} v{entry.version}: {entry.rows:,} rows, radius "
        f'{entry.radius_arcsec:g}", file {entry.file} (sha256 {entry.sha256[:12]}...). '
        "Running streams pick it up when their workers restart."
    )


@app.command("show")
@_friendly
def show(
    name: Annotated[str, typer.Argument(help="catalog name")],
    catalogs_dir: CatalogsDir = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="state directory (default from settings)")
    ] = None,
) -> None:
    """Details of every version of NAME, and what the running stream uses."""
    registry = load_registry(catalogs_dir)
    versions = registry.versions(name)
    if not versions:
        known = ", ".join(sorted(registry.active()))
        raise typer.BadParameter(f"no catalog named {name!r}; known: {known}")
    active = registry.active().get(name)
    for cat in versions:
        head = "active" if cat is active else "inactive"
        console.rule(f"{name} v{cat.entry.version} ({head}, {cat.origin})")
        for key, value in cat.entry.model_dump().items():
            console.print(f"[bold]{key:>14}[/bold]  {value}", soft_wrap=True)
        console.print(f"[bold]{'path':>14}[/bold]  {cat.path}", soft_wrap=True)
    if state_dir is None:
        from broker.core.config import settings

        state_dir = settings().state_dir
    in_use = Path(state_dir) / "stream" / "catalogs_in_use"
    reports = sorted(in_use.glob("*.json")) if in_use.is_dir() else []
    if not reports:
        console.print(f"no stream worker has reported its catalogs ({in_use} is empty)")
    for report in reports:
        try:
            data = json.loads(report.read_text())
        except (OSError, ValueError) as exc:
            console.print(f"[yellow]cannot read {report}: {exc}[/yellow]")
            continue
        used = data.get("catalogs", {}).get(name)
        version = f"v{used['version']}" if used else "not used"
        console.print(f"worker {data.get('worker')}: {name} {version}")
