"""Spatial index of the active catalogs: nearest source within each catalog's radius.

Positions are unit vectors in a :class:`scipy.spatial.cKDTree`; a radius on the
sky is a chord ``2 sin(r/2)`` in 3-D, so the poles and the RA 0/360 seam need
no special case.  The separation of each returned match is recomputed exactly
on the sphere (Vincenty's formula).  Indexes are built once per process and
cached by the registry content hash.

Examples
--------
>>> import numpy as np
>>> out = match(np.array([0.318208333]), np.array([29.592777778]))
>>> out["blazar_3hsp"].ids[0], out["gcvs"].ids[0]
('3HSPJ000116.4+293534', None)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from broker.catalogs.ingest import read_normalized, sha256_file
from broker.catalogs.registry import RegisteredCatalog, Registry, load_registry
from broker.core.errors import InfrastructureError

ARCSEC = np.pi / (180.0 * 3600.0)
_CACHE: dict[str, CatalogSet] = {}
_LOCK = threading.Lock()


class Match(NamedTuple):
    """Nearest match per alert in one catalog; None / NaN where there is none."""

    ids: np.ndarray  # object: catalog id or None
    classes: np.ndarray  # object: catalog class or None
    sep_arcsec: np.ndarray  # float64: great-circle separation or NaN


def unit_vectors(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """ICRS degrees to an (N, 3) array of unit vectors."""
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    cos_dec = np.cos(dec)
    return np.column_stack((cos_dec * np.cos(ra), cos_dec * np.sin(ra), np.sin(dec)))


def separation_arcsec(
    ra1_deg: np.ndarray, dec1_deg: np.ndarray, ra2_deg: np.ndarray, dec2_deg: np.ndarray
) -> np.ndarray:
    """Great-circle separation, arcsec (Vincenty: accurate at every angle).

    Examples
    --------
    >>> sep = separation_arcsec(np.array([359.9999]), np.array([0.0]),
    ...                          np.array([0.0001]), np.array([0.0]))
    >>> round(float(sep[0]), 6)
    0.72
    """
    ra1, dec1, ra2, dec2 = (np.radians(a) for a in (ra1_deg, dec1_deg, ra2_deg, dec2_deg))
    dra = ra2 - ra1
    s1, c1, s2, c2 = np.sin(dec1), np.cos(dec1), np.sin(dec2), np.cos(dec2)
    num = np.hypot(c2 * np.sin(dra), c1 * s2 - s1 * c2 * np.cos(dra))
    return np.arctan2(num, s1 * s2 + c1 * c2 * np.cos(dra)) / ARCSEC


@dataclass(frozen=True, eq=False)
class CatalogIndex:
    """One catalog version, indexed."""

    catalog: RegisteredCatalog
    ra: np.ndarray
    dec: np.ndarray
    ids: np.ndarray
    classes: np.ndarray
    tree: cKDTree
    tree_rows: np.ndarray  # catalog row of each tree point (first of exact duplicates)

    @classmethod
    def load(cls, catalog: RegisteredCatalog) -> CatalogIndex:
        """Read the Parquet file, check its sha256 and build the tree."""
        entry, path = catalog.entry, catalog.path
        if not path.is_file():
            raise InfrastructureError(
                f"catalog {entry.name} v{entry.version}: file {path} is missing; restore it "
                "or re-add the catalog with `faucon catalogs add`"
            )
        if sha256_file(path) != entry.sha256:
            raise InfrastructureError(
                f"catalog {entry.name} v{entry.version}: {path} does not match the sha256 in "
                "its registry; restore the file or re-add the catalog as a new version"
            )
        return cls.from_frame(catalog, read_normalized(path))

    @classmethod
    def from_frame(cls, catalog: RegisteredCatalog, frame: pd.DataFrame) -> CatalogIndex:
        """Index an in-memory normalized frame (columns ra, dec, id, class)."""
        ra = frame["ra"].to_numpy(np.float64)
        dec = frame["dec"].to_numpy(np.float64)
        xyz = unit_vectors(ra, dec)
        _, first = np.unique(xyz, axis=0, return_index=True)
        rows = np.sort(first)
        ids = np.asarray(frame["id"].to_numpy(object), dtype=object)
        classes = frame["class"].to_numpy(object).copy()
        classes[frame["class"].isna().to_numpy()] = None
        tree = cKDTree(xyz[rows], balanced_tree=False, compact_nodes=True)
        return cls(catalog, ra, dec, ids, classes, tree, rows)

    @property
    def name(self) -> str:
        """Catalog name."""
        return self.catalog.entry.name

    def nearest(
        self, xyz: np.ndarray, ra_deg: np.ndarray, dec_deg: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Row of the nearest source within the radius (-1 if none) and its separation.

        Parameters
        ----------
        xyz
            Unit vectors of the alerts, from :func:`unit_vectors`.
        ra_deg, dec_deg
            The same positions in degrees (for the exact separation).
        """
        radius = self.catalog.entry.radius_arcsec
        chord = 2.0 * np.sin(radius * ARCSEC / 2.0) * (1.0 + 1e-9)
        _, hit = self.tree.query(xyz, k=1, distance_upper_bound=chord)
        rows = np.full(len(xyz), -1, dtype=np.int64)
        sep = np.full(len(xyz), np.nan)
        found = np.flatnonzero(hit < len(self.tree_rows))
        if found.size:
            cand = self.tree_rows[hit[found]]
            s = separation_arcsec(ra_deg[found], dec_deg[found], self.ra[cand], self.dec[cand])
            ok = s <= radius
            rows[found[ok]] = cand[ok]
            sep[found[ok]] = s[ok]
        return rows, sep


