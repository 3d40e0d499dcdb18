"""Band names by alias: every survey's spelling maps to one canonical letter, loudly.

The classifiers work on the canonical one-letter names ``u g r i z y``.
Surveys and files spell them differently: ZTF ``g``, ``r``/``R``, ``i`` (also
``ZTF_g``, ``ztfg``, ``zg``, fid ``1/2/3``), Rubin ``u g r i z y`` (also
``lsst_u``...), SDSS ``u g r i z`` (also ``sdss_g``, ``sdssg``), DES ``g r i z``.
A name that is not in :data:`ALIASES` raises :class:`UnknownBandError` naming
the band and the light curve, instead of being dropped silently.

ZTF ``R`` is ZTF r (the BTS/ANTARES spelling), not Johnson-Cousins R; SDSS,
DES and Rubin g r i z differ slightly in throughput from ZTF's: the difference
is ignored (colour terms of a few hundredths of a magnitude).

Examples
--------
>>> canonical("R"), canonical("ZTF_g"), canonical("lsst_y")
('r', 'g', 'y')
>>> canonical_array(["g", "R", "ztfr"], curve="ZTF21abc").tolist()
['g', 'r', 'r']
>>> canonical("H", curve="x.csv")
Traceback (most recent call last):
...
classifiers.bands.UnknownBandError: x.csv: unknown band 'H'; known: u g r i z y (aliases ...)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from broker.core.errors import ProcessError

CANONICAL = ("u", "g", "r", "i", "z", "y")
_PREFIXES = ("", "ztf_", "ztf", "z", "lsst_", "lsst", "rubin_", "sdss_", "sdss", "des_", "des")
ALIASES: dict[str, str] = {
    **{f"{p}{b}": b for p in _PREFIXES for b in CANONICAL if f"{p}{b}" not in ("zz", "zy")},
    "zz": "z",
    "1": "g",
    "2": "r",
    "3": "i",
}
"""Lower-cased alias -> canonical band; ``R`` is looked up as ``r`` (case-insensitive)."""


class UnknownBandError(ProcessError):
    """A light curve carries a band name that is not a known alias.

    Attributes
    ----------
    band
        The offending name as written.
    curve
        Which light curve (file name, object id or batch index).
    """

    def __init__(self, band: str, curve: str = "") -> None:
        where = f"{curve}: " if curve else ""
        super().__init__(
            f"{where}unknown band {band!r}; known: {' '.join(CANONICAL)} "
            f"(aliases such as R, ZTF_g, ztfr, lsst_i, sdss_z)"
        )
        self.band = band
        self.curve = curve


def canonical(name: str, curve: str = "") -> str:
    """Canonical one-letter band of ``name`` (case-insensitive alias lookup).

    Raises
    ------
    UnknownBandError
        When ``name`` is not a known alias.
    """
    found = ALIASES.get(str(name).strip().lower())
    if found is None:
        raise UnknownBandError(str(name), curve)
    return found


def canonical_array(names: Iterable[str] | np.ndarray, curve: str = "") -> np.ndarray:
    """Canonical names of a whole array (one dictionary lookup per distinct name)."""
    arr = np.asarray(list(names) if not isinstance(names, np.ndarray) else names).astype(str)
    if arr.size == 0:
        return np.zeros(0, dtype="<U1")
    uniq, inverse = np.unique(arr, return_inverse=True)
    mapped = np.array([canonical(u, curve) for u in uniq], dtype="<U1")
    return mapped[inverse.reshape(-1)]
