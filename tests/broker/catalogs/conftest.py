"""Fixtures of the cross-match tests: isolated operator directory, in-memory indexes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from broker.catalogs.index import CatalogIndex, CatalogSet
from broker.catalogs.registry import CatalogEntry, RegisteredCatalog

IndexFactory = Callable[..., CatalogIndex]


@pytest.fixture(autouse=True)
def ops_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty operator catalog directory (never the real state)."""
    directory = tmp_path / "ops"
    monkeypatch.setenv("FAUCON_CATALOGS_DIR", str(directory))
    return directory


@pytest.fixture(scope="session")
def make_index() -> IndexFactory:
    """Build a :class:`CatalogIndex` from arrays, without files."""

    def build(
        ra: np.ndarray,
        dec: np.ndarray,
        radius_arcsec: float,
        name: str = "synthetic",
        context: str = "",
        classes: list[str | None] | None = None,
    ) -> CatalogIndex:
        entry = CatalogEntry(
            name=name,
            version=1,
            release="test",
            title=name,
            source="test",
            licence="test",
            citation="test",
            columns={},
            radius_arcsec=radius_arcsec,
            context=context,
            file="none.parquet",
            sha256="0" * 64,
            rows=len(ra),
            created="2026-01-01T00:00:00Z",
        )
        frame = pd.DataFrame(
            {
                "ra": np.asarray(ra, dtype=np.float64),
                "dec": np.asarray(dec, dtype=np.float64),
                "id": [f"{name}-{i}" for i in range(len(ra))],
                "class": classes if classes is not None else ["c"] * len(ra),
            }
        )
        return CatalogIndex.from_frame(RegisteredCatalog(entry, Path("/"), "operator"), frame)

    return build


@pytest.fixture(scope="session")
def make_set() -> Callable[..., CatalogSet]:
    """Wrap indexes into a :class:`CatalogSet`."""

    def build(*indexes: CatalogIndex) -> CatalogSet:
        return CatalogSet("test", {ix.name: ix for ix in indexes})

    return build