@dataclass(frozen=True, eq=False)
class CatalogSet:
    """All active catalogs, indexed; built once per process per registry content."""

    key: str
    indexes: dict[str, CatalogIndex]

    def match(self, ra_deg: np.ndarray, dec_deg: np.ndarray) -> dict[str, Match]:
        """Nearest match in every catalog, vectorized.

        Parameters
        ----------
        ra_deg, dec_deg
            Alert positions, ICRS degrees.  Non-finite or out-of-range
            positions get no match.

        Returns
        -------
        dict
            Catalog name -> :class:`Match`.
        """
        ra = np.asarray(ra_deg, dtype=np.float64).ravel()
        dec = np.asarray(dec_deg, dtype=np.float64).ravel()
        if ra.shape != dec.shape:
            raise ValueError(f"ra has {ra.size} values but dec has {dec.size}")
        valid = np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90.0)
        if not valid.all():
            ra, dec = np.where(valid, ra, 0.0), np.where(valid, dec, 0.0)
        xyz = unit_vectors(ra, dec)
        out = {}
        for name, index in self.indexes.items():
            rows, sep = index.nearest(xyz, ra, dec)
            rows[~valid], sep[~valid] = -1, np.nan
            none = rows < 0
            safe = np.where(none, 0, rows)
            ids, classes = index.ids[safe], index.classes[safe]  # fancy indexing copies
            ids[none], classes[none] = None, None
            out[name] = Match(ids, classes, sep)
        return out

    def in_use(self) -> dict[str, dict[str, Any]]:
        """What this process matches against (for ``catalogs_in_use.json``)."""
        return {
            name: {
                "version": ix.catalog.entry.version,
                "sha256": ix.catalog.entry.sha256,
                "rows": ix.catalog.entry.rows,
                "radius_arcsec": ix.catalog.entry.radius_arcsec,
                "origin": ix.catalog.origin,
                "file": str(ix.catalog.path),
            }
            for name, ix in self.indexes.items()
        }


def catalog_set(
    registry: Registry | None = None,
    *,
    catalogs_dir: Path | None = None,
    disabled: tuple[str, ...] = (),
) -> CatalogSet:
    """Return the indexed active catalogs, from the per-process cache when possible.

    Examples
    --------
    >>> catalog_set() is catalog_set()
    True
    """
    reg = registry if registry is not None else load_registry(catalogs_dir)
    key = reg.content_hash(disabled)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    with _LOCK:
        if key not in _CACHE:
            indexes = {n: CatalogIndex.load(c) for n, c in reg.active(disabled).items()}
            _CACHE.clear()  # one registry generation per process
            _CACHE[key] = CatalogSet(key, indexes)
        return _CACHE[key]


def match(
    ra_deg: np.ndarray,
    dec_deg: np.ndarray,
    *,
    catalogs_dir: Path | None = None,
    disabled: tuple[str, ...] = (),
) -> dict[str, Match]:
    """Nearest match within each active catalog's radius (see :meth:`CatalogSet.match`)."""
    return catalog_set(catalogs_dir=catalogs_dir, disabled=disabled).match(ra_deg, dec_deg)
