"""Catalog registry: the shipped catalogs plus the operator's, each versioned.

A registry directory holds ``catalogs.toml`` (one ``[[catalog]]`` table per
catalog version) and the normalized Parquet files it names.  Two directories
are read: the one shipped in ``broker/catalogs/data`` and the operator's
(``settings.crossmatch.catalogs_dir``, else ``FAUCON_CATALOGS_DIR``, else
``<state_dir>/catalogs``).  For each name the highest version is active, so an
operator replaces a shipped catalog by adding a newer version of it.

Examples
--------
>>> reg = load_registry(operator_dir=Path("/nonexistent"))
>>> sorted(reg.active())
['blazar_3hsp', 'fermi_4lac', 'gcvs', 'spicy']
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from broker.core.config_crossmatch import CATALOG_LABELS
from broker.core.errors import ConfigError

SHIPPED_DIR = Path(__file__).resolve().parent / "data"
REGISTRY_FILE = "catalogs.toml"
FORMAT = 1


class CatalogEntry(BaseModel):
    """One version of one catalog, as written in ``catalogs.toml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        pattern=r"^[a-z_][a-z0-9_]{0,39}$",
        description="lower-case identifier (usable as an Avro/SQL field name)",
    )
    version: int = Field(ge=1, description="Faucon version of this catalog, +1 per add")
    release: str = Field(description="upstream release, e.g. 'DR3'")
    title: str = Field(description="human-readable catalog name")
    source: str = Field(description="provenance: where the file came from and how it was converted")
    url: str = Field(default="", description="upstream reference URL")
    licence: str = Field(description="licence or terms of use")
    citation: str = Field(description="what to cite when using matches")
    columns: dict[str, str] = Field(description="normalized column -> original column or rule")
    radius_arcsec: float = Field(gt=0, le=3600, description="match radius, arcsec")
    radius_reason: str = Field(default="", description="why this radius")
    context: str = Field(default="", description="context label a match implies ('' for none)")
    file: str = Field(description="normalized Parquet file, relative to the registry directory")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of that file")
    rows: int = Field(ge=1, description="rows in that file")
    created: str = Field(description="when this version was written, ISO 8601 UTC")

    @field_validator("context")
    @classmethod
    def _known_label(cls, value: str) -> str:
        if value and value not in CATALOG_LABELS:
            raise ValueError(f"context must be '' or one of {list(CATALOG_LABELS)}")
        return value


@dataclass(frozen=True)
class RegisteredCatalog:
    """A registry entry with the directory it was found in."""

    entry: CatalogEntry
    directory: Path
    origin: Literal["shipped", "operator"]

    @property
    def path(self) -> Path:
        """Absolute path of the normalized Parquet file."""
        return self.directory / self.entry.file


@dataclass(frozen=True)
class Registry:
    """Every registered catalog version, shipped and operator."""

    catalogs: tuple[RegisteredCatalog, ...]
    operator_dir: Path

    def active(self, disabled: tuple[str, ...] = ()) -> dict[str, RegisteredCatalog]:
        """Highest version of each catalog name, minus ``disabled`` names, sorted by name."""
        best: dict[str, RegisteredCatalog] = {}
        for cat in self.catalogs:
            name = cat.entry.name
            if name not in disabled and (
                name not in best or cat.entry.version > best[name].entry.version
            ):
                best[name] = cat
        return dict(sorted(best.items()))

    def versions(self, name: str) -> list[RegisteredCatalog]:
        """Every version of ``name``, oldest first."""
        return sorted(
            (c for c in self.catalogs if c.entry.name == name), key=lambda c: c.entry.version
        )

    def content_hash(self, disabled: tuple[str, ...] = ()) -> str:
        """sha256 over the active entries and their paths (the index cache key)."""
        payload = [[str(c.path), c.entry.model_dump()] for c in self.active(disabled).values()]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def resolve_operator_dir(catalogs_dir: Path | None = None, state_dir: Path | None = None) -> Path:
    """Operator catalog directory.

    First found wins: the argument, ``settings().crossmatch.catalogs_dir``,
    ``FAUCON_CATALOGS_DIR``, then ``<state_dir>/catalogs``.

    Examples
    --------
    >>> resolve_operator_dir(Path("/srv/cat"))
    PosixPath('/srv/cat')
    """
    if catalogs_dir is not None:
        return Path(catalogs_dir)
    conf = None
    if state_dir is None:
        from broker.core.config import settings

        conf = settings()
        configured = getattr(getattr(conf, "crossmatch", None), "catalogs_dir", None)
        if configured is not None:
            return Path(configured)
    env = os.environ.get("FAUCON_CATALOGS_DIR")
    if env:
        return Path(env)
    base = Path(state_dir) if state_dir is not None else Path(conf.state_dir)  # type: ignore[union-attr]
    return base / "catalogs"


def read_entries(directory: Path) -> list[CatalogEntry]:
    """Read and validate ``catalogs.toml`` of one directory ([] when absent)."""
    path = directory / REGISTRY_FILE
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read catalog registry {path}: {exc}; fix the file") from exc
    if data.get("format", FORMAT) != FORMAT:
        raise ConfigError(f"{path}: format {data.get('format')} is not {FORMAT}")
    entries = []
    for i, raw in enumerate(data.get("catalog", [])):
        try:
            entries.append(CatalogEntry(**raw))
        except ValidationError as exc:
            problems = _problems(exc)
            raise ConfigError(f"{path}: catalog #{i + 1} is invalid ({problems})") from exc
    seen = [(e.name, e.version) for e in entries]
    if len(set(seen)) != len(seen):
        raise ConfigError(f"{path}: a (name, version) pair appears twice; remove the duplicate")
    return entries


def load_registry(operator_dir: Path | None = None, shipped_dir: Path = SHIPPED_DIR) -> Registry:
    """Load the shipped and operator registries.

    Parameters
    ----------
    operator_dir
        Operator directory; resolved with :func:`resolve_operator_dir` if None.
    shipped_dir
        Directory of the catalogs shipped with Faucon.

    Raises
    ------
    ConfigError
        When a registry file is invalid or both define the same name and version.
    """
    op_dir = resolve_operator_dir(operator_dir)
    catalogs = [RegisteredCatalog(e, shipped_dir, "shipped") for e in read_entries(shipped_dir)]
    shipped = {(c.entry.name, c.entry.version) for c in catalogs}
    if op_dir.resolve() != shipped_dir.resolve():
        for entry in read_entries(op_dir):
            if (entry.name, entry.version) in shipped:
                raise ConfigError(
                    f"{op_dir / REGISTRY_FILE}: {entry.name} v{entry.version} is also shipped; "
                    "operator versions must be newer (use `faucon catalogs add`)"
                )
            catalogs.append(RegisteredCatalog(entry, op_dir, "operator"))
    return Registry(tuple(catalogs), op_dir)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    text = json.dumps(str(value), ensure_ascii=False)  # JSON escapes are valid TOML
    return text.replace("\x7f", "\\u007f")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def write_entries(directory: Path, entries: list[CatalogEntry], header: str = "") -> Path:
    """Write ``catalogs.toml`` atomically.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> write_entries(d, []).read_text().splitlines()[-1]
    'format = 1'
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines.append(f"format = {FORMAT}")
    for entry in entries:
        lines += ["", "[[catalog]]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in entry.model_dump().items()]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / REGISTRY_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tomllib.loads(tmp.read_text(encoding="utf-8"))  # never publish a file we cannot read
    tmp.replace(path)
    return path
