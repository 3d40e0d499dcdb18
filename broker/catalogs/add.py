"""Add a catalog version: read, normalize, write Parquet, append a registry entry.

Examples
--------
>>> import tempfile, pandas as pd
>>> tmp = Path(tempfile.mkdtemp())
>>> pd.DataFrame({"RA": [1.0], "DEC": [2.0]}).to_parquet(tmp / "mine.parquet")
>>> entry = add_catalog(
...     "mine", tmp / "mine.parquet", ra_col="RA", dec_col="DEC", radius_arcsec=2.0,
...     licence="CC-BY-4.0", citation="me", catalogs_dir=tmp / "ops")
>>> (entry.name, entry.version, entry.rows)
('mine', 1, 1)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from broker.catalogs.ingest import normalize, read_table, write_normalized
from broker.catalogs.registry import (
    CatalogEntry,
    load_registry,
    read_entries,
    resolve_operator_dir,
    write_entries,
)
from broker.core.errors import ConfigError

OPERATOR_HEADER = (
    "Faucon operator catalogs, written by `faucon catalogs add`.\n"
    "For each name the highest version (here or shipped) is used for matching."
)


def make_entry(**fields: Any) -> CatalogEntry:
    """Build a :class:`CatalogEntry`, turning validation errors into ConfigError."""
    try:
        return CatalogEntry(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"catalog {fields.get('name')!r}: {problems}") from exc


def register_frame(
    frame: pd.DataFrame, directory: Path, fields: dict[str, Any], header: str = OPERATOR_HEADER
) -> CatalogEntry:
    """Write a normalized frame and append its entry to ``directory/catalogs.toml``.

    An entry with the same name and version is replaced; its ``created`` time
    is kept when the file is byte-identical (so rebuilds are reproducible).

    Parameters
    ----------
    frame
        Output of :func:`broker.catalogs.ingest.normalize`.
    directory
        Registry directory to write to.
    fields
        Entry fields except file, sha256, rows and created (filled here).
    """
    name, version = fields["name"], fields["version"]
    file = f"{name}-v{version}.parquet"
    make_entry(**fields, file=file, sha256="0" * 64, rows=len(frame), created="-")  # validate
    sha = write_normalized(frame, directory / file)
    entries = read_entries(directory)
    same = [e for e in entries if (e.name, e.version, e.sha256) == (name, version, sha)]
    created = same[0].created if same else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = make_entry(**fields, file=file, sha256=sha, rows=len(frame), created=created)
    entries = [e for e in entries if (e.name, e.version) != (name, version)]
    write_entries(directory, [*entries, entry], header)
    return entry


def add_catalog(
    name: str,
    path: Path,
    *,
    ra_col: str,
    dec_col: str,
    id_col: str | None = None,
    class_col: str | None = None,
    class_value: str | None = None,
    radius_arcsec: float | None = None,
    sexagesimal: bool = False,
    context: str | None = None,
    release: str | None = None,
    title: str | None = None,
    url: str | None = None,
    licence: str | None = None,
    citation: str | None = None,
    radius_reason: str | None = None,
    sep: str = ",",
    hdu: int | str = 1,
    drop_invalid: bool = False,
    catalogs_dir: Path | None = None,
) -> CatalogEntry:
    """Ingest an operator catalog as a new version of ``name``.

    Fields not given (radius, context, licence, citation, ...) are inherited
    from the previous version of the same name; a new name needs at least
    ``radius_arcsec``, ``licence`` and ``citation``.

    Parameters
    ----------
    name
        Catalog name, ``[a-z_][a-z0-9_]*``.
    path
        Parquet, CSV or FITS file.
    ra_col, dec_col, id_col, class_col
        Columns to use; see :func:`broker.catalogs.ingest.normalize`.
    radius_arcsec
        Match radius, arcsec.
    context
        Context label implied by a match: variable_star, young_stellar_object,
        agn_blazar, or '' for none.
    catalogs_dir
        Operator directory (default: :func:`resolve_operator_dir`).

    Returns
    -------
    CatalogEntry
        The new entry (version = highest existing version + 1).

    Raises
    ------
    ConfigError
        When the input is unreadable or invalid, or a required field is missing.
    """
    directory = resolve_operator_dir(catalogs_dir)
    registry = load_registry(directory)
    previous = registry.versions(name)
    last = previous[-1].entry if previous else None

    def pick(value: Any, field: str, default: Any = None) -> Any:
        if value is not None:
            return value
        if last is not None:
            return getattr(last, field)
        if default is None:
            raise ConfigError(
                f"catalog {name!r} is new: pass --{field.replace('_arcsec', '')} "
                f"({CatalogEntry.model_fields[field].description})"
            )
        return default

    frame = read_table(Path(path), sep=sep, hdu=hdu)
    normalized = normalize(
        frame,
        name,
        ra_col=ra_col,
        dec_col=dec_col,
        id_col=id_col,
        class_col=class_col,
        class_value=class_value,
        sexagesimal=sexagesimal,
        drop_invalid=drop_invalid,
    )
    columns = {
        "ra": ra_col + (" (sexagesimal hours)" if sexagesimal else " (deg)"),
        "dec": dec_col + (" (sexagesimal deg)" if sexagesimal else " (deg)"),
        "id": id_col or f"row number, '{name}#N' (1-based)",
        "class": class_col or (f"constant {class_value!r}" if class_value else "none"),
    }
    fields = {
        "name": name,
        "version": (last.version + 1) if last else 1,
        "release": pick(release, "release", "unspecified"),
        "title": pick(title, "title", name),
        "source": f"operator file {Path(path).resolve()} added with `faucon catalogs add`",
        "url": pick(url, "url", ""),
        "licence": pick(licence, "licence"),
        "citation": pick(citation, "citation"),
        "columns": columns,
        "radius_arcsec": float(pick(radius_arcsec, "radius_arcsec")),
        "radius_reason": pick(radius_reason, "radius_reason", ""),
        "context": pick(context, "context", ""),
    }
    return register_frame(normalized, directory, fields)
